"""Reconcile stored package findings with what matching found now, for many assets at once.

The rules (the same for an upload and for an advisory refresh):

- a vulnerability found for the first time in an asset opens a finding (with a "found"
  transition);
- a ``fixed`` finding found again reopens (a regression, with a transition);
- a finding in scope that is no longer found closes as ``fixed`` ("verified by inventory"),
  from whatever state it was in;
- a finding found again in any other state (``open``, ``not_affected``, ``risk_accepted``…)
  keeps its state: only its last-seen time and its ids, records and fixed versions follow.

Everything is set-based, so one changed advisory held by ten thousand assets costs a handful of
statements, not ten thousand ORM round trips: the findings in scope are read (and, on
PostgreSQL, locked) with one query per chunk of package names; new findings are inserted with
one executemany; rows that take the same new values (reopened, closed, new ids or fixes) are
changed with one ``UPDATE … WHERE id = ANY(…)`` per group (``IN (…)`` chunks on SQLite), and
their transitions with one ``INSERT … SELECT`` that reads each row's state before it changes.
A refresh writes only the findings it changes; an upload also marks every finding it sees again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Text,
    any_,
    bindparam,
    cast,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from sakimori.model.ecosystem import normalize_name
from sakimori.model.finding import Finding as FoundVulnerability
from sakimori.model.lifecycle import State
from sakimori.services.assessment_store import Content, shape_ids
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.store.triage_view import open_deadline

Package = tuple[str, str]
#: A finding's aliases, records and fixed versions.
Details = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]

FINDING = models.Base.metadata.tables["finding"]
TRANSITION = models.Base.metadata.tables["finding_transition"]
_IN_CHUNK = 900  # ids or names per IN (…): below SQLite's bound-parameter limit
_ACTOR = "sakimori"
_VERIFIED = "verified by inventory"


@dataclass(slots=True)
class SyncCounts:
    opened: int = 0
    closed: int = 0
    reopened: int = 0
    kept: int = 0

    def add(self, other: SyncCounts) -> None:
        self.opened += other.opened
        self.closed += other.closed
        self.reopened += other.reopened
        self.kept += other.kept


@dataclass(slots=True)
class Reconciled:
    counts: SyncCounts = field(default_factory=SyncCounts)
    #: Findings created, reopened, closed, or whose ids, records or fixed versions changed.
    changed: set[int] = field(default_factory=set)
    #: Findings found now (kept or reopened; not the new ones), with the records that matched.
    matched: dict[int, tuple[str, ...]] = field(default_factory=dict)
    #: Every finding in scope: those that existed before and those created.
    in_scope: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Stored:
    """The columns of a stored finding that reconciliation reads."""

    id: int
    asset_id: int
    key: str
    state: str
    ecosystem: str | None
    package: str | None
    #: aliases, records and fixed versions as the JSON text stored (compared without parsing).
    stored: tuple[str, str, str]

    def differs(self, details: Details, memo: dict[Any, Any]) -> bool:
        """Whether ``details`` differ from what is stored; ``memo`` spares serialising and
        parsing the same lists again (thousands of findings share them)."""
        texts = memo.get(details)
        if texts is None:
            texts = memo[details] = _texts(details)
        if self.stored == texts:
            return False
        parsed = memo.get(self.stored)
        if parsed is None:
            parsed = memo[self.stored] = tuple(tuple(orjson.loads(t)) for t in self.stored)
        return bool(parsed != details)


def finding_key(found: FoundVulnerability) -> str:
    return f"pkg:{found.ecosystem}/{found.package}@{found.version}#{found.vulnerability}"


def package_of(ecosystem: str | None, package: str | None) -> Package:
    """(base ecosystem, normalised name) of a stored finding."""
    return ecosystem or "", normalize_name(ecosystem or "", package or "")


def _details(item: FoundVulnerability) -> Details:
    return tuple(item.aliases), tuple(item.records), tuple(item.fixed)


def _texts(details: Details) -> tuple[str, str, str]:
    """The JSON text the engine writes for these lists (``store.db`` serialises with orjson)."""
    aliases, records, fixed = (orjson.dumps(list(part)).decode() for part in details)
    return aliases, records, fixed


def existing_findings(
    session: Session,
    assets: Collection[int],
    packages: Collection[Package] | None,
    spellings: Collection[Package] | None = None,
) -> dict[tuple[int, str], _Stored]:
    """The stored package findings of ``assets`` (of ``packages`` only, unless None), locked.

    With ``spellings`` — (ecosystem, name) pairs as findings store them: the inventory's
    display names, and the normalised names — the query goes by package (the
    ``ix_finding_package`` index) instead of by asset, which reads only the findings in scope.
    Every finding not ``fixed`` carries its current inventory's spelling (an upload closes all
    others), so the spellings of the current inventories reach every finding that can change.
    """
    columns = (
        FINDING.c.id,
        FINDING.c.asset_id,
        FINDING.c.key,
        FINDING.c.state,
        FINDING.c.ecosystem,
        FINDING.c.package,
        # As text: comparing the stored JSON with what would be written spares parsing it.
        cast(FINDING.c.aliases, Text).label("aliases"),
        cast(FINDING.c.records, Text).label("records"),
        cast(FINDING.c.fixed_versions, Text).label("fixed"),
    )
    base = select(*columns).where(FINDING.c.kind == "package").order_by(FINDING.c.id)
    queries = []
    if spellings is None:
        for ids in store.chunks(sorted(assets), _IN_CHUNK):
            queries.append(base.where(FINDING.c.asset_id.in_(ids)))
    else:
        by_ecosystem: dict[str, set[str]] = {}
        for ecosystem, name in spellings:
            by_ecosystem.setdefault(ecosystem, set()).add(name)
        for ecosystem, names in sorted(by_ecosystem.items()):
            for spelled in store.chunks(sorted(names), _IN_CHUNK):
                queries.append(
                    base.where(FINDING.c.ecosystem == ecosystem, FINDING.c.package.in_(spelled))
                )
    wanted_assets = set(assets)
    wanted_packages = None if packages is None else set(packages)
    in_scope: dict[tuple[str | None, str | None], bool] = {}
    found: dict[tuple[int, str], _Stored] = {}
    for query in queries:
        # FOR UPDATE: a person's transition (which locks the row too) and this reconciliation
        # are serialised on PostgreSQL; SQLite writes one transaction at a time anyway.
        rows = session.execute(query.with_for_update()).all()
        for finding_id, asset_id, key, state, ecosystem, package, *stored in rows:
            if asset_id not in wanted_assets:
                continue
            if wanted_packages is not None:
                spelled = (ecosystem, package)
                if spelled not in in_scope:
                    in_scope[spelled] = package_of(*spelled) in wanted_packages
                if not in_scope[spelled]:
                    continue
            aliases, records, fixed = stored
            found[(asset_id, key)] = _Stored(
                finding_id, asset_id, key, state, ecosystem, package, (aliases, records, fixed)
            )
    return found


def reconcile(
    session: Session,
    found: Mapping[int, Iterable[FoundVulnerability]],
    now: datetime,
    why: str,
    packages: Collection[Package] | None,
    spellings: Collection[Package] | None = None,
) -> Reconciled:
    """Bring the package findings of every asset in ``found`` in line with what it holds now.

    ``packages`` limits the reconciliation to findings of these (base ecosystem, normalised
    name) packages — an advisory refresh; ``None`` means the asset's whole inventory — an
    upload. Every asset to reconcile must be a key of ``found``, with an empty list when
    nothing was found for it. ``spellings``: see :func:`existing_findings`.

    An upload is a new sighting of everything it holds, so every finding found again gets
    ``last_seen_at = now``. A refresh re-reads inventories already seen: it writes only the
    findings it changes (new, reopened, closed, or with other ids, records or fixed versions;
    those get ``last_seen_at = now`` too), so a changed advisory of a package with a hundred
    others does not rewrite every finding of that package.
    """
    existing = existing_findings(session, found.keys(), packages, spellings)
    result = Reconciled(in_scope={row.id for row in existing.values()})
    counts = result.counts
    new_rows: list[dict[str, Any]] = []
    #: ((vulnerability, new details) or None when unchanged, reopened?) -> rows: one UPDATE
    #: per group.
    groups: dict[tuple[tuple[str, Details] | None, bool], list[_Stored]] = {}
    current: set[tuple[int, str]] = set()
    memo: dict[Any, Any] = {}
    for asset_id, items in found.items():
        for key, item in {finding_key(f): f for f in items}.items():
            current.add((asset_id, key))
            row = existing.get((asset_id, key))
            if row is None:
                new_rows.append(_new_row(asset_id, key, item, now))
                continue
            details = _details(item)
            result.matched[row.id] = details[1]
            reopened = row.state == State.FIXED.value
            counts.reopened += reopened
            counts.kept += not reopened
            differs = row.differs(details, memo)
            if differs or reopened:
                result.changed.add(row.id)
            elif packages is not None:
                continue  # a refresh leaves an unchanged finding alone
            group = ((item.vulnerability, details) if differs else None, reopened)
            groups.setdefault(group, []).append(row)
    close = [
        row
        for place, row in existing.items()
        if place not in current and row.state != State.FIXED.value
    ]
    changed_shapes = {_content(*new) for new, _ in groups if new is not None}
    shapes = shape_ids(session, {new["_shape"] for new in new_rows} | changed_shapes)
    for new_row in new_rows:
        new_row["shape_id"] = shapes[new_row.pop("_shape")]
    created = _insert_new(session, new_rows, now, why)
    for (new, reopened), rows in groups.items():
        values: dict[str, Any] = {"last_seen_at": now}
        if new is not None:
            aliases, records, fixed = new[1]
            values.update(
                aliases=list(aliases),
                records=list(records),
                fixed_versions=list(fixed),
                shape_id=shapes[_content(*new)],
            )
        if reopened:
            _move(session, rows, State.OPEN, None, now, f"regression: back in {why}", values)
        else:
            _update_ids(session, [row.id for row in rows], values)
    _move(session, close, State.FIXED, _VERIFIED, now, f"{_VERIFIED}: {why}")
    counts.opened, counts.closed = len(created), len(close)
    result.changed.update(created, (row.id for row in close))
    result.in_scope.update(created)
    _expire_loaded(session, result.in_scope)
    return result


def _content(vulnerability: str, details: Details) -> Content:
    """A finding's vulnerability shape: what its triage evidence depends on."""
    aliases, records, fixed = details
    return vulnerability, aliases, records, bool(fixed)


