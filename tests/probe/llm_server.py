"""A real HTTP server on 127.0.0.1 that answers like the Anthropic and OpenAI APIs.

Tests queue the answers (recorded bodies shaped as the documented responses, or deliberately
broken ones) and read back every request the client sent: path, headers and JSON body.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Answer:
    body: bytes
    status: int = 200
    content_type: str = "application/json"
    delay: float = 0.0


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ModelServer:
    """The answers still to give, the requests received, and the server's base URL."""

    answers: deque[Answer] = field(default_factory=deque)
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    stopping: threading.Event = field(default_factory=threading.Event)

    def queue(self, body: dict[str, Any] | bytes, status: int = 200, **kwargs: Any) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answers.append(Answer(data, status, **kwargs))


def _handler(state: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append(Request(self.path, headers, body))
            answer = (
                state.answers.popleft()
                if state.answers
                else Answer(b'{"error": {"message": "no recorded answer left"}}', 500)
            )
            if answer.delay and state.stopping.wait(answer.delay):
                return
            try:
                self.send_response(answer.status)
                self.send_header("content-type", answer.content_type)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that stops reading (an oversized answer, a timeout) resets the connection.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def model_server() -> Iterator[ModelServer]:
    state = ModelServer()
    server = _Server(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


_DATA = Path(__file__).parent / "data" / "llm"


def anthropic_message(text: str, input_tokens: int, output_tokens: int) -> dict[str, Any]:
    """The recorded Messages API response with this text and usage."""
    body: dict[str, Any] = json.loads((_DATA / "anthropic-messages.json").read_bytes())
    body["content"][0]["text"] = text
    body["usage"].update(input_tokens=input_tokens, output_tokens=output_tokens)
    return body


def openai_chat(
    text: str | None,
    prompt_tokens: int,
    completion_tokens: int,
    finish_reason: str = "stop",
    refusal: str | None = None,
) -> dict[str, Any]:
    """The recorded Chat Completions response with this text, usage and finish reason."""
    body: dict[str, Any] = json.loads((_DATA / "openai-chat-completions.json").read_bytes())
    choice = body["choices"][0]
    choice["message"].update(content=text, refusal=refusal)
    choice["finish_reason"] = finish_reason
    body["usage"].update(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )
    return body
