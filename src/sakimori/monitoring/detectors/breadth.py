"""(b) Breadth: many distinct non-static paths, mostly answered 3xx/4xx — a wordlist at work.

Whatever user agent it sends, a tool enumerating paths asks for pages the site does not have;
a person follows links that exist. Per address, in a window of ``breadth_window`` seconds (it
restarts after that), the detector counts non-static requests, those answered 3xx or 4xx (or not
answered with a status at all), and the distinct paths among the latter. An alert when at least
``breadth_min_paths`` distinct such paths make up at least ``breadth_min_error_share`` of the
requests. Requests that are not HTTP at all (binary, TLS to a plain port) count as errors with
their raw text as the path.

State: one window per address (in this detector's ``BoundedMap`` of ``max_clients`` addresses
when it runs alone, in the shared per-client state under ``DetectorSet``); each holds a set of
at most ``breadth_min_paths`` paths (created at the first error answer), three numbers and up to
``examples`` example strings.
"""

from __future__ import annotations

from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.features import is_static
from sakimori.monitoring.detectors.interface import BoundedMap, Detector, example
from sakimori.monitoring.record import Record


class _Window:
    __slots__ = ("errors", "examples", "first", "paths", "start", "total")

    def __init__(self, record: Record) -> None:
        self.start = record.ts
        self.first = record.time
        self.total = 0
        self.errors = 0
        self.paths: set[str] | None = None
        self.examples: list[str] = []


def _reason(min_paths: int, errors: int, total: int, window: float) -> str:
    return (
        f"at least {min_paths} distinct non-static paths answered 3xx/4xx ({errors} of {total} "
        f"requests) within {window:g}s"
    )


class BreadthDetector(Detector):
    name = "http-breadth"

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._clients: BoundedMap[_Window] = BoundedMap(config.max_clients)

    def feed(self, record: Record) -> None:
        if is_static(record.path):
            return
        self.sweep(record.ts)
        window = self._clients.get(record.client)
        new = self.step(record, window)
        if new is not window:
            self._clients.put(record.client, new)

    def step(self, record: Record, window: _Window | None) -> _Window:
        """Take one non-static request of the address whose window is ``window`` (``None`` at
        its first); returns the window to keep. The caller sweeps."""
        config = self.config
        if window is None or record.ts - window.start > config.breadth_window:
            window = _Window(record)
        window.total += 1
        status = record.status
        if not (status == 0 or 300 <= status < 500):
            return window
        window.errors += 1
        paths = window.paths
        if paths is None:
            paths = window.paths = set()
        if len(paths) < config.breadth_min_paths:
            paths.add(record.path)
            if len(window.examples) < config.examples:
                window.examples.append(example(record))
        if (
            len(paths) >= config.breadth_min_paths
            and window.errors >= config.breadth_min_error_share * window.total
        ):
            self.evidence(
                record.client,
                record,
                (
                    _reason,
                    config.breadth_min_paths,
                    window.errors,
                    window.total,
                    config.breadth_window,
                ),
                first=window.first,
                earlier=window.examples,
                count=window.errors,
            )
        return window
