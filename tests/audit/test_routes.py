"""Every write route records an audit entry (driven by the route table, like the
authorisation matrix), reads of TLP:AMBER packages are recorded, and GET /v1/audit pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sakimori.api.app import route_table
from sakimori.services import audit
from sakimori.store import models
from tests.api.conftest import USERS, World
from tests.api.conftest import world as world
from tests.api.test_authorization_matrix import RULES, request_for

WRITES = [(m, p) for m, p in route_table() if m in {"POST", "PUT", "PATCH", "DELETE"}]


def _newest(world: World) -> models.AuditEntryRow | None:
    with world.db.transaction() as session:
        return session.scalars(
            select(models.AuditEntryRow).order_by(models.AuditEntryRow.seq.desc()).limit(1)
        ).first()


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_every_write_route_records_an_entry(world: World, method: str, path: str) -> None:
    rule = RULES.get((method, path))
    assert rule is not None, f"{method} {path} has no rule in the authorisation matrix"
    assert rule.ok, f"{method} {path} has no caller who may call it"
    principal = sorted(rule.ok)[0]
    call = request_for(world, method, path, principal)
    before = _newest(world)
    response = call.send(world, method, principal)
    assert response.status_code in range(200, 300), response.text[:300]
    entry = _newest(world)
    assert entry is not None
    assert before is None or entry.seq > before.seq, "no audit entry was recorded"
    assert entry.actor == USERS[principal][0]
    assert entry.role == USERS[principal][2]
    assert entry.source == "testclient"
    assert entry.request_id == response.headers["x-request-id"]
    assert audit.verify(world.db).ok


def test_reading_an_amber_package_is_recorded_and_the_log_pages(world: World) -> None:
    created = world.client.post(
        "/v1/packages",
        headers=world.headers("analyst"),
        json={"title": "amber read", "tlp": "AMBER", "audience": {"organisations": []}},
    )
    assert created.status_code == 201, created.text
    package_id = created.json()["id"]
    response = world.client.get(
        f"/v1/packages/{package_id}", headers=world.headers("coordinator_admin")
    )
    assert response.status_code == 200
    entry = _newest(world)
    assert entry is not None
    assert (entry.action, entry.object_id, entry.tlp, entry.actor) == (
        "package.read",
        str(package_id),
        "AMBER",
        "kanri",
    )
    first = world.client.get(
        "/v1/audit", headers=world.headers("coordinator_admin"), params={"limit": 2}
    )
    assert first.status_code == 200
    page = first.json()
    assert [e["seq"] for e in page["items"]] == [1, 2]
    assert page["next_after"] == 2
    second = world.client.get(
        "/v1/audit", headers=world.headers("coordinator_admin"), params={"after": 2, "limit": 2}
    )
    assert second.json()["items"][0]["prev_hash"] == page["items"][1]["hash"]
    newest = _newest(world)
    assert newest is not None
    assert newest.action == "audit.read"
