"""Talking to the platform API: a vendor's upload, and an operator's roll-out reports.

:func:`upload_staged` sends a repository's staged upload (``REPO/staged``: signed metadata and
artefacts) to ``POST /v1/updates/{vendor}/uploads``; the platform checks and publishes it.

:class:`PlatformReporter` is a ``rollout.StepReporter`` over the API.

Every journal entry of a roll-out is POSTed to ``/v1/updates/reports`` with the operator's
asset and the vendor; when the platform hears ``rollout-completed`` it moves the asset's open
findings for the release's vulnerabilities to ``fix_applied`` (docs/updates.md). A report that
fails raises ``SourceUnavailable``; ``Rollout`` logs it and carries on (a roll-out never stops
because the platform is unreachable), and the journal keeps the step either way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from sakimori import __version__
from sakimori.errors import InvalidInput, SourceUnavailable
from sakimori.updates.repository import VendorRepository, record_uploaded

log = logging.getLogger(__name__)

REPORTS_PATH = "/v1/updates/reports"


def upload_staged(
    repo: VendorRepository, server: str, token: str, vendor: str, *, timeout: float = 120.0
) -> dict[str, Any]:
    """Upload ``repo``'s staged metadata and artefacts; the platform's answer. Once accepted,
    the uploaded metadata becomes the local copy of what is published (``record_uploaded``).
    A refusal raises ``InvalidInput`` with the platform's explanation (its problem document's
    ``detail``) and leaves ``REPO/staged`` as it was."""
    files: list[tuple[str, tuple[str, bytes, str]]] = [
        ("metadata", (f"{role}.json", data, "application/json"))
        for role, data in repo.staged().items()
    ]
    files += [
        ("artefacts", (target, path.read_bytes(), "application/octet-stream"))
        for target, path in repo.staged_artefacts().items()
    ]
    if not files:
        raise InvalidInput("nothing is staged to upload", where=str(repo.path))
    try:
        response = httpx.post(
            f"{server.rstrip('/')}/v1/updates/{vendor}/uploads",
            files=files,
            headers={"Authorization": f"Bearer {token}", "User-Agent": f"sakimori/{__version__}"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise SourceUnavailable(f"the platform did not take the upload: {exc}") from exc
    if response.status_code >= 400:
        try:
            detail = str(response.json().get("detail", response.text[:300]))
        except ValueError:
            detail = response.text[:300]
        raise InvalidInput(f"the platform refused the upload ({response.status_code}): {detail}")
    answer: dict[str, Any] = response.json()
    record_uploaded(repo)
    return answer


class PlatformReporter:
    """Reports each roll-out step of ``vendor``'s releases on ``asset`` to the platform."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        vendor: str,
        asset: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.vendor = vendor
        self.asset = asset
        self.sent: list[dict[str, Any]] = []
        self._server = server.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            "User-Agent": f"sakimori/{__version__}",
        }
        self._timeout = timeout
        self._transport = transport

    def close(self) -> None:
        """Nothing stays open between reports (one short connection per step)."""

    def __repr__(self) -> str:  # never the token
        return f"PlatformReporter({self._server}, asset={self.asset})"

    def report(self, entry: Mapping[str, Any]) -> None:
        body: dict[str, Any] = {
            "vendor": self.vendor,
            "asset": self.asset,
            "event": entry.get("event"),
        }
        if isinstance(entry.get("line"), str):
            body["line"] = entry["line"]
        if isinstance(entry.get("version"), str):
            body["version"] = entry["version"]
        if isinstance(entry.get("group"), str):
            body["group"] = entry["group"]  # the stage: canary, rest …
        if isinstance(entry.get("passed"), bool):
            body["passed"] = entry["passed"]  # a health check's outcome
        try:
            with httpx.Client(
                base_url=self._server,
                headers=self._headers,
                timeout=self._timeout,
                transport=self._transport,
                follow_redirects=False,
            ) as client:
                response = client.post(REPORTS_PATH, json=body)
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"the platform did not take the report: {exc}") from exc
        if response.status_code >= 400:
            detail = response.text[:300]
            raise SourceUnavailable(
                f"the platform refused the {body['event']} report "
                f"({response.status_code}): {detail}"
            )
        answer: dict[str, Any] = response.json()
        self.sent.append(answer)
        if answer.get("moved"):
            log.info("the platform marked findings %s as fix applied", answer["moved"])
