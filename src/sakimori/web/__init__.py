"""The web interface: server-rendered pages (Jinja2) over the same use cases as the API.

``create_app(runtime)`` builds the pages as an application mounted below ``/ui`` by
``sakimori.api.create_app``. People sign in with their password, or with the one OpenID
provider configured (``oidc``, ``app.state.oidc``); the session is a token of the
session kind in an HttpOnly, SameSite cookie, and every form carries a CSRF token (see
``sessions``). Pages call ``sakimori.services.access`` with the signed-in principal, never a
service directly (the updates page calls ``services.updates``, whose use cases check the
principal the same way). See docs/web.md.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sakimori.api import problems
from sakimori.api.deps import Runtime
from sakimori.errors import SakimoriError
from sakimori.services.identity import Unauthenticated
from sakimori.services.oidc import Provider, ProviderSettings
from sakimori.web import (
    admin,
    auth,
    notification_pages,
    oidc,
    packages_pages,
    pages,
    second_factor,
    updates_pages,
)
from sakimori.web.render import CONTENT_SECURITY_POLICY, PREFIX, Renderer, url
from sakimori.web.sessions import SignInThrottle

__all__ = ["PREFIX", "ROUTERS", "create_app", "route_table", "to_pages"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

#: Every router of the pages; the web authorisation matrix reads its routes from here.
ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    oidc.router,
    second_factor.router,
    pages.router,
    admin.router,
    updates_pages.router,
    packages_pages.router,
    notification_pages.router,
)


def route_table() -> list[tuple[str, str]]:
    """Every (method, path) the pages serve, below ``PREFIX``, HEAD aside."""
    return sorted(
        (method, PREFIX + route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
        if method != "HEAD"
    )


class PageHeaders:
    """ASGI middleware: the pages' Content-Security-Policy (scripts and styles from this origin
    only, none inline); the API's other security headers are added around it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_policy)


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = runtime
    app.state.renderer = Renderer()
    updates_pages.install(app.state.renderer, runtime)
    app.state.throttle = SignInThrottle()
    provider = ProviderSettings.from_settings(runtime.settings)
    app.state.oidc = Provider(provider) if provider is not None else None
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def error_page(request: Request, status: int, message: str) -> Response:
        renderer: Renderer = app.state.renderer
        return renderer.page(
            request, "error.html", status=status, status_code=status, message=message
        )

    async def sakimori_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SakimoriError)
        if isinstance(exc, Unauthenticated):
            target = request.url.path if request.method == "GET" else url("/")
            return RedirectResponse(
                url("/signin") + "?" + "next=" + auth.quote_target(target), status_code=303
            )
        found = problems.classify(exc)
        if found is None:
            log.error("%s: %s", type(exc).__name__, exc.diagnostics())
            return error_page(request, 500, "")
        return error_page(request, found[0], exc.diagnostics())

    async def validation_error(request: Request, exc: Exception) -> Response:
        return error_page(request, 400, "")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return error_page(request, exc.status_code, "")

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception(
            "internal error on %s %s (request %s)",
            request.method,
            request.url.path,
            getattr(request.state, "request_id", "-"),
        )
        return error_page(request, 500, "")

    app.add_exception_handler(Exception, internal_error)
    app.add_exception_handler(SakimoriError, sakimori_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_middleware(PageHeaders)
    return app


def to_pages() -> RedirectResponse:
    """``/``: a person who opens the server's address lands on the pages."""
    return RedirectResponse(url("/"), status_code=307)
