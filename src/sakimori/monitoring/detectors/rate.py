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

State: two ``BoundedMap``s of ``max_clients`` entries each — a float per address for the rate,
a small object (six numbers and the last path) per address for the timing.
"""

from __future__ import annotations

from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.features import is_static
from sakimori.monitoring.detectors.interface import BoundedMap, Detector
from sakimori.monitoring.record import Record


class _Timing:
    __slots__ = ("changes", "gaps", "last_path", "last_ts", "mean", "var")

    def __init__(self, ts: float, path: str) -> None:
        self.last_ts = ts
        self.last_path = path
        self.gaps = 0
        self.mean = 0.0
        self.var = 0.0
        self.changes = 0.0


class RateDetector(Detector):
    """Emits ``http-rate`` and ``http-regular-timing`` alerts."""

    name = "http-rate"
    regular = "http-regular-timing"

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._empty_at: BoundedMap[float] = BoundedMap(config.max_clients)
        self._timing: BoundedMap[_Timing] = BoundedMap(config.max_clients)
        self._cost = 1.0 / config.rate_per_second
        self._limit = config.rate_burst * self._cost
        self._alpha = 2.0 / (config.regular_min_gaps + 1)

    def feed(self, record: Record) -> None:
        if is_static(record.path):
            return
        ts = record.ts
        client = record.client
        self.sweep(ts)
        empty_at = self._empty_at.get(client)
        empty_at = (ts if empty_at is None or empty_at < ts else empty_at) + self._cost
        over = empty_at - ts > self._limit
        if over:  # a full bucket does not fill further: it drains in burst / rate seconds
            empty_at = ts + self._limit + self._cost
        self._empty_at.put(client, empty_at)
        if over:
            self.evidence(
                client,
                record,
                f"non-static requests faster than {self.config.rate_per_second:g}/s after a "
                f"burst of {self.config.rate_burst}",
                count=self.config.rate_burst + 1,
            )
        self._time(record, client, ts)

    def _time(self, record: Record, client: str, ts: float) -> None:
        config = self.config
        timing = self._timing.get(client)
        if timing is None:
            self._timing.put(client, _Timing(ts, record.path))
            return
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
                client,
                record,
                f"non-static requests at machine-regular intervals (mean "
                f"{timing.mean:.1f}s, variation ≤ {config.regular_max_cv:.0%}) across paths",
                name=self.regular,
            )
