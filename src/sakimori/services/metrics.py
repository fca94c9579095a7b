"""Remediation metrics: open findings by decision, overdue, on-time rate, time to remediate.

Computed per organisation, per sector and overall, and month by month, from one pass over the
findings (the columns needed only). :func:`report` is the direct computation (``sakimori
report`` uses it, and it is the reference the pre-aggregated figures are tested against);
the dashboard, the API and ``/metrics`` read the snapshot that
:mod:`sakimori.services.metrics_snapshot` keeps from the same pass.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from sakimori.model.lifecycle import CLOSED, State
from sakimori.store import models
from sakimori.store.db import Database, aware
from sakimori.store.triage_view import triaged

#: Closed states that mean the exposure was removed or neutralised (not "declared away").
REMEDIATED = frozenset({State.FIXED.value, State.MITIGATED.value})
CLOSED_STATES = frozenset(s.value for s in CLOSED)
#: Rows fetched at a time (a server-side cursor on PostgreSQL: a million findings stream).
_BATCH = 20_000


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of one scope (everything, a sector, an organisation)."""

    open: int = 0
    open_by_decision: Mapping[str, int] = field(default_factory=dict)
    overdue: int = 0
    closed: int = 0
    closed_with_deadline: int = 0
    closed_on_time: int = 0
    median_days_to_remediate: float | None = None

    @property
    def on_time_rate(self) -> float | None:
        if not self.closed_with_deadline:
            return None
        return self.closed_on_time / self.closed_with_deadline

    def to_dict(self) -> dict[str, object]:
        rate = self.on_time_rate
        median = self.median_days_to_remediate
        return {
            "open": self.open,
            "open_by_decision": dict(sorted(self.open_by_decision.items())),
            "overdue": self.overdue,
            "closed": self.closed,
            "on_time_rate": None if rate is None else round(rate, 4),
            "median_days_to_remediate": None if median is None else round(median, 2),
        }

    def stored(self) -> dict[str, Any]:
        """Every field, unrounded (what the snapshot keeps)."""
        return {
            "open": self.open,
            "open_by_decision": dict(sorted(self.open_by_decision.items())),
            "overdue": self.overdue,
            "closed": self.closed,
            "closed_with_deadline": self.closed_with_deadline,
            "closed_on_time": self.closed_on_time,
            "median_days_to_remediate": self.median_days_to_remediate,
        }

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> Figures:
        median = data.get("median_days_to_remediate")
        return cls(
            open=int(data["open"]),
            open_by_decision={str(k): int(v) for k, v in data["open_by_decision"].items()},
            overdue=int(data["overdue"]),
            closed=int(data["closed"]),
            closed_with_deadline=int(data["closed_with_deadline"]),
            closed_on_time=int(data["closed_on_time"]),
            median_days_to_remediate=None if median is None else float(median),
        )


@dataclass(slots=True)
class Tally:
    """Counts one scope's findings (see :func:`Tally.count`); :meth:`figures` sums up."""

    open: int = 0
    open_by_decision: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    closed: int = 0
    closed_with_deadline: int = 0
    closed_on_time: int = 0
    remediation_days: list[float] = field(default_factory=list)

    def count(self, row: Row, now: datetime) -> None:
        if row.state not in CLOSED_STATES:
            self.open += 1
            key = row.decision or "untriaged"
            self.open_by_decision[key] = self.open_by_decision.get(key, 0) + 1
            if row.deadline is not None and row.deadline < now:
                self.overdue += 1
            return
        self.closed += 1
        closed_at = row.closed_at
        if closed_at is None:
            return
        if row.deadline is not None:
            self.closed_with_deadline += 1
            self.closed_on_time += closed_at <= row.deadline
        if row.state in REMEDIATED:
            self.remediation_days.append((closed_at - row.first_seen).total_seconds() / 86400)

    def add(self, other: Tally) -> None:
        """Count ``other``'s findings too."""
        self.open += other.open
        for key, value in other.open_by_decision.items():
            self.open_by_decision[key] = self.open_by_decision.get(key, 0) + value
        self.overdue += other.overdue
        self.closed += other.closed
        self.closed_with_deadline += other.closed_with_deadline
        self.closed_on_time += other.closed_on_time
        self.remediation_days.extend(other.remediation_days)

    def figures(self) -> Figures:
        days = self.remediation_days
        return Figures(
            open=self.open,
            open_by_decision=dict(self.open_by_decision),
            overdue=self.overdue,
            closed=self.closed,
            closed_with_deadline=self.closed_with_deadline,
            closed_on_time=self.closed_on_time,
            median_days_to_remediate=statistics.median(days) if days else None,
        )


