"""(a) Rate and burstiness: how fast, and how machine-regular, one address asks for pages.

Only non-static requests count: a browser fetching a page's forty images in a second is normal,
forty pages in a second is not.

*Rate* is a leaky bucket kept as one number per address (the generic cell rate algorithm): the
time at which the bucket would be empty. Each request adds ``1 / rate_per_second`` seconds; when
the bucket holds more than ``rate_burst`` requests, the client is over the rate. A person cannot
get there; every wordlist tool does within a second.

*Regular timing* follows the gaps between an address's non-static requests with an
exponentially weighted mean and variance (the last ``regular_min_gaps`` gaps or so): a script
with ``sleep(n)`` between requests has a coefficient of variation near zero, a person's clicks do
not. Pollers (one URL on a timer) are regular too, so a minimum share of path changes is required.

State: one small object per address (the bucket's empty time, five timing numbers and the last
path) — in this detector's ``BoundedMap`` of ``max_clients`` entries when it runs alone, in the
shared per-client state when ``DetectorSet`` runs it (``step``).
"""

from __future__ import annotations

from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.features import is_static
from sakimori.monitoring.detectors.interface import BoundedMap, Detector
from sakimori.monitoring.record import Record


class Pace:
    """One address's bucket and timing."""

    __slots__ = ("changes", "empty_at", "gaps", "last_path", "last_ts", "mean", "var")

    def __init__(self, ts: float, path: str, empty_at: float) -> None:
        self.empty_at = empty_at
        self.last_ts = ts
        self.last_path = path
        self.gaps = 0
        self.mean = 0.0
        self.var = 0.0
        self.changes = 0.0


def _rate_reason(per_second: float, burst: int) -> str:
    return f"non-static requests faster than {per_second:g}/s after a burst of {burst}"


def _regular_reason(mean: float, max_cv: float) -> str:
    return (
        f"non-static requests at machine-regular intervals (mean {mean:.1f}s, variation "
        f"≤ {max_cv:.0%}) across paths"
    )


class RateDetector(Detector):
    """Emits ``http-rate`` and ``http-regular-timing`` alerts."""

    name = "http-rate"
    regular = "http-regular-timing"

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._clients: BoundedMap[Pace] = BoundedMap(config.max_clients)
        self._cost = 1.0 / config.rate_per_second
        self._limit = config.rate_burst * self._cost
        self._alpha = 2.0 / (config.regular_min_gaps + 1)
        self._rate_reason = (_rate_reason, config.rate_per_second, config.rate_burst)

    def feed(self, record: Record) -> None:
        if is_static(record.path):
            return
        self.sweep(record.ts)
        pace = self._clients.get(record.client)
        new = self.step(record, pace)
        if new is not pace:
            self._clients.put(record.client, new)

    def step(self, record: Record, pace: Pace | None) -> Pace:
        """Take one non-static request of the address whose state is ``pace`` (``None`` at its
        first); returns the state to keep. The caller sweeps."""
        ts = record.ts
        if pace is None:
            empty_at = ts + self._cost
            pace = Pace(ts, record.path, empty_at)
            if empty_at - ts > self._limit:  # only with a burst below one request
                pace.empty_at = ts + self._limit + self._cost
                self._over(record)
            return pace
        empty_at = pace.empty_at
        empty_at = (ts if empty_at < ts else empty_at) + self._cost
        if empty_at - ts > self._limit:  # a full bucket does not fill further
            pace.empty_at = ts + self._limit + self._cost
            self._over(record)
        else:
            pace.empty_at = empty_at
        self._time(record, pace, ts)
        return pace

    def _over(self, record: Record) -> None:
        self.evidence(record.client, record, self._rate_reason, count=self.config.rate_burst + 1)

    def _time(self, record: Record, timing: Pace, ts: float) -> None:
        config = self.config
        gap = ts - timing.last_ts
        if gap < 0:
            gap = 0.0
        alpha = self._alpha
        changed = 1.0 if record.path != timing.last_path else 0.0
        if timing.gaps == 0:
            timing.mean, timing.var, timing.changes = gap, 0.0, changed
        else:
            delta = gap - timing.mean
            timing.mean += alpha * delta
            timing.var = (1 - alpha) * (timing.var + alpha * delta * delta)
            timing.changes += alpha * (changed - timing.changes)
        timing.gaps += 1
        timing.last_ts = ts
        timing.last_path = record.path
        if (
            timing.gaps >= config.regular_min_gaps
            and config.regular_min_mean <= timing.mean <= config.regular_max_mean
            and timing.var <= (config.regular_max_cv * timing.mean) ** 2
            and timing.changes >= config.regular_min_path_changes
        ):
            self.evidence(
                record.client,
                record,
                (_regular_reason, timing.mean, config.regular_max_cv),
                name=self.regular,
            )
