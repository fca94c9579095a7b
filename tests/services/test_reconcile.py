"""A changed advisory updates the findings of every asset holding its package, in one refresh.

The refresh is checked against the rule it must keep: its findings are the ones a full rescan of
each asset gives (uploading the same inventories into a database that had the new intel from
the start), with the same decisions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from sakimori.formats.limits import Limits
from sakimori.formats.osv import parse
from sakimori.model.lifecycle import Move, State
from sakimori.services import findings as service
from sakimori.services.intel import load_paths
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.services.tracking import refresh_packages, upload_inventory
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.store.db import Database, aware, open_database
from sakimori.store.triage_view import finding_triage
from tests.conftest import require_data

RECORD = "PYSEC-2022-1"  # django 2.2 before 2.2.26, 3.2 before 3.2.11, 4.0 before 4.0.1
DJANGO = ("PyPI", "django")
#: asset -> (criticality, internet facing, requirements lines)
ASSETS: dict[str, tuple[str, bool, tuple[str, ...]]] = {
    "bank/portal": ("critical", True, ("django==2.2.24", "left_pad==1.0.0")),
    "bank/intranet": ("low", False, ("Django==2.2.24",)),  # another spelling, same package
    "bank/api": ("high", True, ("django==3.2.0",)),
    "city/site": ("medium", True, ("django==4.2.16", "left-pad==1.0.0")),
    "city/jobs": ("high", False, ("django==4.2.16",)),
    "city/other": ("medium", False, ("left-pad==1.0.0",)),  # no django at all
}


def intel_paths() -> list[Path]:
    return [
        require_data("osv", "pypi", "vulns", "django"),
        require_data("ssvc", "data", "json", "decision_tables"),
        require_data("kev", "known_exploited_vulnerabilities.json"),
    ]


def original_record() -> dict[str, Any]:
    path = require_data("osv", "pypi", "vulns", "django", f"{RECORD}.yaml")
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def widened_record() -> dict[str, Any]:
    """The record with its range moved (2.2.x no longer affected; 4.x now is) and an alias."""
    record = original_record()
    record["modified"] = "2026-11-01T00:00:00Z"
    record["aliases"] = [*record.get("aliases", []), "TEST-ALIAS-2026-1"]
    record["affected"][0]["ranges"] = [
        {"type": "ECOSYSTEM", "events": [{"introduced": "3.0"}, {"fixed": "5.0"}]}
    ]
    record["affected"][0]["versions"] = []
    return record


def spy_assessments(monkeypatch: pytest.MonkeyPatch) -> list[set[int]]:
    """The ids of every ``assess_findings`` call an upload or refresh makes, in order."""
    import sakimori.services.tracking as tracking

    assessed: list[set[int]] = []
    real = tracking.assess_findings

    def spy(session: Any, ids: Any, *args: Any) -> int:
        assessed.append(set(ids))
        return real(session, ids, *args)

    monkeypatch.setattr(tracking, "assess_findings", spy)
    return assessed


def write_record(folder: Path, record: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{RECORD}.json").write_text(json.dumps(record))
    return folder


def left_pad_folder(folder: Path) -> Path:
    record = {
        "id": "TEST-2026-0001", "modified": "2026-11-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "left_pad"},
                      "ranges": [{"type": "ECOSYSTEM",
                                  "events": [{"introduced": "0"}, {"fixed": "1.1.0"}]}]}],
    }  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "TEST-2026-0001.json").write_text(json.dumps(record))
    return folder


def populate(db: Database, tmp_path: Path) -> None:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for org in ("bank", "city"):
        create_organisation(db, org, "", "operator", ["finance"])
    for ref, (criticality, internet, pins) in ASSETS.items():
        create_asset(db, ref, "", criticality, internet_facing=internet)
        path = tmp_path / f"{ref.replace('/', '-')}.txt"
        path.write_text("\n".join(pins) + "\n")
        upload_inventory(db, ref, path, "alice", Limits())


Snapshot = dict[tuple[int, str], tuple[Any, ...]]


def snapshot(db: Database, *, open_only: bool = False) -> Snapshot:
    """Findings by (asset, key): state, ids, records, fixes, decision, revision, last seen."""
    with db.transaction() as session:
        rows = list(session.scalars(select(models.Finding)))
        triage = finding_triage(session, [row.id for row in rows])
        return {
            (row.asset_id, row.key): (
                row.state,
                tuple(row.aliases),
                tuple(row.records),
                tuple(row.fixed_versions),
                triage[row.id].decision,
                triage[row.id].priority,
                triage[row.id].bod,
                row.revision,
                row.last_seen_at,
            )
            for row in rows
            if not open_only or row.state != State.FIXED.value
        }


def comparable(found: Snapshot) -> dict[tuple[int, str], tuple[Any, ...]]:
    """What a rescan must agree on (revision and last-seen differ by history)."""
    return {place: values[:7] for place, values in found.items()}


def notes(db: Database, key: str) -> list[str]:
    """The lifecycle notes of the finding ``key`` (not deadline recomputations)."""
    with db.transaction() as session:
        rows = session.execute(
            select(models.FindingTransition.note)
            .join(models.Finding, models.Finding.id == models.FindingTransition.finding_id)
            .where(models.Finding.key == key)
            .order_by(models.FindingTransition.id)
        )
        return [note for (note,) in rows if not note.startswith("deadline")]


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    database = open_database(database_url)
    load_paths(database, [*intel_paths(), left_pad_folder(tmp_path / "left-pad")], Limits())
    populate(database, tmp_path / "inventories")
    yield database
    database.dispose()


def rescan(tmp_path: Path, url: str, record: dict[str, Any]) -> Snapshot:
    """Findings of the same inventories uploaded into a database that had ``record`` first."""
    database = open_database(url)
    try:
        paths = [*intel_paths(), left_pad_folder(tmp_path / "left-pad")]
        load_paths(database, paths, Limits())
        load_paths(database, [write_record(tmp_path / "record", record)], Limits())
        populate(database, tmp_path / "inventories")
        return snapshot(database, open_only=True)
    finally:
        database.dispose()


def second_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'rescan.db'}"
        return
    from tests.conftest import postgres_database

    with postgres_database() as url:
        yield url


def test_one_refresh_updates_every_asset_like_a_rescan(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    before = snapshot(db)
    cve_id = next(a for a in original_record()["aliases"] if a.startswith("CVE-"))
    assert (1, f"pkg:PyPI/django@2.2.24#{cve_id}") in before
    report = load_paths(db, [write_record(tmp_path / "changed", widened_record())], Limits())
    changes = report.sources[0].changes
    assert changes is not None
    assert DJANGO in changes.packages
    after = snapshot(db)
    keys = {key for _, key in after}
    assert {f"pkg:PyPI/django@4.2.16#{cve_id}", f"pkg:PyPI/Django@2.2.24#{cve_id}"} <= keys
    for (_, key), values in after.items():
        if key.endswith(f"#{cve_id}"):
            expected = "open" if "@3.2.0#" in key or "@4.2.16#" in key else "fixed"
            assert values[0] == expected, key
            if expected == "open":
                assert "TEST-ALIAS-2026-1" in values[1]
                assert values[4] is not None  # assessed
    new_ones = [k for k in after if k not in before]
    assert len(new_ones) == 2  # city/site and city/jobs at 4.2.16
    # Findings of the other django records, and of other packages, were not written.
    for place, values in before.items():
        if not place[1].endswith(f"#{cve_id}"):
            assert after[place] == values, place
    for url in second_url(database_url, tmp_path / "b"):
        assert comparable(snapshot(db, open_only=True)) == comparable(
            rescan(tmp_path / "b", url, widened_record())
        )
    # And back: the 2.2.24 findings come back as regressions, 4.2.16 closes.
    load_paths(db, [write_record(tmp_path / "changed", original_record())], Limits())
    back = snapshot(db)
    for (_, key), values in back.items():
        if key.endswith(f"#{cve_id}"):
            expected = "fixed" if "@4.2.16#" in key else "open"
            assert values[0] == expected, key
    assert notes(db, f"pkg:PyPI/django@2.2.24#{cve_id}") == [
        "found: inventory version 1",
        f"verified by inventory: advisories changed in {(tmp_path / 'changed').resolve()}",
        f"regression: back in advisories changed in {(tmp_path / 'changed').resolve()}",
    ]
    for url in second_url(database_url, tmp_path / "c"):
        assert comparable(snapshot(db, open_only=True)) == comparable(
            rescan(tmp_path / "c", url, original_record())
        )


def test_out_of_scope_findings_are_untouched(db: Database) -> None:
    before = snapshot(db)
    now = datetime.now(UTC)
    changed = parse(json.dumps(widened_record()).encode())
    with db.transaction() as session:
        # The intel changes, but only left-pad is refreshed: django findings must not move.
        store.store_advisories(session, "test", changed, now)
        counts = refresh_packages(session, {("PyPI", "left-pad")}, now, "left-pad changed")
    assert (counts.opened, counts.closed, counts.reopened) == (0, 0, 0)
    assert counts.kept == 3
    assert snapshot(db) == before  # left-pad: found again unchanged; django: out of scope
    with db.transaction() as session:
        counts = refresh_packages(session, {DJANGO}, now, "django changed")
    assert (counts.opened, counts.closed) == (2, 2)


def test_closed_states_other_than_fixed_are_not_reopened(db: Database) -> None:
    with db.transaction() as session:
        row = session.scalars(
            select(models.Finding).where(models.Finding.key.like("pkg:PyPI/django@3.2.0#%"))
        ).first()
        assert row is not None
        finding, key = row.id, row.key
    service.transition(
        db,
        finding,
        Move(State.NOT_AFFECTED, "bob", justification="vulnerable_code_not_in_execute_path"),
    )
    with db.transaction() as session:
        counts = refresh_packages(session, {DJANGO}, datetime.now(UTC), "django re-checked")
    assert (counts.opened, counts.closed, counts.reopened) == (0, 0, 0)
    view, transitions = service.show(db, finding)
    assert view.state == "not_affected"
    assert [t.to_state for t in transitions] == ["open", "not_affected"]
    assert key in {k for _, k in snapshot(db)}


def test_findings_of_a_record_changed_in_place_are_reassessed_and_no_others(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record whose new version changes nothing stored on the findings (here its severity)
    still changes their evidence: exactly the findings it matches are re-assessed."""
    assessed = spy_assessments(monkeypatch)
    record = original_record()
    record["modified"] = "2026-11-03T00:00:00Z"
    record["severity"] = [
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    ]
    before = snapshot(db)
    load_paths(db, [write_record(tmp_path / "severity", record)], Limits())
    with db.transaction() as session:
        rows = session.execute(
            select(models.Finding.id, models.FindingDetail.records).join(
                models.FindingDetail, models.FindingDetail.id == models.Finding.detail_id
            )
        ).all()
    matched = {finding_id for finding_id, records in rows if RECORD in records}
    assert 0 < len(matched) < len(before)
    assert assessed == [matched]
    # Nothing stored on a finding changed (a decision may have: that is the point).
    assert {k: v[:4] for k, v in snapshot(db).items()} == {k: v[:4] for k, v in before.items()}


