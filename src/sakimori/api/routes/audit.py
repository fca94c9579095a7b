"""The audit log, for coordinator admins: ``GET /v1/audit``, paged by sequence number."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from sakimori.api.deps import PrincipalDep, RuntimeDep
from sakimori.api.problems import responses
from sakimori.api.schemas import Response
from sakimori.services import access

router = APIRouter(prefix="/v1", tags=["audit"])


class AuditEntryOut(Response):
    seq: int
    at: datetime
    actor: str
    actor_id: int | None
    organisation: str | None
    role: str | None
    action: str
    object_kind: str | None
    object_id: str | None
    tlp: str | None
    source: str | None = Field(description="The client address.")
    request_id: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str = Field(description="SHA-256 over prev_hash and the canonical entry.")


class AuditPage(Response):
    items: list[AuditEntryOut]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null when this page is the last."
    )


@router.get("/audit", response_model=AuditPage, responses=responses(403))
def audit_log(
    principal: PrincipalDep,
    rt: RuntimeDep,
    after: Annotated[
        int, Query(ge=0, le=2**62, description="Entries after this sequence number.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many entries.")] = 100,
) -> AuditPage:
    """Audit entries in order (oldest first). `sakimori audit verify` checks the chain."""
    found = access.audit_entries(rt.database, principal, after=after, limit=limit)
    return AuditPage(
        items=[AuditEntryOut.model_validate(e) for e in found],
        next_after=found[-1]["seq"] if len(found) == limit else None,
    )
