"""A real HTTP server on 127.0.0.1 (port 0) in a thread, with routes each test sets."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class LocalServer:
    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    #: The request headers, per path, in arrival order.
    seen: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    #: Set when the test ends, so that handlers that stall return at once.
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return self.base + path


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    content_length: int | None = None,
    declare_length: bool = True,
) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    if declare_length:
        length = len(body) if content_length is None else content_length
        handler.send_header("Content-Length", str(length))
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """The client hanging up early is part of several tests; do not print tracebacks."""


class _RoutingHandler(BaseHTTPRequestHandler):
    state: LocalServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.state.hits[path] += 1
        self.state.seen.setdefault(path, []).append(dict(self.headers.items()))
        route = self.state.routes.get(path)
        if route is None:
            send(self, 404, b"no such route")
        else:
            route(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """Run an HTTP server on 127.0.0.1 with ``handler``; yields its base URL."""
    httpd = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    state = LocalServer()
    handler = type("Handler", (_RoutingHandler,), {"state": state})
    with serve(handler) as base:
        state.base = base
        try:
            yield state
        finally:
            state.release.set()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """A static file server (Last-Modified, If-Modified-Since → 304) over ``root``."""
    with serve(partial(_QuietFiles, directory=str(root))) as base:
        yield base
