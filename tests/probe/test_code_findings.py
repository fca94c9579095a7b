"""Code findings recorded as an asset's findings across probe runs, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sakimori.formats.limits import Limits
from sakimori.model.lifecycle import Move, State
from sakimori.probe.scan import probe_tree
from sakimori.services.assessment import deadline_of, explanation
from sakimori.services.code_findings import CodeSyncCounts, record_code_findings
from sakimori.services.findings import transition
from sakimori.services.intel import load_paths
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.store import models
from sakimori.store.db import Database, open_database
from sakimori.store.triage_view import finding_triage
from tests.conftest import require_data
from tests.probe import gate_patches
from tests.probe.conftest import FIXTURES

ASSET = "city-bank/portal"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    create_organisation(database, "city-bank", "City Bank", "operator", ["finance"])
    create_asset(database, ASSET, "Customer portal")
    yield database
    database.dispose()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(FIXTURES / "gate", target)
    return target


def rows(db: Database) -> list[models.Finding]:
    with db.transaction() as session:
        found = list(session.scalars(select(models.Finding).order_by(models.Finding.id)))
        session.expunge_all()
        return found


def history(db: Database, finding_id: int) -> list[tuple[str | None, str]]:
    with db.transaction() as session:
        return [
            (t.from_state, t.to_state)
            for t in session.scalars(
                select(models.FindingTransition)
                .where(models.FindingTransition.finding_id == finding_id)
                .order_by(models.FindingTransition.id)
            )
        ]


def record(db: Database, tree: Path, at: datetime) -> CodeSyncCounts:
    return record_code_findings(db, ASSET, probe_tree(tree).findings, "ci", at)


def test_a_finding_keeps_its_identity_closes_when_fixed_and_reopens(
    db: Database, tree: Path
) -> None:
    first = record(db, tree, T0)
    assert (first.opened, first.kept, first.closed) == (1, 0, 0)
    (row,) = rows(db)
    assert (row.kind, row.vulnerability, row.weakness, row.state) == (
        "code", "PY-SQLI", "CWE-89", "open",
    )  # fmt: skip
    assert row.key == f"code:{row.location_fingerprint}#CWE-89"
    assert row.package == "app.py"

    # Lines move (a comment above): the same fingerprint, the same finding.
    app = tree / "app.py"
    app.write_text("# moved down by a comment\n" + app.read_text())
    again = record(db, tree, T0 + timedelta(days=1))
    assert (again.opened, again.kept) == (0, 1)
    (same,) = rows(db)
    assert same.id == row.id
    assert same.last_seen_at.replace(tzinfo=UTC) == T0 + timedelta(days=1)

    # A person's decision survives the next run.
    transition(db, row.id, Move(State.ACKNOWLEDGED, "alice"), T0 + timedelta(days=2))
    record(db, tree, T0 + timedelta(days=3))
    assert rows(db)[0].state == "acknowledged"

    # Fixed in the code: the next run closes it as fixed.
    fixed_tree = tree.parent / "fixed"
    shutil.copytree(FIXTURES / "gate", fixed_tree)
    subprocess.run(
        ["git", "apply", "-"], input=gate_patches.RIGHT.encode(), cwd=fixed_tree, check=True
    )
    closed = record(db, fixed_tree, T0 + timedelta(days=4))
    assert (closed.closed, closed.opened) == (1, 0)
    (done,) = rows(db)
    assert (done.state, done.resolution) == ("fixed", "verified by probe run")

    # The weakness comes back: the same finding reopens.
    reopened = record(db, tree, T0 + timedelta(days=5))
    assert reopened.reopened == 1
    assert [r.id for r in rows(db)] == [row.id]
    assert history(db, row.id) == [
        (None, "open"),
        ("open", "acknowledged"),
        ("acknowledged", "fixed"),
        ("fixed", "open"),
    ]


def test_findings_a_run_could_not_judge_stay_open(db: Database, tree: Path) -> None:
    record(db, tree, T0)
    (tree / "app.py").write_text("def broken(:\n")  # does not parse: skipped by the engine
    report = probe_tree(tree)
    assert report.findings == []
    counts = record_code_findings(
        db, ASSET, report.findings, "ci", T0 + timedelta(hours=1),
        unanalysed={s.path for s in report.skipped},
    )  # fmt: skip
    assert counts.closed == 0
    assert rows(db)[0].state == "open"
    # A run that did not check the rule does not close its findings either.
    counts = record_code_findings(db, ASSET, [], "ci", T0, rules={"PY-XSS"})
    assert counts.closed == 0
    assert rows(db)[0].state == "open"


def test_package_findings_are_not_touched(db: Database, tree: Path) -> None:
    with db.transaction() as session:
        (asset_id,) = session.execute(select(models.Asset.id)).one()
        session.add(
            models.Finding(
                asset_id=asset_id, key="pkg:PyPI/jinja2@2.10#PYSEC-2019-217", kind="package",
                vulnerability="PYSEC-2019-217", ecosystem="PyPI", package="jinja2", version="2.10",
                state="open",
                first_seen_at=T0, last_seen_at=T0, state_changed_at=T0,
            )
        )  # fmt: skip
    record(db, tree, T0)
    counts = record_code_findings(db, ASSET, [], "ci", T0 + timedelta(days=1))
    assert counts.closed == 1
    states = {r.kind: r.state for r in rows(db)}
    assert states == {"package": "open", "code": "fixed"}


def test_code_findings_are_triaged_from_their_weakness_and_the_asset(
    db: Database, tree: Path
) -> None:
    """With CERT/CC's tables loaded, a code finding gets a decision and a deadline like a
    package finding: the CWE gives Automatable (and no public exploit, Exploitation none)."""
    load_paths(db, [require_data("ssvc", "data", "json", "decision_tables")], Limits())
    record(db, tree, T0)
    (row,) = rows(db)
    assert row.aliases == ["CWE-89"]
    with db.transaction() as session:
        triage = finding_triage(session, [row.id])[row.id]
        data = explanation(session, row.id)
        due, reason, policy = deadline_of(session, row.id)
    assert triage.decision is not None
    assert triage.deadline == due
    assert due is not None
    assert due > T0
    assert f"from first seen {T0.isoformat()}" in reason
    assert policy == "cisa-bod-26-04 1.0.0"
    points = {p["point"]: p for p in data["points"]}
    assert points["E"]["value_name"] == "None"
    assert any(
        b["source"] == "CWE" and "CWE-89 (code analysis)" in b["detail"]
        for b in points["A"]["because"]
    )
    # Closing keeps the deadline in force; it is not recomputed afterwards.
    record_code_findings(db, ASSET, [], "ci", T0 + timedelta(days=400))
    with db.transaction() as session:
        closed = finding_triage(session, [row.id])[row.id]
    assert closed.deadline == due
