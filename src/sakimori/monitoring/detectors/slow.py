"""(g) Low and slow: one address showing several different kinds of suspicious request.

An LLM agent driving curl, or a careful person with a script, sends few requests, seconds or
minutes apart — under every rate threshold — but each one is a different probe: a secrets file,
an admin console, a SQL injection, a template injection. The other detectors classify each
request (path categories, payload classes, tool/generic/empty/stale user agent, a request that
is not HTTP at all); this one counts the *distinct* classes per address within ``slow_window``
seconds and alerts at ``slow_min_classes``.

A weak class alone (a generic client, an old browser) never gets there: it takes at least two
more classes, and a legitimate client shows none.

State: one ``BoundedMap`` of ``max_clients`` addresses, created at the first suspicious request;
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


class LowAndSlowDetector(Detector):
    name = "http-low-and-slow"

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._clients: BoundedMap[_Classes] = BoundedMap(config.max_clients)

    def feed(self, record: Record) -> None:
        """Not used: this detector needs the classes of the others (``observe``)."""

    def observe(self, record: Record, classes: Iterable[str]) -> None:
        """Take one request with the suspicious classes the other detectors gave it."""
        config = self.config
        self.sweep(record.ts)
        client = record.client
        state = self._clients.get(client)
        if state is None or record.ts - state.start > config.slow_window:
            state = _Classes(record)
            self._clients.put(client, state)
        state.count += 1
        new = False
        for name in classes:
            if name not in state.classes:
                state.classes.add(name)
                new = True
        if new and len(state.examples) < config.examples:
            state.examples.append(example(record))
        if len(state.classes) >= config.slow_min_classes:
            self.evidence(
                client,
                record,
                f"{len(state.classes)} kinds of suspicious request within "
                f"{config.slow_window:g}s: {', '.join(sorted(state.classes))}",
                first=state.first,
                earlier=state.examples,
                count=state.count,
            )
