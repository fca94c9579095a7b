"""Remediation metrics: open findings by decision, overdue, on-time rate, time to remediate.

Computed per organisation, per sector and overall, and month by month, from one pass over the
findings (the columns needed only). The same numbers feed ``sakimori report`` and, later, the
coordinator's dashboard.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from sakimori.model.lifecycle import CLOSED, State
from sakimori.store import models
from sakimori.store.db import Database, aware
from sakimori.store.triage_view import triaged

#: Closed states that mean the exposure was removed or neutralised (not "declared away").
REMEDIATED = frozenset({State.FIXED.value, State.MITIGATED.value})
_CLOSED = frozenset(s.value for s in CLOSED)


@dataclass(slots=True)
class Figures:
    open: int = 0
    open_by_decision: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    closed: int = 0
    closed_with_deadline: int = 0
    closed_on_time: int = 0
    remediation_days: list[float] = field(default_factory=list)

    @property
    def on_time_rate(self) -> float | None:
        if not self.closed_with_deadline:
            return None
        return self.closed_on_time / self.closed_with_deadline

    @property
    def median_days_to_remediate(self) -> float | None:
        return statistics.median(self.remediation_days) if self.remediation_days else None

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


@dataclass(slots=True)
class Report:
    at: datetime
    overall: Figures = field(default_factory=Figures)
    organisations: dict[str, Figures] = field(default_factory=dict)
    sectors: dict[str, Figures] = field(default_factory=dict)
    #: "YYYY-MM" -> findings opened and remediated that month.
    months: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "overall": self.overall.to_dict(),
            "organisations": {k: v.to_dict() for k, v in sorted(self.organisations.items())},
            "sectors": {k: v.to_dict() for k, v in sorted(self.sectors.items())},
            "months": dict(sorted(self.months.items())),
        }


def _count(
    figures: Figures,
    state: str,
    decision: str | None,
    deadline: datetime | None,
    first_seen: datetime,
    closed_at: datetime | None,
    now: datetime,
) -> None:
    if state not in _CLOSED:
        figures.open += 1
        key = decision or "untriaged"
        figures.open_by_decision[key] = figures.open_by_decision.get(key, 0) + 1
        if deadline is not None and deadline < now:
            figures.overdue += 1
        return
    figures.closed += 1
    if closed_at is None:
        return
    if deadline is not None:
        figures.closed_with_deadline += 1
        figures.closed_on_time += closed_at <= deadline
    if state in REMEDIATED:
        figures.remediation_days.append((closed_at - first_seen).total_seconds() / 86400)


def report(
    db: Database,
    now: datetime | None = None,
    organisation: str | None = None,
    sector: str | None = None,
) -> Report:
    now = now or datetime.now(UTC)
    result = Report(now)
    months: dict[str, dict[str, int]] = defaultdict(lambda: {"opened": 0, "remediated": 0})
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
    with db.transaction() as session:
        for state, decision, deadline, first_seen, closed_at, org, sectors in session.execute(
            query
        ):
            if sector and sector not in sectors:
                continue
            first, closed, due = aware(first_seen), aware(closed_at), aware(deadline)
            assert first is not None
            targets = [result.overall, result.organisations.setdefault(org, Figures())]
            targets += [result.sectors.setdefault(s, Figures()) for s in sectors]
            for figures in targets:
                _count(figures, state, decision, due, first, closed, now)
            months[first.strftime("%Y-%m")]["opened"] += 1
            if closed is not None and state in REMEDIATED:
                months[closed.strftime("%Y-%m")]["remediated"] += 1
    result.months = dict(months)
    return result