class Months:
    """Findings opened and remediated, month by month ("YYYY-MM")."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = {}

    def count(self, row: Row) -> None:
        opened = row.first_seen.strftime("%Y-%m")
        self._at(opened)["opened"] += 1
        if row.closed_at is not None and row.state in REMEDIATED:
            self._at(row.closed_at.strftime("%Y-%m"))["remediated"] += 1

    def add(self, month: str, what: str, count: int) -> None:
        self._at(month)[what] += count

    def merge(self, other: Months) -> None:
        for month, counts in other.counts.items():
            mine = self._at(month)
            for what, count in counts.items():
                mine[what] += count

    def _at(self, month: str) -> dict[str, int]:
        found = self.counts.get(month)
        if found is None:
            found = self.counts[month] = {"opened": 0, "remediated": 0}
        return found


@dataclass(frozen=True, slots=True)
class Report:
    at: datetime
    overall: Figures = field(default_factory=Figures)
    organisations: Mapping[str, Figures] = field(default_factory=dict)
    sectors: Mapping[str, Figures] = field(default_factory=dict)
    #: "YYYY-MM" -> findings opened and remediated that month.
    months: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "overall": self.overall.to_dict(),
            "organisations": {k: v.to_dict() for k, v in sorted(self.organisations.items())},
            "sectors": {k: v.to_dict() for k, v in sorted(self.sectors.items())},
            "months": {k: dict(v) for k, v in sorted(self.months.items())},
        }


class Row(NamedTuple):
    """What the metrics read of one finding (times aware, in UTC)."""

    state: str
    decision: str | None
    deadline: datetime | None
    first_seen: datetime
    closed_at: datetime | None
    organisation: str
    sectors: list[str]


def rows(session: Session, organisation: str | None = None) -> Iterator[Row]:
    """Every finding's row (of one organisation), streamed: the one scan both the direct
    report and the snapshot make."""
    view = triaged()
    query = (
        select(
            models.Finding.state,
            view.decision,
            view.deadline,
            models.Finding.first_seen_at,
            models.Finding.closed_at,
            models.Organisation.slug,
            models.Organisation.sectors,
        )
        .select_from(view.joined)
        .join(models.Organisation, models.Organisation.id == models.Asset.organisation_id)
    )
    if organisation:
        query = query.where(models.Organisation.slug == organisation.strip().lower())
    result = session.execute(query.execution_options(yield_per=_BATCH))
    for state, decision, deadline, first_seen, closed_at, org, sectors in result:
        first = aware(first_seen)
        assert first is not None
        yield Row(state, decision, aware(deadline), first, aware(closed_at), org, sectors or [])


def compute(
    session: Session,
    now: datetime,
    organisation: str | None = None,
    sector: str | None = None,
) -> Report:
    """The report, computed directly from the findings in ``session``."""
    overall = Tally()
    organisations: dict[str, Tally] = {}
    sectors: dict[str, Tally] = {}
    months = Months()
    for row in rows(session, organisation):
        if sector and sector not in row.sectors:
            continue
        overall.count(row, now)
        found = organisations.get(row.organisation)
        if found is None:
            found = organisations[row.organisation] = Tally()
        found.count(row, now)
        for name in row.sectors:
            found = sectors.get(name)
            if found is None:
                found = sectors[name] = Tally()
            found.count(row, now)
        months.count(row)
    return Report(
        at=now,
        overall=overall.figures(),
        organisations={k: v.figures() for k, v in organisations.items()},
        sectors={k: v.figures() for k, v in sectors.items()},
        months=months.counts,
    )


def report(
    db: Database,
    now: datetime | None = None,
    organisation: str | None = None,
    sector: str | None = None,
) -> Report:
    """The direct computation: one scan of every finding (``sakimori report``)."""
    with db.transaction() as session:
        return compute(session, now or datetime.now(UTC), organisation, sector)
