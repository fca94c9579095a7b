"""The platform service's behaviour beyond the matrix: problems, bad input and abuse, tokens,
pages, transitions, VEX (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from sakimori.api import create_app
from sakimori.formats.limits import Limits
from sakimori.services import identity
from sakimori.store import models
from tests.api.conftest import ASSET_A, ORG_A, USERS, TestClient, World, openvex, settings_for

UPLOAD_URL = f"/v1/organisations/{ORG_A}/assets/{ASSET_A.split('/')[1]}/inventories"
PROBLEM = "application/problem+json"


def inventory_versions(world: World) -> int:
    with world.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(models.Inventory)) or 0


def test_errors_are_problem_documents(world: World) -> None:
    client, admin = world.client, world.headers("coordinator_admin")
    cases = [
        (client.get("/v1/findings"), 401, "unauthenticated"),
        (client.get("/v1/findings", headers={"Authorization": "Bearer nonsense"}), 401, None),
        (client.get("/v1/findings/2147483000", headers=admin), 404, "not-found"),
        (client.get("/v1/nowhere", headers=admin), 404, "not-found"),
        (client.put("/v1/findings", headers=admin), 405, "method-not-allowed"),
        (client.get("/v1/findings/abc", headers=admin), 422, "validation"),
        (client.get("/v1/findings", headers=admin, params={"limit": 0}), 422, "validation"),
        (client.get("/v1/findings", headers=admin, params={"state": "gone"}), 422, "validation"),
        (client.get("/v1/findings", headers=admin, params={"colour": "red"}), 422, "validation"),
        (
            client.post("/v1/organisations", headers=admin, json={"slug": "x", "colour": "red"}),
            422,
            "validation",
        ),
        (
            client.post("/v1/organisations", headers=admin, json={"slug": ORG_A}),
            409,
            "conflict",
        ),
    ]
    for response, status, kind in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["status"] == status
        assert body["title"]
        assert body["detail"]
        if kind:
            assert body["type"] == f"urn:sakimori:problem:{kind}"
    assert cases[0][0].headers["www-authenticate"].startswith("Bearer")
    assert cases[4][0].headers["allow"] == "GET"
    tokens = client.put("/v1/tokens", headers=admin)
    assert tokens.headers["allow"] == "GET, POST"
    unknown_field = cases[9][0].json()
    assert any(e["loc"][-1] == "colour" for e in unknown_field["errors"])


def test_security_headers_and_request_id_on_every_answer(world: World) -> None:
    for response in (world.client.get("/healthz"), world.client.get("/v1/me")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert len(response.headers["x-request-id"]) == 32


def test_readiness_reports_the_database(world: World) -> None:
    assert world.client.get("/readyz").json() == {"status": "ok"}
    broken = create_app(
        settings_for("postgresql+psycopg://nobody@127.0.0.1:1/none", world.settings.home)
    )
    with TestClient(broken) as client:
        response = client.get("/readyz")
    assert response.status_code == 503


def test_uploads_beyond_the_limit_are_refused_with_no_effect(world: World) -> None:
    small = create_app(settings_for(world.settings.database_url, world.settings.home, Limits(1000)))
    headers = world.headers("member_admin")
    before = inventory_versions(world)
    with TestClient(small) as client:
        too_big = b"django==2.2.24\n" + b"# padding\n" * 200
        response = client.post(UPLOAD_URL, headers=headers, files={"file": ("r.txt", too_big)})
        assert response.status_code == 413, response.text
        huge = b"#" * (200 * 1024)  # beyond the limit and the multipart allowance: refused unread
        response = client.post(UPLOAD_URL, headers=headers, files={"file": ("r.txt", huge)})
        assert response.status_code == 413
        assert response.headers["content-type"] == PROBLEM
    assert inventory_versions(world) == before


def test_a_json_body_is_small(world: World) -> None:
    before = world.client.get("/v1/organisations", headers=world.headers("coordinator_admin"))
    response = world.client.post(
        "/v1/organisations",
        headers={**world.headers("coordinator_admin"), "Content-Type": "application/json"},
        content=b'{"slug": "big", "name": "' + b"x" * (2 * 1024 * 1024) + b'"}',
    )
    assert response.status_code == 413
    after = world.client.get("/v1/organisations", headers=world.headers("coordinator_admin"))
    assert after.json() == before.json()


def test_hostile_and_broken_uploads_are_refused_with_no_effect(world: World) -> None:
    headers = world.headers("member_admin")
    before = inventory_versions(world)
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components>&b;</components></bom>'
    )
    cases = {
        "include.txt": b"-r /etc/passwd\ndjango==2.2.24\n",
        "bom.json": b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [',
        "bom.xml": laughs,
        "random.bin": bytes(range(256)) * 4,
    }
    for name, content in cases.items():
        response = world.client.post(UPLOAD_URL, headers=headers, files={"file": (name, content)})
        assert response.status_code == 400, (name, response.text)
        body = response.json()
        assert body["type"] == "urn:sakimori:problem:invalid-input"
        assert "/tmp" not in body["detail"], "a server path leaked into the answer"
    assert (
        "include"
        in world.client.post(
            UPLOAD_URL, headers=headers, files={"file": ("x.txt", cases["include.txt"])}
        ).json()["detail"]
    )
    assert inventory_versions(world) == before


def test_an_upload_records_the_caller_and_the_file_name(world: World) -> None:
    response = world.client.post(
        UPLOAD_URL,
        headers=world.headers("member_user"),
        files={"file": ("../../etc/requirements.txt", b"django==2.2.24\n")},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["asset"] == ASSET_A
    assert body["opened"] == 0
    with world.db.transaction() as session:
        newest = session.scalars(
            select(models.Inventory).order_by(models.Inventory.id.desc()).limit(1)
        ).one()
    assert newest.uploaded_by == USERS["member_user"][0]
    assert newest.source.endswith("/requirements.txt")
    assert ".." not in newest.source


def test_tokens_are_stored_only_as_keyed_hashes(world: World) -> None:
    headers = world.headers("member_user")  # an admin's are made in the pages (second factor)
    made = world.client.post(
        "/v1/tokens", headers=headers, json={"name": "ci upload", "scopes": ["read", "write"]}
    )
    assert made.status_code == 201
    secret = made.json()["secret"]
    token_id = made.json()["token"]["id"]
    assert secret.startswith(f"skm_{token_id}_")
    with world.db.transaction() as session:
        row = session.get(models.ApiToken, token_id)
        assert row is not None
        stored = [str(getattr(row, c.key)) for c in models.ApiToken.__table__.columns]
    raw = secret.removeprefix(f"skm_{token_id}_")
    assert not any(raw in value for value in stored)
    assert row.secret_hash == hmac.new(world.key.secret, raw.encode(), hashlib.sha256).hexdigest()
    listed = world.client.get("/v1/tokens", headers=headers)
    assert raw not in listed.text
    assert token_id in listed.text
    assert (
        world.client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"}).json()["user"]
        == USERS["member_user"][0]
    )
    forged = f"skm_{token_id}_{'A' * 43}"
    assert (
        world.client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    )
    revoked = world.client.delete(f"/v1/tokens/{token_id}", headers=headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"]
    assert (
        world.client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    )


def test_a_user_cannot_revoke_another_users_token(world: World) -> None:
    victim, _ = identity.create_token(
        world.db, world.key, USERS["member_user"][0], "victim", ["read"]
    )
    for principal in ("member_admin", "member_user_b", "coordinator_admin"):
        response = world.client.delete(f"/v1/tokens/{victim.id}", headers=world.headers(principal))
        assert response.status_code == 404
    assert all(t.revoked_at is None for t in identity.list_tokens(world.db) if t.id == victim.id)


def test_deactivating_a_user_revokes_every_token(world: World) -> None:
    identity.create_user(world.db, "leaver", organisation=ORG_A, role="member_user")
    secrets = [
        identity.create_token(world.db, world.key, "leaver", f"t{i}", ["read"])[1] for i in range(2)
    ]
    for secret in secrets:
        assert (
            world.client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code
            == 200
        )
    assert identity.deactivate_user(world.db, "leaver") == 2
    for secret in secrets:
        response = world.client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 401
    assert all(t.revoked_at for t in identity.list_tokens(world.db, "leaver"))


def test_passwords_are_argon2_hashes(world: World) -> None:
    identity.create_user(
        world.db,
        "with-password",
        organisation=ORG_A,
        role="member_user",
        password="correct horse battery",
    )
    with world.db.transaction() as session:
        stored = session.scalars(
            select(models.User.password_hash).where(models.User.name == "with-password")
        ).one()
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert identity.verify_password(world.db, "with-password", "correct horse battery")
    assert not identity.verify_password(world.db, "with-password", "wrong horse battery")
    assert not identity.verify_password(world.db, "nobody", "correct horse battery")


def test_findings_come_in_pages(world: World) -> None:
    headers = world.headers("coordinator_admin")
    everything = world.client.get("/v1/findings", headers=headers, params={"limit": 500}).json()
    assert everything["next_offset"] is None
    seen: list[int] = []
    offset: int | None = 0
    while offset is not None:
        page = world.client.get(
            "/v1/findings", headers=headers, params={"limit": 3, "offset": offset}
        ).json()
        assert len(page["items"]) <= 3
        seen.extend(f["id"] for f in page["items"])
        offset = page["next_offset"]
    assert seen == [f["id"] for f in everything["items"]] == sorted(set(seen))
    assert len(seen) > 3


def test_transitions_record_the_caller_and_respect_the_lifecycle(world: World) -> None:
    headers = world.headers("member_user")
    target = world.finding_a
    refused = world.client.post(
        f"/v1/findings/{target}/transitions", headers=headers, json={"state": "not_affected"}
    )
    assert refused.status_code == 400, refused.text
    moved = world.client.post(
        f"/v1/findings/{target}/transitions",
        headers=headers,
        json={
            "state": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path",
            "note": "admin only",
        },
    )
    assert moved.status_code == 201, moved.text
    assert moved.json()["state"] == "not_affected"
    history = world.client.get(f"/v1/findings/{target}", headers=headers).json()["history"]
    assert history[-1]["actor"] == USERS["member_user"][0]
    assert history[-1]["note"] == "admin only"
    again = world.client.post(
        f"/v1/findings/{target}/transitions", headers=headers, json={"state": "fixed"}
    )
    assert again.status_code == 409
    back = world.client.post(
        f"/v1/findings/{target}/transitions", headers=headers, json={"state": "open"}
    )
    assert back.status_code == 201


def test_vex_import_then_export_and_list(world: World) -> None:
    headers = world.headers("member_admin")
    url = f"/v1/organisations/{ORG_A}/vex"
    unknown = world.client.post(
        url,
        headers=headers,
        files={"file": ("v.json", openvex("CVE-2099-1", "pkg:pypi/nothing@1.0"))},
    )
    assert unknown.status_code == 400
    imported = world.client.post(
        url,
        headers=headers,
        params={"allow_unmatched": "true"},
        files={"file": ("v.json", openvex("CVE-2099-2", "pkg:pypi/nothing@1.0"))},
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["unmatched"]
    exported = world.client.get(url, headers=headers, params={"format": "openvex"})
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/json"
    assert "CVE-2099-2" in exported.text
    listed = world.client.get(f"{url}/statements", headers=headers).json()
    assert "CVE-2099-2" in {s["vulnerability"] for s in listed}


def test_explanation_and_intel_status(world: World) -> None:
    headers = world.headers("analyst")
    explained = world.client.get(f"/v1/findings/{world.finding_b}/explanation", headers=headers)
    assert explained.status_code == 200
    assert explained.json()["finding"] == world.finding_b
    status = world.client.get("/v1/intel/status", headers=headers).json()
    assert status["sources"]
    assert status["counts"]


def test_token_lifetimes_are_bounded(world: World) -> None:
    user = USERS["member_user"][0]
    for lifetime in (timedelta(0), timedelta(days=400)):
        try:
            identity.create_token(world.db, world.key, user, "x", ["read"], lifetime)
        except identity.InvalidInput:
            continue
        raise AssertionError(f"a token living {lifetime} was made")


def test_requests_are_logged_once_without_secrets(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    token = world.tokens["member_user"]
    wrong = token[:-4] + "AAAA"
    with caplog.at_level(logging.INFO, logger="sakimori"):
        world.client.get("/v1/findings", headers=world.headers("member_user"))
        world.client.get("/v1/me", headers={"Authorization": f"Bearer {wrong}"})
    lines = [r.getMessage() for r in caplog.records if r.name == "sakimori.api.app"]
    assert any(
        line.startswith("GET /v1/findings 200") and "user=bank-user" in line for line in lines
    )
    assert any(line.startswith("GET /v1/me 401") for line in lines)
    # skm_<id>_<secret>: the secret itself may hold "_", so cut after the id, not at the last "_"
    secret_parts = {token.split("_", 2)[2], wrong.split("_", 2)[2], token, wrong}
    assert not any(part in caplog.text for part in secret_parts)
