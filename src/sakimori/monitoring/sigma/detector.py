"""The ``sigma`` detector: Sigma rule matches as alerts, with the usual alert bookkeeping.

One request that matches a rule is evidence. Alerts are per address, as for every other
detector (``detectors/interface.py``): an alert opens at the first match, grows with each
further one (count, last seen, examples), and closes after ``alert_idle`` seconds without one.
Its reason names every rule matched while it was open, with its id, level and how many requests
matched it, highest level first.

When it closes, the alert carries each rule as a ``RuleMatch`` (id, version, origin, the
vulnerabilities it names, its own first/last match and count): what sightings are made of.

State: per open alert, the rules it matched (bounded by the open-alert bound); nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.interface import Detector, RuleMatch, _Open
from sakimori.monitoring.record import HTTP, Record
from sakimori.monitoring.sigma.compiler import CompiledRule
from sakimori.monitoring.sigma.engine import RuleSet

_LEVELS = {"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4}


class Hit:
    """One rule an open alert matched, how many requests matched it, first and last when."""

    __slots__ = ("count", "first", "last", "rule")

    def __init__(self, rule: CompiledRule, first: datetime) -> None:
        self.rule = rule
        self.count = 0
        self.first = first
        self.last = first

    def match(self) -> RuleMatch:
        rule = self.rule
        return RuleMatch(
            rule.id,
            rule.title,
            rule.version,
            rule.origin,
            rule.vulnerabilities,
            self.first,
            self.last,
            self.count,
        )


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
            moment = record.time
            for rule in matched:
                key = rule.id or rule.title
                hit = hits.get(key)
                if hit is None:
                    hit = hits[key] = Hit(rule, moment)
                elif moment > hit.last:
                    hit.last = moment
                hit.count += 1
            self.evidence(client, record, (reason, hits))
        return matched

    def rules_of(self, alert: _Open) -> tuple[RuleMatch, ...]:
        if not isinstance(alert.reason, tuple):
            return ()
        hits: Hits = alert.reason[1]
        return tuple(hit.match() for hit in hits.values())
