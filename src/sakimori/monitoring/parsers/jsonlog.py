"""JSON access logs, one object per line, with a configurable field mapping.

Each normalised field is looked up along a list of candidate paths; the first that is present
wins. A path is a key, or dotted keys into nested objects (``request.remote_ip``); a key that
itself contains dots is tried whole first. The defaults cover the usual names of nginx
``log_format … escape=json`` setups, Caddy, Traefik and Envoy; ``--json-field name=path``
replaces the candidates of one field. Fields and what they accept:

=========  =================================================================================
client     an address; ``host:port`` and ``[v6]:port`` lose the port
time       ISO 8601 / RFC 3339, the nginx ``time_local`` form, or a POSIX number (s/ms/µs/ns)
request    a request line ``GET /x?y HTTP/1.1`` (used when ``method``/``path`` are absent)
method     ``GET``
path       the request target, with or without the query string
query      the query string, when logged apart
status     the response status, a number or a numeric string
bytes      response size
referrer   ``Referer`` header
agent      ``User-Agent`` header
host       ``Host`` header / virtual host
user       authenticated user
=========  =================================================================================

Header values given as lists (Caddy) use their first element. A line prefixed by a container
runtime (``2025-01-01T00:00:00.1+01:00 stdout F {…}``, the CRI format of containerd and
CRI-O) is read after the prefix. Lines without an address or a time are parse errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC
from typing import Any

import orjson

from sakimori.errors import ConfigurationError
from sakimori.monitoring.parsers import _time
from sakimori.monitoring.parsers.clf import split_request
from sakimori.monitoring.parsers.interface import LineParser, ParseResult, blank_or_none
from sakimori.monitoring.record import HTTP, Record

DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "client": (
        "remote_addr",
        "ClientHost",
        "client_ip",
        "request.remote_ip",
        "request.client_ip",
        "remote_ip",
        "clientip",
        "client",
        "ip",
        "src_ip",
        "downstream_remote_address",
        "ClientAddr",
    ),
    "time": (
        "time_iso8601",
        "time_local",
        "timestamp",
        "time",
        "@timestamp",
        "ts",
        "StartUTC",
        "start_time",
        "StartLocal",
        "date",
    ),
    "request": ("request",),
    "method": ("request_method", "method", "RequestMethod", "request.method"),
    "path": (
        "request_uri",
        "uri",
        "RequestPath",
        "request.uri",
        "path",
        "x-envoy-origin-path",
        "url",
        "request.path",
    ),
    "query": ("query_string", "args", "query"),
    "status": ("status", "DownstreamStatus", "response_code", "status_code", "OriginStatus"),
    "bytes": (
        "body_bytes_sent",
        "bytes_sent",
        "size",
        "DownstreamContentSize",
        "bytes",
        "bytes_sent",
    ),
    "referrer": (
        "http_referer",
        "referer",
        "referrer",
        "request_Referer",
        "request.headers.Referer",
    ),
    "agent": (
        "http_user_agent",
        "user_agent",
        "request_User-Agent",
        "request.headers.User-Agent",
        "user-agent",
        "userAgent",
        "useragent",
    ),
    "host": ("host", "server_name", "RequestHost", "request.host", ":authority", "vhost"),
    "user": ("remote_user", "user", "ClientUsername", "user_id"),
}
_CRI = re.compile(r"\d{4}-\d\d-\d\dT\S+ (?:stdout|stderr) [FP] ")

Path = tuple[str, tuple[str, ...]]  # (the whole key, its dotted parts)


def _lookup(document: Mapping[str, Any], path: Path) -> Any:
    whole, parts = path
    value = document.get(whole)
    if value is not None or len(parts) == 1:
        return value
    node: Any = document
    for part in parts:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return _text(value[0]) if value else ""
    text = value if isinstance(value, str) else str(value)
    return "" if text == "-" else text


def _number(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) < 1e18 else 0
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def strip_port(address: str) -> str:
    """``1.2.3.4:5678`` -> ``1.2.3.4``; ``[::1]:80`` -> ``::1``; a bare IPv6 address is kept."""
    if address.startswith("["):
        end = address.find("]")
        return address[1:end] if end > 0 else address
    if address.count(":") == 1:
        return address.partition(":")[0]
    return address


def _stamp(value: Any) -> tuple[Any, float] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _time.epoch(float(value))
    if not isinstance(value, str) or not value:
        return None
    if value[0].isdigit() and len(value) >= 10 and value[4] == "-":
        return _time.iso(value, UTC)
    if value.startswith("["):
        value = value[1:-1]
    stamp = _time.clf(value)
    if stamp is not None:
        return stamp
    try:
        return _time.epoch(float(value))
    except ValueError:
        return None


class JsonParser(LineParser):
    """JSON lines with a field mapping (see the module docstring)."""

    name = "json"

    def __init__(self, fields: Mapping[str, str] | None = None) -> None:
        mapping = dict(DEFAULT_FIELDS)
        for name, path in (fields or {}).items():
            if name not in DEFAULT_FIELDS:
                raise ConfigurationError(
                    f"unknown JSON log field {name!r}",
                    hint=f"use one of {', '.join(sorted(DEFAULT_FIELDS))}",
                )
            if not path:
                raise ConfigurationError(f"empty path for JSON log field {name!r}")
            mapping[name] = (path,)
        self._paths: dict[str, tuple[Path, ...]] = {
            name: tuple((path, tuple(path.split("."))) for path in paths)
            for name, paths in mapping.items()
        }

    def _get(self, document: Mapping[str, Any], name: str) -> Any:
        for path in self._paths[name]:
            value = _lookup(document, path)
            if value is not None:
                return value
        return None

    def parse(self, line: str, number: int) -> ParseResult:
        start = line.find("{")
        if start < 0:
            return blank_or_none(line)
        if start > 0 and _CRI.match(line) is None:
            return None
        try:
            document = orjson.loads(line[start:])
        except orjson.JSONDecodeError:
            return None
        if not isinstance(document, dict):
            return None
        client = strip_port(_text(self._get(document, "client")))
        stamp = _stamp(self._get(document, "time"))
        if not client or stamp is None:
            return None
        method = _text(self._get(document, "method"))
        target = _text(self._get(document, "path"))
        if not target:
            request = self._get(document, "request")
            if isinstance(request, str) and request:
                request_method, target, query = split_request(request)
                method = method or request_method
                if request_method:
                    target = f"{target}?{query}" if query else target
        path, mark, query = target.partition("?")
        if not mark:
            query = _text(self._get(document, "query"))
        return Record(
            HTTP,
            stamp[0],
            stamp[1],
            client,
            method,
            path,
            query,
            _number(self._get(document, "status")),
            _number(self._get(document, "bytes")),
            _text(self._get(document, "referrer")),
            _text(self._get(document, "agent")),
            _text(self._get(document, "host")),
            _text(self._get(document, "user")),
            "",
            number,
        )
