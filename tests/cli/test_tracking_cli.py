"""`sakimori org|asset|inventory|finding` as a person uses them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli
from tests.conftest import require_data


def test_register_upload_work_a_finding(empty_cli: Cli, tmp_path: Path) -> None:
    cli = empty_cli
    assert cli("intel", "load", str(require_data("osv", "pypi", "vulns", "django"))).code == 0
    run = cli("org", "create", "city-bank", "--name", "City Bank", "--sector", "finance")
    assert run.code == 0, run.err
    assert "finance" in run.out
    run = cli("asset", "create", "city-bank/web", "--criticality", "high", "--internet-facing")
    assert run.code == 0, run.err
    pins = tmp_path / "requirements.txt"
    pins.write_text("django==3.2.5\n")
    run = cli("inventory", "upload", "city-bank/web", str(pins), "--by", "alice")
    assert run.code == 0, run.err
    assert "inventory v1" in run.out
    listed = json.loads(cli("finding", "list", "--format", "json").out)
    assert listed
    assert {f["state"] for f in listed} == {"open"}
    first = listed[0]["id"]
    run = cli("finding", "set", str(first), "not_affected", "--by", "bob")
    assert run.code == 2
    assert "justification" in run.err
    run = cli(
        "finding", "set", str(first), "not_affected", "--by", "bob",
        "--justification", "vulnerable_code_not_present", "--note", "module removed",
    )  # fmt: skip
    assert run.code == 0, run.err
    shown = cli("finding", "show", str(first)).out
    assert "bob" in shown
    assert "open -> not_affected: module removed" in shown
    declared = json.loads(cli("finding", "list", "--state", "not_affected", "--format", "json").out)
    assert [f["id"] for f in declared] == [first]
    assert "1 findings" in cli("finding", "list", "--state", "not_affected").out
    assert "v1" in cli("asset", "list").out
    assert "city-bank" in cli("org", "list").out


def test_clear_errors_for_unknown_things(empty_cli: Cli, tmp_path: Path) -> None:
    cli = empty_cli
    assert "no organisation" in cli("asset", "create", "nobody/web").err
    pins = tmp_path / "r.txt"
    pins.write_text("django==3.2.5\n")
    assert "ORGANISATION/ASSET" in cli("inventory", "upload", "web", str(pins)).err
    assert "no finding 99" in cli("finding", "show", "99").err
    assert "unknown state" in cli("finding", "set", "1", "done").err
    assert "YYYY-MM-DD" in cli("finding", "set", "1", "risk_accepted", "--expires", "soon").err


def test_findings_show_their_decision_due_and_overdue(empty_cli: Cli, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from sakimori.config import Settings
    from sakimori.store import models
    from sakimori.store.db import open_database
    from sakimori.store.triage_view import finding_triage

    cli = empty_cli
    tables = require_data("ssvc", "data", "json", "decision_tables")
    assert (
        cli("intel", "load", str(require_data("osv", "pypi", "vulns", "django")), str(tables)).code
        == 0
    )
    assert cli("org", "create", "city-bank", "--sector", "finance").code == 0
    assert (
        cli("asset", "create", "city-bank/web", "--criticality", "high", "--internet-facing").code
        == 0
    )
    pins = tmp_path / "requirements.txt"
    pins.write_text("django==3.2.5\n")
    assert cli("inventory", "upload", "city-bank/web", str(pins)).code == 0
    listed = json.loads(cli("finding", "list", "--format", "json").out)
    first = listed[0]["id"]
    shown = cli("finding", "show", str(first)).out
    assert f"decision: {listed[0]['decision']}" in shown
    assert "(due in " in shown
    assert "overdue" not in cli("finding", "list").out
    db = open_database(Settings.load({"SAKIMORI_HOME": str(cli.home)}).database_url)
    try:
        with db.transaction() as session:
            # The deadline is computed from the first-seen time: move that back instead.
            due = finding_triage(session, [first])[first].deadline
            row = session.get(models.Finding, first)
            assert due is not None
            assert row is not None
            shift = due - (datetime.now(UTC) - timedelta(days=2, hours=1))
            session.execute(
                update(models.Finding)
                .where(models.Finding.id == first)
                .values(first_seen_at=row.first_seen_at - shift)
            )
    finally:
        db.dispose()
    assert "(overdue by 2 days" in cli("finding", "show", str(first)).out
    wide = cli("finding", "list", env={"COLUMNS": "200"}).out  # one line per finding
    rows = [line for line in wide.splitlines() if "overdue" in line]
    assert len(rows) == 1
    assert rows[0].split("│")[1].strip() == str(first)
