"""The emergency-update pages over HTTP: a vendor sees what it published, a member the updates
for the packages it receives with the stage of each roll-out on its assets, and an alert on its
organisation page until someone of the organisation opens the updates page."""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sakimori.api import create_app
from sakimori.formats.limits import Limits
from sakimori.packages.model import Content
from sakimori.services import identity, updates
from sakimori.services import packages as package_service
from sakimori.services.access import Principal, Role
from sakimori.services.organisations import create_organisation
from sakimori.services.tracking import upload_inventory
from tests.updates.test_reports import VENDOR, _principal, publish_release
from tests.web.conftest import BANK, OTHER_BANK, PASSWORD, Platform, build_platform, cern_sbom
from tests.web.helpers import sign_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

ASSET = f"{BANK}/online-banking"


@dataclass
class World:
    platform: Platform
    package: int
    fixes: str
    moved: tuple[int, ...]


def _report(
    platform: Platform, bank: Principal, event: str, **fields: object
) -> updates.StepOutcome:
    report = updates.StepReport(vendor=VENDOR, asset=ASSET, event=event, **fields)  # type: ignore[arg-type]
    return updates.report_step(platform.db, bank, updates.Hosting(platform.settings.home), report)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("web-updates")
    platform = build_platform(home)
    db = platform.db
    upload_inventory(db, ASSET, cern_sbom(), "setup", Limits())
    create_organisation(db, VENDOR, "Acme", "vendor")
    identity.create_user(db, "acme-psirt", organisation=VENDOR, role="vendor", password=PASSWORD)
    finding = platform.findings_of(BANK)[0]
    fixes = next((a for a in finding.aliases if a.startswith("CVE-")), finding.vulnerability)
    content = Content.from_dict(
        {
            "title": "Patch the online banking front end",
            "tlp": "AMBER",
            "audience": {"organisations": [BANK]},
            "vulnerabilities": [fixes],
            "products": [{"purl": f"pkg:npm/{finding.package}@{finding.version}"}],
        }
    )
    draft = package_service.create_draft(db, content, "bunseki")
    package_service.submit(db, draft.id, "bunseki")
    package_service.approve(db, draft.id, "kanri")
    people = {
        "admin": _principal(db, "kanri", "coordination", Role.COORDINATOR_ADMIN),
        "vendor": _principal(db, "acme-psirt", VENDOR, Role.VENDOR),
    }
    hosting = updates.Hosting(platform.settings.home)
    publish_release(db, hosting, people, home / "vendor", draft.id, fixes)
    bank = _principal(db, "bank-user", BANK, Role.MEMBER_USER)
    release = {"line": "gateway", "version": "2.4.1"}
    _report(platform, bank, "rollout-started", **release)
    _report(platform, bank, "installed", group="canary", **release)
    _report(platform, bank, "health-check", group="canary", passed=True, **release)
    done = _report(platform, bank, "rollout-completed", **release)
    assert done.moved
    yield World(platform, draft.id, fixes, done.moved)
    db.dispose()


def _client(world: World, user: str, language: str = "en") -> TestClient:
    client = TestClient(
        create_app(world.platform.settings),
        base_url="http://127.0.0.1",
        headers={"Accept-Language": language},
    )
    code = functools.partial(world.platform.code, user)  # the coordinator admin gives a code
    assert sign_in(client, user, PASSWORD, code).status_code == 303
    return client


def test_the_member_is_alerted_sees_the_stages_and_the_alert_goes_once_seen(world: World) -> None:
    with _client(world, "bank-user") as bank, _client(world, "harbour-user") as other:
        organisation = bank.get(f"/ui/organisations/{BANK}")
        assert organisation.status_code == 200
        alert = (
            f"New emergency update for package {world.package}: gateway 2.4.1, fixes {world.fixes}"
        )
        assert alert in organisation.text
        assert 'id="update-alerts"' not in other.get(f"/ui/organisations/{OTHER_BANK}").text

        page = bank.get("/ui/updates")
        assert page.status_code == 200
        assert "gateway/gw-2.4.1.bin" in page.text
        row = re.search(rf"<th scope=\"row\">{ASSET}</th>(.*?)</tr>", page.text, re.S)
        assert row is not None
        cells = re.findall(r"<td>(.*?)</td>", row.group(1))
        assert cells[:6] == ["done", "done", "passed", "done", "—", "—"]
        assert all(f"/ui/findings/{f}" in row.group(1) for f in world.moved)

        assert 'id="update-alerts"' not in bank.get(f"/ui/organisations/{BANK}").text

        theirs = other.get("/ui/updates")
        assert theirs.status_code == 200
        assert "No emergency update for your organisation." in theirs.text
        assert "gw-2.4.1" not in theirs.text
        assert ASSET not in theirs.text


def test_the_vendor_sees_its_release_and_counts_without_the_operator(world: World) -> None:
    with _client(world, "acme-psirt") as vendor:
        page = vendor.get("/ui/updates")
    assert page.status_code == 200
    assert "Our updates" in page.text
    assert "gateway/gw-2.4.1.bin" in page.text
    assert world.fixes in page.text
    assert "acme-psirt" in page.text
    assert "<code>rollout-completed</code>: 1" in page.text
    assert BANK not in page.text


def test_the_coordinator_sees_every_vendor_and_who_reported(world: World) -> None:
    with _client(world, "kanri") as staff:
        page = staff.get("/ui/updates")
    assert page.status_code == 200
    assert "Emergency updates of every vendor" in page.text
    assert f"<td>{BANK}</td>" in page.text


def test_the_page_is_in_japanese(world: World) -> None:
    with _client(world, "bank-user", language="ja") as bank:
        page = bank.get("/ui/updates")
    assert page.status_code == 200
    assert page.headers["content-language"] == "ja"
    assert "<h1>緊急アップデート</h1>" in page.text
    assert "ヘルスチェック" in page.text
    assert "合格" in page.text