def _new_row(asset_id: int, key: str, item: FoundVulnerability, now: datetime) -> dict[str, Any]:
    # The triage shape is set from ``_shape`` before the insert (``_shapes``).
    return {
        "_shape": _content(item.vulnerability, _details(item)),
        "asset_id": asset_id,
        "key": key,
        "kind": "package",
        "vulnerability": item.vulnerability,
        "aliases": list(item.aliases),
        "records": list(item.records),
        "ecosystem": item.ecosystem,
        "package": item.package,
        "version": item.version,
        "purl": item.purl,
        "fixed_versions": list(item.fixed),
        "state": State.OPEN.value,
        "first_seen_at": now,
        "last_seen_at": now,
        "state_changed_at": now,
        "revision": 1,
    }


def _insert_new(
    session: Session, rows: Sequence[dict[str, Any]], now: datetime, why: str
) -> list[int]:
    """Insert new findings and their "found" transitions; returns the new ids."""
    created: list[int] = []
    statement = FINDING.insert().returning(FINDING.c.id, sort_by_parameter_order=True)
    for part in store.chunks(rows):
        created.extend(session.execute(statement, list(part)).scalars())
    _record_transitions(session, created, State.OPEN, now, f"found: {why}", new=True)
    return created


def _id_filters(session: Session, ids: Sequence[int]) -> list[ColumnElement[bool]]:
    """``finding.id`` in ``ids``: one array parameter on PostgreSQL (thousands of ``IN``
    parameters cost more to send than the statement costs to run), ``IN (…)`` chunks on SQLite."""
    ordered = sorted(ids)
    if not ordered:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return [FINDING.c.id == any_(bindparam("ids", ordered, type_=postgresql.ARRAY(Integer)))]
    return [FINDING.c.id.in_(part) for part in store.chunks(ordered, _IN_CHUNK)]


