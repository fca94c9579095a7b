"""The LLM reviewer's one network seam: POST a JSON body, read a bounded JSON answer.

Transport failures become Sakimori errors, never httpx exceptions: cannot connect, timed out
(connecting, between bytes, or over the whole call), an HTTP error status →
:class:`~sakimori.errors.SourceUnavailable` with the server's own error message when it sent one;
an answer over the size limit → :class:`~sakimori.errors.LimitExceeded` (the body is streamed and
reading stops at the limit); an answer that is not a JSON object →
:class:`~sakimori.errors.MalformedDocument`. Nothing is retried: a review is advice, and a failed
call is recorded and the run goes on. Headers (which carry the API key) are never logged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from sakimori import __version__
from sakimori.errors import LimitExceeded, MalformedDocument, SourceUnavailable
from sakimori.probe.llm.interface import LLMConfig, Provider

logger = logging.getLogger(__name__)

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
#: Longest piece of a server's error message repeated to the user.
_MAX_ERROR_TEXT = 300


class JsonClient:
    """An httpx client for one model server, with the call's timeouts and size limit."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        timeout: float,
        connect_timeout: float,
        max_response_bytes: int,
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self._client = httpx.Client(
            base_url=base_url,
            headers={"user-agent": f"sakimori/{__version__}", **headers},
            timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
            follow_redirects=False,
            # Proxies from the environment, except for a model server on this machine.
            trust_env=urlsplit(base_url).hostname not in _LOOPBACK,
        )

    def close(self) -> None:
        self._client.close()

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        where = f"{self.base_url}{path}"
        started = time.monotonic()
        try:
            with self._client.stream("POST", path, json=dict(body)) as response:
                data = self._read(response, where, started)
                status = response.status_code
        except httpx.TimeoutException:
            raise SourceUnavailable(
                f"the model server did not answer within {self.timeout:g} s",
                where=where,
                hint="raise --llm-timeout, or check the server",
            ) from None
        except httpx.HTTPError as exc:
            raise SourceUnavailable(
                f"cannot reach the model server: {type(exc).__name__}: {exc}", where=where
            ) from None
        if status >= 400:
            raise SourceUnavailable(
                f"the model server answered HTTP {status}: {_error_text(data)}", where=where
            )
        try:
            document = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedDocument(
                f"the model server's answer is not JSON: {exc}", where=where
            ) from None
        if not isinstance(document, dict):
            raise MalformedDocument("the model server's answer is not a JSON object", where=where)
        return document

    def _read(self, response: httpx.Response, where: str, started: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            raise _too_large(where, self.max_response_bytes)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise _too_large(where, self.max_response_bytes)
            if time.monotonic() - started > self.timeout:
                raise httpx.ReadTimeout("the whole answer took too long")
            chunks.append(chunk)
        return b"".join(chunks)


def _too_large(where: str, limit: int) -> LimitExceeded:
    return LimitExceeded(
        f"the model server's answer is larger than {limit:,} bytes; it was not read further",
        where=where,
    )


def _error_text(data: bytes) -> str:
    """The error message of an Anthropic or OpenAI error body, else the start of the body."""
    text = data[:4096].decode("utf-8", errors="replace")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        document = None
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            text = error["message"]
        elif isinstance(error, str):
            text = error
    text = " ".join(text.split())
    return text[:_MAX_ERROR_TEXT] or "(no message)"


class HttpProvider(Provider):
    """A provider that speaks JSON over HTTP to the configured server: one client, its limits."""

    def __init__(self, config: LLMConfig, headers: Mapping[str, str]) -> None:
        super().__init__(config)
        self._client = JsonClient(
            config.base_url,
            headers,
            timeout=config.timeout,
            connect_timeout=config.connect_timeout,
            max_response_bytes=config.max_response_bytes,
        )

    def close(self) -> None:
        self._client.close()
