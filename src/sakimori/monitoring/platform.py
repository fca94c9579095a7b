"""Where ``sakimori watch`` talks to the platform: the package rules it fetches, the sightings
it sends (the monitoring package's only network I/O).

- :meth:`Platform.rules`: ``GET /v1/detection-rules`` — the Sigma rules of the counter-measure
  packages the token's organisation receives, as ``RuleSource("package:<id>", text,
  vulnerabilities)`` for ``sigma.load_rule_sources``;
- :meth:`Platform.send`: ``POST /v1/sightings`` in parts of :data:`BATCH`;
- :class:`Reporter`: for ``--follow``, sends the sightings of closed alerts from a thread of
  its own every ``every`` seconds (following never waits for the network), and what is left
  when following stops. A failed send is kept and tried again, up to :data:`MAX_PENDING`
  alerts.

Failures become Sakimori errors: the platform unreachable or failing (5xx) is
``SourceUnavailable``; a refusal (4xx: a bad token, a role that may not report, a sighting it
does not accept) is ``InvalidInput`` with the platform's explanation (its problem ``detail``).
The token is sent only in the ``Authorization`` header and never logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx

from sakimori import __version__
from sakimori.errors import InvalidInput, SourceUnavailable
from sakimori.monitoring.detectors.interface import Alert
from sakimori.monitoring.sightings import Privacy, Sighting, document, sightings
from sakimori.monitoring.sigma.loader import RuleSource

log = logging.getLogger(__name__)

RULES_PATH: Final = "/v1/detection-rules"
SIGHTINGS_PATH: Final = "/v1/sightings"
#: Sightings per request (the platform takes up to 1,000, within its 1 MiB body limit).
BATCH: Final = 500
#: Closed alerts a follower keeps while the platform cannot be reached.
MAX_PENDING: Final = 100_000


@dataclass(frozen=True, slots=True)
class Sent:
    received: int = 0
    stored: int = 0
    merged: int = 0


class Platform:
    """The platform at ``server``, called with ``token``."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not server.startswith(("http://", "https://")):
            raise InvalidInput(
                f"{server!r} is not an http(s) URL", hint="e.g. https://sakimori.example"
            )
        self.server = server.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            "User-Agent": f"sakimori/{__version__}",
        }
        self._timeout = timeout
        self._transport = transport

    def __repr__(self) -> str:  # never the token
        return f"Platform({self.server})"

    def _call(self, method: str, path: str, what: str, body: Any = None) -> Any:
        try:
            with httpx.Client(
                base_url=self.server,
                headers=self._headers,
                timeout=self._timeout,
                transport=self._transport,
                follow_redirects=False,
            ) as client:
                response = client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise SourceUnavailable(
                f"cannot reach the platform for {what}: {exc}", where=self.server
            ) from None
        if response.status_code >= 500:
            raise SourceUnavailable(
                f"the platform failed on {what} ({response.status_code})", where=self.server
            )
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("detail", ""))
            except ValueError:
                detail = response.text[:300]
            raise InvalidInput(
                f"the platform refused {what} ({response.status_code}): {detail}", where=self.server
            )
        try:
            return response.json()
        except ValueError:
            raise SourceUnavailable(
                f"the platform's answer to {what} is not JSON", where=self.server
            ) from None

    def rules(self) -> list[RuleSource]:
        """The Sigma rules of the packages the token's organisation receives."""
        found: list[RuleSource] = []
        for package in self._call("GET", RULES_PATH, "the package rules"):
            origin = f"package:{package['package_id']}"
            vulnerabilities = tuple(str(v) for v in package.get("vulnerabilities", ()))
            found.extend(
                RuleSource(origin, str(text), vulnerabilities) for text in package["rules"]
            )
        return found

    def send(self, items: Sequence[Sighting], privacy: Privacy) -> Sent:
        """Send ``items`` (in parts of :data:`BATCH`); what the platform stored."""
        received = stored = merged = 0
        for start in range(0, len(items), BATCH):
            answer = self._call(
                "POST",
                SIGHTINGS_PATH,
                "the sightings",
                document(items[start : start + BATCH], privacy),
            )
            received += int(answer.get("received", 0))
            stored += int(answer.get("stored", 0))
            merged += int(answer.get("merged", 0))
        return Sent(received, stored, merged)


class Reporter:
    """Sends the sightings of closed alerts in the background (``watch --follow --to``)."""

    def __init__(self, platform: Platform, privacy: Privacy, every: float = 60.0) -> None:
        self.platform = platform
        self.privacy = privacy
        self.every = every
        self.sent = Sent()
        self._pending: list[Alert] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sightings", daemon=True)
        self._thread.start()

    def add(self, alert: Alert) -> None:
        with self._lock:
            self._pending.append(alert)
            if len(self._pending) > MAX_PENDING:
                del self._pending[: len(self._pending) - MAX_PENDING]
                log.warning(
                    "sightings: more than %d alerts wait to be sent; the oldest are dropped",
                    MAX_PENDING,
                )

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.flush()
            except (SourceUnavailable, InvalidInput) as exc:
                log.warning("sightings: not sent, will try again: %s", exc.diagnostics())

    def flush(self) -> None:
        """Send what is pending now (kept for the next try if the platform does not take it)."""
        with self._lock:
            taken, self._pending = self._pending, []
        if not taken:
            return
        try:
            sent = self.platform.send(sightings(taken, self.privacy), self.privacy)
        except (SourceUnavailable, InvalidInput):
            with self._lock:
                self._pending[:0] = taken
            raise
        self.sent = Sent(
            self.sent.received + sent.received,
            self.sent.stored + sent.stored,
            self.sent.merged + sent.merged,
        )

    def close(self) -> None:
        """Stop the thread and send what is left (errors are raised to the caller)."""
        self._stop.set()
        self._thread.join()
        self.flush()
