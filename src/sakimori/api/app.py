"""The application factory, and the middleware every response passes through.

``create_app(settings)`` builds the API; nothing is opened until the first request needs it.
A server process (``serving=True``: ``sakimori serve``, the load benchmark's processes) also
keeps its long-lived objects out of the garbage collector's way (:mod:`sakimori.api.heap`).
Each response carries security headers and an ``X-Request-ID``; each request is logged once
(method, path, status, time, request id, user) — never a header, a body or a token.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sakimori import __version__, logs, web
from sakimori.api import heap, problems
from sakimori.api.deps import Runtime
from sakimori.api.paths import no_unknown_query
from sakimori.api.routes import (
    audit,
    csaf_provider,
    findings,
    health,
    identity,
    intel,
    metrics,
    notifications,
    organisations,
    packages,
    sightings,
    taxii,
    updates,
    vex,
)
from sakimori.api.routes.metrics import PlatformMetrics
from sakimori.config import Settings

log = logging.getLogger(__name__)

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"cross-origin-resource-policy", b"same-origin"),
)

#: Room for the multipart framing around an upload of the largest allowed size.
_MULTIPART_OVERHEAD = 64 * 1024
#: The largest body that is not a file upload (JSON requests are a few hundred bytes).
MAX_JSON_BODY = 1024 * 1024


class Guard:
    """ASGI middleware: request id, security headers, body-size limit, one log line a request.

    A body larger than the limit is refused from its ``Content-Length`` before any of it is
    read (413): the input limit for file uploads (multipart), ``MAX_JSON_BODY`` for anything
    else. A body without a length (chunked) is refused with 411, so none can exceed the limit by
    streaming it.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body: int,
        metrics: PlatformMetrics | None = None,
        warmup: heap.Warmup | None = None,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.metrics = metrics
        self.warmup = warmup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}  # the pages set their CSP
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        refusal = self._refusal(scope)
        context = logs.REQUEST_ID.set(request_id)
        try:
            if refusal is not None:
                await refusal(scope, receive, send_with_headers)
            else:
                scope.setdefault("state", {})["request_id"] = request_id
                await self.app(scope, receive, send_with_headers)
        finally:
            user = scope.get("state", {}).get("user", "-")
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            if self.metrics is not None:
                self.metrics.observe(scope["method"], route, status, elapsed)
            log.info(
                "%s %s %d %.1f ms request=%s user=%s",
                scope["method"],
                scope["path"],
                status,
                elapsed * 1000,
                request_id,
                user,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                    "user": user,
                },
            )
            logs.REQUEST_ID.reset(context)
            if self.warmup is not None:
                self.warmup.tick()

    def _refusal(self, scope: Scope) -> Any:
        if scope["method"] not in {"POST", "PUT", "PATCH"}:
            return None
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is None:
            if b"chunked" in headers.get(b"transfer-encoding", b""):
                return problems.problem(
                    411, "length-required", "Length required", "send the body with a length"
                )
            return None
        try:
            size = int(length)
        except ValueError:
            return problems.problem(400, "bad-request", "Bad request", "bad Content-Length")
        upload = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        limit = self.max_body if upload else min(self.max_body, MAX_JSON_BODY)
        if size > limit:
            return problems.problem(
                413,
                "too-large",
                "Input too large",
                f"the body is more than the limit of {limit:,} bytes",
            )
        return None


def route_template(scope: Scope) -> str | None:
    """The template of the route that answered (``/v1/findings/{finding_id}``), or None."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if route is None or isinstance(route, Mount) or not isinstance(path, str):
        return None
    return str(scope.get("root_path", "")) + path


#: Every router of the API; the authorisation-matrix test reads its routes from here.
ROUTERS: tuple[APIRouter, ...] = tuple(
    module.router
    for module in (
        health,
        metrics,
        identity,
        organisations,
        findings,
        intel,
        vex,
        packages,
        csaf_provider,
        taxii,
        updates,
        sightings,
        notifications,
        audit,
    )
)


def route_table() -> list[tuple[str, str]]:
    """Every (method, path) the API serves, HEAD aside."""
    return sorted(
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
        if method != "HEAD"
    )


def create_app(settings: Settings, *, serving: bool = False) -> FastAPI:
    """The API with the web interface mounted; ``serving``: in a long-running server process
    (the heap is frozen at start-up and after warming up, :mod:`sakimori.api.heap`)."""
    runtime = Runtime(settings)

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        if serving:
            heap.freeze()
        yield
        csaf_provider.close(application)  # its gpg-agent
        runtime.close()

    app = FastAPI(
        title="Sakimori",
        version=__version__,
        summary="Vulnerability exposure, triage and remediation tracking for national defenders.",
        description="Every call but /healthz and /readyz needs an API token "
        "(`Authorization: Bearer skm_…`). Errors are RFC 9457 problem documents. See docs/api.md.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(no_unknown_query)],
    )
    app.state.runtime = runtime
    app.state.metrics = PlatformMetrics(runtime)
    build_document = app.openapi

    def openapi() -> dict[str, Any]:
        # Errors are documented as problem+json only (FastAPI adds application/json too).
        document = build_document()
        for item in document["paths"].values():
            for operation in item.values():
                for answer in operation.get("responses", {}).values():
                    content = answer.get("content", {})
                    if problems.MEDIA_TYPE in content:
                        content.pop("application/json", None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
    problems.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.mount(web.PREFIX, web.create_app(runtime))  # the web interface (docs/web.md)
    app.add_api_route("/", web.to_pages, include_in_schema=False)
    app.add_middleware(
        Guard,
        max_body=settings.limits.max_bytes + _MULTIPART_OVERHEAD,
        metrics=app.state.metrics,
        warmup=heap.Warmup() if serving else None,
    )
    return app
