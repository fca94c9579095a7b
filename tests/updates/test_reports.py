"""Roll-out reports are stored, a roll-back moves the findings back, and the releases a vendor
published show to its customers (with an alert until they look) — at the service level, on
SQLite and PostgreSQL, with a real TUF repository signed by our own code."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sakimori.errors import NotFound, PermissionDenied
from sakimori.formats.limits import Limits
from sakimori.packages.model import Content
from sakimori.services import findings, updates
from sakimori.services import packages as package_service
from sakimori.services.access import Principal, Role, Scope
from sakimori.services.intel import load_paths
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.services.tracking import upload_inventory
from sakimori.store import models
from sakimori.store.db import Database, open_database
from sakimori.updates import keys
from sakimori.updates.acceptance import Release
from sakimori.updates.repository import Thresholds, add_target, init_repository
from tests.conftest import require_data

VENDOR = "acme"
ASSET = "city-bank/payments"
SCOPES = frozenset({Scope.READ, Scope.WRITE})


@dataclass
class World:
    db: Database
    hosting: updates.Hosting
    people: dict[str, Principal]
    finding: int
    fixes: str
    package: int

    def step(self, who: str, event: str, **fields: Any) -> updates.StepOutcome:
        report = updates.StepReport(vendor=VENDOR, asset=ASSET, event=event, **fields)
        return updates.report_step(self.db, self.people[who], self.hosting, report)

    def state(self, finding: int) -> str:
        with self.db.transaction() as session:
            row = session.get(models.Finding, finding)
            assert row is not None
            return row.state


def _principal(db: Database, name: str, org: str, role: Role) -> Principal:
    with db.transaction() as session:
        org_id = session.scalar(
            select(models.Organisation.id).where(models.Organisation.slug == org)
        )
    assert org_id is not None
    return Principal(1, name, role, org_id, org, SCOPES)


def publish_release(
    world_db: Database,
    hosting: updates.Hosting,
    people: dict[str, Principal],
    base: Path,
    package: int,
    fixes: str,
) -> None:
    """acme's repository is hosted; acme signs gateway 2.4.1 offline and uploads it."""
    info = updates.register_repository(world_db, people["admin"], hosting, VENDOR)
    online = keys.write_public_keys(base / "platform-keys", info.online_keys)
    repo = init_repository(
        base / "repo",
        lines=["gateway"],
        offline_keys=base / "offline",
        online_keys=online,
        thresholds=Thresholds(line_keys=1, line_threshold=1),
    )
    artefact = base / "gw-2.4.1.bin"
    artefact.write_bytes(b"gateway firmware 2.4.1\n" * 10)
    add_target(
        repo,
        artefact,
        line="gateway",
        release=Release("2.4.1", f"SAKIMORI-PKG-{package:06d}", (fixes,)),
        signers=[keys.load_signer(base / "offline" / "gateway-1.key")],
    )
    artefacts = {t: p.read_bytes() for t, p in repo.staged_artefacts().items()}
    answer = updates.upload(world_db, people["vendor"], hosting, VENDOR, repo.staged(), artefacts)
    assert answer.notified == ("city-bank",)


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    db = open_database(database_url)
    try:
        load_paths(db, [require_data("osv", "pypi", "vulns", "django")], Limits())
        create_organisation(db, "coordination", "Coordination", "coordinator")
        create_organisation(db, "city-bank", "City Bank", "operator", ["finance"])
        create_organisation(db, "harbour-bank", "Harbour Bank", "operator", ["finance"])
        create_organisation(db, VENDOR, "Acme", "vendor")
        create_asset(db, ASSET, "Payments", "high", internet_facing=True)
        create_asset(db, "harbour-bank/core", "Core", "high")
        pins = tmp_path / "requirements.txt"
        pins.write_text("django==2.2.24\n")
        upload_inventory(db, ASSET, pins, "setup", Limits())
        found = findings.list_findings(db, findings.Filters(asset=ASSET, limit=1))[0]
        fixes = next((a for a in found.aliases if a.startswith("CVE-")), found.vulnerability)
        content = Content.from_dict(
            {
                "title": "Patch the payment gateway",
                "tlp": "AMBER",
                "audience": {"organisations": ["city-bank"]},
                "vulnerabilities": [fixes],
                "products": [{"purl": "pkg:pypi/django@2.2.24"}],
            }
        )
        draft = package_service.create_draft(db, content, "bunseki")
        package_service.submit(db, draft.id, "bunseki")
        package_service.approve(db, draft.id, "kanri")
        people = {
            "admin": _principal(db, "kanri", "coordination", Role.COORDINATOR_ADMIN),
            "bank": _principal(db, "bank-ops", "city-bank", Role.MEMBER_USER),
            "other_bank": _principal(db, "other-ops", "harbour-bank", Role.MEMBER_USER),
            "vendor": _principal(db, "acme-psirt", VENDOR, Role.VENDOR),
        }
        hosting = updates.Hosting(tmp_path / "home")
        publish_release(db, hosting, people, tmp_path / "vendor", draft.id, fixes)
        yield World(db, hosting, people, found.id, fixes, draft.id)
    finally:
        db.dispose()


