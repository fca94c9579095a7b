"""Storing intelligence: incremental by content hash, withdrawn records, snapshots, KEV, EPSS."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from sakimori.model.advisory import Advisory, AffectedPackage, Event, EventKind, Range
from sakimori.model.intel import EpssScore, KevEntry
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.store.db import Database, open_database

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def advisory(identifier: str, fixed: str = "2.0", **changes: object) -> Advisory:
    base = Advisory(
        id=identifier,
        modified="2024-01-01T00:00:00Z",
        content_hash=f"hash-{identifier}-{fixed}",
        aliases=(f"CVE-2024-{abs(hash(identifier)) % 10000:04d}",),
        summary=f"summary of {identifier}",
        affected=(
            AffectedPackage(
                ecosystem="PyPI",
                name="Some_Package",
                ranges=(
                    Range(
                        "ECOSYSTEM",
                        (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, fixed)),
                    ),
                ),
                versions=("1.0",),
            ),
        ),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.dispose()


def count(db: Database, model: object) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


def test_new_changed_and_unchanged_advisories(db: Database) -> None:
    with db.transaction() as session:
        first = store.store_advisories(session, "s", [advisory("A-1"), advisory("A-2")], NOW)
    assert (first.added, first.changed, first.unchanged) == (2, 0, 0)
    with db.transaction() as session:
        again = store.store_advisories(
            session, "s", [advisory("A-1"), advisory("A-2", fixed="3.0")], NOW
        )
    assert (again.added, again.changed, again.unchanged) == (0, 1, 1)
    with db.transaction() as session:
        entries = store.affected_entries(session, [("PyPI", "some-package")])
    assert sorted(e.advisory_id for e in entries) == ["A-1", "A-2"]
    fixed = {e.advisory_id: e.ranges[0].events[1].version for e in entries}
    assert fixed == {"A-1": "2.0", "A-2": "3.0"}
    assert count(db, models.AffectedPackage) == 2


def test_names_are_normalised_for_lookup(db: Database) -> None:
    with db.transaction() as session:
        store.store_advisories(session, "s", [advisory("A-1")], NOW)
        assert store.affected_entries(session, [("PyPI", "Some_Package")]) == []
        assert len(store.affected_entries(session, [("PyPI", "some-package")])) == 1


def test_withdrawn_records_are_kept_but_never_matched(db: Database) -> None:
    gone = advisory("A-9", withdrawn="2024-02-02T00:00:00Z", content_hash="w")
    with db.transaction() as session:
        store.store_advisories(session, "s", [gone], NOW)
        assert store.affected_entries(session, [("PyPI", "some-package")]) == []
        assert store.counts(session)["withdrawn"] == 1


def test_snapshot_removes_records_the_source_no_longer_has(db: Database) -> None:
    with db.transaction() as session:
        store.store_advisories(session, "feed", [advisory("A-1"), advisory("A-2")], NOW)
        store.store_advisories(session, "other", [advisory("B-1")], NOW)
    with db.transaction() as session:
        changes = store.store_advisories(session, "feed", [advisory("A-1")], NOW, snapshot=True)
    assert changes.removed == 1
    with db.transaction() as session:
        assert set(store.existing_hashes(session)) == {"A-1", "B-1"}
        assert {a.alias for a in session.scalars(select(models.AdvisoryAlias))} >= {"A-1", "B-1"}


def test_duplicate_ids_in_one_load_keep_the_newest(db: Database) -> None:
    old = advisory("A-1", fixed="2.0")
    new = advisory("A-1", fixed="2.5", modified="2025-01-01T00:00:00Z")
    with db.transaction() as session:
        changes = store.store_advisories(session, "s", [new, old], NOW)
        entries = store.affected_entries(session, [("PyPI", "some-package")])
    assert changes.added == 1
    assert entries[0].ranges[0].events[1].version == "2.5"


def test_a_failed_transaction_leaves_nothing_behind(db: Database) -> None:
    def load_then_fail() -> None:
        with db.transaction() as session:
            store.store_advisories(session, "s", [advisory("A-1")], NOW)
            raise RuntimeError("a later file was malformed")

    with pytest.raises(RuntimeError):
        load_then_fail()
    assert count(db, models.Advisory) == 0
    assert count(db, models.AffectedPackage) == 0


def test_summaries_kev_and_epss_lookups(db: Database) -> None:
    kev = KevEntry("CVE-2021-44228", "Apache", "Log4j2", "Log4Shell", "2021-12-10", "2021-12-24")
    with db.transaction() as session:
        store.store_advisories(session, "s", [advisory("A-1")], NOW)
        store.store_kev(session, [kev], snapshot=True)
        written = store.store_epss(session, [EpssScore("CVE-2021-44228", 0.94, 0.99)])
        assert written == 1
        # Unchanged scores are not rewritten.
        assert store.store_epss(session, [EpssScore("CVE-2021-44228", 0.94, 0.99)]) == 0
        assert store.store_epss(session, [EpssScore("CVE-2021-44228", 0.95, 0.99)]) == 1
    with db.transaction() as session:
        info = store.advisory_summaries(session, ["A-1"])["A-1"]
        assert info.summary == "summary of A-1"
        assert store.kev_entries(session, ["CVE-2021-44228", "CVE-1999-0001"]).keys() == {
            "CVE-2021-44228"
        }
        assert store.epss_scores(session, ["CVE-2021-44228"])["CVE-2021-44228"].epss == 0.95
        store.store_kev(session, [], snapshot=True)
        assert store.kev_entries(session, ["CVE-2021-44228"]) == {}
