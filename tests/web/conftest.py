"""A populated platform for the web interface: two banks in the finance sector and the
coordinator, the real npm advisories (GitHub's, in OSV form) and the SSVC decision tables.

``harbour-bank`` already has findings (OWASP Juice Shop's SBOM uploaded through the services);
``city-bank`` has an asset with no inventory yet, for the browser to upload one.
"""

from __future__ import annotations

import socket
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from sakimori import totp
from sakimori.api import create_app
from sakimori.config import Settings
from sakimori.formats.limits import Limits
from sakimori.services import findings, identity, second_factor
from sakimori.services.intel import load_paths
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.services.tracking import upload_inventory
from sakimori.store import models
from sakimori.store.db import Database, open_database
from tests.conftest import require_data

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # Starlette asks for its httpx fork
    from fastapi.testclient import TestClient

PASSWORD = "correct horse battery staple"
BANK, OTHER_BANK = "city-bank", "harbour-bank"
#: user name -> (organisation, role)
USERS = {
    "kanri": ("coordination", "coordinator_admin"),
    "bank-user": (BANK, "member_user"),
    "harbour-user": (OTHER_BANK, "member_user"),
}


def cern_sbom() -> Path:
    """A real CycloneDX SBOM (npm) with seven known-vulnerable components."""
    return require_data("sbom", "cyclonedx", "cern-lhc-vdm-editor-e564943", "bom.json")


@dataclass
class Platform:
    settings: Settings
    db: Database
    key: identity.TokenKey
    #: user -> TOTP secret and unused recovery codes, of the users enrolled here
    secrets: dict[str, str] = field(default_factory=dict)
    recovery: dict[str, list[str]] = field(default_factory=dict)

    def enrol(self, user: str) -> None:
        """Enrol ``user`` in the second factor through the service, as the pages do."""
        now = datetime.now(UTC)
        enrolment = second_factor.begin_enrolment(self.db, self.key, user, now)
        codes = second_factor.confirm_enrolment(
            self.db, self.key, user, totp.code_at(enrolment.secret, totp.step_of(now)), now
        )
        assert codes is not None
        self.secrets[user], self.recovery[user] = enrolment.secret, codes

    def code(self, user: str) -> str:
        """A code ``user`` has not used yet: the current step's or the next one's (both in
        the window), else one of their recovery codes (no test waits for the clock)."""
        with self.db.transaction() as session:
            last = session.scalar(
                select(models.UserTotp.last_step)
                .join(models.User, models.User.id == models.UserTotp.user_id)
                .where(models.User.name == user)
            )
        now = totp.step_of(datetime.now(UTC))
        step = max(now, (last if last is not None else now - 1) + 1)
        if step <= now + 1:
            return totp.code_at(self.secrets[user], step)
        return self.recovery[user].pop()

    def findings_of(self, organisation: str) -> list[findings.FindingView]:
        return findings.list_findings(self.db, findings.Filters(organisation=organisation))


def build_platform(home: Path, enrol_admins: bool = True) -> Platform:
    """The platform; its coordinator admin (``kanri``) enrolled in the second factor unless
    ``enrol_admins`` is false (the browser scenario enrols through the pages)."""
    settings = Settings(
        home=home,
        database_url=f"sqlite:///{home / 'sakimori.db'}",
        token_key_file=home / "token.key",
    )
    db = open_database(settings.database_url)
    load_paths(
        db,
        [
            require_data("osv", "ghsa", "npm"),
            require_data("ssvc", "data", "json", "decision_tables"),
        ],
        Limits(),
    )
    create_organisation(db, "coordination", "National Coordination Office", "coordinator")
    create_organisation(db, BANK, "City Bank", "operator", ["finance"])
    create_organisation(db, OTHER_BANK, "Harbour Bank", "operator", ["finance"])
    create_asset(db, f"{BANK}/online-banking", "Online banking", "high", internet_facing=True)
    create_asset(db, f"{OTHER_BANK}/shop", "Customer shop", "high", internet_facing=True)
    juice = require_data("sbom", "cyclonedx", "juice-shop", "v11.1.2", "bom.json")
    upload_inventory(db, f"{OTHER_BANK}/shop", juice, "setup", Limits())
    for name, (organisation, role) in USERS.items():
        identity.create_user(db, name, organisation=organisation, role=role, password=PASSWORD)
    built = Platform(settings, db, identity.TokenKey.load(settings.token_key_path))
    for name, (_, role) in USERS.items():
        if enrol_admins and second_factor.required(role):
            built.enrol(name)
    return built


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    built = build_platform(tmp_path_factory.mktemp("web"))
    yield built
    built.db.dispose()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    """The app in-process, as if reached at http://127.0.0.1 (cookies without Secure)."""
    with TestClient(create_app(platform.settings), base_url="http://127.0.0.1") as found:
        yield found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(platform: Platform) -> Iterator[str]:
    """The real app on uvicorn, on a free loopback port; yields its base URL."""
    config = uvicorn.Config(
        create_app(platform.settings),
        host="127.0.0.1",
        port=_free_port(),
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="on",
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    ready = threading.Event()
    for _ in range(500):
        if running.started:
            ready.set()
            break
        ready.wait(0.02)
    assert running.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{config.port}"
    running.should_exit = True
    thread.join()