def _record_transitions(
    session: Session, ids: Sequence[int], to: State, now: datetime, note: str, *, new: bool
) -> None:
    """One transition per finding in ``ids`` to ``to``, from the state each is in now (from
    nothing when ``new``): ``INSERT … SELECT`` from the finding rows, before they change."""
    columns = ["finding_id", "at", "actor", "from_state", "to_state", "note"]
    for where in _id_filters(session, ids):
        source = select(
            FINDING.c.id,
            literal(now, DateTime(timezone=True)),
            literal(_ACTOR),
            null() if new else FINDING.c.state,
            literal(to.value),
            literal(note),
        ).where(where)
        session.execute(TRANSITION.insert().from_select(columns, source))


def _update_ids(session: Session, ids: Sequence[int], values: Mapping[str, Any]) -> None:
    """``UPDATE finding SET … WHERE id`` in ``ids``."""
    for where in _id_filters(session, ids):
        session.execute(update(FINDING).where(where).values(**values))


def _move(
    session: Session,
    rows: Sequence[_Stored],
    to: State,
    resolution: str | None,
    now: datetime,
    note: str,
    values: Mapping[str, Any] | None = None,
) -> None:
    """Move ``rows`` to ``to`` with one transition each; ``resolution`` replaces theirs, and
    ``values`` are written in the same statement."""
    ids = [row.id for row in rows]
    _record_transitions(session, ids, to, now, note, new=False)
    closed = to in {State.FIXED, State.MITIGATED, State.NOT_AFFECTED, State.RISK_ACCEPTED}
    _update_ids(
        session,
        ids,
        {
            "state": to.value,
            "state_changed_at": now,
            "closed_at": now if closed else None,
            # The deadline in force when it closes (computed before this statement changes it).
            "closed_deadline": open_deadline(FINDING) if closed else None,
            "resolution": resolution,
            "revision": FINDING.c.revision + 1,
            **(values or {}),
        },
    )


def _expire_loaded(session: Session, ids: set[int]) -> None:
    """Finding objects the session already holds for rows written here are stale: expire them
    (there are none on the usual paths, which load no findings before reconciling)."""
    for instance in list(session.identity_map.values()):
        if isinstance(instance, models.Finding) and instance.id in ids:
            session.expire(instance)
