"""Set-based storage for triage by reference (ADR 0001): shapes, contexts, rules, revisions.

A re-assessment never writes findings. ``services.assessment`` computes, in Python, a class of
vulnerability decision points per *shape* and the outcomes and deadline terms per (class, asset
context); this module moves those few thousand rows in and out of the database:

1. :func:`shape_ids` — the ``triage_shape`` of each content (``services.finding_details`` points
   every finding's detail at one when it writes the detail);
2. :func:`scope_shapes`, :func:`scope_assets` — the shapes and assets of the findings in scope;
3. :func:`update_shapes`, :func:`context_ids`, :func:`update_asset_contexts` — their new class
   and context;
4. :func:`pair_counts` — how many findings in scope each (shape, context) has, to count the
   findings a change reaches; :func:`rules` and :func:`write_rules` — the rules of the pairs;
5. :func:`record_revision` — one ``triage_revision`` row per re-assessment that changed something.

Explanations are stored once per distinct part (:func:`part_ids`, content-addressed by
:func:`digest`): a shape points to its vulnerability part and a rule to its context part, and
:func:`explanation` joins the two back into ``Decision.to_dict()``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    any_,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sakimori.store import models
from sakimori.store.db import aware
from sakimori.store.intel import chunks
from sakimori.store.triage_view import shape_digest
from sakimori.triage.decide import Decision

FINDING: Table = models.Finding.__table__  # type: ignore[assignment]
ASSESSMENT: Table = models.Assessment.__table__  # type: ignore[assignment]
SHAPE: Table = models.TriageShape.__table__  # type: ignore[assignment]
CONTEXT: Table = models.TriageContext.__table__  # type: ignore[assignment]
RULE: Table = models.TriageRule.__table__  # type: ignore[assignment]
REVISION: Table = models.TriageRevision.__table__  # type: ignore[assignment]
ASSET: Table = models.Asset.__table__  # type: ignore[assignment]
DETAIL: Table = models.FindingDetail.__table__  # type: ignore[assignment]

#: The decision points that come from the vulnerability; the others come from the asset.
VULNERABILITY_POINTS = frozenset({"E", "A", "TI", "KEV"})
#: The columns of a rule other than its key, in the order :func:`write_rules` takes them.
RULE_COLUMNS = (
    "decision",
    "priority",
    "bod",
    "policy",
    "duration_s",
    "kev_end",
    "grace_s",
    "context_assessment_id",
    "plan",
)

_TEMP = MetaData()
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
#: Up to this many ids go into an ``IN`` list; more are loaded into a temporary table.
_IN_LIMIT = 500

Content = tuple[str, tuple[str, ...], tuple[str, ...], bool]


# -- scopes: which findings a re-assessment covers -----------------------------------------------


def not_closed(closed: Sequence[str]) -> ColumnElement[bool]:
    return FINDING.c.state.not_in(list(closed))


def of_asset(asset_id: int) -> ColumnElement[bool]:
    return FINDING.c.asset_id == asset_id


@contextmanager
def among(session: Session, column: str, values: Sequence[Any]) -> Iterator[ColumnElement[bool]]:
    """``finding.<column> IN values``: one array parameter on PostgreSQL (its planner reads the
    array's length); on SQLite an ``IN`` list, through a temporary table when there are many."""
    target = FINDING.c[column]
    if values and session.get_bind().dialect.name == "postgresql":
        kind = Integer if isinstance(values[0], int) else String
        yield target == any_(bindparam(f"among_{column}", list(values), type_=ARRAY(kind)))
        return
    if len(values) <= _IN_LIMIT:
        yield target.in_(list(values))
        return
    table = _SCOPE_IDS if isinstance(values[0], int) else _SCOPE_NAMES
    connection = session.connection()
    schema = "pg_temp" if connection.dialect.name == "postgresql" else "temp"
    connection.execute(text(f"DROP TABLE IF EXISTS {schema}.{table.name}"))
    table.create(connection)
    load(session, table, [(value,) for value in values])
    yield target.in_(select(table.c.value))
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


def _insert(session: Session) -> Any:
    postgresql = session.get_bind().dialect.name == "postgresql"
    return postgresql_insert if postgresql else sqlite_insert


def insert_statement(session: Session, table: Table) -> Any:
    """``INSERT`` into ``table`` in the session's dialect (for ``ON CONFLICT``)."""
    return _insert(session)(table)


# -- shapes ---------------------------------------------------------------------------------------


def shape_ids(session: Session, contents: Iterable[Content]) -> dict[Content, int]:
    """The ``triage_shape`` id of each content (vulnerability, aliases, records, has a fix),
    creating the shapes not stored yet."""
    by_digest = {shape_digest(*content): content for content in contents}
    found: dict[Content, int] = {}

    def read(digests: Sequence[str]) -> None:
        for part in chunks(digests, 900):
            query = select(SHAPE.c.digest, SHAPE.c.id).where(SHAPE.c.digest.in_(part))
            found.update((by_digest[key], value) for key, value in session.execute(query))

    read(sorted(by_digest))
    missing = [key for key in sorted(by_digest) if by_digest[key] not in found]
    if not missing:
        return found
    # A concurrent transaction may create the same shape: it is the same row, keep theirs.
    statement = _insert(session)(SHAPE).on_conflict_do_nothing(index_elements=["digest"])
    rows = [
        {
            "digest": key,
            "vulnerability": by_digest[key][0],
            "aliases": list(by_digest[key][1]),
            "records": list(by_digest[key][2]),
            "fixed": by_digest[key][3],
        }
        for key in missing
    ]
    for batch in chunks(rows, 1000):
        session.execute(statement, list(batch))
    read(missing)
    return found


@dataclass(frozen=True, slots=True)
class ShapeRow:
    id: int
    vulnerability: str
    aliases: tuple[str, ...]
    records: tuple[str, ...]
    fixed: bool
    vclass: str | None
    assessment_id: int | None


def scope_shapes(session: Session, where: ColumnElement[bool]) -> list[ShapeRow]:
    """The shapes of the findings in scope."""
    held = (
        select(DETAIL.c.shape_id)
        .select_from(FINDING.join(DETAIL, DETAIL.c.id == FINDING.c.detail_id))
        .where(where)
        .distinct()
    )
    query = select(
        SHAPE.c.id,
        SHAPE.c.vulnerability,
        SHAPE.c.aliases,
        SHAPE.c.records,
        SHAPE.c.fixed,
        SHAPE.c.vclass,
        SHAPE.c.assessment_id,
    ).where(SHAPE.c.id.in_(held))
    return [
        ShapeRow(i, v, tuple(a), tuple(r), bool(f), c, p)
        for i, v, a, r, f, c, p in session.execute(query)
    ]


def update_shapes(session: Session, changes: Sequence[tuple[int, str | None, int | None]]) -> None:
    """Write (shape id, class, vulnerability part id) of the shapes whose values changed."""
    if not changes:
        return
    statement = (
        update(SHAPE)
        .where(SHAPE.c.id == bindparam("shape"))
        .values(vclass=bindparam("new_class"), assessment_id=bindparam("part"))
    )
    rows = [{"shape": i, "new_class": c, "part": p} for i, c, p in changes]
    session.execute(statement, rows, execution_options={"synchronize_session": False})


# -- asset contexts -------------------------------------------------------------------------------


def scope_assets(
    session: Session, where: ColumnElement[bool], *, missing_only: bool = False
) -> Sequence[tuple[int, str, bool | None, str | None, list[str], int | None]]:
    """(asset id, criticality, internet-facing, environment, sectors, context id) of the assets
    of the findings in scope (a Core query: ten thousand rows, no ORM objects);
    ``missing_only``: of those with no context yet."""
    organisation: Table = models.Organisation.__table__  # type: ignore[assignment]
    held = select(FINDING.c.asset_id).where(where).distinct()
    query = (
        select(
            ASSET.c.id,
            ASSET.c.criticality,
            ASSET.c.internet_facing,
            ASSET.c.environment,
            organisation.c.sectors,
            ASSET.c.triage_context_id,
        )
        .select_from(ASSET.join(organisation, organisation.c.id == ASSET.c.organisation_id))
        .where(ASSET.c.id.in_(held))
    )
    if missing_only:
        query = query.where(ASSET.c.triage_context_id.is_(None))
    return session.execute(query).all()


def stored_contexts(session: Session, ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """The data of these ``triage_context`` rows, by id."""
    found: dict[int, dict[str, Any]] = {}
    for part in chunks(sorted(ids), 900):
        query = select(CONTEXT.c.id, CONTEXT.c.data).where(CONTEXT.c.id.in_(part))
        found.update((i, data) for i, data in session.execute(query))
    return found


def context_ids(session: Session, contexts: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """The ``triage_context`` id of each context (by digest), storing the new ones."""
    return _ids_by_digest(
        session,
        CONTEXT,
        contexts,
        lambda key, data: {"digest": key, "data": dict(data)},
    )


def update_asset_contexts(session: Session, changes: Sequence[tuple[int, int]]) -> None:
    """Write (asset id, context id) of the assets whose context changed."""
    if not changes:
        return
    statement = (
        update(ASSET)
        .where(ASSET.c.id == bindparam("asset"))
        .values(triage_context_id=bindparam("context"))
    )
    rows = [{"asset": a, "context": c} for a, c in changes]
    session.execute(statement, rows, execution_options={"synchronize_session": False})


# -- rules ----------------------------------------------------------------------------------------


def pair_counts(session: Session, where: ColumnElement[bool]) -> list[tuple[int, int, int]]:
    """(shape id, context id, findings) of the findings in scope, by pair."""
    query = (
        select(DETAIL.c.shape_id, ASSET.c.triage_context_id, func.count())
        .select_from(
            FINDING.join(ASSET, ASSET.c.id == FINDING.c.asset_id).join(
                DETAIL, DETAIL.c.id == FINDING.c.detail_id
            )
        )
        .where(where)
        .group_by(DETAIL.c.shape_id, ASSET.c.triage_context_id)
    )
    # Findings without a shape or assets without a context are left out here, not in SQL: a
    # ``context IS NOT NULL`` there, with statistics from before contexts were set, made
    # PostgreSQL start from the assets and read every finding they hold.
    return [
        (shape, context, count)
        for shape, context, count in session.execute(query)
        if shape is not None and context is not None
    ]


def rules(session: Session, vclasses: Collection[str]) -> dict[tuple[str, int], dict[str, Any]]:
    """The stored rules of these classes, by (class, context id): their :data:`RULE_COLUMNS`."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    columns = [RULE.c[name] for name in RULE_COLUMNS]
    for part in chunks(sorted(vclasses), 500):
        query = select(RULE.c.vclass, RULE.c.context_id, *columns).where(RULE.c.vclass.in_(part))
        for vclass, context, *values in session.execute(query):
            row = dict(zip(RULE_COLUMNS, values, strict=True))
            row["kev_end"] = aware(row["kev_end"])
            found[(vclass, context)] = row
    return found


def write_rules(
    session: Session, rows: Mapping[tuple[str, int], Mapping[str, Any]], revision: int
) -> None:
    """Insert or replace these rules, as written by ``revision``."""
    if not rows:
        return
    values = [
        {"vclass": vclass, "context_id": context, "revision_id": revision, **dict(row)}
        for (vclass, context), row in sorted(rows.items())
    ]
    insert = _insert(session)
    base = insert(RULE)
    replace = {name: base.excluded[name] for name in (*RULE_COLUMNS, "revision_id")}
    statement = base.on_conflict_do_update(index_elements=["vclass", "context_id"], set_=replace)
    for batch in chunks(values, 1000):
        session.execute(statement, list(batch))


def record_revision(
    session: Session,
    now: datetime,
    why: str,
    policy_set: str,
    counts: tuple[int, int, int],
    changes: Mapping[str, Any],
) -> int:
    """One ``triage_revision`` row; returns its id."""
    shapes, rules_changed, findings = counts
    statement = REVISION.insert().returning(REVISION.c.id)
    return int(
        session.execute(
            statement,
            {
                "at": now,
                "why": why,
                "policy_set": policy_set,
                "shapes_changed": shapes,
                "rules_changed": rules_changed,
                "findings_changed": findings,
                "changes": dict(changes),
            },
        ).scalar_one()
    )


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
    return _ids_by_digest(
        session,
        ASSESSMENT,
        parts,
        lambda key, data: {
            "digest": key,
            "part": data["part"],
            "data": dict(data),
            "created_at": now,
        },
    )


def _ids_by_digest(
    session: Session,
    table: Table,
    items: Mapping[str, Mapping[str, Any]],
    row: Any,
) -> dict[str, int]:
    """The id of each content-addressed row (by digest), inserting the missing ones."""
    found: dict[str, int] = {}
    digests = sorted(items)
    for chunk in chunks(digests, 900):
        query = select(table.c.digest, table.c.id).where(table.c.digest.in_(chunk))
        found.update((key, value) for key, value in session.execute(query))
    missing = [key for key in digests if key not in found]
    if not missing:
        return found
    # A concurrent transaction may store the same row: it is the same content, keep theirs.
    statement = _insert(session)(table).on_conflict_do_nothing(index_elements=["digest"])
    for batch in chunks([row(key, items[key]) for key in missing], 1000):
        session.execute(statement, list(batch))
    for chunk in chunks(missing, 900):
        query = select(table.c.digest, table.c.id).where(table.c.digest.in_(chunk))
        found.update((key, value) for key, value in session.execute(query))
    return found


def explanation(session: Session, finding_id: int) -> dict[str, Any]:
    """A finding's stored explanation: ``Decision.to_dict()``, ``{"unavailable": why}`` when it
    could not be decided, or ``{}`` when it has not been assessed."""
    query = (
        select(SHAPE.c.assessment_id, RULE.c.context_assessment_id)
        .select_from(
            FINDING.join(ASSET, ASSET.c.id == FINDING.c.asset_id)
            .join(DETAIL, DETAIL.c.id == FINDING.c.detail_id)
            .join(SHAPE, SHAPE.c.id == DETAIL.c.shape_id)
            .outerjoin(
                RULE,
                and_(
                    RULE.c.vclass == SHAPE.c.vclass, RULE.c.context_id == ASSET.c.triage_context_id
                ),
            )
        )
        .where(FINDING.c.id == finding_id)
    )
    found = session.execute(query).first()
    if found is None or found[0] is None:
        return {}
    vulnerability_id, context_id = found
    ids = [i for i in (vulnerability_id, context_id) if i is not None]
    query_parts = select(ASSESSMENT.c.id, ASSESSMENT.c.data).where(ASSESSMENT.c.id.in_(ids))
    data: dict[int, dict[str, Any]] = dict(session.execute(query_parts).all())
    first = data.get(vulnerability_id)
    if first is not None and first.get("part") == "unavailable":
        return {"unavailable": first["unavailable"]}
    second = data.get(context_id) if context_id is not None else None
    if first is None or second is None:
        return {}
    return joined(first, second)
