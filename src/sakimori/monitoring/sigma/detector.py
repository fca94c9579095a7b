"""The ``sigma`` detector: Sigma rule matches as alerts, with the usual alert bookkeeping.

One request that matches a rule is evidence. Alerts are per address, as for every other
detector (``detectors/interface.py``): an alert opens at the first match, grows with each
further one (count, last seen, examples), and closes after ``alert_idle`` seconds without one.
Its reason names every rule matched while it was open, with its id, level and how many requests
matched it, highest level first.

State: per open alert, the rules it matched (bounded by the open-alert bound); nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.interface import Detector
from sakimori.monitoring.record import HTTP, Record
from sakimori.monitoring.sigma.compiler import CompiledRule
from sakimori.monitoring.sigma.engine import RuleSet

_LEVELS = {"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4}


class Hit:
    """One rule an open alert matched, and how many requests matched it."""

    __slots__ = ("count", "rule")

    def __init__(self, rule: CompiledRule) -> None:
        self.rule = rule
        self.count = 0


#: The rules one open alert matched, by rule id (or title).
Hits = dict[str, Hit]


def reason(hits: Hits) -> str:
    ranked = sorted(
        hits.values(),
        key=lambda hit: (_LEVELS.get(hit.rule.level, 5), -hit.count, hit.rule.title),
    )
    return "Sigma: " + "; ".join(f"{hit.rule.describe()} x{hit.count}" for hit in ranked)


class SigmaDetector(Detector):
    name = "sigma"

    def __init__(self, rules: RuleSet, config: DetectorConfig | None = None) -> None:
        super().__init__(config or DetectorConfig())
        self.rules = rules
        self._match = rules.match

    def feed(self, record: Record) -> Sequence[CompiledRule]:
        """Take one record; returns the rules it matched."""
        if record.kind != HTTP:
            return ()
        ts = record.ts
        if ts >= self._next_sweep:
            self.sweep(ts)
        matched = self._match(record)
        if matched:
            client = record.client
            current = self._open.get((self.name, client))
            hits: Hits = {}
            if current is not None and isinstance(current.reason, tuple):
                hits = current.reason[1]  # the rules this client's open alert matched
            for rule in matched:
                key = rule.id or rule.title
                hit = hits.get(key)
                if hit is None:
                    hit = hits[key] = Hit(rule)
                hit.count += 1
            self.evidence(client, record, (reason, hits))
        return matched
