"""``/healthz`` (the process answers) and ``/readyz`` (the database is reachable and migrated)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from sakimori.api.deps import RuntimeDep
from sakimori.api.schemas import Health
from sakimori.errors import SakimoriError
from sakimori.store.db import HEAD_REVISION, current_revision

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: the process is up. Needs no token."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Not ready"}},
)
def readyz(rt: RuntimeDep) -> Health | JSONResponse:
    """Readiness: the database answers and its schema is at the head revision. Needs no token."""
    try:
        database = rt.database
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        ready = current_revision(database.engine) == HEAD_REVISION
    except (SakimoriError, OSError):
        ready = False
    if not ready:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return Health(status="ok")
