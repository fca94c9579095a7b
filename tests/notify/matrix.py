"""What the authorisation matrix (tests/api/test_authorization_matrix.py) sends to the
``/v1/notifications`` routes: endpoints of organisations A and B, and a dead delivery of each,
so lists can be checked for tenancy; a fresh endpoint or dead delivery of A per caller where a
success changes it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from sakimori.notify import message
from sakimori.services import identity
from sakimori.services import notifications as service
from sakimori.store import models

PREFIX = "/v1/notifications"
_SEEDED: dict[int, dict[str, str]] = {}


def _staff(world: Any) -> Any:
    return identity.authenticate(world.db, world.key, world.tokens["coordinator_admin"])


def _endpoint(world: Any, organisation: str, name: str) -> int:
    view, _ = service.create_endpoint(
        world.db,
        _staff(world),
        world.key.secret,
        service.EndpointSpec(organisation, "webhook", f"https://hooks.{organisation}.test/{name}"),
    )
    return view.id


def _dead_delivery(world: Any, organisation: str, name: str) -> int:
    """A dead delivery of the newest published package to a fresh endpoint of the organisation."""
    endpoint = _endpoint(world, organisation, name)
    now = datetime.now(UTC)
    with world.db.transaction() as session:
        package = session.scalars(
            select(models.PackageRow)
            .where(models.PackageRow.published_revision > 0)
            .order_by(models.PackageRow.id.desc())
        ).first()
        assert package is not None, "the matrix world has a published package"
        org_id = session.scalar(
            select(models.Organisation.id).where(models.Organisation.slug == organisation)
        )
        assert org_id is not None
        row = models.NotifyDeliveryRow(
            package_id=package.id,
            revision=package.published_revision,
            organisation_id=org_id,
            endpoint_id=endpoint,
            idempotency_key=message.idempotency_key(
                package.id, package.published_revision, org_id, endpoint
            ),
            cause="published",
            state=service.DEAD,
            attempts=3,
            max_attempts=3,
            last_error="HTTP 500",
            last_status=500,
            created_at=now,
            finished_at=now,
        )
        session.add(row)
        session.flush()
        return row.id


def _seeded(world: Any, organisation_a: str, organisation_b: str) -> None:
    if id(world) not in _SEEDED:
        _SEEDED[id(world)] = {
            "a": str(_dead_delivery(world, organisation_a, "seed")),
            "b": str(_dead_delivery(world, organisation_b, "seed")),
        }


def call(
    world: Any, method: str, path: str, principal: str, organisation_a: str, organisation_b: str
) -> dict[str, Any]:
    _seeded(world, organisation_a, organisation_b)
    suffix = principal.replace("_", "-")
    if (method, path) == ("POST", f"{PREFIX}/endpoints"):
        return {
            "url": path,
            "json": {
                "organisation": organisation_a,
                "kind": "webhook",
                "target": f"https://hooks.{organisation_a}.test/{suffix}",
                "filters": {"min_tlp": "GREEN"},
            },
        }
    if path == f"{PREFIX}/endpoints/{{endpoint_id}}":
        ident = _endpoint(world, organisation_a, f"remove-{suffix}")
        return {"url": path.format(endpoint_id=ident)}
    if path == f"{PREFIX}/deliveries/{{delivery_id}}/retry":
        ident = _dead_delivery(world, organisation_a, f"retry-{suffix}")
        return {"url": path.format(delivery_id=ident)}
    return {"url": path}


def own_organisation_only(organisation_a: str) -> Any:
    """A list check: member admins of A see A's items only; staff see more than A's."""

    def check(principal: str, body: Any) -> None:
        seen = {item["organisation"] for item in body}
        if principal == "coordinator_admin":
            assert len(seen) > 1, seen
        else:
            assert seen == {organisation_a}, seen

    return check
