"""RFC 9457 problem details: the one place where errors become HTTP responses.

Every error answer is ``application/problem+json`` with ``type``, ``title``, ``status`` and
``detail`` (and ``errors`` for a request that fails validation). The ``sakimori.errors`` tree
maps by cause: bad input 400 (too large 413), not allowed 403, no valid token 401, not found
404 — also for what exists but belongs to another organisation —, conflict 409, an upstream or
the database unavailable 503. Anything else is a 500 whose detail says nothing about the inside;
the stack trace goes to the log with the request id.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from sakimori.api.paths import allowed_methods
from sakimori.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    SakimoriError,
    SourceUnavailable,
)
from sakimori.services.identity import Unauthenticated

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
_BASE = "urn:sakimori:problem:"

#: (error class, status, type suffix, title), most specific first.
_MAPPING: tuple[tuple[type[SakimoriError], int, str, str], ...] = (
    (Unauthenticated, 401, "unauthenticated", "Authentication required"),
    (PermissionDenied, 403, "forbidden", "Not allowed"),
    (NotFound, 404, "not-found", "Not found"),
    (Conflict, 409, "conflict", "Conflict"),
    (LimitExceeded, 413, "too-large", "Input too large"),
    (InvalidInput, 400, "invalid-input", "Invalid input"),
    (SourceUnavailable, 503, "unavailable", "Service unavailable"),
)

_HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    411: ("length-required", "Length required"),
    413: ("too-large", "Input too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": _BASE + kind, "title": title, "status": status}
    body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def classify(error: SakimoriError) -> tuple[int, str, str] | None:
    """(HTTP status, problem type suffix, title) of an error the caller caused or may see;
    ``None`` for the server's own faults (bad settings, an unmapped error): answer 500. The one
    table the API, the TAXII paths and the pages share."""
    if isinstance(error, ConfigurationError):
        return None
    for cls, status, kind, title in _MAPPING:
        if isinstance(error, cls):
            return status, kind, title
    return None


def for_error(error: SakimoriError, instance: str | None = None) -> JSONResponse:
    found = classify(error)
    if found is None:
        log.error("%s: %s", type(error).__name__, error.diagnostics())
        return problem(500, "internal", "Internal error", "the request could not be completed")
    status, kind, title = found
    headers = {"WWW-Authenticate": 'Bearer realm="sakimori"'} if status == 401 else None
    return problem(status, kind, title, error.diagnostics(), instance=instance, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""

    async def sakimori_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SakimoriError)
        return for_error(exc, request.url.path)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return problem(
            422,
            "validation",
            "Invalid request",
            "the request does not match the API's schema",
            instance=request.url.path,
            errors=errors,
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind, title = _HTTP_TITLES.get(exc.status_code, ("http", "HTTP error"))
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            # Starlette names the methods of the first route matching the path only.
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        return problem(
            exc.status_code,
            kind,
            title,
            str(exc.detail),
            instance=request.url.path,
            headers=headers or None,
        )

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception(
            "internal error on %s %s (request %s)",
            request.method,
            request.url.path,
            getattr(request.state, "request_id", "-"),
        )
        return problem(500, "internal", "Internal error", "the request could not be completed")

    app.add_exception_handler(SakimoriError, sakimori_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)


#: The error responses every authenticated route documents in OpenAPI.
def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "Invalid input",
        401: "No valid API token",
        403: "The role or the token's scopes do not allow this",
        404: "Not found (or not visible to the caller's organisation)",
        409: "Conflicts with the current state",
        413: "Input larger than the limit",
        422: "The request does not match the schema",
    }
    return {
        status: {
            "model": Problem,
            "description": described[status],
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in sorted({401, 422, *statuses})
    }
