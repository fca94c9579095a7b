"""How old each intelligence source is, and which are older than they should be.

A source's age is the time since it was last checked (``intel sync`` or ``intel load``), so a
feed that answered "not modified" is fresh: it was asked. A source is *stale* when its age is
more than the refresh interval expected of its kind. The intervals follow how often upstream
publishes and leave room for one missed run of an hourly or daily ``intel sync``: OSV, KEV and
CVE records change many times a day, so a day without a check is too long; EPSS publishes once
a day, so two; the SSVC decision tables change a few times a year, so thirty. The API's
Prometheus metrics and the web dashboard's alarm both read :func:`ages`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sakimori.store import models

#: The longest a source of each kind may go unchecked before it is stale.
EXPECTED_REFRESH: Final[dict[str, timedelta]] = {
    "osv": timedelta(days=1),
    "kev": timedelta(days=1),
    "cve": timedelta(days=1),
    "epss": timedelta(days=2),
    "ssvc": timedelta(days=30),
}
#: For a source of a kind not listed (a directory of mixed documents loaded with ``intel load``).
DEFAULT_REFRESH: Final = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class SourceAge:
    name: str
    kind: str
    #: Since the last check; None when the source was never checked.
    age: timedelta | None
    expected: timedelta

    @property
    def stale(self) -> bool:
        return self.age is None or self.age > self.expected


def expected_refresh(kind: str) -> timedelta:
    return EXPECTED_REFRESH.get(kind, DEFAULT_REFRESH)


def ages(sources: Iterable[models.IntelSource], now: datetime | None = None) -> list[SourceAge]:
    """Each source's age and expected refresh interval, by name."""
    now = now or datetime.now(UTC)
    found = []
    for source in sources:
        checked = source.checked_at
        if checked is not None and checked.tzinfo is None:  # SQLite gives naive UTC times
            checked = checked.replace(tzinfo=UTC)
        age = None if checked is None else max(now - checked, timedelta(0))
        found.append(SourceAge(source.name, source.kind, age, expected_refresh(source.kind)))
    return sorted(found, key=lambda s: s.name)


def stale(sources: Iterable[models.IntelSource], now: datetime | None = None) -> list[SourceAge]:
    """The sources older than their expected refresh interval (or never checked)."""
    return [s for s in ages(sources, now) if s.stale]
