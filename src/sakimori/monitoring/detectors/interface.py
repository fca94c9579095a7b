"""What a detector is: the ``Alert`` it emits, the open-alert bookkeeping, the bounded state map.

Detectors are pure: fed ``Record``s in time order (small disorder is tolerated: a negative gap
counts as zero), they keep bounded state and hand back ``Alert``s. An alert opens when the
detector's condition first holds for a client, grows with every further piece of evidence
(``count``, ``last_seen``, up to ``examples`` example requests), and closes when no evidence came
for ``alert_idle`` seconds of log time, when the open-alert bound forces it out (it is emitted,
never dropped), or at ``flush()``.

State bound: per-client state lives in ``BoundedMap``s of at most ``max_clients`` entries,
least recently used first out; open alerts in at most ``max_open_alerts``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.record import HTTP, Record

V = TypeVar("V")

#: Why an alert fired: the text, or ``(function, *arguments)`` that make it when the alert
#: closes (evidence arrives on most attack lines; formatting a reason each time is wasted).
Reason = str | tuple[Any, ...]


def reason_text(reason: Reason) -> str:
    if isinstance(reason, str):
        return reason
    return cast(str, reason[0](*reason[1:]))


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule an alert's requests matched (``sigma``): which rule, which version, where it came
    from (a file, or ``package:<id>``), the vulnerabilities it names, and when and how often it
    matched. What a sighting reports (``monitoring/sightings.py``)."""

    id: str
    title: str
    version: str  # the rule's ``modified`` (else ``date``) as YYYY-MM-DD; "" when it has none
    origin: str
    vulnerabilities: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "version": self.version,
            "origin": self.origin,
            "vulnerabilities": list(self.vulnerabilities),
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "count": self.count,
        }


@dataclass(frozen=True, slots=True)
class Alert:
    """One detection: which detector, which client, when (log time), how many, examples, and
    for rule-based detectors the rules matched."""

    detector: str
    client: str
    first_seen: datetime
    last_seen: datetime
    count: int
    examples: tuple[str, ...]
    reason: str
    rules: tuple[RuleMatch, ...] = ()

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "detector": self.detector,
            "client": self.client,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "count": self.count,
            "examples": list(self.examples),
            "reason": self.reason,
        }
        if self.rules:
            found["rules"] = [rule.to_json() for rule in self.rules]
        return found


def example(record: Record) -> str:
    """A short, readable line for an alert's examples."""
    if record.kind == HTTP:
        target = f"{record.path}?{record.query}" if record.query else record.path
        if len(target) > 200:
            target = target[:200] + "…"
        text = f"{record.method} {target}" if record.method else f"(not HTTP) {target}"
        status = f" -> {record.status}" if record.status else ""
        agent = f' "{record.agent[:80]}"' if record.agent else ""
        return f"line {record.line}: {text}{status}{agent}"
    user = f" user {record.user!r}" if record.user else ""
    return f"line {record.line}: ssh {record.outcome}{user}"


class BoundedMap(Generic[V]):
    """A map of at most ``limit`` entries; the least recently used goes first.

    An ``OrderedDict``: evicting from the front of a plain dict makes every later
    ``next(iter(d))`` skip the deleted slots (quadratic over millions of clients); ``popitem``
    and ``move_to_end`` of ``OrderedDict`` are constant time.
    """

    __slots__ = ("data", "limit")

    def __init__(self, limit: int) -> None:
        self.data: OrderedDict[str, V] = OrderedDict()
        self.limit = max(1, limit)

    def get(self, key: str) -> V | None:
        """The entry, marked most recently used; ``None`` when absent."""
        value = self.data.get(key)
        if value is not None:
            self.data.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> tuple[str, V] | None:
        """Insert (most recently used); returns the evicted (key, value) when over the limit."""
        data = self.data
        data[key] = value
        data.move_to_end(key)
        if len(data) > self.limit:
            return data.popitem(last=False)
        return None

    def __len__(self) -> int:
        return len(self.data)


class _Open:
    """An alert being built."""

    __slots__ = ("client", "count", "examples", "first", "last", "last_ts", "reason")

    def __init__(self, client: str, first: datetime, ts: float, reason: Reason) -> None:
        self.client = client
        self.first = first
        self.last = first
        self.last_ts = ts
        self.count = 0
        self.examples: list[str] = []
        self.reason = reason


class Detector:
    """Base class: bookkeeping of open alerts. Subclasses implement ``feed``."""

    #: The detector's name in alerts (subclasses may emit under several names).
    name: str = ""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self._open: OrderedDict[tuple[str, str], _Open] = OrderedDict()
        self._done: list[Alert] = []
        self._next_sweep = 0.0

    # -- for subclasses --------------------------------------------------------------------------
    def evidence(
        self,
        client: str,
        record: Record,
        reason: Reason,
        *,
        name: str | None = None,
        first: datetime | None = None,
        earlier: list[str] | None = None,
        count: int = 1,
    ) -> None:
        """Open (or grow) the alert of ``name`` for ``client`` with this record as evidence.

        ``first``/``earlier``/``count`` seed a new alert with the evidence that led to it (the
        window's start, earlier example requests, how many events the condition counted).
        """
        key = (name or self.name, client)
        alert = self._open.get(key)
        if alert is None:
            alert = _Open(client, first or record.time, record.ts, reason)
            if earlier:
                alert.examples.extend(earlier[: self.config.examples])
            alert.count = count - 1
            self._open[key] = alert
            if len(self._open) > self.config.max_open_alerts:
                self._close(*self._open.popitem(last=False))
        alert.count += 1
        alert.reason = reason
        ts = record.ts
        if ts >= alert.last_ts:
            alert.last, alert.last_ts = record.time, ts
        examples = alert.examples
        if len(examples) < self.config.examples:
            text = example(record)
            if text not in examples:
                examples.append(text)

    def sweep(self, ts: float) -> None:
        """Close alerts idle for ``alert_idle`` seconds; cheap to call on every record."""
        if ts < self._next_sweep:
            return
        self._next_sweep = ts + 60.0
        horizon = ts - self.config.alert_idle
        for key in [k for k, a in self._open.items() if a.last_ts < horizon]:
            self._close(key, self._open.pop(key))

    def _close(self, key: tuple[str, str], alert: _Open) -> None:
        self._done.append(
            Alert(
                key[0],
                alert.client,
                alert.first,
                alert.last,
                alert.count,
                tuple(alert.examples),
                reason_text(alert.reason),
                self.rules_of(alert),
            )
        )

    def rules_of(self, alert: _Open) -> tuple[RuleMatch, ...]:
        """The rules an alert being built matched (none, but for rule-based detectors)."""
        return ()

    # -- for callers ----------------------------------------------------------------------------
    def feed(self, record: Record) -> object:
        """Take one record. Signal detectors return the suspicious classes it showed."""
        raise NotImplementedError

    def take(self) -> list[Alert]:
        """Alerts closed so far (and forget them)."""
        done, self._done = self._done, []
        return done

    def flush(self) -> list[Alert]:
        """Close every open alert and return everything not yet taken."""
        for key, alert in self._open.items():
            self._close(key, alert)
        self._open.clear()
        return self.take()
