"""Single sign-on in the browser: ``/signin/oidc`` and its callback (``services.oidc``).

``GET /signin/oidc`` starts a sign-in (``state``, ``nonce``, PKCE verifier kept server-side for
ten minutes) bound to a random value in the ``sakimori_oidc`` cookie and sends the browser to
the provider's authorization endpoint. The cookie is ``SameSite=Lax``, not ``Strict`` like the
others: the provider sends the browser back with a cross-site navigation, on which a browser
does not send ``Strict`` cookies; it is HttpOnly, limited to ``/ui/signin/oidc`` and ten
minutes, and holds nothing but that random value.

``GET /signin/oidc/callback`` uses the ``state`` up (whatever follows), exchanges the code,
validates the ID token, finds or provisions the user, and then goes on exactly as after a
right password: the pending second step (``second_factor.after_password``) for whoever needs
one, else the session. For the same reason as above, the session (or pending) cookie, which is
``SameSite=Strict``, is set on a page of ours that then moves on (a ``Refresh`` header and a
link, no script), so that the next request is a same-site one that carries it.

Every refusal is the sign-in page with one message per kind (``services.oidc.Refusal``) and no
cookie but a cleared one; the reason goes to the log.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sakimori.api.deps import Runtime
from sakimori.errors import (
    ConfigurationError,
    Conflict,
    NotFound,
    PermissionDenied,
    SourceUnavailable,
)
from sakimori.services import identity
from sakimori.services import oidc as service
from sakimori.services.oidc import Provider, Refusal, SignOnRefused
from sakimori.web.auth import safe_next, signin_page
from sakimori.web.render import Renderer, RendererDep, RuntimeDep, url
from sakimori.web.second_factor import after_password
from sakimori.web.sessions import secure_cookies, set_session

log = logging.getLogger(__name__)

router = APIRouter()

OIDC_COOKIE = "sakimori_oidc"
CALLBACK = "/signin/oidc/callback"
_COOKIE_PATH = "/ui/signin/oidc"
_Param = Annotated[str, Query(max_length=2000)]


def _(message: str) -> str:
    """Marks ``message`` for the catalogues; it is translated when shown."""
    return message


#: One message per kind of refusal (RFC 9457's "title" and "detail", on the sign-in page).
MESSAGES: dict[Refusal | None, tuple[str, int]] = {
    Refusal.STATE: (
        _(
            "This sign-in expired, was used already, or was started in another browser. "
            "Please start again."
        ),
        400,
    ),
    Refusal.PROVIDER: (_("The identity provider did not sign you in."), 403),
    Refusal.TOKEN: (_("The identity provider's answer could not be verified."), 403),
    Refusal.USER: (
        _("No Sakimori user may sign in with this identity. Ask an administrator."),
        403,
    ),
    None: (
        _("The identity provider cannot be reached. Try again later, or sign in with a password."),
        502,
    ),
}


def provider(request: Request) -> Provider:
    """The configured provider; ``NotFound`` (a 404 page) when single sign-on is off."""
    found: Provider | None = getattr(request.app.state, "oidc", None)
    if found is None:
        raise NotFound("single sign-on is not configured")
    return found


def redirect_uri(request: Request, rt: Runtime) -> str:
    """The callback's absolute URL: from ``SAKIMORI_BASE_URL`` when set (behind a proxy),
    else from the request (the provider accepts only the URIs registered with it)."""
    if rt.settings.base_url:
        return rt.settings.base_url + url(CALLBACK)
    forwarded = request.headers.get("x-forwarded-proto", "").lower() == "https"
    scheme = "https" if forwarded else request.url.scheme
    return f"{scheme}://{request.url.netloc}{url(CALLBACK)}"


def _address(request: Request) -> str:
    return request.client.host if request.client else "-"


def _refused(
    request: Request, pages: Renderer, rt: Runtime, target: str, refusal: Refusal | None
) -> Response:
    message, status = MESSAGES[refusal]
    title = pages.translate(request, "Single sign-on did not succeed")
    response = signin_page(
        request, pages, rt, target, pages.translate(request, message), status, title
    )
    response.delete_cookie(OIDC_COOKIE, path=_COOKIE_PATH)
    return response


@router.get("/signin/oidc")
def start(
    request: Request,
    pages: RendererDep,
    rt: RuntimeDep,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    found = provider(request)
    target = safe_next(next)
    browser = secrets.token_urlsafe(32)
    try:
        found.endpoints()  # discovery first: a provider that is down leaves nothing behind
        login = service.begin(rt.database, rt.key, browser, target)
        location = found.authorization_url(redirect_uri(request, rt), login)
    except (SourceUnavailable, ConfigurationError) as exc:
        log.warning("single sign-on cannot start: %s", exc.diagnostics())
        return _refused(request, pages, rt, target, None)
    response = RedirectResponse(location, status_code=303)
    response.set_cookie(
        OIDC_COOKIE,
        browser,
        max_age=int(service.LOGIN_LIFETIME.total_seconds()),
        path=_COOKIE_PATH,
        secure=secure_cookies(request),
        httponly=True,
        samesite="lax",
    )
    return response


def _onwards(request: Request, pages: Renderer, where: str) -> HTMLResponse:
    """A page of ours that moves on to ``where`` (same-site, so Strict cookies go along)."""
    response = pages.page(request, "signin.html", continue_to=where)
    response.headers["Refresh"] = f"0; url={where}"
    response.delete_cookie(OIDC_COOKIE, path=_COOKIE_PATH)
    return response


@router.get(CALLBACK)
def callback(
    request: Request,
    pages: RendererDep,
    rt: RuntimeDep,
    state: _Param = "",
    code: _Param = "",
    error: _Param = "",
) -> Response:
    found = provider(request)
    address, target = _address(request), url("/")
    try:
        login = service.finish(rt.database, rt.key, state, request.cookies.get(OIDC_COOKIE, ""))
        target = login.next_page
        if error or not code:
            answer = error[:100] or "no code"
            raise SignOnRefused(Refusal.PROVIDER, f"the provider answered {answer!r}")
        id_token = found.exchange(code, redirect_uri(request, rt), login.verifier)
        claims = found.validate(id_token, login.nonce)
        name = service.sign_on(rt.database, found.settings, claims)
    except SignOnRefused as exc:
        log.info("single sign-on refused from %s: %s", address, exc.reason)
        return _refused(request, pages, rt, target, exc.refusal)
    except (SourceUnavailable, ConfigurationError) as exc:
        log.warning("single sign-on failed from %s: %s", address, exc.diagnostics())
        return _refused(request, pages, rt, target, None)
    second_step = after_password(request, name, target)
    if second_step is not None:
        log.info("user %s signed in from %s with %s; second step", name, address, found.name)
        response = _onwards(request, pages, second_step.headers["location"])
        for cookie in second_step.headers.getlist("set-cookie"):
            response.headers.append("set-cookie", cookie)
        return response
    try:
        _view, token = identity.create_session(rt.database, rt.key, name)
    except (NotFound, Conflict, PermissionDenied) as exc:
        log.info("single sign-on refused from %s: %s", address, exc.message)
        return _refused(request, pages, rt, target, Refusal.USER)
    log.info("user %s signed in from %s with %s", name, address, found.name)
    response = _onwards(request, pages, safe_next(target))
    set_session(request, response, token)
    return response