def test_every_step_is_stored_and_a_rollback_moves_the_fixed_findings_back(world: World) -> None:
    release = {"line": "gateway", "version": "2.4.1"}
    world.step("bank", "rollout-started", **release)
    world.step("bank", "installed", group="canary", **release)
    world.step("bank", "health-check", group="canary", passed=True, **release)
    done = world.step("bank", "rollout-completed", **release)
    assert done.moved == (world.finding,)
    assert world.state(world.finding) == "fix_applied"

    back = world.step("bank", "rollback-completed", line="gateway")
    assert back.release == "gateway/gw-2.4.1.bin"
    assert back.reopened == (world.finding,)
    assert world.state(world.finding) == "in_progress"
    again = world.step("bank", "rollback-completed", line="gateway")
    assert again.reopened == ()  # nothing left to undo

    with world.db.transaction() as session:
        rows = session.scalars(
            select(models.UpdateReportRow).order_by(models.UpdateReportRow.id)
        ).all()
        assert [r.event for r in rows] == [
            "rollout-started",
            "installed",
            "health-check",
            "rollout-completed",
            "rollback-completed",
            "rollback-completed",
        ]
        assert {r.actor for r in rows} == {"bank-ops"}
        assert rows[1].stage == "canary"
        assert rows[2].detail["passed"] is True
        assert rows[3].detail["findings_moved"] == [world.finding]
        assert rows[4].path == "gateway/gw-2.4.1.bin"
        assert rows[4].detail["findings_reopened"] == [world.finding]
        notes = session.scalars(
            select(models.FindingTransition.note)
            .where(models.FindingTransition.finding_id == world.finding)
            .order_by(models.FindingTransition.id)
        ).all()
        assert "rolled back" in notes[-1]
        audited = session.scalar(
            select(func.count())
            .select_from(models.AuditEntryRow)
            .where(models.AuditEntryRow.action == "update.report")
        )
        assert audited == 6


def test_another_bank_cannot_report_on_the_banks_asset_and_nothing_is_stored(
    world: World,
) -> None:
    with pytest.raises(NotFound):
        world.step("other_bank", "rollout-completed", line="gateway", version="2.4.1")
    with world.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(models.UpdateReportRow)) == 0
    assert world.state(world.finding) == "open"


def test_the_recipient_is_alerted_until_it_looks_and_sees_the_stages_of_its_assets(
    world: World,
) -> None:
    bank, other = world.people["bank"], world.people["other_bank"]
    alerts = updates.update_alerts(world.db, bank)
    assert [(a.line, a.version, a.package_id, a.fixes) for a in alerts] == [
        ("gateway", "2.4.1", world.package, (world.fixes,))
    ]
    assert updates.update_alerts(world.db, other) == []
    assert updates.update_alerts(world.db, world.people["vendor"]) == []

    release = {"line": "gateway", "version": "2.4.1"}
    world.step("bank", "rollout-started", **release)
    world.step("bank", "installed", group="canary", **release)
    world.step("bank", "health-check", group="canary", passed=False, **release)
    world.step("bank", "rollout-failed", **release)

    available = updates.available_updates(world.db, bank)
    assert [(u.release.path, u.new) for u in available] == [("gateway/gw-2.4.1.bin", True)]
    (asset,) = available[0].assets
    assert asset.asset == ASSET
    assert asset.stages == {
        "staged": "done",
        "canary": "done",
        "health_check": "failed",
        "rolled_out": "",
        "rolled_back": "",
        "failed": "failed",
    }
    assert updates.update_alerts(world.db, bank) == []  # seen by the organisation
    assert [u.new for u in updates.available_updates(world.db, bank)] == [False]
    assert updates.available_updates(world.db, other) == []  # it does not receive the package

    with pytest.raises(PermissionDenied):
        updates.available_updates(world.db, world.people["vendor"])
    with pytest.raises(PermissionDenied):
        updates.published_updates(world.db, bank)


def test_the_vendor_sees_counts_without_operators_and_staff_see_who_reported(
    world: World,
) -> None:
    world.step("bank", "rollout-started", line="gateway", version="2.4.1")
    world.step("bank", "rollout-completed", line="gateway", version="2.4.1")
    (mine,) = updates.published_updates(world.db, world.people["vendor"])
    assert (mine.vendor, mine.version, mine.package_id, mine.published_by) == (
        VENDOR,
        "2.4.1",
        world.package,
        "acme-psirt",
    )
    assert mine.events == {"rollout-started": 1, "rollout-completed": 1}
    assert (mine.assets, mine.rolled_out, mine.organisations) == (1, 1, ())
    (overview,) = updates.published_updates(world.db, world.people["admin"])
    assert overview.organisations == ("city-bank",)
