"""Reading triage by reference: a finding's outcomes and deadline from its shape and its rule.

A finding stores no decision and no deadline (ADR 0001). It points to its detail
(``finding_detail``: aliases, records, fixed versions, shared by the findings of one
package-version), the detail to its vulnerability shape (``triage_shape``: the SSVC class of the
vulnerability decision points), its asset to a context
(``asset.triage_context_id``), and the pair (class, context) to a ``triage_rule`` holding the
three outcomes and the deadline terms. The deadline is computed from ``first_seen_at`` when read:

    least(first seen + duration, greatest(KEV end of day, first seen + grace))

exactly as :func:`sakimori.triage.policy.due_from_terms` computes it in Python — natively on
PostgreSQL (``interval`` arithmetic, exact to the microsecond), and on SQLite by that very
function registered as ``sakimori_deadline`` (SQLite has no interval type, and its date
functions drop microseconds). A closed finding keeps the deadline in force when it closed
(``closed_deadline``), so whether it closed on time does not change with later policies.

:func:`triaged` is the one place that joins these; every reader of a decision or a deadline goes
through it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    DateTime,
    FromClause,
    Join,
    Subquery,
    and_,
    case,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from sakimori.store import models
from sakimori.store.db import aware
from sakimori.triage.policy import DeadlineTerms, due_from_terms

FINDING = models.Finding.__table__
SHAPE = models.TriageShape.__table__
DETAIL = models.FindingDetail.__table__
RULE = models.TriageRule.__table__
ASSET = models.Asset.__table__


def shape_digest(
    vulnerability: str, aliases: Sequence[str], records: Sequence[str], fixed: bool
) -> str:
    """The identity of a vulnerability shape: SHA-256 of its canonical JSON (migration 0013
    computes the same when it creates the shapes of existing findings)."""
    canonical = orjson.dumps([vulnerability, list(aliases), list(records), bool(fixed)])
    return hashlib.sha256(canonical).hexdigest()


def context_digest(data: dict[str, Any]) -> str:
    """The identity of an asset context (its canonical JSON)."""
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


# -- the deadline expression, per dialect ---------------------------------------------------------


class _Deadline(FunctionElement[datetime]):
    """``deadline(first_seen, duration_s, kev_end, grace_s)``; compiled per dialect below."""

    type = DateTime(timezone=True)
    inherit_cache = True
    name = "sakimori_deadline"


@compiles(_Deadline, "postgresql")
def _deadline_postgresql(element: _Deadline, compiler: SQLCompiler, **kw: Any) -> str:
    first_seen, duration, kev_end, grace = (
        compiler.process(argument, **kw) for argument in element.clauses
    )
    second = "interval '1 second'"
    return (
        f"LEAST({first_seen} + {duration} * {second}, "
        f"CASE WHEN {kev_end} IS NULL THEN NULL "
        f"ELSE GREATEST({kev_end}, {first_seen} + {grace} * {second}) END)"
    )


@compiles(_Deadline, "sqlite")
def _deadline_sqlite(element: _Deadline, compiler: SQLCompiler, **kw: Any) -> str:
    return f"sakimori_deadline({compiler.process(element.clauses, **kw)})"


#: How SQLAlchemy stores a DateTime on SQLite (naive, UTC in Sakimori).
_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def _sqlite_moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def sqlite_deadline(
    first_seen: str | None, duration_s: int | None, kev_end: str | None, grace_s: int | None
) -> str | None:
    """The SQLite function ``sakimori_deadline``: :func:`due_from_terms` over stored values."""
    seen = _sqlite_moment(first_seen)
    if seen is None:
        return None
    terms = DeadlineTerms(
        None if duration_s is None else timedelta(seconds=duration_s),
        _sqlite_moment(kev_end) if grace_s is not None else None,
        None if kev_end is None or grace_s is None else timedelta(seconds=grace_s),
    )
    due = due_from_terms(terms, seen)
    return None if due is None else due.astimezone(UTC).strftime(_SQLITE_FORMAT)


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Make ``sakimori_deadline`` available on a new SQLite connection."""
    dbapi_connection.create_function("sakimori_deadline", 4, sqlite_deadline, deterministic=True)


