"""Findings: list with filters and pages, show one with its history, move it, explain it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from sakimori.api.deps import PrincipalDep, RuntimeDep
from sakimori.api.problems import responses
from sakimori.api.schemas import (
    SLUG_PATTERN,
    Explanation,
    FindingDetail,
    FindingOut,
    FindingPage,
    TransitionIn,
    TransitionOut,
)
from sakimori.model.lifecycle import Move, State
from sakimori.services import access
from sakimori.services.findings import Filters, FindingView

router = APIRouter(prefix="/v1/findings", tags=["findings"])

MAX_PAGE = 500
FindingId = Path(ge=1, le=2**31 - 1, description="The finding's id.")
_ASSET_REF = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}/[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_VULNERABILITY = r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,199}$"


def finding_out(view: FindingView) -> FindingOut:
    return FindingOut(
        id=view.id,
        asset=view.asset,
        vulnerability=view.vulnerability,
        aliases=list(view.aliases),
        package=view.package,
        version=view.version,
        ecosystem=view.ecosystem,
        fixed=list(view.fixed),
        state=view.state,
        first_seen=view.first_seen,
        last_seen=view.last_seen,
        decision=view.decision,
        priority=view.priority,
        deadline=view.deadline,
        resolution=view.resolution,
        justification=view.justification,
        risk_accepted_until=view.risk_accepted_until,
    )


@router.get("", response_model=FindingPage, responses=responses(403, 404))
async def list_findings(
    principal: PrincipalDep,
    rt: RuntimeDep,
    organisation: Annotated[
        str | None, Query(pattern=SLUG_PATTERN, description="Only this organisation.")
    ] = None,
    asset: Annotated[
        str | None, Query(pattern=_ASSET_REF, description="Only this asset (ORG/ASSET).")
    ] = None,
    state: Annotated[
        list[State] | None, Query(max_length=8, description="Only these states (repeatable).")
    ] = None,
    include_closed: Annotated[
        bool, Query(description="Closed findings too (when no state is given).")
    ] = False,
    vulnerability: Annotated[
        str | None, Query(pattern=_VULNERABILITY, description="Only this vulnerability id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size.")] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="Findings to skip.")] = 0,
) -> FindingPage:
    """Findings in id order, one page at a time (open ones unless `state` or
    `include_closed`); a member sees only its own organisation's."""
    filters = Filters(
        organisation=organisation,
        asset=asset,
        states=[s.value for s in state or []],
        open_only=not include_closed,
        vulnerability=vulnerability,
        limit=limit + 1,
        offset=offset,
    )
    # A coroutine with one trip to the thread pool for the database: a plain function costs
    # two (the call, then FastAPI's check of the answer), and this is the busiest route.
    found = await run_in_threadpool(lambda: access.list_findings(rt.database, principal, filters))
    more = len(found) > limit
    return FindingPage(
        items=[finding_out(f) for f in found[:limit]],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if more else None,
    )


@router.get("/{finding_id}", response_model=FindingDetail, responses=responses(403, 404))
def show_finding(
    principal: PrincipalDep, rt: RuntimeDep, finding_id: int = FindingId
) -> FindingDetail:
    """A finding and every transition it went through."""
    view, history = access.show_finding(rt.database, principal, finding_id)
    return FindingDetail(
        finding=finding_out(view),
        history=[
            TransitionOut(
                at=t.at, actor=t.actor, from_state=t.from_state, to_state=t.to_state, note=t.note
            )
            for t in history
        ],
    )


@router.post(
    "/{finding_id}/transitions",
    response_model=FindingOut,
    status_code=201,
    responses=responses(400, 403, 404, 409),
)
def transition(
    body: TransitionIn, principal: PrincipalDep, rt: RuntimeDep, finding_id: int = FindingId
) -> FindingOut:
    """Move a finding to another state, checked against its lifecycle (the caller is recorded
    as the actor)."""
    move = Move(body.state, principal.name, body.note, body.justification, body.expires)
    return finding_out(access.transition_finding(rt.database, principal, finding_id, move))


@router.get("/{finding_id}/explanation", response_model=Explanation, responses=responses(403, 404))
def explanation(
    principal: PrincipalDep, rt: RuntimeDep, finding_id: int = FindingId
) -> Explanation:
    """Why the finding got its decision and deadline: every input and where it came from."""
    return Explanation(
        finding=finding_id,
        explanation=access.finding_explanation(rt.database, principal, finding_id),
    )
