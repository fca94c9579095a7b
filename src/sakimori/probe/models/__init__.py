"""The merged model tables the engine reads: sources, sinks, sanitisers, patterns, routes.

Each framework (Flask, Django, FastAPI, aiohttp), the standard library's sources, and the sinks by
CWE live in their own module as data; this module only merges them.
"""

from __future__ import annotations

from sakimori.probe.models import aiohttp, cwe, django, fastapi, flask, stdlib
from sakimori.probe.models.base import ALL, Pattern, Sink

#: Source tables map a name to (what it is, threat model: ``remote`` or ``local``).
SOURCES: dict[str, tuple[str, str]] = {**flask.SOURCES, **fastapi.SOURCES, **stdlib.SOURCES}
SOURCE_CALLS: dict[str, tuple[str, str]] = dict(stdlib.SOURCE_CALLS)
SOURCE_METHODS: dict[str, tuple[tuple[str, ...], str]] = dict(stdlib.SOURCE_METHODS)

CALL_SINKS: dict[str, Sink] = {
    **cwe.CALL_SINKS,
    **flask.SINKS,
    **django.SINKS,
    **fastapi.SINKS,
    **aiohttp.SINKS,
}
METHOD_SINKS: dict[str, Sink] = {**cwe.METHOD_SINKS, **flask.METHOD_SINKS, **django.METHOD_SINKS}
ATTRIBUTE_SINKS: dict[str, Sink] = dict(flask.ATTRIBUTE_SINKS)
TRUST_BOUNDARY: tuple[str, ...] = flask.TRUST_BOUNDARY

PATTERNS: dict[str, Pattern] = dict(cwe.PATTERNS)
METHOD_PATTERNS: dict[str, Pattern] = dict(cwe.METHOD_PATTERNS)

SANITISERS: dict[str, frozenset[int]] = {
    **cwe.SANITISERS,
    **flask.SANITISERS,
    **django.SANITISERS,
}

#: Conversions whose result carries no injectable text: safe for every CWE.
CONVERTERS = frozenset(
    {
        "int", "float", "bool", "complex", "len", "abs", "round", "ord", "hash", "id",
        "isinstance", "issubclass", "callable", "hasattr", "decimal.Decimal", "uuid.UUID",
        "ipaddress.ip_address", "datetime.date.fromisoformat", "datetime.datetime.fromisoformat",
    }
)  # fmt: skip

#: Methods whose result is a number or a truth value, never text.
CONVERTING_METHODS = frozenset(
    {
        "startswith", "endswith", "isdigit", "isalpha", "isalnum", "isnumeric", "isdecimal",
        "isidentifier", "isspace", "islower", "isupper", "istitle", "count", "find", "rfind",
        "index", "rindex", "__len__", "__contains__", "isdisjoint", "issubset", "issuperset",
        "exists", "is_file", "is_dir", "match_count",
    }
)  # fmt: skip

#: Route decorators: (app object qualified names, decorator method names).
ROUTES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (flask.ROUTE_APPS, flask.ROUTE_METHODS),
    (fastapi.ROUTE_APPS, fastapi.ROUTE_METHODS),
)
#: Packages whose import makes a ``request`` parameter a source.
REQUEST_PARAMETER_PACKAGES: tuple[str, ...] = (
    *django.REQUEST_PARAMETER_PACKAGES,
    *aiohttp.REQUEST_PARAMETER_PACKAGES,
)

__all__ = [
    "ALL",
    "ATTRIBUTE_SINKS",
    "CALL_SINKS",
    "CONVERTERS",
    "CONVERTING_METHODS",
    "METHOD_PATTERNS",
    "METHOD_SINKS",
    "PATTERNS",
    "REQUEST_PARAMETER_PACKAGES",
    "ROUTES",
    "SANITISERS",
    "SOURCES",
    "SOURCE_CALLS",
    "SOURCE_METHODS",
    "TRUST_BOUNDARY",
    "Pattern",
    "Sink",
]
