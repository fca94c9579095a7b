"""Set-based storage for triage: the ``assessment`` parts, and re-assessment in a few statements.

A re-assessment never walks findings one by one. ``services.assessment`` computes results per
group in Python and this module moves them in and out of the database in bulk:

1. :func:`shapes` — the distinct (vulnerability, aliases, records, has a fix) of the findings in
   scope: what a vulnerability's evidence depends on;
2. :func:`asset_contexts` — the assets of those findings with what their context depends on;
3. the caller loads one row per shape (its class of SSVC values and its explanation part) and one
   per asset (its context) into temporary tables (:func:`load`: ``COPY`` on PostgreSQL,
   ``executemany`` on SQLite), then reads :func:`groups` — the distinct (class, context, first
   seen) — and loads one result per group (outcomes, deadline, policy, reason);
4. :func:`apply` — one ``INSERT … SELECT`` collects the findings whose stored values differ from
   their group's result, one ``INSERT … SELECT`` records a "deadline recomputed" transition for
   the open ones whose deadline moved, and one ``UPDATE … FROM`` writes them.

Explanations are stored once per distinct part (:func:`part_ids`, content-addressed by
:func:`digest`): a finding points to its vulnerability part and its context part, and
:func:`explanation` joins the two back into ``Decision.to_dict()``. Both SQLite (3.33 or later,
for ``UPDATE … FROM``) and PostgreSQL run the same statements.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    FromClause,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sakimori.store import models
from sakimori.store.intel import chunks
from sakimori.triage.decide import Decision

FINDING: Table = models.Finding.__table__  # type: ignore[assignment]
ASSESSMENT: Table = models.Assessment.__table__  # type: ignore[assignment]
TRANSITION: Table = models.FindingTransition.__table__  # type: ignore[assignment]

#: The decision points that come from the vulnerability; the others come from the asset.
VULNERABILITY_POINTS = frozenset({"E", "A", "TI", "KEV"})
#: The finding columns a re-assessment writes (expired on loaded objects afterwards).
TRIAGE_COLUMNS = (
    "decision",
    "priority",
    "bod",
    "deadline",
    "policy",
    "deadline_reason",
    "assessment_id",
    "context_assessment_id",
)

_TEMP = MetaData()
#: ``first_seen_at`` exactly as stored: a timestamp on PostgreSQL, the stored text on SQLite
#: (so that the join back to ``finding`` compares equal values, whatever their formatting).
_FIRST_SEEN = DateTime(timezone=True).with_variant(Text(), "sqlite")
SHAPE = Table(
    "sakimori_assess_shape",
    _TEMP,
    Column("id", Integer, primary_key=True),
    Column("vulnerability", String(200), nullable=False),
    Column("aliases", Text, nullable=False),
    Column("records", Text, nullable=False),
    Column("fixed", Boolean, nullable=False),
    Column("vclass", Integer, nullable=False),
    Column("assessment_id", Integer, nullable=False),
    Index("sakimori_assess_shape_key", "vulnerability", "aliases", "records", "fixed"),
    prefixes=["TEMPORARY"],
)
ASSET = Table(
    "sakimori_assess_asset",
    _TEMP,
    Column("asset_id", Integer, primary_key=True),
    Column("context", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
RESULT = Table(
    "sakimori_assess_result",
    _TEMP,
    Column("id", Integer, primary_key=True),
    Column("vclass", Integer, nullable=False),
    Column("context", Integer, nullable=False),
    Column("first_seen", _FIRST_SEEN, nullable=False),
    Column("decision", String(20), nullable=False),
    Column("priority", String(20), nullable=False),
    Column("bod", String(10), nullable=False),
    Column("deadline", DateTime(timezone=True)),
    Column("reason", Text, nullable=False),
    Column("policy", String(100), nullable=False),
    Column("context_assessment_id", Integer, nullable=False),
    Index("sakimori_assess_result_key", "vclass", "context", "first_seen"),
    prefixes=["TEMPORARY"],
)
DELTA = Table(
    "sakimori_assess_delta",
    _TEMP,
    Column("finding_id", Integer, primary_key=True),
    Column("result_id", Integer, nullable=False),
    Column("assessment_id", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("changed", Boolean, nullable=False),
    Column("transition", Boolean, nullable=False),
    prefixes=["TEMPORARY"],
)
_SCOPE_IDS = Table(
    "sakimori_assess_scope_id",
    _TEMP,
    Column("value", Integer, primary_key=True),
    prefixes=["TEMPORARY"],
)
_SCOPE_NAMES = Table(
    "sakimori_assess_scope_name",
    _TEMP,
    Column("value", String(200), primary_key=True),
    prefixes=["TEMPORARY"],
)
_WORK_TABLES = (SHAPE, ASSET, RESULT, DELTA)
#: Up to this many ids go into an ``IN`` list; more are loaded into a temporary table.
_IN_LIMIT = 500


# -- scopes: which findings a re-assessment covers -----------------------------------------------


def not_closed(closed: Sequence[str]) -> ColumnElement[bool]:
    return FINDING.c.state.not_in(list(closed))


def of_asset(asset_id: int) -> ColumnElement[bool]:
    return FINDING.c.asset_id == asset_id


@contextmanager
def among(session: Session, column: str, values: Sequence[Any]) -> Iterator[ColumnElement[bool]]:
    """``finding.<column> IN values``, through a temporary table when there are many."""
    target = FINDING.c[column]
    if len(values) <= _IN_LIMIT:
        yield target.in_(list(values))
        return
    table = _SCOPE_IDS if isinstance(values[0], int) else _SCOPE_NAMES
    with temporary(session, (table,)):
        load(session, table, [(value,) for value in values])
        yield target.in_(select(table.c.value))


# -- temporary tables -----------------------------------------------------------------------------


@contextmanager
def temporary(session: Session, tables: Sequence[Table] = _WORK_TABLES) -> Iterator[None]:
    """Create the work tables for the duration (dropping leftovers of a failed run first)."""
    connection = session.connection()
    schema = "pg_temp" if connection.dialect.name == "postgresql" else "temp"
    for table in tables:
        connection.execute(text(f"DROP TABLE IF EXISTS {schema}.{table.name}"))
        table.create(connection)
    yield
    # On an error the transaction is rolled back (PostgreSQL drops the tables with it; on
    # SQLite the next run drops them first), so only a successful run cleans up here.
    for table in reversed(tables):
        connection.execute(text(f"DROP TABLE {schema}.{table.name}"))


def load(session: Session, table: Table, rows: Sequence[Sequence[Any]]) -> None:
    """Bulk-load rows (in column order): ``COPY`` on PostgreSQL, ``executemany`` on SQLite."""
    if not rows:
        return
    connection = session.connection()
    names = [column.name for column in table.columns]
    if connection.dialect.name == "postgresql":
        driver: Any = connection.connection.driver_connection
        columns = ", ".join(f'"{name}"' for name in names)
        statement = f"COPY {table.name} ({columns}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        connection.execute(text(f"ANALYZE {table.name}"))
    else:
        for part in chunks(rows, 50_000):
            connection.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in part])


#: PostgreSQL planner settings for the statements that scan every finding in scope. The join
#: to the work tables on vulnerability, aliases and records defeats the row estimates (a guess
#: of one row), which alone would pick nested loops probing the work tables once per finding;
#: hash joins with the work tables in memory are what a bulk pass wants.
_BULK_SETTINGS = {"enable_nestloop": "off", "work_mem": "64MB"}


@contextmanager
def bulk(session: Session) -> Iterator[None]:
    """Planner settings for one bulk statement (PostgreSQL), restored afterwards."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        yield
        return
    before = {
        name: connection.scalar(text("SELECT current_setting(:name)"), {"name": name})
        for name in _BULK_SETTINGS
    }
    for name, value in _BULK_SETTINGS.items():
        connection.execute(
            text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value}
        )
    yield
    for name, value in before.items():
        connection.execute(
            text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value}
        )


