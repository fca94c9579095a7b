"""The package API: draft, review and publish by two people, recipients read and
acknowledge within TLP, CSAF and STIX served to those entitled, bad input refused."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from sakimori.store import models
from tests.packages.conftest import Platform, content, errors

PROBLEM = "application/problem+json"


def _publish(client: Any, platform: Platform, value: dict[str, Any]) -> int:
    made = client.post("/v1/packages", json=value, headers=platform.headers("bunseki"))
    assert made.status_code == 201, made.text
    package_id: int = made.json()["id"]
    moved = client.post(
        f"/v1/packages/{package_id}/transitions",
        json={"move": "submit"},
        headers=platform.headers("bunseki"),
    )
    assert moved.json()["state"] == "review"
    refused = client.post(
        f"/v1/packages/{package_id}/transitions",
        json={"move": "approve"},
        headers=platform.headers("bunseki"),
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    assert "second person" in refused.json()["detail"]
    approved = client.post(
        f"/v1/packages/{package_id}/transitions",
        json={"move": "approve"},
        headers=platform.headers("kanri"),
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "published"
    return package_id


def test_the_whole_path_through_the_api(
    client: Any,
    platform: Platform,
    csaf_validator: Draft202012Validator,
    stix_validator: Draft202012Validator,
) -> None:
    package_id = _publish(client, platform, content())
    # city-bank is exposed (django 1.11.29 in its requirements.txt); river-power is not.
    bank = client.get(f"/v1/packages/{package_id}", headers=platform.headers("bank-user"))
    assert bank.status_code == 200
    assert bank.json()["content"]["tlp"] == "AMBER"
    other = client.get(f"/v1/packages/{package_id}", headers=platform.headers("power-user"))
    missing = client.get("/v1/packages/2147483000", headers=platform.headers("power-user"))
    assert other.status_code == missing.status_code == 404
    document = client.get(f"/v1/packages/{package_id}/csaf", headers=platform.headers("bank-user"))
    assert errors(csaf_validator, document.json()) == []
    assert document.json()["document"]["distribution"]["tlp"]["label"] == "AMBER"
    bundle = client.get(f"/v1/packages/{package_id}/stix", headers=platform.headers("bank-admin"))
    assert bundle.headers["content-type"].startswith("application/stix+json")
    assert errors(stix_validator, bundle.json()) == []
    assert (
        client.get(
            f"/v1/packages/{package_id}/stix", headers=platform.headers("allied")
        ).status_code
        == 404
    )
    ack = client.post(
        f"/v1/packages/{package_id}/acknowledgement", headers=platform.headers("bank-admin")
    )
    assert ack.status_code == 200
    assert ack.json()["acknowledged_by"] == "bank-admin"
    assert (
        client.post(
            f"/v1/packages/{package_id}/acknowledgement", headers=platform.headers("power-user")
        ).status_code
        == 404
    )
    recipients = client.get(
        f"/v1/packages/{package_id}/recipients", headers=platform.headers("bunseki")
    ).json()
    assert [(r["organisation"], r["reason"], r["read_by"]) for r in recipients] == [
        ("city-bank", "exposure", "bank-user")
    ]
    assert (
        client.get(
            f"/v1/packages/{package_id}/recipients", headers=platform.headers("bank-admin")
        ).status_code
        == 403
    )


def test_a_revision_through_the_api(client: Any, platform: Platform) -> None:
    package_id = _publish(client, platform, content(audience={"organisations": ["city-bank"]}))
    widened = content(tlp="GREEN", audience={"organisations": ["city-bank", "river-power"]})
    revised = client.post(
        f"/v1/packages/{package_id}/revisions",
        json={"content": widened, "change": "Now for river-power too."},
        headers=platform.headers("kanri"),
    )
    assert revised.status_code == 201
    assert revised.json()["history"][-1]["status"] == "draft"
    assert (
        client.get(f"/v1/packages/{package_id}", headers=platform.headers("power-user")).status_code
        == 404
    )
    for user, move in (("kanri", "submit"), ("bunseki", "approve")):
        answer = client.post(
            f"/v1/packages/{package_id}/transitions",
            json={"move": move},
            headers=platform.headers(user),
        )
        assert answer.status_code == 200, answer.text
    seen = client.get(f"/v1/packages/{package_id}", headers=platform.headers("power-user"))
    assert seen.status_code == 200
    assert seen.json()["revision"] == 2
    assert [h["number"] for h in seen.json()["history"]] == [1, 2]


def test_red_is_read_by_the_named_person_only(client: Any, platform: Platform) -> None:
    package_id = _publish(client, platform, content(tlp="RED", audience={"people": ["bank-user"]}))
    assert (
        client.get(f"/v1/packages/{package_id}", headers=platform.headers("bank-user")).status_code
        == 200
    )
    for user in ("bank-admin", "power-user", "allied", "vendor-psirt"):
        assert (
            client.get(f"/v1/packages/{package_id}", headers=platform.headers(user)).status_code
            == 404
        ), user
        listed = client.get("/v1/packages", headers=platform.headers(user)).json()
        assert package_id not in {p["id"] for p in listed}


def test_bad_input_is_refused_and_nothing_is_written(client: Any, platform: Platform) -> None:
    def count() -> int:
        with platform.db.transaction() as session:
            return session.scalar(select(func.count()).select_from(models.PackageRow)) or 0

    before = count()
    for body, status in (
        (content(detection_rules=[{"sigma": "title: only a title"}]), 400),
        (content(tlp="RED"), 400),  # RED to 'everyone affected'
        (content(tlp="AMBER", audience={"everyone": True}), 400),
        (content(audience={"organisations": ["no-such-org"]}), 201),  # checked on publish
        ({**content(), "colour": "red"}, 422),
    ):
        answer = client.post("/v1/packages", json=body, headers=platform.headers("kanri"))
        assert answer.status_code == status, answer.text
    assert count() == before + 1
    draft_id = max(
        p["id"] for p in client.get("/v1/packages", headers=platform.headers("kanri")).json()
    )
    client.post(
        f"/v1/packages/{draft_id}/transitions",
        json={"move": "submit"},
        headers=platform.headers("kanri"),
    )
    refused = client.post(
        f"/v1/packages/{draft_id}/transitions",
        json={"move": "approve"},
        headers=platform.headers("bunseki"),
    )
    assert refused.status_code == 400
    assert "no-such-org" in refused.json()["detail"]
    state = client.get(f"/v1/packages/{draft_id}", headers=platform.headers("kanri")).json()
    assert (state["state"], state["revision"]) == ("review", 0)


def test_members_may_not_draft(client: Any, platform: Platform) -> None:
    answer = client.post("/v1/packages", json=content(), headers=platform.headers("bank-admin"))
    assert answer.status_code == 403
