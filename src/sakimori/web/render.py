"""Rendering pages (Jinja2, one environment per language) and what every page route needs:
the runtime, the signed-in principal from the session cookie, and the CSRF check of a form."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from babel.support import Translations
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from sakimori.api import deps
from sakimori.api.deps import Runtime, is_read, runtime, with_origin
from sakimori.errors import PermissionDenied
from sakimori.services.access import Principal
from sakimori.services.identity import Unauthenticated
from sakimori.web import i18n
from sakimori.web.sessions import LANGUAGE_COOKIE, SESSION_COOKIE, csrf_token, same

PREFIX = "/ui"

#: Every page forbids inline scripts and styles, and loads only from this origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class SignInRequired(Unauthenticated):
    """No valid session: the page answers with a redirect to the sign-in page."""


class CsrfRefused(PermissionDenied):
    def __init__(self) -> None:
        super().__init__(
            "the form's security token is missing or wrong",
            hint="reload the page and send the form again",
        )


def url(path: str) -> str:
    """The address of a page (``path`` below the pages' prefix)."""
    return PREFIX + path


def _environment(language: str, translations: Translations) -> Environment:
    env = Environment(
        loader=PackageLoader("sakimori.web", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = i18n.when
    env.globals["url"] = url
    env.globals["quote"] = quote
    env.globals["language_names"] = i18n.LANGUAGE_NAMES
    return env


class Renderer:
    """The Jinja2 environments, one per language, built once."""

    def __init__(self) -> None:
        self.translations = {lang: i18n.load_translations(lang) for lang in i18n.LANGUAGES}
        self.environments = {
            lang: _environment(lang, self.translations[lang]) for lang in i18n.LANGUAGES
        }

    def language(self, request: Request) -> str:
        return i18n.choose_language(
            request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
        )

    def page(
        self, request: Request, template: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        language = self.language(request)
        principal: Principal | None = getattr(request.state, "principal", None)
        runtime: Runtime = request.app.state.runtime
        context = {
            "lang": language,
            "principal": principal,
            "csrf": csrf_token(runtime.key, principal.token_id)
            if principal is not None and principal.token_id
            else "",
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            **values,
        }
        html = self.environments[language].get_template(template).render(context)
        return HTMLResponse(html, status_code=status, headers={"Content-Language": language})

    def translate(self, request: Request, message: str) -> str:
        return self.translations[self.language(request)].gettext(message)


async def renderer(request: Request) -> Renderer:
    found: Renderer = request.app.state.renderer
    return found


async def signed_in(request: Request) -> Principal:
    """The principal of the session cookie; ``SignInRequired`` without a valid one."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired()
    rt = runtime(request)
    try:
        verified = await rt.verify(token, read=is_read(request), browser=True)
        found = with_origin(verified, request)
    except Unauthenticated:
        raise SignInRequired() from None
    request.state.user = found.name
    request.state.principal = found
    return found


async def checked(
    request: Request, principal: Annotated[Principal, Depends(signed_in)]
) -> Principal:
    """The principal of a form sent with its session's CSRF token; ``CsrfRefused`` otherwise."""
    form = await request.form()
    given = form.get("csrf")
    expected = csrf_token(runtime(request).key, principal.token_id or "")
    if not isinstance(given, str) or not same(expected, given):
        raise CsrfRefused()
    return principal


def redirect(path: str) -> RedirectResponse:
    """See other (303): after a form, the browser loads ``path`` with GET."""
    return RedirectResponse(url(path), status_code=303)


RuntimeDep = deps.RuntimeDep  # the pages' runtime is the API's
RendererDep = Annotated[Renderer, Depends(renderer)]
SignedIn = Annotated[Principal, Depends(signed_in)]
Checked = Annotated[Principal, Depends(checked)]
