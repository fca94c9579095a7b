"""One populated platform per module and storage backend, and a token for every kind of caller.

Organisations: ``coordination`` (the coordinator), ``city-bank`` (member A), ``river-power``
(member B), ``vendor-co`` and ``allied-cert``. Both members have an asset with an inventory
holding a vulnerable Django, so both have findings.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI

from sakimori.api import create_app
from sakimori.config import Settings
from sakimori.formats.limits import Limits
from sakimori.services import findings, identity
from sakimori.services.intel import load_paths
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.services.tracking import upload_inventory
from sakimori.store.db import Database, open_database
from tests.conftest import postgres_database, require_data

with warnings.catch_warnings():
    # Starlette 1.x asks for its httpx fork (httpx2) and warns on import; httpx, which the
    # project depends on, still serves the test client.
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

ORG_A, ORG_B = "city-bank", "river-power"
ASSET_A, ASSET_B = f"{ORG_A}/web-portal", f"{ORG_B}/grid-portal"
VULNERABLE = "django==2.2.24\n"

#: Every kind of caller the authorisation matrix asks about.
AUTHENTICATED = (
    "coordinator_admin",
    "analyst",
    "member_admin",
    "member_user",
    "member_user_b",
    "vendor",
    "partner",
)
REFUSED = ("anonymous", "expired", "revoked", "deactivated")
PRINCIPALS = AUTHENTICATED + REFUSED

#: principal -> (user name, organisation, role)
USERS = {
    "coordinator_admin": ("kanri", "coordination", "coordinator_admin"),
    "analyst": ("bunseki", "coordination", "analyst"),
    "member_admin": ("bank-admin", ORG_A, "member_admin"),
    "member_user": ("bank-user", ORG_A, "member_user"),
    "member_user_b": ("power-user", ORG_B, "member_user"),
    "vendor": ("vendor-psirt", "vendor-co", "vendor"),
    "partner": ("allied", "allied-cert", "partner"),
    "expired": ("late", ORG_A, "member_user"),
    "revoked": ("former-token", ORG_A, "member_user"),
    "deactivated": ("gone", ORG_A, "member_admin"),
}


@dataclass
class World:
    settings: Settings
    db: Database
    key: identity.TokenKey
    app: FastAPI
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)
    finding_a: int = 0
    finding_b: int = 0

    def headers(self, principal: str) -> dict[str, str]:
        token = self.tokens.get(principal)
        return {"Authorization": f"Bearer {token}"} if token else {}


def settings_for(url: str, home: Path, limits: Limits | None = None) -> Settings:
    return Settings(
        home=home,
        database_url=url,
        token_key_file=home / "token.key",
        limits=limits or Limits(),
    )


def populate(db: Database, home: Path) -> None:
    load_paths(db, [require_data("osv", "pypi", "vulns", "django")], Limits())
    create_organisation(db, "coordination", "National Coordination Office", "coordinator")
    create_organisation(db, ORG_A, "City Bank", "operator", ["finance"])
    create_organisation(db, ORG_B, "River Power", "operator", ["electric_power"])
    create_organisation(db, "vendor-co", "Vendor Co", "vendor")
    create_organisation(db, "allied-cert", "Allied CERT", "partner")
    for ref in (ASSET_A, ASSET_B):
        create_asset(db, ref, "Portal", "high", internet_facing=True)
        pins = home / f"{ref.replace('/', '-')}.txt"
        pins.write_text(VULNERABLE)
        upload_inventory(db, ref, pins, "setup", Limits())


def make_tokens(db: Database, key: identity.TokenKey) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for principal, (user, organisation, role) in USERS.items():
        identity.create_user(db, user, organisation=organisation, role=role)
        now = datetime.now(UTC) - timedelta(days=3) if principal == "expired" else None
        view, secret = identity.create_token(
            db, key, user, f"{principal} token", ["read", "write"], timedelta(days=1), now=now
        )
        tokens[principal] = secret
        if principal == "revoked":
            identity.revoke_token(db, view.id)
        if principal == "deactivated":
            identity.deactivate_user(db, user)
    return tokens


@contextmanager
def build_world(backend: str, home: Path) -> Iterator[World]:
    """A populated platform on ``backend`` (sqlite or postgresql), with a client and tokens."""
    with ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{home / 'sakimori.db'}"
        else:
            url = stack.enter_context(postgres_database())
        settings = settings_for(url, home)
        db = open_database(url)
        stack.callback(db.dispose)
        populate(db, home)
        key = identity.TokenKey.load(settings.token_key_path)
        app = create_app(settings)
        client = stack.enter_context(TestClient(app))
        world = World(settings, db, key, app, client, make_tokens(db, key))
        world.finding_a = _first_finding(db, ORG_A)
        world.finding_b = _first_finding(db, ORG_B)
        yield world


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with build_world(request.param, tmp_path_factory.mktemp("platform")) as built:
        yield built


def _first_finding(db: Database, organisation: str) -> int:
    found = findings.list_findings(db, findings.Filters(organisation=organisation, limit=1))
    assert found, f"the fixture's inventory of {organisation} gave no finding"
    return found[0].id


def openvex(vulnerability: str, purl: str = "pkg:pypi/django@2.2.24") -> bytes:
    return json.dumps(
        {
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": f"https://psirt.example/vex/{vulnerability}",
            "author": "Example PSIRT",
            "timestamp": "2025-05-01T00:00:00Z",
            "version": 1,
            "statements": [
                {
                    "vulnerability": {"name": vulnerability},
                    "products": [{"@id": purl}],
                    "status": "under_investigation",
                }
            ],
        }
    ).encode()
