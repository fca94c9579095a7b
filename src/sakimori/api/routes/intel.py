"""What vulnerability intelligence is loaded, and the remediation metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from sakimori.api.deps import PrincipalDep, RuntimeDep
from sakimori.api.problems import responses
from sakimori.api.schemas import (
    SLUG_PATTERN,
    IntelSourceOut,
    IntelStatus,
    Metrics,
    ProductSuggestion,
    Sector,
)
from sakimori.services import access

router = APIRouter(prefix="/v1", tags=["intel and metrics"])


@router.get("/intel/status", response_model=IntelStatus, responses=responses(403))
def intel_status(principal: PrincipalDep, rt: RuntimeDep) -> IntelStatus:
    """Each source loaded: when it was checked and changed, and how many records it holds."""
    found = access.intel_status(rt.database, principal)
    return IntelStatus(
        sources=[
            IntelSourceOut(
                name=s.name,
                kind=s.kind,
                location=s.location,
                checked_at=s.checked_at,
                changed_at=s.changed_at,
                record_count=s.record_count,
            )
            for s in found.sources
        ],
        counts=found.counts,
        newest=found.newest,
    )


@router.get(
    "/products/suggestions", response_model=list[ProductSuggestion], responses=responses(400, 403)
)
def product_suggestions(
    principal: PrincipalDep,
    rt: RuntimeDep,
    text: Annotated[
        str, Query(min_length=1, max_length=300, description='e.g. "Palo Alto PAN-OS"')
    ],
    vendor: Annotated[
        str | None, Query(max_length=300, description="The vendor, when known apart.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> list[ProductSuggestion]:
    """The CPE vendor/product pairs of the loaded NVD and CVE records that best match a product
    named in free text, ranked and explained, for a person to confirm (never chosen for them)."""
    found = access.suggest_products(rt.database, principal, text, vendor, limit)
    return [
        ProductSuggestion(
            vendor=s.vendor,
            product=s.product,
            score=round(s.score, 4),
            explanation=s.explain(),
            seen_in=s.seen_in,
        )
        for s in found
    ]


@router.get("/metrics", response_model=Metrics, responses=responses(403, 404))
async def metrics(
    principal: PrincipalDep,
    rt: RuntimeDep,
    organisation: Annotated[
        str | None, Query(pattern=SLUG_PATTERN, description="Only this organisation.")
    ] = None,
    sector: Annotated[Sector | None, Query(description="Only this sector.")] = None,
) -> Metrics:
    """Open findings by decision, overdue, on-time rate and time to remediate, overall, per
    sector and per organisation (a member: its own organisation only), as of ``at``: read
    from the pre-aggregated snapshot (docs/operations.md, "Dashboard figures")."""
    found = await run_in_threadpool(  # one trip to the pool (see findings.list_findings)
        lambda: access.metrics_report(
            rt.database, principal, organisation=organisation, sector=sector
        )
    )
    return Metrics.model_validate(found.to_dict())
