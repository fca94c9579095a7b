"""A reader of a stored TAXII collection never pages past an object still being added
(``store.taxii_order``), on PostgreSQL where writers and readers run at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sakimori.packages import taxii
from sakimori.services import taxii_store
from sakimori.store import models, taxii_order
from sakimori.store.db import Database
from tests.conftest import postgres_db

pytestmark = pytest.mark.postgres

COLLECTION = "partner-allies"


@pytest.fixture
def db() -> Iterator[Database]:
    with postgres_db() as database:
        yield database


def _row(number: int, added: datetime) -> models.TaxiiObjectRow:
    ident = f"indicator--00000000-0000-4000-8000-{number:012d}"
    return models.TaxiiObjectRow(
        collection=COLLECTION,
        object_id=ident,
        object_type="indicator",
        version="2026-11-30T00:00:00.000Z",
        spec_version="2.1",
        added_at=added,
        added_by="test",
        data={"type": "indicator", "id": ident},
    )


def test_a_reader_waits_for_the_object_being_added_and_then_sees_it(db: Database) -> None:
    stamped, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            with db.transaction() as session:
                taxii_order.before_stamping(session, COLLECTION)
                session.add(_row(1, datetime.now(UTC)))
                session.flush()
                stamped.set()
                assert release.wait(30), "the test never released the writer"
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            stamped.set()

    pages: list[taxii.Page] = []

    def reader() -> None:
        pages.append(taxii_store.stored_page(db, COLLECTION, taxii.Query()))

    adding = threading.Thread(target=writer)
    adding.start()
    assert stamped.wait(30)
    reading = threading.Thread(target=reader)
    reading.start()
    reading.join(0.5)
    # Without the lock the reader answers at once with an empty page, and the object appears
    # later with a date added before anything the client would ask for next.
    assert reading.is_alive(), f"the reader did not wait for the writer: {pages}"
    release.set()
    adding.join(30)
    reading.join(30)
    assert not failures, failures
    assert [r.id for r in pages[0].records] == [_row(1, datetime.now(UTC)).object_id]


def test_a_writer_after_a_reader_stamps_a_later_time(db: Database) -> None:
    """The other half: a writer that starts while a reader reads waits, then stamps after."""
    with db.transaction() as session:
        session.add(_row(1, datetime.now(UTC)))
    first = taxii_store.stored_page(db, COLLECTION, taxii.Query())
    with db.transaction() as session:
        taxii_order.before_reading(session, COLLECTION)
        waited = threading.Event()

        def writer() -> None:
            with db.transaction() as other:
                taxii_order.before_stamping(other, COLLECTION)
                other.add(_row(2, datetime.now(UTC)))
            waited.set()

        adding = threading.Thread(target=writer)
        adding.start()
        assert not waited.wait(0.5), "the writer did not wait for the reader"
    adding.join(30)
    assert waited.is_set()
    later = taxii_store.stored_page(
        db, COLLECTION, taxii.Query(added_after=first.records[-1].added)
    )
    assert [r.id for r in later.records] == [_row(2, datetime.now(UTC)).object_id]
