"""The notification routes: a webhook's secret is shown once and stored only sealed (never in
the audit log), bad endpoints are refused with one clear reason, another organisation's
endpoints are out of reach, and only a dead delivery is retried."""

from __future__ import annotations

from sqlalchemy import select

from sakimori.store import models
from tests.api.conftest import ORG_A, ORG_B, World
from tests.api.conftest import world as world

URL = "/v1/notifications/endpoints"


def test_a_webhook_secret_is_shown_once_and_stored_sealed(world: World) -> None:
    headers = world.headers("member_admin")
    made = world.client.post(
        URL,
        headers=headers,
        json={"kind": "webhook", "target": "https://hooks.bank.test/sakimori"},
    )
    assert made.status_code == 201, made.text
    body = made.json()
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert body["organisation"] == ORG_A
    listed = world.client.get(URL, headers=headers)
    assert listed.status_code == 200
    [again] = [e for e in listed.json() if e["id"] == body["id"]]
    assert "secret" not in again
    assert secret not in listed.text
    with world.db.transaction() as session:
        row = session.get(models.NotifyEndpointRow, body["id"])
        assert row is not None
        assert row.sealed_secret is not None
        assert secret.encode() not in row.sealed_secret
        entries = session.scalars(
            select(models.AuditEntryRow).where(models.AuditEntryRow.action == "notify.manage")
        ).all()
    assert any(e.object_id == str(body["id"]) for e in entries)
    assert all(secret not in str(e.detail) for e in entries)
    email = world.client.post(
        URL,
        headers=headers,
        json={"kind": "email", "target": "soc@bank.test", "user": "bank-user", "language": "ja"},
    )
    assert email.status_code == 201, email.text
    assert email.json()["secret"] is None


def test_bad_endpoints_are_refused_with_the_reason(world: World) -> None:
    headers = world.headers("coordinator_admin")
    cases = [
        ({"kind": "webhook", "target": "ftp://hooks.test/x"}, 400, "not an http(s) URL"),
        (
            {"kind": "webhook", "target": "https://hooks.test/x", "user": "bank-user"},
            400,
            "belongs to the organisation",
        ),
        ({"kind": "email", "target": "not-an-address"}, 400, "not an e-mail address"),
        (
            {"kind": "email", "target": "p@power.test", "user": "power-user"},
            400,
            "not an active member",
        ),
        (
            {
                "kind": "email",
                "target": "soc@bank.test",
                "filters": {"min_tlp": "RED", "max_tlp": "GREEN"},
            },
            400,
            "more restricted",
        ),
        (
            {"kind": "email", "target": "soc@bank.test", "filters": {"purl_prefixes": ["x"]}},
            400,
            "purl prefix",
        ),
        ({"kind": "pager", "target": "soc@bank.test"}, 422, None),
        ({"kind": "email", "target": "soc@bank.test", "colour": "red"}, 422, None),
    ]
    for body, status, reason in cases:
        answer = world.client.post(URL, headers=headers, json={"organisation": ORG_A, **body})
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        if reason is not None:
            assert reason in answer.json()["detail"], answer.text


def test_another_organisations_endpoints_are_out_of_reach(world: World) -> None:
    staff = world.headers("coordinator_admin")
    theirs = world.client.post(
        URL,
        headers=staff,
        json={"organisation": ORG_B, "kind": "email", "target": "csirt@power.test"},
    )
    assert theirs.status_code == 201, theirs.text
    member = world.headers("member_admin")
    made = world.client.post(
        URL,
        headers=member,
        json={"organisation": ORG_B, "kind": "email", "target": "x@power.test"},
    )
    assert made.status_code == 404
    assert world.client.get(URL, headers=member, params={"organisation": ORG_B}).status_code == 404
    gone = world.client.delete(f"{URL}/{theirs.json()['id']}", headers=member)
    assert gone.status_code == 404
    assert world.client.get(URL, headers=staff, params={"organisation": ORG_B}).json()[-1][
        "target"
    ] == ("csirt@power.test")


def test_only_a_dead_delivery_is_retried(world: World) -> None:
    from tests.api.test_authorization_matrix import _fresh_package

    headers = world.headers("coordinator_admin")
    wrong = world.client.get(
        "/v1/notifications/deliveries", headers=headers, params={"state": "lost"}
    )
    assert wrong.status_code == 422
    made = world.client.post(
        URL,
        headers=headers,
        json={"organisation": ORG_A, "kind": "email", "target": "live@bank.test"},
    )
    assert made.status_code == 201
    package_id = _fresh_package(world, "retry-test", published=True)  # AMBER, for A
    [pending] = [
        d
        for d in world.client.get(
            "/v1/notifications/deliveries",
            headers=headers,
            params={"state": "pending", "package_id": package_id},
        ).json()
        if d["endpoint_id"] == made.json()["id"]
    ]
    assert pending["organisation"] == ORG_A
    assert pending["attempts"] == 0
    refused = world.client.post(
        f"/v1/notifications/deliveries/{pending['id']}/retry", headers=headers
    )
    assert refused.status_code == 409
    assert "only a dead delivery is retried" in refused.json()["detail"]
    missing = world.client.post("/v1/notifications/deliveries/2147483000/retry", headers=headers)
    assert missing.status_code == 404


def test_the_digest_flag_is_taken_and_shown(world: World) -> None:
    headers = world.headers("member_admin")
    made = world.client.post(
        URL,
        headers=headers,
        json={"kind": "email", "target": "digest@bank.test", "language": "en", "digest": True},
    )
    assert made.status_code == 201, made.text
    assert made.json()["digest"] is True
    plain = world.client.post(URL, headers=headers, json={"kind": "email", "target": "p@bank.test"})
    assert plain.json()["digest"] is False
    shown = {e["id"]: e["digest"] for e in world.client.get(URL, headers=headers).json()}
    assert (shown[made.json()["id"]], shown[plain.json()["id"]]) == (True, False)
    bad = world.client.post(
        URL, headers=headers, json={"kind": "email", "target": "x@bank.test", "digest": "often"}
    )
    assert bad.status_code == 422
    from tests.api.test_authorization_matrix import _fresh_package
    from tests.notify.matrix import _dead_delivery

    _fresh_package(world, "digest-test", published=True)
    waiting = _dead_delivery(world, ORG_A, "held")
    with world.db.transaction() as session:
        row = session.get(models.NotifyDeliveryRow, waiting)
        assert row is not None
        row.state, row.finished_at = "held", None
    held = world.client.get(
        "/v1/notifications/deliveries", headers=headers, params={"state": "held"}
    )
    assert held.status_code == 200, held.text
    [item] = held.json()
    assert (item["id"], item["state"], item["digest_id"]) == (waiting, "held", None)