# -- the joined view ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Triaged:
    """The tables and computed columns of :func:`triaged`."""

    joined: Join
    shape: FromClause
    rule: FromClause
    asset: FromClause
    decision: ColumnElement[Any]
    priority: ColumnElement[Any]
    bod: ColumnElement[Any]
    policy: ColumnElement[Any]
    deadline: ColumnElement[datetime | None]
    assessment_id: ColumnElement[Any]
    context_assessment_id: ColumnElement[Any]


def computed_deadline(first_seen: ColumnElement[Any], rule: FromClause) -> ColumnElement[Any]:
    """The deadline the rule sets for a finding first seen at ``first_seen``."""
    return _Deadline(first_seen, rule.c.duration_s, rule.c.kev_end, rule.c.grace_s)


def triaged(finding: FromClause = FINDING) -> Triaged:
    """``finding`` joined to its asset, detail, shape and rule (outer joins: an unassessed
    finding has no rule), with the outcome and deadline columns a reader selects."""
    asset = ASSET
    joined = (
        finding.join(asset, asset.c.id == finding.c.asset_id)
        .outerjoin(DETAIL, DETAIL.c.id == finding.c.detail_id)
        .outerjoin(SHAPE, SHAPE.c.id == DETAIL.c.shape_id)
        .outerjoin(
            RULE,
            and_(RULE.c.vclass == SHAPE.c.vclass, RULE.c.context_id == asset.c.triage_context_id),
        )
    )
    due = case(
        (finding.c.closed_at.is_not(None), finding.c.closed_deadline),
        else_=computed_deadline(finding.c.first_seen_at, RULE),
    )
    return Triaged(
        joined=joined,
        shape=SHAPE,
        rule=RULE,
        asset=asset,
        decision=RULE.c.decision,
        priority=RULE.c.priority,
        bod=RULE.c.bod,
        policy=RULE.c.policy,
        deadline=due,
        assessment_id=SHAPE.c.assessment_id,
        context_assessment_id=RULE.c.context_assessment_id,
    )


@dataclass(frozen=True, slots=True)
class FindingTriage:
    """A finding's triage as read: the three outcomes, the policy and the deadline."""

    decision: str | None
    priority: str | None
    bod: str | None
    policy: str | None
    deadline: datetime | None


def finding_triage(session: Session, finding_ids: Sequence[int]) -> dict[int, FindingTriage]:
    """The triage of these findings, by id (for a few; lists select :func:`triaged` columns)."""
    view = triaged()
    query = (
        select(FINDING.c.id, view.decision, view.priority, view.bod, view.policy, view.deadline)
        .select_from(view.joined)
        .where(FINDING.c.id.in_(list(finding_ids)))
    )
    found: dict[int, FindingTriage] = {}
    for finding_id, decision, priority, bod, policy, due in session.execute(query):
        found[finding_id] = FindingTriage(decision, priority, bod, policy, aware(due))
    return found


def open_deadlines(finding: FromClause, where: ColumnElement[bool]) -> Subquery:
    """``(id, deadline)`` of the findings of ``finding`` (an alias of the table) that ``where``
    selects, their deadlines as computed now: what the statement that closes them records as
    ``closed_deadline``, by ``UPDATE … FROM`` this — one join, where a subquery per closed row
    made PostgreSQL plan each lookup on statistics older than the rules."""
    view = triaged(finding)
    return (
        select(
            finding.c.id.label("id"),
            computed_deadline(finding.c.first_seen_at, view.rule).label("deadline"),
        )
        .select_from(view.joined)
        .where(where)
        .subquery("open_deadlines")
    )


__all__ = [
    "FindingTriage",
    "Triaged",
    "computed_deadline",
    "context_digest",
    "finding_triage",
    "open_deadlines",
    "register_sqlite_functions",
    "shape_digest",
    "sqlite_deadline",
    "triaged",
]
