"""(g) Low and slow: one address showing several different kinds of suspicious request.

An LLM agent driving curl, or a careful person with a script, sends few requests, seconds or
minutes apart — under every rate threshold — but each one is a different probe: a secrets file,
an admin console, a SQL injection, a template injection. The other detectors classify each
request (path categories, payload classes, tool/generic/empty/stale user agent, a request that
is not HTTP at all); this one counts the *distinct* classes per address within ``slow_window``
seconds and alerts at ``slow_min_classes``.

A weak class alone (a generic client, an old browser) never gets there: it takes at least two
more classes, and a legitimate client shows none.

State: per address (this detector's ``BoundedMap`` of ``max_clients`` when it runs alone, the
shared per-client state under ``DetectorSet``), created at the first suspicious request;
each holds the set of classes seen (at most a few dozen names), two numbers and the examples.
"""

from __future__ import annotations

from collections.abc import Iterable

from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.interface import BoundedMap, Detector, example
from sakimori.monitoring.record import Record


class _Classes:
    __slots__ = ("classes", "count", "examples", "first", "start")

    def __init__(self, record: Record) -> None:
        self.start = record.ts
        self.first = record.time
        self.classes: set[str] = set()
        self.count = 0
        self.examples: list[str] = []


def _reason(classes: set[str], window: float) -> str:
    return f"{len(classes)} kinds of suspicious request within {window:g}s: " + ", ".join(
        sorted(classes)
    )


class LowAndSlowDetector(Detector):
    name = "http-low-and-slow"

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._clients: BoundedMap[_Classes] = BoundedMap(config.max_clients)

    def feed(self, record: Record) -> None:
        """Not used: this detector needs the classes of the others (``observe``)."""

    def observe(self, record: Record, classes: Iterable[str]) -> None:
        """Take one request with the suspicious classes the other detectors gave it."""
        self.sweep(record.ts)
        state = self._clients.get(record.client)
        new = self.step(record, state, classes)
        if new is not state:
            self._clients.put(record.client, new)

    def step(self, record: Record, state: _Classes | None, classes: Iterable[str]) -> _Classes:
        """``observe`` on the address's state (``None`` at its first suspicious request);
        returns the state to keep. The caller sweeps."""
        config = self.config
        if state is None or record.ts - state.start > config.slow_window:
            state = _Classes(record)
        state.count += 1
        seen = state.classes
        before = len(seen)
        seen.update(classes)
        if len(seen) != before and len(state.examples) < config.examples:
            state.examples.append(example(record))
        if len(seen) >= config.slow_min_classes:
            # The reason reads the set when the alert closes: a window's set only grows with
            # evidence, and a new window is a new set.
            self.evidence(
                record.client,
                record,
                (_reason, seen, config.slow_window),
                first=state.first,
                earlier=state.examples,
                count=state.count,
            )
        return state
