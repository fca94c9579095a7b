"""The second factor in the browser: the sign-in's second step, enrolment, recovery codes.

After the right password (``auth.signin``), :func:`after_password` asks
``services.second_factor.sign_in_step`` what comes next. A user who needs nothing more gets a
session at once, as before. Anyone else gets a *pending* session (a token with the ``pending``
scope only, five minutes, in its own cookie) that only these pages accept:

- ``/signin/code``: a code from the authenticator app, or a recovery code;
- ``/signin/enrol``: an administrator without a second factor enrols first (the secret is
  shown once, as an ``otpauth://`` URI and a QR code), confirms with a code, and is shown the
  recovery codes once.

Only then is the real session made, marked as having passed the second factor. Code attempts
count in the same throttle as passwords (per user name and per address), and the per-user count
is forgotten only after the second step succeeds, so re-entering the password does not buy more
guesses. ``/account/second-factor`` lets anyone signed in enrol (optional unless an
administrator) and replace their recovery codes; a coordinator admin resets another user's
second factor from the users page.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sakimori.api.deps import runtime, with_origin
from sakimori.errors import Conflict
from sakimori.services import identity
from sakimori.services import second_factor as service
from sakimori.services.access import Principal
from sakimori.services.identity import PENDING_LIFETIME, Unauthenticated, authenticate
from sakimori.web.auth import quote_target, safe_next
from sakimori.web.render import (
    Checked,
    CsrfRefused,
    Renderer,
    RendererDep,
    RuntimeDep,
    SignedIn,
    SignInRequired,
    redirect,
    url,
)
from sakimori.web.sessions import (
    COOKIE_PATH,
    SIGNIN_COOKIE,
    SignInThrottle,
    csrf_token,
    same,
    set_cookie,
    set_session,
)

log = logging.getLogger(__name__)

router = APIRouter()

PENDING_COOKIE = "sakimori_pending"
_Code = Annotated[str, Form(max_length=100)]
_Text = Annotated[str, Form(max_length=200)]
_Next = Annotated[str, Form(max_length=500)]
_USER = r"^[a-z0-9][a-z0-9._@-]{0,99}$"


def _safe(target: str | None) -> str:
    """A page of ours to go to once signed in; never back to a sign-in page."""
    found = safe_next(target)
    return url("/") if found.startswith(url("/signin")) else found


def _address(request: Request) -> str:
    return request.client.host if request.client else "-"


def after_password(request: Request, name: str, target: str) -> Response | None:
    """The answer to a right password when a second step follows; ``None`` when it does not
    (the caller makes the session as before)."""
    rt = runtime(request)
    step = service.sign_in_step(rt.database, name)
    if step is service.Step.SESSION:
        return None
    _, token = identity.create_pending_session(rt.database, rt.key, name)
    page = "/signin/code" if step is service.Step.CODE else "/signin/enrol"
    response = RedirectResponse(url(page) + "?next=" + _quoted(target), status_code=303)
    set_cookie(
        request, response, PENDING_COOKIE, token, max_age=int(PENDING_LIFETIME.total_seconds())
    )
    response.delete_cookie(SIGNIN_COOKIE, path=COOKIE_PATH)
    return response


def _quoted(target: str) -> str:
    return quote_target(target)


def pending(request: Request) -> Principal:
    """The principal of the pending sign-in cookie; ``SignInRequired`` without a valid one."""
    token = request.cookies.get(PENDING_COOKIE)
    if not token:
        raise SignInRequired()
    rt = runtime(request)
    try:
        found = authenticate(rt.database, rt.key, token, browser=True, pending=True)
    except Unauthenticated:
        raise SignInRequired() from None
    request.state.user = found.name
    return with_origin(found, request)


async def pending_checked(
    request: Request, principal: Annotated[Principal, Depends(pending)]
) -> Principal:
    """The pending principal of a form sent with its CSRF token; ``CsrfRefused`` otherwise."""
    form = await request.form()
    given = form.get("csrf")
    if not isinstance(given, str) or not same(
        csrf_token(runtime(request).key, principal.token_id or ""), given
    ):
        raise CsrfRefused()
    return principal


Pending = Annotated[Principal, Depends(pending)]
PendingChecked = Annotated[Principal, Depends(pending_checked)]


def _pending_csrf(request: Request, principal: Principal) -> str:
    return csrf_token(runtime(request).key, principal.token_id or "")


def _throttled(request: Request, name: str) -> bool:
    throttle: SignInThrottle = request.app.state.throttle
    if throttle.blocked(name, _address(request)):
        log.info("second step throttled for user %s from %s", name, _address(request))
        return True
    return False


def _failed(request: Request, name: str) -> None:
    throttle: SignInThrottle = request.app.state.throttle
    throttle.failed(name, _address(request))
    log.info("wrong second-factor code for user %s from %s", name, _address(request))


def _throttle_message(pages: Renderer, request: Request) -> str:
    return pages.translate(request, "Too many failed sign-ins. Wait fifteen minutes and try again.")


def _signed_in(request: Request, principal: Principal, response: Response, how: str) -> Response:
    """End the pending session, make the real one (second factor passed), set its cookie."""
    rt = runtime(request)
    if principal.token_id is not None:
        identity.revoke_token(rt.database, principal.token_id, owner=principal.name)
    _, token = identity.create_session(rt.database, rt.key, principal.name, second_factor=True)
    request.app.state.throttle.succeeded(principal.name)
    set_session(request, response, token)
    response.delete_cookie(PENDING_COOKIE, path=COOKIE_PATH)
    log.info("user %s signed in from %s (%s)", principal.name, _address(request), how)
    return response


def _codes_page(
    request: Request, pages: Renderer, codes: list[str], continue_to: str
) -> HTMLResponse:
    """The recovery codes, shown once; the language switch leads on, not back to a form."""
    return pages.page(
        request, "recovery_codes.html", codes=codes, continue_to=continue_to, here=continue_to
    )


# -- the sign-in's second step ---------------------------------------------------------------------


def _code_page(
    request: Request, pages: Renderer, principal: Principal, target: str, **values: Any
) -> HTMLResponse:
    status = values.pop("status", 200)
    return pages.page(
        request,
        "signin_code.html",
        status=status,
        csrf=_pending_csrf(request, principal),
        next=_safe(target),
        **values,
    )


@router.get("/signin/code", response_class=HTMLResponse)
def code_form(
    request: Request,
    principal: Pending,
    pages: RendererDep,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    return _code_page(request, pages, principal, next or "")


@router.post("/signin/code", response_class=HTMLResponse)
def code(
    request: Request,
    principal: PendingChecked,
    pages: RendererDep,
    rt: RuntimeDep,
    code: _Code,
    next: _Next = "",
) -> Response:
    if _throttled(request, principal.name):
        message = _throttle_message(pages, request)
        return _code_page(request, pages, principal, next, error=message, status=429)
    how = service.check(rt.database, rt.key, principal.name, code)
    if how is None:
        _failed(request, principal.name)
        message = pages.translate(request, "The code is wrong, or it was used already.")
        return _code_page(request, pages, principal, next, error=message, status=401)
    response = RedirectResponse(_safe(next), status_code=303)
    return _signed_in(request, principal, response, how)


def _enrol_page(
    request: Request,
    pages: Renderer,
    action: str,
    target: str,
    csrf: str,
    enrolment: service.Enrolment | None,
    **values: Any,
) -> HTMLResponse:
    status = values.pop("status", 200)
    return pages.page(
        request,
        "second_factor_enrol.html",
        status=status,
        csrf=csrf,
        action=action,
        next=_safe(target),
        enrolment=enrolment,
        **values,
    )


@router.get("/signin/enrol", response_class=HTMLResponse)
def enrol_form(
    request: Request,
    principal: Pending,
    pages: RendererDep,
    rt: RuntimeDep,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """A new secret (shown this once) and the form for its first code."""
    try:
        enrolment = service.begin_enrolment(rt.database, rt.key, principal.name)
    except Conflict:  # enrolled meanwhile: the code is what is asked
        return RedirectResponse(url("/signin/code") + "?next=" + _quoted(next or ""), 303)
    csrf = _pending_csrf(request, principal)
    return _enrol_page(request, pages, url("/signin/enrol"), next or "", csrf, enrolment)


@router.post("/signin/enrol", response_class=HTMLResponse)
def enrol(
    request: Request,
    principal: PendingChecked,
    pages: RendererDep,
    rt: RuntimeDep,
    code: _Code,
    next: _Next = "",
) -> Response:
    csrf = _pending_csrf(request, principal)
    action = url("/signin/enrol")
    if _throttled(request, principal.name):
        message = _throttle_message(pages, request)
        return _enrol_page(request, pages, action, next, csrf, None, error=message, status=429)
    codes = service.confirm_enrolment(rt.database, rt.key, principal.name, code)
    if codes is None:
        _failed(request, principal.name)
        message = pages.translate(request, "The code is wrong, or it was used already.")
        return _enrol_page(request, pages, action, next, csrf, None, error=message, status=401)
    page = _codes_page(request, pages, codes, _safe(next))
    return _signed_in(request, principal, page, "enrolled a second factor")


# -- one's own second factor, signed in --------------------------------------------------------


@router.get("/account/second-factor", response_class=HTMLResponse)
def account(request: Request, principal: SignedIn, pages: RendererDep, rt: RuntimeDep) -> Any:
    """The caller's second factor: its state, or (not enrolled) a new secret to enrol with."""
    found = service.status(rt.database, principal.name)
    enrolment = (
        None if found.enrolled else service.begin_enrolment(rt.database, rt.key, principal.name)
    )
    return pages.page(request, "account_second_factor.html", status_of=found, enrolment=enrolment)


