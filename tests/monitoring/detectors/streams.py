"""Synthetic record streams for detector tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sakimori.monitoring.detectors import Alert, DetectorConfig, DetectorSet
from sakimori.monitoring.detectors.interface import Detector
from sakimori.monitoring.record import HTTP, SSH, Record

T0 = 1_700_000_000.0
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def http(
    ts: float,
    path: str = "/",
    *,
    client: str = "198.51.100.7",
    status: int = 200,
    agent: str = BROWSER,
    method: str = "GET",
    query: str = "",
    referrer: str = "",
    line: int = 0,
) -> Record:
    time = datetime.fromtimestamp(T0 + ts, UTC)
    return Record(
        HTTP, time, T0 + ts, client, method, path, query, status, 100, referrer, agent, line=line
    )


def ssh(ts: float, outcome: str, user: str = "root", client: str = "203.0.113.5") -> Record:
    time = datetime.fromtimestamp(T0 + ts, UTC)
    return Record(SSH, time, T0 + ts, client, user=user, outcome=outcome)


def run(detector: Detector, records: list[Record]) -> list[Alert]:
    for record in records:
        detector.feed(record)
    return detector.flush()


def run_all(records: list[Record], config: DetectorConfig | None = None) -> list[Alert]:
    detectors = DetectorSet(config)
    for record in records:
        detectors.feed(record)
    return detectors.flush()


def human_session(client: str = "192.0.2.10", start: float = 0.0, pages: int = 30) -> list[Record]:
    """A person browsing: a page every 8-20 s, each with its CSS, JS, images and font, one 404."""
    records = []
    ts = start
    for n in range(pages):
        page = f"/articles/{n}-title" if n % 3 else f"/category/{n}?page={n % 4}"
        records.append(http(ts, page, client=client, referrer="https://example.org/"))
        for k, asset in enumerate(("/css/site.css", "/js/app.js", f"/img/{n}.jpg", "/f/a.woff2")):
            records.append(http(ts + 0.2 + k * 0.05, asset, client=client))
        if n == 7:
            records.append(http(ts + 1, "/articles/old-link", client=client, status=404))
        ts += 8 + (n * 7) % 13
    return records
