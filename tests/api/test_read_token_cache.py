"""The API's read cache of verified tokens (``Settings.token_cache_seconds``).

A read (GET/HEAD) may take its caller from the process's cache for a few seconds; a write never
does; a change committed in this process (revoking, deactivating) voids the cache at once; a
change this process did not see (another server process: here, a direct UPDATE) is honoured
when the entry expires, and at once by writes and when the cache is off.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from sakimori.api import create_app
from sakimori.services import identity
from sakimori.store import models
from sakimori.store.db import Database, open_database
from sakimori.web.sessions import SESSION_COOKIE
from tests.api.conftest import TestClient, populate, settings_for

USER = "reader"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Database]]:
    home = tmp_path_factory.mktemp("read-cache")
    db = open_database(f"sqlite:///{home / 'sakimori.db'}")
    populate(db, home)
    identity.create_user(db, USER, organisation="city-bank", role="member_user")
    yield home, db
    db.dispose()


def _client(home: Path, seconds: float) -> TestClient:
    settings = replace(
        settings_for(f"sqlite:///{home / 'sakimori.db'}", home), token_cache_seconds=seconds
    )
    return TestClient(create_app(settings))


def _token(home: Path, db: Database) -> tuple[str, str]:
    key = identity.TokenKey.load(home / "token.key")
    view, secret = identity.create_token(
        db, key, USER, "cache test", ["read", "write"], timedelta(days=1)
    )
    return view.id, secret


def _revoke_elsewhere(db: Database, token_id: str) -> None:
    """What another server process's revocation looks like from here: the row changes, this
    process is not told."""
    with db.transaction() as session:
        session.execute(
            update(models.ApiToken)
            .where(models.ApiToken.id == token_id)
            .values(revoked_at=datetime.now(UTC))
        )


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_revocation_elsewhere_reaches_reads_when_the_entry_expires_and_writes_at_once(
    platform: tuple[Path, Database],
) -> None:
    home, db = platform
    token_id, secret = _token(home, db)
    with _client(home, 3600) as client:
        assert client.get("/v1/findings", headers=_bearer(secret)).status_code == 200
        _revoke_elsewhere(db, token_id)
        # The documented window: this process still trusts the read it verified.
        assert client.get("/v1/findings", headers=_bearer(secret)).status_code == 200
        # A write asks the database.
        answer = client.post("/v1/tokens", headers=_bearer(secret), json={"name": "x"})
        assert answer.status_code == 401, answer.text
    with _client(home, 0) as client:
        assert client.get("/v1/findings", headers=_bearer(secret)).status_code == 401


def test_a_revocation_in_this_process_voids_the_cache_at_once(
    platform: tuple[Path, Database],
) -> None:
    home, db = platform
    token_id, secret = _token(home, db)
    _, other = _token(home, db)
    with _client(home, 3600) as client:
        for token in (secret, other):
            assert client.get("/v1/findings", headers=_bearer(token)).status_code == 200
        identity.revoke_token(db, token_id)
        assert client.get("/v1/findings", headers=_bearer(secret)).status_code == 401
        # Every entry made before the change was voided, and the others verify again.
        assert client.get("/v1/findings", headers=_bearer(other)).status_code == 200


def test_deactivating_the_user_voids_the_cache_at_once(platform: tuple[Path, Database]) -> None:
    home, db = platform
    identity.create_user(db, "leaving", organisation="city-bank", role="member_user")
    key = identity.TokenKey.load(home / "token.key")
    _, secret = identity.create_token(db, key, "leaving", "t", ["read"], timedelta(days=1))
    with _client(home, 3600) as client:
        assert client.get("/v1/findings", headers=_bearer(secret)).status_code == 200
        identity.deactivate_user(db, "leaving")
        assert client.get("/v1/findings", headers=_bearer(secret)).status_code == 401


def test_an_entry_made_before_a_change_is_never_used(platform: tuple[Path, Database]) -> None:
    """A verification that raced a change (read before it committed) is remembered with the
    generation it started under, so it is void."""
    home, db = platform
    key = identity.TokenKey.load(home / "token.key")
    _, secret = _token(home, db)
    started = identity.IDENTITY_CHANGES.value
    principal = identity.authenticate(db, key, secret)
    identity.IDENTITY_CHANGES.bump()
    cache = identity.TokenCache(ttl=3600)
    cache.remember(key, secret, principal, generation=started)
    assert cache.lookup(key, secret) is None
    cache.remember(key, secret, principal, generation=identity.IDENTITY_CHANGES.value)
    assert cache.lookup(key, secret) == principal


def test_a_wrong_secret_never_passes_the_cache(platform: tuple[Path, Database]) -> None:
    home, db = platform
    token_id, secret = _token(home, db)
    with _client(home, 3600) as client:
        assert client.get("/v1/findings", headers=_bearer(secret)).status_code == 200
        forged = f"skm_{token_id}_{'A' * 43}"
        assert client.get("/v1/findings", headers=_bearer(forged)).status_code == 401


def test_browser_sessions_have_a_cache_of_their_own(platform: tuple[Path, Database]) -> None:
    """A session is never taken for an API token (nor the reverse) through the caches, and a
    session revoked elsewhere still opens pages for the window only."""
    home, db = platform
    key = identity.TokenKey.load(home / "token.key")
    view, session = identity.create_session(db, key, USER)
    _, token = _token(home, db)
    with _client(home, 3600) as client:
        client.cookies.set(SESSION_COOKIE, session)
        assert client.get("/ui/findings").status_code == 200
        assert client.get("/v1/findings", headers=_bearer(session)).status_code == 401
        client.cookies.set(SESSION_COOKIE, token)
        assert client.get("/v1/findings", headers=_bearer(token)).status_code == 200
        page = client.get("/ui/findings", follow_redirects=False)
        assert page.status_code in {302, 303, 401}, page.status_code
        client.cookies.set(SESSION_COOKIE, session)
        _revoke_elsewhere(db, view.id)
        assert client.get("/ui/findings").status_code == 200
    with _client(home, 0) as client:
        client.cookies.set(SESSION_COOKIE, session)
        page = client.get("/ui/findings", follow_redirects=False)
        assert page.status_code in {302, 303, 401}, page.status_code
