"""Sends signed webhook deliveries over HTTP (httpx): the I/O half of ``notify.webhook``.

A 2xx answer is a delivery; anything else — another status, a timeout, a refused or reset
connection — is a failed attempt, retried by the caller's schedule. Redirects are not
followed (the signature is for the registered URL). The client keeps connections alive, so a
worker thread should keep one sender (``services.notifications`` keeps one per thread).
"""

from __future__ import annotations

from typing import Final

import httpx

from sakimori import __version__
from sakimori.notify.interface import Outcome

_MAX_ERROR: Final = 300


class WebhookSender:
    def __init__(self, timeout: float, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": f"sakimori/{__version__} (notifications)"},
            transport=transport,
        )

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Outcome(False, None, "timed out")
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:_MAX_ERROR])
        if 200 <= response.status_code < 300:
            return Outcome(True, response.status_code)
        return Outcome(False, response.status_code, f"HTTP {response.status_code}")

    def close(self) -> None:
        self._client.close()