def test_findings_a_refresh_closes_keep_the_deadline_in_force(db: Database, tmp_path: Path) -> None:
    """Closing records each finding's own deadline as computed at that moment (one statement
    for all of them), not another finding's, and not none."""
    with db.transaction() as session:
        rows = session.execute(
            select(models.Finding.id, models.Finding.version).where(
                models.Finding.package.in_(["django", "Django"]),
                models.Finding.state == State.OPEN.value,
            )
        ).all()
        before = finding_triage(session, [i for i, _ in rows])
    closing = {i for i, version in rows if version.startswith("2.2.")}
    assert closing
    assert None not in {before[i].deadline for i in closing}
    load_paths(db, [write_record(tmp_path / "widened", widened_record())], Limits())
    with db.transaction() as session:
        closed = {
            row.id: row
            for row in session.scalars(
                select(models.Finding).where(models.Finding.id.in_(sorted(closing)))
            )
        }
    # PYSEC-2022-1 no longer names 2.2.x: its findings there closed; any other of theirs stays.
    fixed = {i for i, row in closed.items() if row.state == State.FIXED.value}
    assert fixed
    assert {i: aware(closed[i].closed_deadline) for i in fixed} == {
        i: before[i].deadline for i in fixed
    }


def test_a_detail_changed_by_one_upload_reassesses_the_other_assets_sharing_it(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """city/site and city/other hold the same left-pad; the intel changes without a refresh
    (its record gains an alias), then city/site alone is uploaded again: the detail they share
    changes, and city/other's finding, outside that upload, is re-assessed with it."""
    assessed = spy_assessments(monkeypatch)
    with db.transaction() as session:
        (other,) = session.scalars(
            select(models.Finding.id)
            .join(models.Asset, models.Asset.id == models.Finding.asset_id)
            .where(models.Asset.slug == "other")
        ).all()
        record = json.loads(
            (left_pad_folder(tmp_path / "left-pad") / "TEST-2026-0001.json").read_text()
        )
        record["aliases"] = ["TEST-ALIAS-2026-2"]
        record["modified"] = "2026-11-02T00:00:00Z"
        store.store_advisories(
            session, "test", parse(json.dumps(record).encode()), datetime.now(UTC)
        )
    inventory = tmp_path / "inventories" / "city-site.txt"
    upload_inventory(db, "city/site", inventory, "alice", Limits())
    assert other in assessed[-1]
    with db.transaction() as session:
        shared = session.get(models.Finding, other)
        assert shared is not None
        assert "TEST-ALIAS-2026-2" in shared.aliases