# -- reading what the findings in scope depend on -------------------------------------------------


def _has_fix() -> ColumnElement[bool]:
    # JSON lists are written by one serializer (orjson), so an empty list is exactly "[]".
    return cast(FINDING.c.fixed_versions, Text) != "[]"


def _shape_join() -> FromClause:
    match = and_(
        SHAPE.c.vulnerability == FINDING.c.vulnerability,
        SHAPE.c.aliases == cast(FINDING.c.aliases, Text),
        SHAPE.c.records == cast(FINDING.c.records, Text),
        SHAPE.c.fixed == _has_fix(),
    )
    return FINDING.join(SHAPE, match).join(ASSET, ASSET.c.asset_id == FINDING.c.asset_id)


def shapes(session: Session, where: ColumnElement[bool]) -> list[tuple[str, str, str, bool]]:
    """Distinct (vulnerability, aliases JSON, records JSON, has a fixed version) in scope."""
    query = (
        select(
            FINDING.c.vulnerability,
            cast(FINDING.c.aliases, Text),
            cast(FINDING.c.records, Text),
            _has_fix(),
        )
        .where(where)
        .distinct()
    )
    with bulk(session):
        return [(v, a, r, bool(f)) for v, a, r, f in session.execute(query)]


def asset_contexts(
    session: Session, where: ColumnElement[bool]
) -> list[tuple[int, str, bool | None, str | None, list[str]]]:
    """(asset id, criticality, internet-facing, environment, sectors) of the assets in scope."""
    asset, organisation = models.Asset, models.Organisation
    held = select(FINDING.c.asset_id).where(where).distinct()
    query = (
        select(
            asset.id,
            asset.criticality,
            asset.internet_facing,
            asset.environment,
            organisation.sectors,
        )
        .join(organisation, organisation.id == asset.organisation_id)
        .where(asset.id.in_(held))
    )
    return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def groups(session: Session, where: ColumnElement[bool]) -> list[tuple[int, int, Any]]:
    """Distinct (class, context, first seen as stored) of the findings in scope."""
    first_seen = type_coerce(FINDING.c.first_seen_at, _FIRST_SEEN)
    query = (
        select(SHAPE.c.vclass, ASSET.c.context, first_seen)
        .select_from(_shape_join())
        .where(where)
        .distinct()
    )
    with bulk(session):
        return [(vclass, context, first) for vclass, context, first in session.execute(query)]


