"""What the OpenAPI document says a path accepts: its methods and its query parameters.

Used to answer 405 with the full ``Allow`` list (Starlette names only the first matching route's
methods) and to refuse query parameters no route declares (FastAPI ignores them silently).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

_Table = list[tuple[re.Pattern[str], dict[str, frozenset[str]]]]


def _table(app: FastAPI) -> _Table:
    cached: _Table | None = getattr(app.state, "path_table", None)
    if cached is None:
        cached = []
        document: dict[str, Any] = app.openapi()
        for template, item in document["paths"].items():
            pattern = re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)))
            cached.append(
                (
                    pattern,
                    {
                        method.upper(): frozenset(
                            p["name"] for p in operation.get("parameters", []) if p["in"] == "query"
                        )
                        for method, operation in item.items()
                    },
                )
            )
        app.state.path_table = cached
    return cached


def _operations(app: FastAPI, path: str) -> dict[str, frozenset[str]] | None:
    for pattern, operations in _table(app):
        if pattern.fullmatch(path):
            return operations
    return None


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    return sorted(_operations(app, path) or ())


async def no_unknown_query(request: Request) -> None:
    """A dependency of every route: refuse query parameters the route does not declare (422).

    ``async`` because it does no I/O: FastAPI would otherwise hand it to the thread pool on
    every request."""
    if not request.query_params:
        return
    operations = _operations(request.app, request.url.path) or {}
    declared = operations.get(request.method, frozenset())
    unknown = sorted(set(request.query_params.keys()) - declared)
    if unknown:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": "unknown query parameter",
                    "type": "extra_forbidden",
                }
                for name in unknown
            ]
        )
