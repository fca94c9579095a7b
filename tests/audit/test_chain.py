"""The hash chain: it verifies, and an edited, deleted, reordered or truncated entry is found;
pruning leaves a checkpoint that verification trusts only with the server key."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import delete, func, select, update

from sakimori.errors import Conflict
from sakimori.services import access, audit
from sakimori.store import models
from sakimori.store.db import Database, open_database
from tests.conftest import postgres_database

KEY = b"k" * 32
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.dispose()


def _fill(db: Database, count: int, start: datetime = START) -> None:
    for n in range(count):
        with db.transaction() as session:
            audit.append(
                session,
                audit.Entry(
                    actor=f"user{n}",
                    action="package.read",
                    object_kind="package",
                    object_id=str(n),
                    tlp="AMBER",
                    source="192.0.2.1",
                    request_id=f"r{n}",
                    detail={"n": n, "note": "ü"},
                ),
                now=start + timedelta(days=n),
            )


def test_an_untouched_chain_verifies_and_exports(db: Database) -> None:
    _fill(db, 5)
    result = audit.verify(db, KEY)
    assert result.ok, result.reason
    assert (result.checked, result.head_seq) == (5, 5)
    lines = [orjson.loads(line) for line in audit.export(db)]
    assert [e["seq"] for e in lines] == [1, 2, 3, 4, 5]
    assert lines[0]["prev_hash"] == audit.GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(lines))


def test_an_edited_entry_is_found(db: Database) -> None:
    _fill(db, 5)
    with db.transaction() as session:
        session.execute(
            update(models.AuditEntryRow)
            .where(models.AuditEntryRow.seq == 3)
            .values(actor="someone else")
        )
    result = audit.verify(db, KEY)
    assert not result.ok
    assert result.broken_at == 3
    assert "changed" in (result.reason or "")


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(db: Database) -> None:
    _fill(db, 5)
    with db.transaction() as session:
        row = session.get(models.AuditEntryRow, 3)
        assert row is not None
        row.detail = {"n": 99}
        row.hash = audit.entry_hash(row.prev_hash, row)
    result = audit.verify(db, KEY)
    assert (result.ok, result.broken_at) == (False, 4)


def test_a_deleted_entry_is_found(db: Database) -> None:
    _fill(db, 5)
    with db.transaction() as session:
        session.execute(delete(models.AuditEntryRow).where(models.AuditEntryRow.seq == 2))
    result = audit.verify(db, KEY)
    assert (result.ok, result.broken_at) == (False, 2)


def test_deleting_the_newest_entries_is_found(db: Database) -> None:
    _fill(db, 5)
    with db.transaction() as session:
        session.execute(delete(models.AuditEntryRow).where(models.AuditEntryRow.seq >= 4))
    result = audit.verify(db, KEY)
    assert not result.ok
    assert "head" in (result.reason or "")


def test_reordered_entries_are_found(db: Database) -> None:
    _fill(db, 5)
    with db.transaction() as session:  # swap entries 2 and 3 (renumbering them)
        session.execute(
            update(models.AuditEntryRow).where(models.AuditEntryRow.seq == 2).values(seq=-2)
        )
        session.execute(
            update(models.AuditEntryRow).where(models.AuditEntryRow.seq == 3).values(seq=2)
        )
        session.execute(
            update(models.AuditEntryRow).where(models.AuditEntryRow.seq == -2).values(seq=3)
        )
    result = audit.verify(db, KEY)
    assert (result.ok, result.broken_at) == (False, 2)


def test_pruning_keeps_a_verifiable_chain_and_a_forged_checkpoint_fails(db: Database) -> None:
    _fill(db, 6)
    pruned = audit.prune(db, KEY, before=START + timedelta(days=3), now=START + timedelta(days=9))
    assert (pruned.deleted, pruned.checkpoint_seq) == (3, 3)
    result = audit.verify(db, KEY)
    assert result.ok, result.reason
    assert (result.first_seq, result.checked, result.head_seq) == (4, 3, 6)
    exported = [orjson.loads(line) for line in audit.export(db)]
    assert exported[0]["checkpoint"]["seq"] == 3
    assert not audit.verify(db, b"x" * 32).ok  # the MAC needs the server key
    with db.transaction() as session:  # hide entry 4 behind a forged checkpoint
        session.execute(delete(models.AuditEntryRow).where(models.AuditEntryRow.seq == 4))
        session.execute(
            update(models.AuditCheckpointRow).values(
                seq=4, hash=session.scalar(select(models.AuditEntryRow.prev_hash).limit(1))
            )
        )
    result = audit.verify(db, KEY)
    assert not result.ok
    assert "MAC" in (result.reason or "")


def test_a_write_that_fails_leaves_no_entry(db: Database) -> None:
    admin = access.Principal(
        1,
        "kanri",
        access.Role.COORDINATOR_ADMIN,
        1,
        "coordination",
        frozenset(access.Scope),
        source="198.51.100.7",
        request_id="req-1",
    )
    access.create_organisation(db, admin, "city-bank", "City Bank", "operator")
    with pytest.raises(Conflict):
        access.create_organisation(db, admin, "city-bank", "City Bank", "operator")
    with db.transaction() as session:
        rows = session.scalars(select(models.AuditEntryRow)).all()
        organisations = session.scalar(select(func.count()).select_from(models.Organisation))
    assert organisations == 1
    assert [(r.action, r.object_id, r.source, r.request_id) for r in rows] == [
        ("organisation.create", "city-bank", "198.51.100.7", "req-1")
    ]
    assert audit.verify(db, KEY).ok


@pytest.mark.postgres
def test_concurrent_appends_on_postgresql_keep_one_chain() -> None:
    with postgres_database() as url:
        db = open_database(url)
        try:
            threads, each = 8, 25
            barrier = threading.Barrier(threads)
            failures: list[BaseException] = []

            def append_many(n: int) -> None:
                try:
                    barrier.wait()
                    for i in range(each):
                        with db.transaction() as session:
                            audit.append(session, audit.Entry(actor=f"t{n}", action=f"a{i}"))
                except BaseException as exc:  # reported below
                    failures.append(exc)

            workers = [threading.Thread(target=append_many, args=(n,)) for n in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            assert not failures
            result = audit.verify(db, KEY)
            assert result.ok, result.reason
            assert result.checked == result.head_seq == threads * each
        finally:
            db.dispose()
