"""Real servers on 127.0.0.1 for the notification tests: a webhook receiver that verifies
signatures, de-duplicates by idempotency key and fails on purpose, and an SMTP server
(aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sakimori.notify import webhook

#: What the receiver does with one request: "ok", "error" (500 before processing),
#: "late" (processes it, then answers 500: the sender will send it again), "slow" (sleeps
#: past the sender's timeout) or "reset" (closes the connection without an answer).
Plan = Callable[[str, int], str]


def always_ok(key: str, seen: int) -> str:
    return "ok"


@dataclass
class Receiver:
    secrets: dict[str, str]  # path -> secret
    plan: Plan = always_ok
    slow: float = 2.5
    #: idempotency key -> the JSON body, recorded once (the receiver's "effect")
    effects: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: every request that reached the handler: (path, key, outcome)
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    bad_signatures: list[str] = field(default_factory=list)
    duplicates: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def attempts(self, key: str) -> int:
        with self.lock:
            return sum(1 for _, k, _ in self.requests if k == key)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            key = self.headers.get("Idempotency-Key", "")
            secret = receiver.secrets.get(self.path)
            valid = secret is not None and webhook.verify(
                secret,
                self.headers.get("Sakimori-Timestamp", ""),
                body,
                self.headers.get("Sakimori-Signature", ""),
                now=int(time.time()),
            )
            with receiver.lock:
                seen = sum(1 for _, k, _ in receiver.requests if k == key)
                action = receiver.plan(key, seen) if valid else "refused"
                receiver.requests.append((self.path, key, action))
                if not valid:
                    receiver.bad_signatures.append(key)
            if action == "refused":
                self._answer(401)
                return
            if action == "error":
                self._answer(500)
                return
            if action == "slow":
                time.sleep(receiver.slow)
                self._answer(200)
                return
            if action == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()
                return
            with receiver.lock:
                if key in receiver.effects:
                    receiver.duplicates += 1
                else:
                    receiver.effects[key] = json.loads(body)
            self._answer(500 if action == "late" else 200)

    return Handler


@contextmanager
def webhook_receiver(receiver: Receiver) -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Mailbox:
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    #: the same messages, as the bytes received (what a signature covers)
    raw: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
            self.raw.append(envelope.content)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    mailbox = Mailbox(port=free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
