"""Pre-aggregated remediation metrics: the dashboard reads a few rows, not a million findings.

A **snapshot** (tables ``metrics_snapshot`` and ``metrics_figures``, migration 0014) holds the
figures :func:`sakimori.services.metrics.report` computes — overall, per organisation, per
sector, month by month — and, per pair of sectors, what a report filtered by one sector shows
for the other; so every filter the API accepts is answered from it, with exactly the numbers
the direct computation gives (``tests/services/test_metrics_snapshot.py`` compares them on
SQLite and PostgreSQL, so the two computations check each other). It is written by the
``metrics.refresh`` job (:func:`refresh`, in the job's transaction): the database sums each
organisation's counts (``GROUP BY``), only the remediated findings' two times are read (for the
medians), and sectors, pairs and the total are added up from the organisations — about 5 s for
a million findings, where reading every finding into Python took a minute. The two newest
snapshots are kept, so a reader that began on the previous one still finds its rows.

**Freshness contract** (docs/operations.md, "Dashboard figures"):

- A snapshot is exact as of its time ``at`` — the "now" its overdue counts use — which every
  page and the API show ("figures as of …").
- Every committed transaction that writes findings, triage shapes or rules, assets or
  organisations enqueues a refresh (:func:`watch`; in the transaction itself, so a rolled-back
  write enqueues nothing). Enqueueing is **coalesced**: while a refresh is queued, no other is
  added, so a burst of writes costs one refresh. The refresh waits :data:`DEBOUNCE` seconds to
  gather the burst, so with a worker running a change shows within ``DEBOUNCE`` + the refresh's
  own time (about 5 s for a million findings) + the worker's polling second; on a large
  platform, readers in other processes see a new snapshot up to :data:`LATEST_TTL` later.
- Time alone changes "overdue": ``sakimori worker --schedule MINUTES`` also refreshes every
  period, so with no write at all the figures are at most one period old.
- Small platforms (a snapshot of at most :data:`DIRECT_LIMIT` findings) compute the figures
  directly whenever a refresh is pending or the snapshot is older than
  :data:`SMALL_MAX_AGE`: the embedded default, where ``sakimori serve`` runs no jobs, is always
  current. A platform without a snapshot computes one on the first read (and stores it when it
  is large).

Tenancy is the caller's (``services.access.metrics_report``): a member's read names its own
organisation, and only that organisation's row is read.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Engine, and_, case, delete, event, func, insert, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from sakimori.jobs.handlers import METRICS_REFRESH
from sakimori.jobs.interface import QUEUED, RUNNING, enqueue
from sakimori.services.metrics import CLOSED_STATES, REMEDIATED, Figures, Months, Report, Tally
from sakimori.store import models
from sakimori.store.db import Database, aware
from sakimori.store.triage_view import FINDING as FINDING_TABLE
from sakimori.store.triage_view import triaged

log = logging.getLogger(__name__)

#: Seconds a refresh waits after the write that asked for it, gathering the writes after it.
DEBOUNCE: Final = 30.0
#: Up to this many findings, the figures are computed directly when the snapshot may be stale.
DIRECT_LIMIT: Final = 20_000
#: How old a small platform's snapshot may be before its figures are computed directly.
SMALL_MAX_AGE: Final = timedelta(minutes=5)
#: Snapshots kept (the newest, and the one before for readers that started on it).
KEEP: Final = 2
#: Seconds a process keeps using the newest snapshot it found on a large platform before it
#: asks the database again (so most dashboard reads cost no query at all).
LATEST_TTL: Final = 1.0

OVERALL: Final = "overall"
ORGANISATION: Final = "organisation"
SECTOR: Final = "sector"
PAIR: Final = "pair"

FIGURES = models.MetricsFigures.__table__
SNAPSHOT = models.MetricsSnapshot.__table__


# -- computing and storing ------------------------------------------------------------------------


@dataclass(slots=True)
class _Scope:
    tally: Tally = field(default_factory=Tally)
    months: Months | None = None
    #: An organisation's sectors; a sector's organisations.
    members: list[str] | None = None


def _month(column: Any, dialect: str) -> Any:
    """``YYYY-MM`` of a stored time, as ``datetime.strftime`` gives it for the value read back
    (PostgreSQL: in the session's time zone, as the driver returns it; SQLite: stored UTC)."""
    if dialect == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def per_organisation(session: Session, now: datetime) -> tuple[dict[int, Tally], dict[int, Months]]:
    """Each organisation's tally and months, aggregated by the database (``GROUP BY``): the
    counts summed there, only the remediated findings' two times read (for the medians)."""
    view = triaged()
    finding, asset = FINDING_TABLE, view.asset
    owner = asset.c.organisation_id
    closed = sorted(CLOSED_STATES)
    dialect = session.get_bind().dialect.name
    tallies: dict[int, Tally] = defaultdict(Tally)
    months: dict[int, Months] = defaultdict(Months)
    moment = now.astimezone(UTC)
    opened = (
        select(
            owner,
            view.decision,
            func.count(),
            func.count(case((view.deadline < moment, 1))),
        )
        .select_from(view.joined)
        .where(finding.c.state.not_in(closed))
        .group_by(owner, view.decision)
    )
    for org, decision, count, overdue in session.execute(opened):
        tally = tallies[org]
        tally.open += count
        key = decision or "untriaged"
        tally.open_by_decision[key] = tally.open_by_decision.get(key, 0) + count
        tally.overdue += overdue
    # A closed finding's deadline is the one in force when it closed (``closed_deadline``).
    due = finding.c.closed_deadline
    ended = (
        select(
            owner,
            func.count(),
            func.count(case((and_(finding.c.closed_at.is_not(None), due.is_not(None)), 1))),
            func.count(
                case((and_(finding.c.closed_at.is_not(None), finding.c.closed_at <= due), 1))
            ),
        )
        .select_from(finding.join(asset, asset.c.id == finding.c.asset_id))
        .where(finding.c.state.in_(closed))
        .group_by(owner)
    )
    for org, count, with_deadline, on_time in session.execute(ended):
        tally = tallies[org]
        tally.closed += count
        tally.closed_with_deadline += with_deadline
        tally.closed_on_time += on_time
    month = _month(finding.c.first_seen_at, dialect)
    first = (
        select(owner, month, func.count())
        .select_from(finding.join(asset, asset.c.id == finding.c.asset_id))
        .group_by(owner, month)
    )
    for org, name, count in session.execute(first):
        months[org].add(name, "opened", count)
    fixed = (
        select(owner, finding.c.first_seen_at, finding.c.closed_at)
        .select_from(finding.join(asset, asset.c.id == finding.c.asset_id))
        .where(finding.c.state.in_(sorted(REMEDIATED)), finding.c.closed_at.is_not(None))
    )
    for org, first_seen, closed_at in session.execute(fixed):
        seen, ended_at = aware(first_seen), aware(closed_at)
        assert seen is not None
        assert ended_at is not None
        tallies[org].remediation_days.append((ended_at - seen).total_seconds() / 86400)
        months[org].add(ended_at.strftime("%Y-%m"), "remediated", 1)
    return tallies, months


def aggregate(session: Session, now: datetime) -> tuple[dict[tuple[str, str], _Scope], int]:
    """Every scope's figures — each organisation's from the database's aggregates, the
    sectors', pairs' and the overall ones summed from them; and how many findings there are."""
    tallies, months = per_organisation(session, now)
    organisations = session.execute(
        select(models.Organisation.id, models.Organisation.slug, models.Organisation.sectors)
    ).all()
    overall = _Scope(months=Months())
    scopes: dict[tuple[str, str], _Scope] = {(OVERALL, ""): overall}
    count = 0
    for org_id, slug, sectors in sorted(organisations, key=lambda row: row[1]):
        tally = tallies.get(org_id)
        if tally is None:
            continue  # no finding: absent from the report, as from the direct one
        listed = list(sectors or [])
        count += tally.open + tally.closed
        held = months[org_id]
        scopes[(ORGANISATION, slug)] = _Scope(tally, held, listed)
        overall.tally.add(tally)
        assert overall.months is not None
        overall.months.merge(held)
        for name in listed:
            sector = scopes.get((SECTOR, name))
            if sector is None:
                sector = scopes[(SECTOR, name)] = _Scope(months=Months(), members=[])
            sector.tally.add(tally)
            assert sector.months is not None
            assert sector.members is not None
            sector.months.merge(held)
            sector.members.append(slug)
        for first in listed:
            for second in listed:
                if first != second:
                    pair = scopes.setdefault((PAIR, f"{first}|{second}"), _Scope())
                    pair.tally.add(tally)
    return scopes, count


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    id: int
    at: datetime
    seconds: float
    findings: int
    scopes: int


def refresh(session: Session, now: datetime | None = None) -> SnapshotInfo:
    """Compute every scope's figures and store them as the newest snapshot (in ``session``'s
    transaction: the ``metrics.refresh`` job's own), keeping the :data:`KEEP` newest."""
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    scopes, count = aggregate(session, now)
    values: list[dict[str, Any]] = []
    for (scope, key), found in scopes.items():
        figures = found.tally.figures()
        data: dict[str, Any] = {"figures": figures.stored()}
        if found.months is not None:
            data["months"] = found.months.counts
        if found.members is not None:
            data["members"] = found.members
        values.append({"scope": scope, "key": key, "open": figures.open, "data": data})
    seconds = time.perf_counter() - started
    snapshot_id = int(
        session.execute(
            insert(models.MetricsSnapshot).returning(models.MetricsSnapshot.id),
            {"at": now, "seconds": seconds, "findings": count},
        ).scalar_one()
    )
    for start in range(0, len(values), 5000):
        part = [{"snapshot_id": snapshot_id, **v} for v in values[start : start + 5000]]
        session.execute(insert(models.MetricsFigures), part)
    newest = select(SNAPSHOT.c.id).order_by(SNAPSHOT.c.at.desc(), SNAPSHOT.c.id.desc())
    keep = list(session.scalars(newest.limit(KEEP)))
    session.execute(
        delete(models.MetricsFigures).where(models.MetricsFigures.snapshot_id.not_in(keep))
    )
    session.execute(delete(models.MetricsSnapshot).where(models.MetricsSnapshot.id.not_in(keep)))
    log.info(
        "metrics snapshot %d: %d findings, %d scopes in %.2f s",
        snapshot_id,
        count,
        len(values),
        seconds,
    )
    # This process reads its new snapshot at once; others within LATEST_TTL.
    event.listen(session, "after_commit", _forget_latest, once=True)
    return SnapshotInfo(snapshot_id, now, seconds, count, len(values))


# -- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stored:
    """The newest snapshot's header."""

    id: int
    at: datetime
    findings: int


def latest(session: Session) -> Stored | None:
    row = session.execute(
        select(SNAPSHOT.c.id, SNAPSHOT.c.at, SNAPSHOT.c.findings)
        .order_by(SNAPSHOT.c.at.desc(), SNAPSHOT.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    at = aware(row.at)
    assert at is not None
    return Stored(row.id, at, row.findings)


def _read(
    session: Session,
    snapshot: int,
    scope: str,
    keys: Sequence[str] | None = None,
    *,
    prefix: str | None = None,
    top: int | None = None,
) -> dict[str, dict[str, Any]]:
    query = select(FIGURES.c.key, FIGURES.c.data).where(
        FIGURES.c.snapshot_id == snapshot, FIGURES.c.scope == scope
    )
    if prefix is not None:
        query = query.where(FIGURES.c.key.startswith(prefix, autoescape=True))
    if top is not None:
        query = query.order_by(FIGURES.c.open.desc(), FIGURES.c.key).limit(top)
    if keys is None:
        return {key: data for key, data in session.execute(query)}  # noqa: C416
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), 900):
        part = list(keys[start : start + 900])
        found.update(
            (key, data) for key, data in session.execute(query.where(FIGURES.c.key.in_(part)))
        )
    return found


def _figures(data: Mapping[str, Any]) -> Figures:
    return Figures.from_stored(data["figures"])


def _months(data: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    return {month: dict(counts) for month, counts in data.get("months", {}).items()}


def view(
    session: Session,
    snapshot: Stored,
    organisation: str | None = None,
    sector: str | None = None,
    top: int | None = None,
) -> Report:
    """The report ``metrics.report(organisation=…, sector=…)`` gives, read from ``snapshot``;
    ``top``: only that many organisations, those with the most open findings (then by slug)."""
    empty = Report(snapshot.at)
    if organisation:
        slug = organisation.strip().lower()
        data = _read(session, snapshot.id, ORGANISATION, [slug]).get(slug)
        if data is None or (sector and sector not in data["members"]):
            return empty
        figures = _figures(data)
        return Report(
            snapshot.at,
            overall=figures,
            organisations={slug: figures},
            sectors=dict.fromkeys(data["members"], figures),
            months=_months(data),
        )
    if sector:
        data = _read(session, snapshot.id, SECTOR, [sector]).get(sector)
        if data is None:
            return empty
        overall = _figures(data)
        members = sorted(data["members"])
        chosen = _read(session, snapshot.id, ORGANISATION, members)
        if top is not None:
            chosen = dict(
                sorted(chosen.items(), key=lambda kv: (-kv[1]["figures"]["open"], kv[0]))[:top]
            )
        pairs = _read(session, snapshot.id, PAIR, prefix=f"{sector}|")
        sectors = {key.split("|", 1)[1]: _figures(value) for key, value in pairs.items()}
        return Report(
            snapshot.at,
            overall=overall,
            organisations={key: _figures(value) for key, value in chosen.items()},
            sectors={sector: overall, **sectors},
            months=_months(data),
        )
    data = _read(session, snapshot.id, OVERALL, [""]).get("")
    if data is None:
        return empty
    organisations = _read(session, snapshot.id, ORGANISATION, top=top)
    return Report(
        snapshot.at,
        overall=_figures(data),
        organisations={key: _figures(value) for key, value in organisations.items()},
        sectors={
            key: _figures(value) for key, value in _read(session, snapshot.id, SECTOR).items()
        },
        months=_months(data),
    )


#: Reports already read from a snapshot, per engine (a snapshot never changes, so a page view
#: then costs one query: which snapshot is the newest). Bounded; cleared by the engine's end.
VIEW_CACHE: Final = 512
_VIEWS: weakref.WeakKeyDictionary[Engine, OrderedDict[tuple[Any, ...], Report]] = (
    weakref.WeakKeyDictionary()
)
_VIEWS_LOCK = threading.Lock()
#: The newest snapshot of a large platform, per engine, and when it was read (monotonic).
_LATEST: weakref.WeakKeyDictionary[Engine, tuple[Stored, float]] = weakref.WeakKeyDictionary()


def recent(read_at: float) -> bool:
    """Whether something read at ``read_at`` (``time.monotonic()``) is within LATEST_TTL."""
    return time.monotonic() - read_at <= LATEST_TTL


def _remembered(engine: Engine) -> Stored | None:
    with _VIEWS_LOCK:
        found = _LATEST.get(engine)
    return found[0] if found is not None and recent(found[1]) else None


def large_platform(db: Database) -> bool:
    """Whether this process read a large platform's snapshot less than LATEST_TTL ago."""
    return _remembered(db.engine) is not None


def _remember(engine: Engine, snapshot: Stored) -> None:
    with _VIEWS_LOCK:
        _LATEST[engine] = (snapshot, time.monotonic())


def _forget_latest(_session: Session) -> None:
    with _VIEWS_LOCK:
        _LATEST.clear()


def _view_key(
    snapshot: Stored, organisation: str | None, sector: str | None, top: int | None
) -> tuple[Any, ...]:
    return (snapshot.id, (organisation or "").strip().lower(), sector or "", top)


def _view_if_cached(
    db: Database, snapshot: Stored, organisation: str | None, sector: str | None, top: int | None
) -> Report | None:
    key = _view_key(snapshot, organisation, sector, top)
    with _VIEWS_LOCK:
        views = _VIEWS.get(db.engine)
        if views is None or key not in views:
            return None
        views.move_to_end(key)
        return views[key]


def _cached_view(
    db: Database,
    session: Session,
    snapshot: Stored,
    organisation: str | None,
    sector: str | None,
    top: int | None,
) -> Report:
    found = _view_if_cached(db, snapshot, organisation, sector, top)
    if found is not None:
        return found
    found = view(session, snapshot, organisation, sector, top)
    with _VIEWS_LOCK:
        views = _VIEWS.setdefault(db.engine, OrderedDict())
        views[_view_key(snapshot, organisation, sector, top)] = found
        while len(views) > VIEW_CACHE:
            views.popitem(last=False)
    return found


def pending(session: Session) -> bool:
    """Whether a refresh is queued or running (something changed since the newest began)."""
    query = (
        select(models.JobRow.id)
        .where(models.JobRow.name == METRICS_REFRESH, models.JobRow.state.in_([QUEUED, RUNNING]))
        .limit(1)
    )
    return session.scalar(query) is not None


def current(
    db: Database,
    *,
    organisation: str | None = None,
    sector: str | None = None,
    top: int | None = None,
    now: datetime | None = None,
) -> Report:
    """The figures as the freshness contract (module docstring) says: the newest snapshot, or
    on a small platform whose snapshot may be stale, a direct computation."""
    from sakimori.services.metrics import compute

    now = now or datetime.now(UTC)
    remembered = _remembered(db.engine)
    if remembered is not None:  # large, and read less than LATEST_TTL ago
        found = _view_if_cached(db, remembered, organisation, sector, top)
        if found is not None:
            return found
    with db.transaction() as session:
        snapshot = latest(session)
        if snapshot is not None:
            small = snapshot.findings <= DIRECT_LIMIT
            if not small:
                _remember(db.engine, snapshot)
            if not small or (now - snapshot.at <= SMALL_MAX_AGE and not pending(session)):
                return _cached_view(db, session, snapshot, organisation, sector, top)
            return compute(session, now, organisation, sector)
        total = session.scalar(select(func.count()).select_from(models.Finding)) or 0
        if total <= DIRECT_LIMIT:
            return compute(session, now, organisation, sector)
    with db.transaction() as session:
        info = refresh(session, now)
        return view(session, Stored(info.id, info.at, info.findings), organisation, sector, top)


# -- asking for a refresh after writes ------------------------------------------------------------

#: The tables whose rows the figures are computed from.
WATCHED_TABLES: Final = frozenset(
    {"finding", "triage_shape", "triage_rule", "asset", "organisation"}
)
_WATCHED_CLASSES: Final = (
    models.Finding,
    models.TriageShape,
    models.TriageRule,
    models.Asset,
    models.Organisation,
)
_CHANGED: Final = "sakimori.metrics.changed"
#: The engines whose committed writes ask for a refresh (:func:`watch`). Module state, on
#: purpose: SQLAlchemy's session events are registered per class, and the job runner makes its
#: own ``Session`` objects, so a listener per ``sessionmaker`` would miss the jobs' writes.
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
_LOCK = threading.Lock()
_LISTENING: list[bool] = []


def request_refresh(session: Session) -> bool:
    """Enqueue a refresh in ``session``'s transaction unless one is already queued (which will
    see this transaction's writes: it has not started, and on PostgreSQL its row is locked
    until this commits, so no worker claims it in between). True if one was added."""
    query = (
        select(models.JobRow.id)
        .where(models.JobRow.state == QUEUED, models.JobRow.name == METRICS_REFRESH)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    if session.scalar(query) is not None:
        return False
    return enqueue(session, METRICS_REFRESH, {}, delay=DEBOUNCE)


def watch(db: Database) -> None:
    """Make every committed transaction of ``db`` that writes a watched table (the ORM's
    flushes and ``session.execute`` of INSERT/UPDATE/DELETE statements) ask for a refresh."""
    with _LOCK:
        _ENGINES.add(db.engine)
        if not _LISTENING:
            event.listen(Session, "do_orm_execute", _on_execute)
            event.listen(Session, "after_flush", _on_flush)
            event.listen(Session, "before_commit", _on_commit)
            event.listen(Session, "after_rollback", _on_rollback)
            _LISTENING.append(True)


def _watched(session: Session) -> bool:
    bind: Any = session.bind
    return bind is not None and getattr(bind, "engine", bind) in _ENGINES


def _on_execute(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in WATCHED_TABLES:
            state.session.info[_CHANGED] = True


def _on_flush(session: Session, _context: UOWTransaction) -> None:
    objects: Iterable[object] = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(o, _WATCHED_CLASSES) for o in objects):
        session.info[_CHANGED] = True


def _on_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False) and _watched(session):
        request_refresh(session)


def _on_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)