# -- writing --------------------------------------------------------------------------------------


def apply(
    session: Session,
    where: ColumnElement[bool],
    closed: Sequence[str],
    now: datetime,
    note: str,
) -> tuple[int, int, int]:
    """Write each group's result to the findings in scope whose stored values differ.

    Returns (findings whose decision, priority, BOD outcome or deadline changed; transitions
    recorded; findings written). An open, already-decided finding whose deadline moved gets a
    transition ``note + reason``, as a person's edit would.
    """
    f, r = FINDING.c, RESULT.c
    outcome_changed = or_(
        f.decision.is_distinct_from(r.decision),
        f.priority.is_distinct_from(r.priority),
        f.bod.is_distinct_from(r.bod),
        f.deadline.is_distinct_from(r.deadline),
    )
    anything_changed = or_(
        outcome_changed,
        f.policy.is_distinct_from(r.policy),
        f.deadline_reason.is_distinct_from(r.reason),
        f.assessment_id.is_distinct_from(SHAPE.c.assessment_id),
        f.context_assessment_id.is_distinct_from(r.context_assessment_id),
    )
    moved = and_(
        f.decision.is_not(None),
        f.state.not_in(list(closed)),
        f.deadline.is_distinct_from(r.deadline),
    )
    source = (
        select(f.id, r.id, SHAPE.c.assessment_id, f.state, outcome_changed, moved)
        .select_from(
            _shape_join().join(
                RESULT,
                and_(
                    r.vclass == SHAPE.c.vclass,
                    r.context == ASSET.c.context,
                    r.first_seen == FINDING.c.first_seen_at,
                ),
            )
        )
        .where(where, anything_changed)
    )
    d = DELTA.c
    with bulk(session):
        session.execute(
            DELTA.insert().from_select(
                ["finding_id", "result_id", "assessment_id", "state", "changed", "transition"],
                source,
            )
        )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ANALYZE {DELTA.name}"))
    written = session.scalar(select(func.count()).select_from(DELTA)) or 0
    if not written:
        return 0, 0, 0
    changed = session.scalar(select(func.count()).select_from(DELTA).where(d.changed)) or 0
    transitions = session.scalar(select(func.count()).select_from(DELTA).where(d.transition)) or 0
    if transitions:
        history = (
            select(
                d.finding_id,
                literal(now, DateTime(timezone=True)),
                literal("sakimori", String()),
                d.state,
                d.state,
                literal(note, Text()) + r.reason,
            )
            .select_from(DELTA.join(RESULT, r.id == d.result_id))
            .where(d.transition)
            .order_by(d.finding_id)
        )
        columns = ["finding_id", "at", "actor", "from_state", "to_state", "note"]
        session.execute(TRANSITION.insert().from_select(columns, history))
    with bulk(session):
        session.execute(
            update(FINDING)
            .where(FINDING.c.id == d.finding_id, r.id == d.result_id)
            .values(
                decision=r.decision,
                priority=r.priority,
                bod=r.bod,
                deadline=r.deadline,
                policy=r.policy,
                deadline_reason=r.reason,
                assessment_id=d.assessment_id,
                context_assessment_id=r.context_assessment_id,
            )
        )
    return changed, transitions, written