@router.post("/account/second-factor", response_class=HTMLResponse)
def account_enrol(
    request: Request, principal: Checked, pages: RendererDep, rt: RuntimeDep, code: _Code
) -> Response:
    """Confirm the enrolment with its first code; the session is replaced by one that passed
    the second factor, and the recovery codes are shown once."""
    if _throttled(request, principal.name):
        message = _throttle_message(pages, request)
        return pages.page(request, "error.html", status=429, status_code=429, message=message)
    codes = service.confirm_enrolment(rt.database, rt.key, principal.name, code)
    if codes is None:
        _failed(request, principal.name)
        message = pages.translate(request, "The code is wrong, or it was used already.")
        found = service.status(rt.database, principal.name)
        return pages.page(
            request,
            "account_second_factor.html",
            status=401,
            status_of=found,
            enrolment=None,
            error=message,
        )
    request.state.principal = None  # the session it came with ends here
    page = _codes_page(request, pages, codes, url("/account/second-factor"))
    return _signed_in(request, principal, page, "enrolled a second factor")


@router.post("/account/second-factor/recovery-codes", response_class=HTMLResponse)
def account_recovery_codes(
    request: Request, principal: Checked, pages: RendererDep, rt: RuntimeDep
) -> Any:
    """New recovery codes (the old ones stop working), from a session that passed the factor."""
    codes = service.new_recovery_codes(rt.database, rt.key, principal)
    return _codes_page(request, pages, codes, url("/account/second-factor"))


# -- a coordinator admin resets another user's ---------------------------------------------------


@router.post("/admin/users/{name}/second-factor/reset", response_class=HTMLResponse)
def reset(
    principal: Checked, rt: RuntimeDep, name: Annotated[str, Path(pattern=_USER)]
) -> Response:
    service.reset(rt.database, principal, name)
    return redirect("/admin/users")


__all__ = ["PENDING_COOKIE", "after_password", "router"]
