"""An NVD-shaped CVE API 2.0 on 127.0.0.1, serving the 60 real records of ../shared/data/nvd.

It behaves as NVD does: it filters by lastModStartDate/lastModEndDate (both inclusive, at most
120 days apart), pages by startIndex/resultsPerPage, answers 404 with a ``message`` header to a
bad parameter or key (echoing a wrong key, as a trap for code that would show it), and a test
can make it fail, go empty or change its record set between requests (``FakeNvd.hook``, or by
editing ``FakeNvd.records``). Every request is logged in ``FakeNvd.requests`` and, when it was
answered from the records, the ids it served in ``FakeNvd.answered``.

Time is a fake clock that only the client's sleeps advance; the server stamps each request with
it, so rate limits are checked in the client's time, not the wall clock's.

Used by ``tests/intel/test_nvd_api.py`` (mounted on the ``server`` fixture's routes) and
``tests/services/test_nvd_sync.py`` (:func:`serve_nvd`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sakimori.intel.nvd_api import MAX_WINDOW
from tests.conftest import require_data
from tests.intel.conftest import send, serve

PATH = "/rest/json/cves/2.0"


def load_records() -> list[dict[str, Any]]:
    """The 60 real NVD records (``cve`` objects), ordered by lastModified then id."""
    root = require_data("nvd")
    loaded = [json.loads(path.read_bytes()) for path in sorted(root.glob("20*/CVE-*.json"))]
    assert len(loaded) == 60
    return sorted(loaded, key=lambda r: (r["lastModified"], r["id"]))


def modified(record: dict[str, Any]) -> datetime:
    """A record's lastModified (NVD writes it in UTC without an offset)."""
    return datetime.fromisoformat(record["lastModified"]).replace(tzinfo=UTC)


class FakeClock:
    """Monotonic seconds that only ``sleep`` moves forward."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Request:
    start: datetime
    end: datetime
    index: int
    per_page: int
    api_key: str | None
    at: float

    @property
    def position(self) -> tuple[datetime, datetime, int]:
        """Which page this asked for: its window and startIndex."""
        return self.start, self.end, self.index


Reply = tuple[int, bytes, dict[str, str]]


@dataclass
class FakeNvd:
    """The CVE API 2.0 over ``records``; ``hook`` may answer a request instead (a fault)."""

    records: list[dict[str, Any]]
    clock: FakeClock
    api_key: str | None = None
    hook: Callable[[FakeNvd, Request], Reply | None] | None = None
    requests: list[Request] = field(default_factory=list)
    #: The requests answered from ``records`` (not by ``hook``), with the ids each served.
    answered: list[tuple[Request, list[str]]] = field(default_factory=list)

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        status, body, headers = self._answer(handler)
        send(handler, status, body, {"Content-Type": "application/json", **headers})

    def in_window(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return [r for r in self.records if start <= modified(r) <= end]

    def _answer(self, handler: BaseHTTPRequestHandler) -> Reply:
        query = parse_qs(urlsplit(handler.path).query, keep_blank_values=True, strict_parsing=True)
        try:
            start = datetime.fromisoformat(query["lastModStartDate"][0])
            end = datetime.fromisoformat(query["lastModEndDate"][0])
            index = int(query.get("startIndex", ["0"])[0])
            per_page = int(query.get("resultsPerPage", ["2000"])[0])
        except (KeyError, ValueError):
            return refusal("Invalid parameter")
        if start.tzinfo is None or end.tzinfo is None or start > end or end - start > MAX_WINDOW:
            return refusal(
                "The maximum allowable range when using any date range parameters is 120 "
                "consecutive days."
            )
        if not 1 <= per_page <= 2000 or index < 0:
            return refusal("Invalid resultsPerPage or startIndex")
        request = Request(start, end, index, per_page, handler.headers.get("apiKey"), self.clock())
        self.requests.append(request)
        if self.api_key is not None and request.api_key not in (None, self.api_key):
            return refusal(f"Invalid apiKey {request.api_key}.")  # echoes it, as a trap
        if self.hook is not None and (reply := self.hook(self, request)) is not None:
            return reply
        matching = self.in_window(start, end)
        page = matching[index : index + per_page]
        self.answered.append((request, [r["id"] for r in page]))
        return 200, envelope(page, index, len(matching)), {}


def envelope(page: list[dict[str, Any]], index: int, total: int, **changes: Any) -> bytes:
    document = {
        "resultsPerPage": len(page),
        "startIndex": index,
        "totalResults": total,
        "format": "NVD_CVE",
        "version": "2.0",
        "timestamp": "2026-11-30T12:00:00.000",
        "vulnerabilities": [{"cve": record} for record in page],
    }
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v is not ...}).encode()


def refusal(message: str) -> Reply:
    return 404, b"", {"message": message}


class _NvdHandler(BaseHTTPRequestHandler):
    fake: FakeNvd

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == PATH:
            self.fake(self)
        else:
            send(self, 404, b"no such route")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_nvd(fake: FakeNvd) -> Iterator[str]:
    """Serve ``fake`` on 127.0.0.1 (port 0); yields the API's URL (``http://…/rest/json/cves/2.0``)."""
    handler = type("NvdHandler", (_NvdHandler,), {"fake": fake})
    with serve(handler) as base:
        yield base + PATH
