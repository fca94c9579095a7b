"""``sakimori serve``: the real server (uvicorn) on loopback, spoken to with httpx."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sakimori.config import Settings
from sakimori.services import identity
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.store.db import open_database
from tests.serving import sakimori_serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    home = tmp_path_factory.mktemp("serve")
    env = {
        **os.environ,
        "SAKIMORI_HOME": str(home),
        "SAKIMORI_DATABASE_URL": f"sqlite:///{home / 'sakimori.db'}",
    }
    settings = Settings.load(env)
    db = open_database(settings.database_url)
    create_organisation(db, "city-bank", "City Bank", "operator", ["finance"])
    create_asset(db, "city-bank/web-portal", "Portal", "high")
    identity.create_user(db, "bank-admin", organisation="city-bank", role="member_admin")
    _, token = identity.create_token(
        db, identity.TokenKey.load(settings.token_key_path), "bank-admin", "t", ["read", "write"]
    )
    db.dispose()
    with sakimori_serve(env) as server:
        yield server.base, token
    assert token not in server.output, "the token appeared in the server's log"


def test_the_real_server_answers_with_tokens_and_problems(server: tuple[str, str]) -> None:
    base, token = server
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/readyz").json() == {"status": "ok"}
        me = client.get("/v1/me", headers=auth)
        assert me.status_code == 200
        assert me.json()["organisation"] == "city-bank"
        refused = client.get("/v1/me")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["x-content-type-options"] == "nosniff"
        assert "server" not in refused.headers
        upload = client.post(
            "/v1/organisations/city-bank/assets/web-portal/inventories",
            headers=auth,
            files={"file": ("requirements.txt", b"requests==2.31.0\n")},
        )
        assert upload.status_code == 201, upload.text
        assert upload.json()["version"] == 1
        schema = client.get("/openapi.json").json()
        assert "/v1/findings" in schema["paths"]


def test_the_real_server_refuses_a_body_without_a_length(server: tuple[str, str]) -> None:
    base, token = server

    def body() -> Iterator[bytes]:
        yield b'{"slug": "x"}'

    with httpx.Client(base_url=base, timeout=30) as client:
        response = client.post(
            "/v1/organisations",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            content=body(),
        )
    assert response.status_code == 411
    assert response.json()["type"] == "urn:sakimori:problem:length-required"


def test_serve_is_a_registered_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sakimori", "serve", "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SAKIMORI_HOME": str(tmp_path)},
    )
    assert result.returncode == 0
    assert "--port" in result.stdout


def test_serve_runs_the_embedded_queue(tmp_path: Path) -> None:
    """With the embedded default, a job committed while `serve` runs is run by the server
    itself (no `sakimori worker` beside it)."""
    from sqlalchemy import text

    from sakimori.jobs.interface import enqueue

    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "SAKIMORI_HOME": str(tmp_path),
        "SAKIMORI_DATABASE_URL": f"sqlite:///{tmp_path / 'sakimori.db'}",
        "SAKIMORI_JOB_HANDLERS": "tests.jobs.crash_handlers",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    db = open_database(Settings.load(env).database_url)
    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE job_effect (job_id INTEGER, step INTEGER)"))
    try:
        with sakimori_serve(env, cwd=root):
            with db.transaction() as session:
                enqueue(session, "test.flaky", {"succeed_on": 1})
            deadline = time.monotonic() + 60  # a bound on waiting, not an assertion on speed
            state = None
            while time.monotonic() < deadline:
                with db.engine.connect() as connection:
                    state = connection.execute(text("SELECT state FROM job")).scalar()
                if state == "done":
                    break
                time.sleep(0.2)
            assert state == "done"
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM job_effect")).scalar() == 1
    finally:
        db.dispose()
