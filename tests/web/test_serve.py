"""``sakimori serve`` serves the pages too: sign in over real HTTP; no secret in its log."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sakimori.config import Settings
from sakimori.services import identity
from sakimori.services.organisations import create_organisation
from sakimori.store.db import open_database
from tests.serving import sakimori_serve
from tests.web.conftest import PASSWORD
from tests.web.helpers import sign_in


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """The real server (with a request log); at the end, its log must hold none of the
    secrets the tests put in ``secrets`` (the second item), nor the password."""
    home: Path = tmp_path_factory.mktemp("serve-web")
    env = {
        **os.environ,
        "SAKIMORI_HOME": str(home),
        "SAKIMORI_DATABASE_URL": f"sqlite:///{home / 'sakimori.db'}",
    }
    db = open_database(Settings.load(env).database_url)
    create_organisation(db, "city-bank", "City Bank", "operator", ["finance"])
    identity.create_user(
        db, "bank-user", organisation="city-bank", role="member_user", password=PASSWORD
    )
    db.dispose()
    secrets: list[str] = [PASSWORD]
    with sakimori_serve(env, options=["-v"]) as server:
        yield server.base, secrets
    text = server.output
    assert "user=bank-user" in text  # the log is there, with the user …
    for secret in secrets:
        assert secret not in text, "a secret appeared in the server's log"  # … but no secret


def test_sakimori_serve_serves_the_pages(served: tuple[str, list[str]]) -> None:
    base, secrets = served
    with httpx.Client(base_url=base, timeout=30) as client:
        landing = client.get("/", follow_redirects=True)
        assert landing.status_code == 200
        assert str(landing.url) == f"{base}/ui/signin?next=/ui/"
        assert landing.headers["content-type"].startswith("text/html")
        assert client.get("/ui/static/style.css").status_code == 200
        assert sign_in(client, "bank-user", PASSWORD).status_code == 303
        secrets.append(client.cookies["sakimori_session"])
        page = client.get("/ui/organisations/city-bank")
        assert page.status_code == 200
        assert "City Bank" in page.text
