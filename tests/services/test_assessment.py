"""Stored findings get explainable decisions and policy deadlines from the loaded intel."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sakimori.formats.limits import Limits
from sakimori.services import findings as service
from sakimori.services.assessment import (
    assess_open,
    explanation,
    explanation_text,
    policy_set,
)
from sakimori.services.intel import load_paths
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.services.tracking import upload_inventory
from sakimori.store import models
from sakimori.store.db import Database, open_database
from sakimori.store.triage_view import FindingTriage, finding_triage
from tests.conftest import require_data

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def intel(tables: bool) -> list[Path]:
    paths = [
        require_data("osv", "pypi", "vulns", "salt"),
        require_data("kev", "known_exploited_vulnerabilities.json"),
    ]
    if tables:
        paths.append(require_data("ssvc", "data", "json", "decision_tables"))
    return paths


def setup(database: Database, tmp_path: Path, *, internet: bool, sector: str) -> None:
    create_organisation(database, "org", "", "operator", [sector])
    create_asset(database, "org/app", "", "critical", internet_facing=internet)
    pins = tmp_path / "requirements.txt"
    pins.write_text("salt==3000.1\n")
    upload_inventory(database, "org/app", pins, "alice", Limits(), now=T0)


def explained(database: Database, finding_id: int) -> tuple[dict[str, Any], str]:
    with database.transaction() as session:
        return explanation(session, finding_id), explanation_text(session, finding_id)


@dataclass(frozen=True)
class Read:
    """A finding's id and its triage as readers see it (``store.triage_view``)."""

    id: int
    triage: FindingTriage

    def __getattr__(self, name: str) -> Any:
        return getattr(self.triage, name)


def finding(database: Database, vulnerability: str) -> Read:
    with database.transaction() as session:
        found = session.scalar(
            select(models.Finding.id).where(models.Finding.vulnerability == vulnerability)
        )
        assert found is not None
        return Read(found, finding_triage(session, [found])[found])


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.dispose()


def test_kev_listed_vulnerability_on_an_exposed_critical_asset_is_act(
    db: Database, tmp_path: Path
) -> None:
    load_paths(db, intel(tables=True), Limits())
    setup(db, tmp_path, internet=True, sector="finance")
    row = finding(db, "CVE-2020-11651")
    # In KEV, publicly exposed, automatable (unknown: default yes), total impact: 3 days and
    # forensic triage under BOD 26-04.
    assert (row.decision, row.priority, row.bod) == ("Act", "Immediate", "3DF")
    assert row.deadline == T0 + timedelta(days=3)
    assert row.policy == "cisa-bod-26-04 1.0.0"
    data, text = explained(db, row.id)
    points = {p["point"]: p for p in data["points"]}
    assert points["E"]["value_name"] == "Active"
    assert any(b["source"].startswith("KEV") for b in points["E"]["because"])
    assert points["EXP"]["value_name"] == "Open"
    assert "decision Act" in text
    assert "3 days" in text


def test_an_internal_asset_gets_a_later_priority(db: Database, tmp_path: Path) -> None:
    load_paths(db, intel(tables=True), Limits())
    setup(db, tmp_path, internet=False, sector="water")
    row = finding(db, "CVE-2020-11651")
    assert row.priority != "Immediate" or row.bod != "3D"
    points = {p["point"]: p["value_name"] for p in explained(db, row.id)[0]["points"]}
    assert points["EXP"] == "Controlled"
    assert points["PE"] == "No"


def test_without_tables_findings_say_why_they_have_no_decision(
    db: Database, tmp_path: Path
) -> None:
    load_paths(db, intel(tables=False), Limits())
    setup(db, tmp_path, internet=True, sector="finance")
    row = finding(db, "CVE-2020-11651")
    assert row.decision is None
    data, text = explained(db, row.id)
    assert "not loaded" in data["unavailable"]
    assert "not triaged: SSVC decision tables are not loaded" in text


def test_a_policy_change_recomputes_deadlines_and_records_why(db: Database, tmp_path: Path) -> None:
    load_paths(db, intel(tables=True), Limits())
    setup(db, tmp_path, internet=True, sector="finance")
    before = finding(db, "CVE-2021-25282")
    with db.transaction() as session:
        changed = assess_open(session, policy_set("critical-infrastructure"), T0, "policy change")
    assert changed > 0
    after = finding(db, "CVE-2021-25282")
    assert after.policy == "critical-infrastructure 1.0.0"
    with db.transaction() as session:
        latest = session.scalars(
            select(models.TriageRevision).order_by(models.TriageRevision.id.desc())
        ).first()
        assert latest is not None
        assert latest.why == "policy change"
        assert latest.policy_set == "critical-infrastructure 1.0.0"
        assert latest.findings_changed == changed
    _, history = service.show(db, after.id)
    assert not any("recomputed" in t.note for t in history)  # a revision, not finding history
    assert (before.decision, before.id) == (after.decision, after.id)
