"""What the authorisation matrix (tests/api/test_authorization_matrix.py) sends to the sightings
routes: one stored sighting of each member organisation, and a sighting unique per caller for
``POST /v1/sightings`` (a success writes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sakimori.monitoring.sightings import Sighting
from sakimori.services.sightings import store_sightings
from sakimori.store import models

T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
VULNERABILITY = "CVE-2099-3001"
_SEEDED: set[int] = set()


def sighting(client: str, first: datetime = T0) -> Sighting:
    return Sighting(
        client,
        "sigma",
        "matrix-rule",
        "2026-01-01",
        "Matrix exploitation attempt",
        "local",
        (VULNERABILITY,),
        first,
        first + timedelta(minutes=1),
        2,
    )


def _seed(world: Any, organisations: tuple[str, ...]) -> None:
    if id(world) in _SEEDED:
        return
    with world.db.transaction() as session:
        ids = {
            o.slug: o.id
            for o in session.query(models.Organisation).filter(
                models.Organisation.slug.in_(organisations)
            )
        }
    for number, slug in enumerate(organisations):
        store_sightings(world.db, ids[slug], [sighting(f"192.0.2.{number}")], "full", "setup")
    _SEEDED.add(id(world))


def seen_by_own(organisation_of: dict[str, str], staff: frozenset[str]) -> Any:
    """The check of GET /v1/sightings: staff see both members', a member only its own."""

    def check(principal: str, body: Any) -> None:
        organisations = {s["organisation"] for s in body}
        if principal in staff:
            assert len(organisations) >= 2
        else:
            assert organisations == {organisation_of[principal]}

    return check


def call(
    world: Any, method: str, path: str, principal: str, organisations: tuple[str, ...]
) -> dict[str, Any]:
    _seed(world, organisations)
    url = path.format(vulnerability=VULNERABILITY)
    if (method, path) == ("POST", "/v1/sightings"):
        number = sum(map(ord, principal)) % 250
        first = T0 + timedelta(hours=len(principal))
        made = sighting(f"198.51.100.{number}", first).to_json()
        return {"url": url, "json": {"privacy": "full", "sightings": [made]}}
    if method == "POST":
        return {"url": url, "json": {"decision": "confirmed", "note": f"matrix {principal}"}}
    return {"url": url}