def mark(session: Session, where: ColumnElement[bool], assessment_id: int) -> int:
    """Point the findings in scope at one part (the reason they cannot be decided)."""
    result = session.execute(
        update(FINDING)
        .where(
            where,
            or_(
                FINDING.c.assessment_id.is_distinct_from(assessment_id),
                FINDING.c.context_assessment_id.is_not(None),
            ),
        )
        .values(assessment_id=assessment_id, context_assessment_id=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def expire_findings(session: Session) -> None:
    """Forget the triage values of loaded findings: the statements above changed them."""
    for item in list(session.identity_map.values()):
        if isinstance(item, models.Finding):
            session.expire(item, list(TRIAGE_COLUMNS))


# -- explanation parts ----------------------------------------------------------------------------


def digest(data: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a part: its identity in the ``assessment`` table."""
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def vulnerability_part(decision: Decision) -> dict[str, Any]:
    """What a decision says about the vulnerability: the same for every asset context."""
    whole = decision.to_dict()
    return {
        "part": "vulnerability",
        "vulnerability": whole["vulnerability"],
        "points": [p for p in whole["points"] if p["point"] in VULNERABILITY_POINTS],
        "tables": whole["tables"],
        "config_version": whole["config_version"],
    }


def context_part(decision: Decision) -> dict[str, Any]:
    """What a decision says about the asset context, with the three outcomes."""
    whole = decision.to_dict()
    return {
        "part": "context",
        "decision": whole["decision"],
        "priority": whole["priority"],
        "bod": whole["bod"],
        "points": [p for p in whole["points"] if p["point"] not in VULNERABILITY_POINTS],
        "order": [p["point"] for p in whole["points"]],
        "context_unknown": whole["context_unknown"],
    }


def joined(vulnerability: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """The two parts back together: the decision's ``to_dict()``."""
    points = {p["point"]: p for p in (*vulnerability["points"], *context["points"])}
    return {
        "vulnerability": vulnerability["vulnerability"],
        "decision": context["decision"],
        "priority": context["priority"],
        "bod": context["bod"],
        "points": [points[key] for key in context["order"]],
        "tables": vulnerability["tables"],
        "config_version": vulnerability["config_version"],
        "context_unknown": context["context_unknown"],
    }


def part_ids(
    session: Session, parts: Mapping[str, Mapping[str, Any]], now: datetime
) -> dict[str, int]:
    """The id of each part (by digest), storing the ones not stored yet."""
    found: dict[str, int] = {}
    digests = sorted(parts)
    for chunk in chunks(digests, 900):
        query = select(ASSESSMENT.c.digest, ASSESSMENT.c.id).where(ASSESSMENT.c.digest.in_(chunk))
        found.update((key, value) for key, value in session.execute(query))
    missing = [key for key in digests if key not in found]
    if not missing:
        return found
    postgresql = session.get_bind().dialect.name == "postgresql"
    insert = postgresql_insert if postgresql else sqlite_insert
    # A concurrent transaction may store the same part: it is the same row, keep theirs.
    statement = insert(ASSESSMENT).on_conflict_do_nothing(index_elements=["digest"])
    rows = [
        {"digest": key, "part": parts[key]["part"], "data": dict(parts[key]), "created_at": now}
        for key in missing
    ]
    for batch in chunks(rows, 1000):
        session.execute(statement, list(batch))
    for chunk in chunks(missing, 900):
        query = select(ASSESSMENT.c.digest, ASSESSMENT.c.id).where(ASSESSMENT.c.digest.in_(chunk))
        found.update((key, value) for key, value in session.execute(query))
    return found


def explanation(session: Session, row: models.Finding) -> dict[str, Any]:
    """A finding's stored explanation: ``Decision.to_dict()``, ``{"unavailable": why}`` when it
    could not be decided, or ``{}`` when it has not been assessed."""
    ids = [i for i in (row.assessment_id, row.context_assessment_id) if i is not None]
    if not ids:
        return {}
    query = select(ASSESSMENT.c.id, ASSESSMENT.c.data).where(ASSESSMENT.c.id.in_(ids))
    data: dict[int, dict[str, Any]] = {}
    for key, value in session.execute(query):
        data[key] = value
    first = data.get(row.assessment_id) if row.assessment_id is not None else None
    if first is not None and first.get("part") == "unavailable":
        return {"unavailable": first["unavailable"]}
    second = data.get(row.context_assessment_id) if row.context_assessment_id else None
    if first is None or second is None:
        return {}
    return joined(first, second)
