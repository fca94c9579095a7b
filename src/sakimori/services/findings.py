"""Working findings: list them, show one with its history, move it through its lifecycle.

A transition locks the finding's row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite writes one
at a time anyway), checks the move against the finding's state *as it is now*, and records it,
so two people acting at once are serialised: neither transition is lost, and the second is
judged against the state the first left.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import BindParameter, Integer, Select, String, bindparam, select
from sqlalchemy.orm import Session

from sakimori.errors import NotFound
from sakimori.model.lifecycle import CLOSED, Move, State, check
from sakimori.services.organisations import asset as find_asset
from sakimori.services.organisations import organisation, split_ref
from sakimori.store import models
from sakimori.store.db import Database, aware
from sakimori.store.triage_view import finding_triage, triaged


@dataclass(frozen=True, slots=True)
class FindingView:
    id: int
    asset: str
    vulnerability: str
    aliases: tuple[str, ...]
    package: str | None
    version: str | None
    ecosystem: str | None
    fixed: tuple[str, ...]
    state: str
    first_seen: datetime
    last_seen: datetime
    decision: str | None
    priority: str | None
    deadline: datetime | None
    resolution: str | None
    justification: str | None
    risk_accepted_until: date | None


@dataclass(frozen=True, slots=True)
class TransitionView:
    at: datetime
    actor: str
    from_state: str | None
    to_state: str
    note: str


@dataclass(frozen=True, slots=True)
class Filters:
    organisation: str | None = None
    asset: str | None = None
    states: Sequence[str] = ()
    open_only: bool = False
    vulnerability: str | None = None
    limit: int = 1000
    offset: int = 0


def _view(row: models.Finding, asset_ref: str, triage: Triage) -> FindingView:
    return FindingView(
        id=row.id,
        asset=asset_ref,
        vulnerability=row.vulnerability,
        aliases=tuple(row.aliases),
        package=row.package,
        version=row.version,
        ecosystem=row.ecosystem,
        fixed=tuple(row.fixed_versions),
        state=row.state,
        first_seen=row.first_seen_at,
        last_seen=row.last_seen_at,
        decision=triage[0],
        priority=triage[1],
        deadline=triage[2],
        resolution=row.resolution,
        justification=row.justification,
        risk_accepted_until=row.risk_accepted_until,
    )


#: (decision, priority, deadline) of a finding, read through ``store.triage_view``.
Triage = tuple[str | None, str | None, datetime | None]


@functools.cache
def _statement(
    by_asset: bool, by_organisation: bool, by_states: bool, open_only: bool, by_vulnerability: bool
) -> Select[*tuple[Any, ...]]:
    """The listing for one combination of filters, with the filters' values as parameters.

    Plain columns: a page is read by the findings list of every API client and page, so no ORM
    objects are built and the detail comes in the same join. Built once per combination (at
    most 32): building it was a third of the list's CPU.
    """
    view = triaged()
    f, detail, owner = models.Finding, models.FindingDetail, models.Organisation
    query = (
        select(
            f.id,
            owner.slug.label("organisation"),
            models.Asset.slug.label("asset"),
            f.vulnerability,
            detail.aliases,
            f.package,
            f.version,
            f.ecosystem,
            detail.fixed_versions,
            f.state,
            f.first_seen_at,
            f.last_seen_at,
            view.decision.label("decision"),
            view.priority.label("priority"),
            view.deadline.label("deadline"),
            f.resolution,
            f.justification,
            f.risk_accepted_until,
        )
        .select_from(view.joined)
        .join(owner, owner.id == models.Asset.organisation_id)
    )
    if by_asset:
        query = query.where(models.Asset.slug == bindparam("asset"))
    if by_asset or by_organisation:
        query = query.where(owner.slug == bindparam("organisation"))
    if by_states:
        query = query.where(f.state.in_(bindparam("states", expanding=True)))
    elif open_only:
        query = query.where(f.state.not_in([_constant(s.value) for s in CLOSED]))
    if by_vulnerability:
        query = query.where(f.vulnerability == bindparam("vulnerability"))
    page = bindparam("limit", type_=Integer, literal_execute=True)
    skip = bindparam("offset", type_=Integer, literal_execute=True)
    return query.order_by(f.id).limit(page).offset(skip)


def _constant(value: str) -> BindParameter[str]:
    """A value written into the SQL text rather than sent as a parameter.

    PostgreSQL plans a statement prepared by psycopg (after its fifth run on a connection) once
    for any parameters. Not knowing which states ``NOT IN`` leaves out, it guessed one row where
    a popular vulnerability has 11,000 open findings, and sorted all of them for every page
    (130 ms instead of 2). The page's limit and offset are written in the same way.
    """
    return bindparam(None, value, type_=String, literal_execute=True)


def list_findings(db: Database, filters: Filters) -> list[FindingView]:
    """A page of findings; ``NotFound`` when the organisation or asset filtered on is not."""
    params: dict[str, Any] = {"limit": filters.limit, "offset": filters.offset}
    if filters.asset:
        params["organisation"], params["asset"] = split_ref(filters.asset)
    elif filters.organisation:
        params["organisation"] = filters.organisation.strip().lower()
    if filters.states:
        params["states"] = list(filters.states)
    if filters.vulnerability:
        params["vulnerability"] = filters.vulnerability
    statement = _statement(
        bool(filters.asset),
        bool(filters.organisation) and not filters.asset,
        bool(filters.states),
        filters.open_only,
        bool(filters.vulnerability),
    )
    with db.transaction() as session:
        rows = session.execute(statement, params).all()
        if not rows:  # nothing, or no such organisation or asset: say which
            if filters.asset:
                find_asset(session, filters.asset)
            elif filters.organisation:
                organisation(session, filters.organisation)
    return [
        FindingView(
            id=r.id,
            asset=f"{r.organisation}/{r.asset}",
            vulnerability=r.vulnerability,
            aliases=tuple(r.aliases or ()),
            package=r.package,
            version=r.version,
            ecosystem=r.ecosystem,
            fixed=tuple(r.fixed_versions or ()),
            state=r.state,
            first_seen=aware(r.first_seen_at),
            last_seen=aware(r.last_seen_at),
            decision=r.decision,
            priority=r.priority,
            deadline=aware(r.deadline),
            resolution=r.resolution,
            justification=r.justification,
            risk_accepted_until=r.risk_accepted_until,
        )
        for r in rows
    ]


def _triage(session: Session, finding_id: int) -> Triage:
    found = finding_triage(session, [finding_id])[finding_id]
    return found.decision, found.priority, found.deadline


def _row(session: Session, finding_id: int, *, lock: bool = False) -> models.Finding:
    query = select(models.Finding).where(models.Finding.id == finding_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(f"no finding {finding_id}", hint="see `sakimori finding list`")
    return row


def _asset_ref(session: Session, asset_id: int) -> str:
    org, asset = session.execute(
        select(models.Organisation.slug, models.Asset.slug)
        .join(models.Asset, models.Asset.organisation_id == models.Organisation.id)
        .where(models.Asset.id == asset_id)
    ).one()
    return f"{org}/{asset}"


def show(db: Database, finding_id: int) -> tuple[FindingView, list[TransitionView]]:
    with db.transaction() as session:
        row = _row(session, finding_id)
        history = session.scalars(
            select(models.FindingTransition)
            .where(models.FindingTransition.finding_id == finding_id)
            .order_by(models.FindingTransition.id)
        )
        return _view(row, _asset_ref(session, row.asset_id), _triage(session, row.id)), [
            TransitionView(t.at, t.actor, t.from_state, t.to_state, t.note) for t in history
        ]


def apply_move(session: Session, row: models.Finding, move: Move, now: datetime) -> None:
    """Check ``move`` against the state of ``row`` (locked by the caller) and record it.

    Closing records the deadline in force (``closed_deadline``); reopening clears it."""
    check(State(row.state), move, now.date())
    if move.to in CLOSED and row.closed_at is None:
        row.closed_deadline = _triage(session, row.id)[2]
    elif move.to not in CLOSED:
        row.closed_deadline = None
    session.add(
        models.FindingTransition(
            finding_id=row.id,
            at=now,
            actor=move.actor,
            from_state=row.state,
            to_state=move.to.value,
            note=move.note,
        )
    )
    row.state = move.to.value
    row.state_changed_at = now
    row.closed_at = now if move.to in CLOSED else None
    row.justification = move.justification if move.to is State.NOT_AFFECTED else None
    if move.to is State.RISK_ACCEPTED:
        row.risk_accepted_until, row.risk_accepted_by = move.expires, move.actor
    else:
        row.risk_accepted_until = row.risk_accepted_by = None
    row.resolution = move.note or None if move.to in CLOSED else None
    row.revision += 1


def transition(
    db: Database, finding_id: int, move: Move, now: datetime | None = None
) -> FindingView:
    now = now or datetime.now(UTC)
    with db.transaction() as session:
        row = _row(session, finding_id, lock=True)
        apply_move(session, row, move, now)
        session.flush()
        return _view(row, _asset_ref(session, row.asset_id), _triage(session, row.id))


def reopen_expired(db: Database, now: datetime | None = None) -> int:
    """Reopen every accepted risk whose acceptance has expired; returns how many."""
    now = now or datetime.now(UTC)
    with db.transaction() as session:
        rows = session.scalars(
            select(models.Finding)
            .where(
                models.Finding.state == State.RISK_ACCEPTED.value,
                models.Finding.risk_accepted_until <= now.date(),
            )
            .with_for_update()
        ).all()
        for row in rows:
            session.add(
                models.FindingTransition(
                    finding_id=row.id,
                    at=now,
                    actor="sakimori",
                    from_state=row.state,
                    to_state=State.OPEN.value,
                    note=f"risk acceptance by {row.risk_accepted_by} expired on "
                    f"{row.risk_accepted_until}",
                )
            )
            row.state, row.state_changed_at, row.closed_at = State.OPEN.value, now, None
            row.closed_deadline = None
            row.risk_accepted_until = row.risk_accepted_by = None
            row.revision += 1
        return len(rows)
