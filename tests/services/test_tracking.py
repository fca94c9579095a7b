"""Organisations, assets, inventories over time and persistent findings (SQLite, PostgreSQL)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sakimori.errors import Conflict, InvalidInput, NotFound
from sakimori.formats.limits import Limits
from sakimori.model.lifecycle import Move, State
from sakimori.services import findings as service
from sakimori.services.intel import load_paths
from sakimori.services.organisations import (
    create_asset,
    create_organisation,
    list_assets,
    list_organisations,
)
from sakimori.services.tracking import upload_inventory
from sakimori.store import models
from sakimori.store.db import Database, open_database
from tests.conftest import require_data

ASSET = "city-bank/web-portal"


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    database = open_database(database_url)
    load_paths(database, [require_data("osv", "pypi", "vulns", "django")], Limits())
    create_organisation(database, "city-bank", "City Bank", "operator", ["finance"])
    create_asset(database, ASSET, "Online banking", "critical", internet_facing=True)
    yield database
    database.dispose()


def requirements(tmp_path: Path, name: str, *pins: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(pins) + "\n")
    return path


def states(db: Database) -> dict[str, str]:
    with db.transaction() as session:
        return {row.key: row.state for row in session.scalars(select(models.Finding))}


def history(db: Database, finding_id: int) -> list[tuple[str | None, str, str]]:
    _, transitions = service.show(db, finding_id)
    return [(t.from_state, t.to_state, t.actor) for t in transitions]


def test_registry_refuses_bad_and_duplicate_input(db: Database) -> None:
    with pytest.raises(Conflict):
        create_organisation(db, "city-bank", "", "operator")
    with pytest.raises(InvalidInput, match="sector"):
        create_organisation(db, "x", "", "operator", ["banking"])
    with pytest.raises(InvalidInput, match="kind"):
        create_organisation(db, "y", "", "bank")
    with pytest.raises(InvalidInput, match="short name"):
        create_organisation(db, "Bad Name!", "", "operator")
    with pytest.raises(NotFound):
        create_asset(db, "nobody/web", "")
    with pytest.raises(Conflict):
        create_asset(db, ASSET, "")
    with pytest.raises(InvalidInput, match="criticality"):
        create_asset(db, "city-bank/other", "", "extreme")
    assert [o.slug for o in list_organisations(db)] == ["city-bank"]
    assert [a.ref for a in list_assets(db)] == [ASSET]


def test_upload_opens_findings_fix_closes_them_regression_reopens(
    db: Database, tmp_path: Path
) -> None:
    old = requirements(tmp_path, "v1.txt", "django==2.2.24")
    new = requirements(tmp_path, "v2.txt", "django==4.2.16")
    first = upload_inventory(db, ASSET, old, "alice", Limits())
    assert first.version == 1
    assert first.counts.opened >= 8
    opened = states(db)
    assert set(opened.values()) == {"open"}
    second = upload_inventory(db, ASSET, new, "alice", Limits())
    assert second.version == 2
    assert second.counts.closed == first.counts.opened - second.counts.kept
    after = states(db)
    for key in opened:
        if "@2.2.24#" in key:
            assert after[key] == "fixed"
    third = upload_inventory(db, ASSET, old, "alice", Limits())
    assert third.counts.reopened == second.counts.closed
    with db.transaction() as session:
        row = session.scalars(select(models.Finding).where(models.Finding.key.like("%@2.2.24#%")))
        finding = next(iter(row))
    assert [h[:2] for h in history(db, finding.id)] == [
        (None, "open"), ("open", "fixed"), ("fixed", "open"),
    ]  # fmt: skip
    assert list_assets(db)[0].inventory_version == 3


def test_lifecycle_rules_are_enforced_and_recorded(db: Database, tmp_path: Path) -> None:
    upload_inventory(db, ASSET, requirements(tmp_path, "r.txt", "django==2.2.24"), "a", Limits())
    finding = service.list_findings(db, service.Filters())[0].id
    with pytest.raises(Conflict, match="cannot go from open to fixed"):
        service.transition(db, finding, Move(State.FIXED, "bob"))
    with pytest.raises(InvalidInput, match="justification"):
        service.transition(db, finding, Move(State.NOT_AFFECTED, "bob"))
    with pytest.raises(InvalidInput, match="expiry"):
        service.transition(db, finding, Move(State.RISK_ACCEPTED, "bob"))
    with pytest.raises(InvalidInput, match="not in the future"):
        service.transition(db, finding, Move(State.RISK_ACCEPTED, "bob", expires=date(2000, 1, 1)))
    assert history(db, finding) == [(None, "open", "sakimori")]  # nothing written
    service.transition(db, finding, Move(State.ACKNOWLEDGED, "bob", "triaged"))
    service.transition(db, finding, Move(State.IN_PROGRESS, "carol"))
    service.transition(db, finding, Move(State.FIX_APPLIED, "carol", "upgraded in staging"))
    view = service.transition(db, finding, Move(State.FIXED, "dave", "deployed"))
    assert view.state == "fixed"
    assert [h[1] for h in history(db, finding)] == [
        "open", "acknowledged", "in_progress", "fix_applied", "fixed",
    ]  # fmt: skip


def test_accepted_risk_reopens_when_it_expires(db: Database, tmp_path: Path) -> None:
    upload_inventory(db, ASSET, requirements(tmp_path, "r.txt", "django==2.2.24"), "a", Limits())
    finding = service.list_findings(db, service.Filters())[0].id
    tomorrow = date.today() + timedelta(days=1)
    service.transition(db, finding, Move(State.RISK_ACCEPTED, "ciso", expires=tomorrow))
    assert service.reopen_expired(db) == 0
    later = datetime.now(UTC) + timedelta(days=2)
    assert service.reopen_expired(db, later) == 1
    view, transitions = service.show(db, finding)
    assert view.state == "open"
    assert "expired" in transitions[-1].note


def test_a_changed_advisory_updates_findings_without_a_rescan(db: Database, tmp_path: Path) -> None:
    upload_inventory(db, ASSET, requirements(tmp_path, "r.txt", "left-pad==1.0.0"), "a", Limits())
    assert states(db) == {}
    record = {
        "id": "TEST-2026-0001", "modified": "2026-11-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "left_pad"},
                      "ranges": [{"type": "ECOSYSTEM",
                                  "events": [{"introduced": "0"}, {"fixed": "1.1.0"}]}]}],
    }  # fmt: skip
    folder = tmp_path / "intel"
    folder.mkdir()
    (folder / "TEST-2026-0001.json").write_text(json.dumps(record))
    load_paths(db, [folder], Limits())
    assert states(db) == {"pkg:PyPI/left-pad@1.0.0#TEST-2026-0001": "open"}
    record["affected"][0]["ranges"][0]["events"][1] = {"fixed": "1.0.0"}  # type: ignore[index]
    record["modified"] = "2026-11-02T00:00:00Z"
    (folder / "TEST-2026-0001.json").write_text(json.dumps(record))
    load_paths(db, [folder], Limits())
    assert states(db) == {"pkg:PyPI/left-pad@1.0.0#TEST-2026-0001": "fixed"}


def test_a_bad_inventory_changes_nothing(db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [')
    with pytest.raises(InvalidInput):
        upload_inventory(db, ASSET, bad, "alice", Limits())
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(models.Inventory)) == 0


@pytest.mark.postgres
def test_concurrent_transitions_are_serialised_not_lost(tmp_path: Path) -> None:
    from tests.conftest import postgres_database

    with postgres_database() as url:
        database = open_database(url)
        try:
            load_paths(database, [require_data("osv", "pypi", "vulns", "django")], Limits())
            create_organisation(database, "city-bank", "", "operator")
            create_asset(database, ASSET, "")
            pins = requirements(tmp_path, "r.txt", "django==2.2.24")
            upload_inventory(database, ASSET, pins, "a", Limits())
            finding = service.list_findings(database, service.Filters())[0].id
            start = threading.Barrier(2)
            errors: list[Exception] = []

            def act(move: Move) -> None:
                start.wait()
                try:
                    service.transition(database, finding, move)
                except Exception as exc:  # collected and asserted below
                    errors.append(exc)

            threads = [
                # Valid in either order: open -> in_progress -> fix_applied, or
                # open -> fix_applied -> in_progress ("the fix did not take").
                threading.Thread(target=act, args=(Move(State.IN_PROGRESS, "bob"),)),
                threading.Thread(target=act, args=(Move(State.FIX_APPLIED, "carol"),)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            steps = history(database, finding)
            assert len(steps) == 3
            for before, after in itertools.pairwise(steps):
                assert after[0] == before[1], steps  # each move starts where the last ended
        finally:
            database.dispose()


def test_concurrent_uploads_of_one_package_version_share_one_detail(tmp_path: Path) -> None:
    """Two assets' uploads of the same vulnerable version, at once, on PostgreSQL: both land,
    and their findings point to one detail per vulnerability (the second insert of a detail
    yields to the first, whichever it is)."""
    from tests.conftest import postgres_database

    with postgres_database() as url:
        database = open_database(url)
        try:
            load_paths(database, [require_data("osv", "pypi", "vulns", "django")], Limits())
            create_organisation(database, "city-bank", "", "operator")
            refs = [f"city-bank/portal-{n}" for n in range(4)]
            for ref in refs:
                create_asset(database, ref, "")
            pins = requirements(tmp_path, "r.txt", "django==2.2.24")
            start = threading.Barrier(len(refs))
            errors: list[Exception] = []

            def upload(ref: str) -> None:
                start.wait()
                try:
                    upload_inventory(database, ref, pins, "a", Limits())
                except Exception as exc:  # collected and asserted below
                    errors.append(exc)

            threads = [threading.Thread(target=upload, args=(ref,)) for ref in refs]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            with database.transaction() as session:
                pairs = session.execute(
                    select(models.Finding.vulnerability, models.Finding.detail_id)
                ).all()
                details = session.scalar(select(func.count()).select_from(models.FindingDetail))
            per_vulnerability: dict[str, set[int | None]] = {}
            for vulnerability, detail in pairs:
                per_vulnerability.setdefault(vulnerability, set()).add(detail)
            assert len(pairs) == len(refs) * len(per_vulnerability) > len(refs)
            assert all(len(ids) == 1 and None not in ids for ids in per_vulnerability.values())
            assert details == len(per_vulnerability)
        finally:
            database.dispose()
