"""Sign-in, sign-out and the language choice (single sign-on: ``sakimori.web.oidc``)."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sakimori.api.deps import Runtime
from sakimori.errors import Conflict, NotFound
from sakimori.services import identity
from sakimori.web import i18n
from sakimori.web.render import (
    PREFIX,
    Checked,
    Renderer,
    RendererDep,
    RuntimeDep,
    redirect,
    url,
)
from sakimori.web.sessions import (
    COOKIE_PATH,
    LANGUAGE_COOKIE,
    SIGNIN_COOKIE,
    SignInThrottle,
    clear_session,
    new_nonce,
    same,
    set_cookie,
    set_session,
    signin_token,
)

log = logging.getLogger(__name__)

router = APIRouter()

_Text = Annotated[str, Form(max_length=200)]
_Secret = Annotated[str, Form(max_length=1000)]


def safe_next(target: str | None) -> str:
    """A page of ours to go to after signing in (never another site)."""
    if (
        target
        and target.startswith(PREFIX + "/")
        and not target.startswith("//")
        and "\\" not in target
        and "//" not in target
    ):
        return target
    return url("/")


def quote_target(target: str) -> str:
    """``target`` made safe (:func:`safe_next`) and quoted for a ``next=`` parameter."""
    return quote(safe_next(target), safe="/")


def _address(request: Request) -> str:
    return request.client.host if request.client else "-"


def signin_page(
    request: Request,
    pages: Renderer,
    rt: Runtime,
    target: str,
    error: str,
    status: int,
    error_title: str = "",
) -> HTMLResponse:
    """The sign-in form (with "Sign in with …" when single sign-on is configured), with an
    error when there is one; it sets a new pre-sign-in cookie for the form's CSRF token."""
    nonce = new_nonce()
    provider = getattr(request.app.state, "oidc", None)
    response = pages.page(
        request,
        "signin.html",
        status=status,
        signin_csrf=signin_token(rt.key, nonce),
        next=safe_next(target),
        error=error,
        error_title=error_title,
        oidc_name=provider.name if provider is not None else "",
    )
    set_cookie(request, response, SIGNIN_COOKIE, nonce, max_age=3600)
    return response


@router.get("/signin", response_class=HTMLResponse)
def signin_form(
    request: Request,
    pages: RendererDep,
    rt: RuntimeDep,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    return signin_page(request, pages, rt, next or "", "", 200)


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    pages: RendererDep,
    rt: RuntimeDep,
    username: _Text,
    password: _Secret,
    csrf: _Text,
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    nonce = request.cookies.get(SIGNIN_COOKIE, "")
    if not nonce or not same(signin_token(rt.key, nonce), csrf):
        message = pages.translate(request, "The form expired. Please sign in again.")
        return signin_page(request, pages, rt, next, message, 403)
    throttle: SignInThrottle = request.app.state.throttle
    name, address = username.strip().lower(), _address(request)
    if throttle.blocked(name, address):
        log.info("sign-in throttled for user %s from %s", name, address)
        message = pages.translate(
            request, "Too many failed sign-ins. Wait fifteen minutes and try again."
        )
        return signin_page(request, pages, rt, next, message, 429)
    if not identity.verify_password(rt.database, name, password):
        throttle.failed(name, address)
        log.info("failed sign-in for user %s from %s", name, address)
        message = pages.translate(request, "The user name or the password is wrong.")
        return signin_page(request, pages, rt, next, message, 401)
    from sakimori.web.second_factor import after_password  # it uses this module's helpers

    second_step = after_password(request, name, next)
    if second_step is not None:  # the throttle forgets the user only after the second step
        log.info("user %s gave the right password from %s; second step", name, address)
        return second_step
    throttle.succeeded(name)
    try:
        _, token = identity.create_session(rt.database, rt.key, name)
    except (NotFound, Conflict):
        message = pages.translate(request, "The user name or the password is wrong.")
        return signin_page(request, pages, rt, next, message, 401)
    log.info("user %s signed in from %s", name, address)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session(request, response, token)
    response.delete_cookie(SIGNIN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/signout")
def signout(request: Request, principal: Checked, rt: RuntimeDep) -> Response:
    identity.end_session(rt.database, principal)
    response = redirect("/signin")
    clear_session(request, response)
    return response


@router.get("/language/{language}")
def choose_language(
    request: Request,
    language: str,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Remember the language in a cookie (per browser; per-user storage needs a migration)."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if language in i18n.LANGUAGES:
        set_cookie(request, response, LANGUAGE_COOKIE, language, max_age=365 * 86400)
    return response
