"""Shared by the package tests: a populated platform with real inventories, sample contents,
and the CSAF 2.0 and STIX 2.1 schema validators from ../shared/data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from sakimori.formats.limits import Limits
from sakimori.services import identity
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.services.tracking import upload_inventory
from sakimori.store.db import Database, open_database
from tests.conftest import postgres_database, require_data

LOCKFILES = ("lockfiles", "osv-scanner-add393a", "cmd", "osv-scanner", "scan")
#: django 1.11.29, flask 0.12.2, requests 2.20.0 …
PYTHON_FIXTURE = (*LOCKFILES, "image", "testdata", "python-fixture", "requirements.txt")
#: django 2.2.24
LOCKS_PROD = (*LOCKFILES, "source", "testdata", "locks-requirements", "requirements.prod.txt")
#: OWASP juice-shop's CycloneDX SBOM: npm packages (lodash 2.4.2 among them)
JUICE_SHOP = ("sbom", "cyclonedx", "juice-shop", "v11.1.2", "bom.json")

#: organisation slug -> (kind, sectors)
ORGANISATIONS = {
    "coordination": ("coordinator", []),
    "city-bank": ("operator", ["finance"]),
    "river-power": ("operator", ["electric_power"]),
    "water-works": ("operator", ["water"]),
    "vendor-co": ("vendor", []),
    "allied-cert": ("partner", []),
}

#: user -> (organisation, role)
USERS = {
    "kanri": ("coordination", "coordinator_admin"),
    "bunseki": ("coordination", "analyst"),
    "bank-admin": ("city-bank", "member_admin"),
    "bank-user": ("city-bank", "member_user"),
    "power-user": ("river-power", "member_user"),
    "water-user": ("water-works", "member_user"),
    "vendor-psirt": ("vendor-co", "vendor"),
    "allied": ("allied-cert", "partner"),
}

SIGMA = """title: Path traversal attempt against the admin console
status: experimental
logsource:
  category: webserver
detection:
  selection:
    cs-uri-query|contains: '../'
  condition: selection
level: high
"""


def content(**changes: Any) -> dict[str, Any]:
    """A complete package content (Django, TLP:AMBER, the organisations affected)."""
    base: dict[str, Any] = {
        "title": "Django SQL injection: patch or block now",
        "summary": "Django QuerySet.order_by allows SQL injection (CVE-2021-35042).",
        "tlp": "AMBER",
        "audience": {"affected": True},
        "vulnerabilities": ["CVE-2021-35042"],
        "products": [{"purl": "pkg:pypi/django@1.11.29"}],
        "guidance": "## Do now\n\n- Upgrade Django.\n- Until then, validate `order_by` input.",
        "mitigations": [
            {"category": "vendor_fix", "details": "Upgrade to Django 3.2.5 or later."},
            {"category": "workaround", "details": "Reject untrusted `order_by` field names."},
        ],
        "detection_rules": [{"sigma": SIGMA}],
        "deadlines": [{"due": "2026-12-15", "vulnerability": "CVE-2021-35042"}],
        "references": [
            {"url": "https://www.djangoproject.com/weblog/2021/jul/01/security-releases/"}
        ],
    }
    base.update(changes)
    return base


@dataclass
class Platform:
    db: Database
    home: Path
    key: identity.TokenKey
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def upload(db: Database, ref: str, *parts: str) -> None:
    upload_inventory(db, ref, require_data(*parts), "setup", Limits())


@contextmanager
def build_platform(backend: str, home: Path) -> Iterator[Platform]:
    with ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{home / 'sakimori.db'}"
        else:
            url = stack.enter_context(postgres_database())
        db = open_database(url)
        stack.callback(db.dispose)
        for slug, (kind, sectors) in ORGANISATIONS.items():
            create_organisation(db, slug, slug.replace("-", " ").title(), kind, sectors)
        create_asset(db, "city-bank/portal", "Portal", "high", internet_facing=True)
        create_asset(db, "river-power/shop", "Shop", "medium")
        create_asset(db, "water-works/billing", "Billing", "medium")
        upload(db, "city-bank/portal", *PYTHON_FIXTURE)
        upload(db, "river-power/shop", *JUICE_SHOP)
        key = identity.TokenKey.load(home / "token.key")
        platform = Platform(db, home, key)
        for user, (organisation, role) in USERS.items():
            identity.create_user(db, user, organisation=organisation, role=role)
            _, secret = identity.create_token(db, key, user, "t", ["read", "write"])
            platform.tokens[user] = secret
        platform.home = home
        yield platform


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    with build_platform(request.param, tmp_path_factory.mktemp("packages")) as built:
        yield built


# -- validators -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def csaf_validator() -> Draft202012Validator:
    from tests.formats.vex.conftest import _format_checker

    root = require_data("csaf", "csaf_2.0")
    schema = json.loads((root / "json_schema" / "csaf_json_schema.json").read_text())
    from referencing.jsonschema import DRAFT4, DRAFT7

    first = root / "referenced_schema" / "first"
    resources = [
        (
            f"https://www.first.org/cvss/{name}.json",
            Resource.from_contents(
                json.loads((first / f"{name}.json").read_text()), default_specification=spec
            ),
        )
        for name, spec in (("cvss-v2.0", DRAFT4), ("cvss-v3.0", DRAFT4), ("cvss-v3.1", DRAFT7))
    ]
    registry: Registry[Any] = Registry().with_resources(resources)
    return Draft202012Validator(schema, registry=registry, format_checker=_format_checker())


@pytest.fixture(scope="session")
def stix_validator() -> Draft202012Validator:
    """The STIX 2.1 bundle schema, every schema of ../shared/data/stix registered by its $id."""
    root = require_data("stix", "schemas")
    resources = []
    bundle: dict[str, Any] = {}
    for path in sorted(root.rglob("*.json")):
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
        if path.name == "bundle.json":
            bundle = contents
    registry: Registry[Any] = Registry().with_resources(resources)
    return Draft202012Validator(bundle, registry=registry)


def errors(validator: Draft202012Validator, document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
        for e in validator.iter_errors(document)
    ]


@pytest.fixture(scope="module")
def client(platform: Platform) -> Iterator[Any]:
    """The API in process, over the platform's database."""
    import warnings

    from sakimori.api import create_app
    from sakimori.config import Settings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Starlette asks for httpx2 (tests/api)
        from fastapi.testclient import TestClient
    url = str(platform.db.engine.url.render_as_string(hide_password=False))
    settings = Settings(
        home=platform.home, database_url=url, token_key_file=platform.home / "token.key"
    )
    with TestClient(create_app(settings)) as made:
        yield made
