"""Reconcile stored package findings with what matching found now, for many assets at once.

The rules (the same for an upload and for an advisory refresh):

- a vulnerability found for the first time in an asset opens a finding (with a "found"
  transition);
- a ``fixed`` finding found again reopens (a regression, with a transition);
- a finding in scope that is no longer found closes as ``fixed`` ("verified by inventory"),
  from whatever state it was in;
- a finding found again in any other state (``open``, ``not_affected``, ``risk_accepted``…)
  keeps its state.

What matching says about a vulnerability of a package-version — its ids, the records that
matched, the fixed versions — is not the finding's own: it is the finding's *detail*
(``services.finding_details``), shared with every asset holding that package-version and
rewritten in place. So a changed advisory held by ten thousand assets rewrites a few details,
and only the findings that open, reopen or close are written.

Everything is set-based, so it costs a handful of statements, not ten thousand ORM round trips:
the findings in scope are read (and, on PostgreSQL, locked) with one query per chunk of package
names; new findings are inserted with one executemany; rows that take the same new values
(reopened, closed) are changed with one ``UPDATE … WHERE id = ANY(…)`` per group (``IN (…)``
chunks on SQLite), and their transitions with one ``INSERT … SELECT`` that reads each row's
state before it changes. An upload also marks every finding it sees again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    all_,
    any_,
    bindparam,
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
from sakimori.services.finding_details import Detail, package_identity, store_details
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.store.triage_view import open_deadlines

Package = tuple[str, str]

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
    #: Findings created, reopened or closed, and every finding whose detail changed (in scope
    #: or not: the detail is shared) or that now points to another detail.
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
    detail_id: int | None


def finding_key(found: FoundVulnerability) -> str:
    return f"pkg:{found.ecosystem}/{found.package}@{found.version}#{found.vulnerability}"


def package_of(ecosystem: str | None, package: str | None) -> Package:
    """(base ecosystem, normalised name) of a stored finding."""
    return ecosystem or "", normalize_name(ecosystem or "", package or "")


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
        FINDING.c.detail_id,
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
        for finding_id, asset_id, key, state, ecosystem, package, detail_id in rows:
            if asset_id not in wanted_assets:
                continue
            if wanted_packages is not None:
                spelled = (ecosystem, package)
                if spelled not in in_scope:
                    in_scope[spelled] = package_of(*spelled) in wanted_packages
                if not in_scope[spelled]:
                    continue
            found[(asset_id, key)] = _Stored(
                finding_id, asset_id, key, state, ecosystem, package, detail_id
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
    findings that open, reopen or close (and the details that changed), so a changed advisory
    of a package held by ten thousand assets writes a handful of rows.
    """
    existing = existing_findings(session, found.keys(), packages, spellings)
    result = Reconciled(in_scope={row.id for row in existing.values()})
    counts = result.counts
    details: dict[str, Detail] = {}
    new_rows: list[tuple[dict[str, Any], str]] = []
    again: list[tuple[_Stored, str]] = []
    current: set[tuple[int, str]] = set()
    # Thousands of assets hold the same package-versions: hash each identity once.
    digests: dict[tuple[str, str | None, str | None], str] = {}
    for asset_id, items in found.items():
        for key, item in {finding_key(f): f for f in items}.items():
            current.add((asset_id, key))
            digest = digests.get((key, item.purl, item.release))
            if digest is None:
                digest = digests[(key, item.purl, item.release)] = package_identity(key, item)
                details.setdefault(digest, Detail.of(item))
            row = existing.get((asset_id, key))
            if row is None:
                new_rows.append((_new_row(asset_id, key, item, now), digest))
            else:
                again.append((row, digest))
    stored = store_details(session, details, now)
    for new_row, digest in new_rows:
        new_row["detail_id"] = stored[digest].id
    created = _insert_new(session, [new_row for new_row, _ in new_rows], now, why)
    reopen: list[_Stored] = []
    repoint: list[dict[str, int]] = []
    seen: list[int] = []
    for row, digest in again:
        detail = stored[digest]
        result.matched[row.id] = details[digest].records
        reopened = row.state == State.FIXED.value
        counts.reopened += reopened
        counts.kept += not reopened
        if reopened:
            reopen.append(row)
        elif packages is None:
            seen.append(row.id)
        if row.detail_id != detail.id:
            repoint.append({"finding": row.id, "new_detail": detail.id})
        if reopened or detail.changed or row.detail_id != detail.id:
            result.changed.add(row.id)
    close = [
        row
        for place, row in existing.items()
        if place not in current and row.state != State.FIXED.value
    ]
    _repoint(session, repoint)
    _move(session, reopen, State.OPEN, None, now, f"regression: back in {why}",
          {"last_seen_at": now})  # fmt: skip
    _update_ids(session, seen, {"last_seen_at": now})
    _move(session, close, State.FIXED, _VERIFIED, now, f"{_VERIFIED}: {why}")
    counts.opened, counts.closed = len(created), len(close)
    result.changed.update(created, (row.id for row in close))
    result.changed.update(
        findings_of(session, {d.id for d in stored.values() if d.changed}, found.keys())
    )
    result.in_scope.update(created)
    _expire_loaded(session, result.in_scope | result.changed)
    return result


