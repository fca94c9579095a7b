"""Real HTTP on 127.0.0.1 for the update tests: a static server over a repository's public
directory, and a proxy in front of it that can tamper with, stall or endlessly stream answers."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _QuietStatic(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """Serve ``directory`` at ``http://127.0.0.1:PORT``; yields that base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietStatic, directory=str(directory)))
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class Replace:
    """Answer with these bytes instead of the upstream's."""

    body: bytes


@dataclass
class Endless:
    """Answer 200 and stream bytes without end (no Content-Length)."""

    chunk: bytes = b"\0" * 4096


@dataclass
class Stall:
    """Send the headers and a few bytes, then go silent until released."""

    prefix: bytes = b"{"


@dataclass
class Drip:
    """Send the headers, then one byte every ``interval`` seconds: never silent for long."""

    interval: float = 0.1


Rule = Replace | Endless | Stall | Drip


@dataclass
class TamperingProxy:
    """An HTTP proxy (reverse, by path) to ``upstream``; ``rules`` maps request paths to the
    attack to perform on them. ``requests`` lists every path asked for."""

    upstream: str
    rules: dict[str, Rule] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        self.requests.append(path)
        rule = self.rules.get(path)
        if isinstance(rule, Replace):
            self._send(handler, 200, rule.body)
        elif isinstance(rule, Endless):
            handler.send_response(200)
            handler.send_header("Content-Type", "application/octet-stream")
            handler.end_headers()
            try:
                while not self.released.is_set():
                    handler.wfile.write(rule.chunk)
            except OSError:  # the client hung up, as it should
                return
        elif isinstance(rule, Drip):
            handler.send_response(200)
            handler.send_header("Content-Length", "100000")
            handler.end_headers()
            try:
                while not self.released.wait(rule.interval):
                    handler.wfile.write(b" ")
                    handler.wfile.flush()
            except OSError:
                return
        elif isinstance(rule, Stall):
            handler.send_response(200)
            handler.send_header("Content-Length", "100000")
            handler.end_headers()
            handler.wfile.write(rule.prefix)
            handler.wfile.flush()
            self.released.wait(30)
        else:
            status, body = self._forward(path)
            self._send(handler, status, body)

    def _forward(self, path: str) -> tuple[int, bytes]:
        host_port = self.upstream.removeprefix("http://")
        host, _, port = host_port.partition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def _handler_for(proxy: TamperingProxy) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            proxy.handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def tampering_proxy(upstream: str) -> Iterator[tuple[str, TamperingProxy]]:
    """A running :class:`TamperingProxy` in front of ``upstream``: (base URL, proxy)."""
    proxy = TamperingProxy(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(proxy))
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", proxy
    finally:
        proxy.released.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
