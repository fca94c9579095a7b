"""Results of matching an inventory: findings and the components that could not be evaluated."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sakimori.triage.severity import Rating, SeverityScore


@dataclass(frozen=True, slots=True)
class Finding:
    """One vulnerability in one component of one inventory; its ids merged across databases."""

    vulnerability: str
    aliases: tuple[str, ...]
    ecosystem: str
    package: str
    version: str
    purl: str | None
    fixed: tuple[str, ...]
    severity: tuple[SeverityScore, ...]
    score: float | None
    rating: Rating
    kev: bool
    kev_due_date: str | None
    epss: float | None
    epss_percentile: float | None
    summary: str
    inventory: str
    #: The advisory records (by id) that say this component is affected.
    records: tuple[str, ...]
    #: The OS release the component was matched for (distribution packages), else None.
    release: str | None = None
    #: Triage (when SSVC tables are loaded): outcomes, deadline, and the full explanation.
    decision: str | None = None
    priority: str | None = None
    bod: str | None = None
    deadline: datetime | None = None
    explanation: dict[str, Any] | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class NotEvaluated:
    """A component, or one advisory for it, that could not be evaluated, and why."""

    inventory: str
    name: str
    version: str | None
    ecosystem: str | None
    reason: str
    advisory: str | None = None
