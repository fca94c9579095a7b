"""FastAPI and Starlette: route parameters, HTML and redirect responses."""

from __future__ import annotations

from sakimori.probe.models.base import Sink

ROUTE_APPS = ("fastapi.FastAPI()", "fastapi.APIRouter()", "starlette.applications.Starlette()")
ROUTE_METHODS = ("get", "post", "put", "patch", "delete", "api_route", "route", "websocket")

SOURCES = {
    "fastapi.Request": ("FastAPI request", "remote"),
    "starlette.requests.Request": ("Starlette request", "remote"),
}

SINKS = {
    "fastapi.responses.HTMLResponse": Sink(79, (0,), ("content",), what="HTML response"),
    "starlette.responses.HTMLResponse": Sink(79, (0,), ("content",), what="HTML response"),
    "fastapi.responses.RedirectResponse": Sink(601, (0,), ("url",), what="redirect target"),
    "starlette.responses.RedirectResponse": Sink(601, (0,), ("url",), what="redirect target"),
    "fastapi.responses.FileResponse": Sink(22, (0,), ("path",), what="file path"),
    "starlette.responses.FileResponse": Sink(22, (0,), ("path",), what="file path"),
}