def findings_of(
    session: Session, detail_ids: Collection[int], besides: Collection[int]
) -> set[int]:
    """The findings of assets other than ``besides`` that point to these details
    (``ix_finding_detail_id``): those a reconciliation of ``besides`` reaches through a shared
    detail."""
    found: set[int] = set()
    skip = set(besides)
    others = None
    if skip and session.get_bind().dialect.name == "postgresql":
        # Left out by the database: ten thousand ids, one parameter.
        besides_ids = bindparam("besides", sorted(skip), postgresql.ARRAY(Integer))
        others = FINDING.c.asset_id != all_(besides_ids)
    for part in store.chunks(sorted(detail_ids), _IN_CHUNK):
        query = select(FINDING.c.id, FINDING.c.asset_id).where(FINDING.c.detail_id.in_(part))
        if others is not None:
            query = query.where(others)
        found.update(i for i, asset in session.execute(query) if asset not in skip)
    return found


def _repoint(session: Session, rows: Sequence[dict[str, int]]) -> None:
    """Point findings whose identity changed (another purl or OS release for the same key)
    at their new detail."""
    if not rows:
        return
    statement = (
        update(FINDING)
        .where(FINDING.c.id == bindparam("finding"))
        .values(detail_id=bindparam("new_detail"))
    )
    session.execute(statement, list(rows), execution_options={"synchronize_session": False})


def _new_row(asset_id: int, key: str, item: FoundVulnerability, now: datetime) -> dict[str, Any]:
    # ``detail_id`` is set from the stored detail before the insert (:func:`reconcile`).
    return {
        "asset_id": asset_id,
        "key": key,
        "kind": "package",
        "vulnerability": item.vulnerability,
        "ecosystem": item.ecosystem,
        "package": item.package,
        "version": item.version,
        "purl": item.purl,
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


def _id_filters(
    session: Session, ids: Sequence[int], column: ColumnElement[int] = FINDING.c.id
) -> list[ColumnElement[bool]]:
    """``column`` (``finding.id``) in ``ids``: one array parameter on PostgreSQL (thousands of
    ``IN`` parameters cost more to send than the statement costs to run), ``IN (…)`` chunks on
    SQLite."""
    ordered = sorted(ids)
    if not ordered:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return [column == any_(bindparam("ids", ordered, type_=postgresql.ARRAY(Integer)))]
    return [column.in_(part) for part in store.chunks(ordered, _IN_CHUNK)]


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
    changes: dict[str, Any] = {
        "state": to.value,
        "state_changed_at": now,
        "closed_at": now if closed else None,
        "closed_deadline": None,
        "resolution": resolution,
        "revision": FINDING.c.revision + 1,
        **(values or {}),
    }
    if not closed:
        _update_ids(session, ids, changes)
        return
    # The deadline in force when it closes, read (before this statement changes the row) from
    # the same rows under another name.
    closing = FINDING.alias("closing")
    for where in _id_filters(session, ids, closing.c.id):
        due = open_deadlines(closing, where)
        statement = update(FINDING).where(FINDING.c.id == due.c.id)
        session.execute(statement.values(**(changes | {"closed_deadline": due.c.deadline})))


def _expire_loaded(session: Session, ids: set[int]) -> None:
    """Finding objects the session already holds for rows written here are stale: expire them
    (there are none on the usual paths, which load no findings before reconciling)."""
    for instance in list(session.identity_map.values()):
        if isinstance(instance, models.Finding) and instance.id in ids:
            session.expire(instance)
