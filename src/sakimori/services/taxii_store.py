"""TAXII objects stored in collections (what clients add, what partners' collections gave):
paged by the database in the order they were added, added with a status, read back.

Package collections are rendered from the packages on each read (``services.packages``); these
are the collections whose objects live in ``taxii_object``. Their date added is stamped under
the collection's lock (``store.taxii_order``), so no reader pages past an object still being
added.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from sakimori.errors import InvalidInput, NotFound
from sakimori.packages import stix, taxii
from sakimori.store import models, taxii_order
from sakimori.store.db import Database, aware


def _now() -> datetime:
    return datetime.now(UTC)


def stored_records(db: Database, collection: str) -> list[taxii.Record]:
    with db.transaction() as session:
        rows = session.scalars(
            select(models.TaxiiObjectRow).where(models.TaxiiObjectRow.collection == collection)
        ).all()
        return [taxii.Record(aware(r.added_at), r.data) for r in rows]


def stored_page(
    db: Database, collection: str, q: taxii.Query, *, versions_default_all: bool = False
) -> taxii.Page:
    """One page of a stored collection, cut by the database: the filters and ``match[version]``
    in SQL, keyset on (date added, row id) after ``q.after``, one query, the objects' JSON as
    stored (``taxii.Stored``). Same filters and version rules as ``taxii.select``."""
    from sqlalchemy import Text, and_, cast, exists, or_

    if q.next:
        raise InvalidInput("next is not a value this server gave for this collection")
    row = models.TaxiiObjectRow
    other = aliased(models.TaxiiObjectRow)

    def narrowed(table: Any) -> list[Any]:
        found = [table.collection == collection]
        if q.added_after is not None:  # in UTC: SQLite compares the text
            found.append(table.added_at > q.added_after.astimezone(UTC))
        if q.spec_versions:
            found.append(table.spec_version.in_(q.spec_versions))
        return found

    where = narrowed(row)
    if q.ids:
        where.append(row.object_id.in_(q.ids))
    if q.types:
        where.append(row.object_type.in_(q.types))
    wanted = taxii.wanted_versions(q, versions_default_all=versions_default_all)
    if "all" not in wanted:
        same = [*narrowed(other), other.object_id == row.object_id]
        kept: list[Any] = []
        if "last" in wanted:
            kept.append(~exists().where(*same, other.version > row.version))
        if "first" in wanted:
            kept.append(~exists().where(*same, other.version < row.version))
        stamps = [v for v in wanted if v not in {"first", "last"}]
        if stamps:
            kept.append(row.version.in_(stamps))
        where.append(or_(*kept))
    if q.after is not None:
        added, last = q.after
        # the first condition alone is what the (collection, added_at) index can seek to
        where.append(row.added_at >= added)
        where.append(or_(row.added_at > added, and_(row.added_at == added, row.id > last)))
    statement = (
        select(row.id, row.added_at, row.object_id, row.version, cast(row.data, Text))
        .where(*where)
        .order_by(row.added_at, row.id)
        .limit(q.limit + 1)
    )
    with db.transaction() as session:
        taxii_order.before_reading(session, collection)
        rows = session.execute(statement).all()
    records = [
        taxii.Stored(aware(added), ident, version, data.encode(), number)
        for number, added, ident, version, data in rows[: q.limit]
    ]
    more = len(rows) > q.limit
    following = taxii.key_token(records[-1].added, records[-1].row) if more else None
    return taxii.Page(records, more, following)


def add_objects(db: Database, collection: str, objects: list[Any], user: str) -> dict[str, Any]:
    """Add the objects of a TAXII envelope; each is parsed with ``stix2`` and refused (as a
    failure in the status) when invalid, TLP:RED or already held in that version. The objects'
    date added is read under the collection's lock (``store.taxii_order``), so no reader pages
    past them before they commit."""
    successes: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    with db.transaction() as session:
        taxii_order.before_stamping(session, collection)
        now = _now()
        for item in objects:
            checked, message = stix.check(item)
            ident = str(item.get("id", "")) if isinstance(item, dict) else ""
            if checked is None:
                failures.append({"id": ident[:200] or "unknown", "message": message})
                continue
            version = str(checked.get("modified") or checked.get("created") or now.isoformat())
            exists = session.scalar(
                select(models.TaxiiObjectRow.id).where(
                    models.TaxiiObjectRow.collection == collection,
                    models.TaxiiObjectRow.object_id == checked["id"],
                    models.TaxiiObjectRow.version == version,
                )
            )
            entry = {"id": checked["id"], "version": version}
            if exists is not None:
                failures.append({**entry, "message": "this version is already in the collection"})
                continue
            session.add(object_row(collection, checked, version, now, user))
            session.flush()
            successes.append(entry)
        status_id = str(uuid.uuid4())
        detail = {"successes": successes, "failures": failures, "pendings": []}
        session.add(
            models.TaxiiStatusRow(
                id=status_id, collection=collection, user_name=user, requested_at=now, detail=detail
            )
        )
    return _status(status_id, now, detail)


def object_row(
    collection: str, item: dict[str, Any], version: str, added: datetime, by: str
) -> models.TaxiiObjectRow:
    """The stored form of one checked STIX object version (stamp ``added`` under the
    collection's lock: ``store.taxii_order``)."""
    return models.TaxiiObjectRow(
        collection=collection,
        object_id=item["id"],
        object_type=item["type"],
        version=version,
        spec_version=str(item.get("spec_version", "2.1")),
        added_at=added,
        added_by=by,
        data=item,
    )


def get_status(db: Database, status_id: str, *, user: str, staff: bool) -> dict[str, Any]:
    with db.transaction() as session:
        row = session.get(models.TaxiiStatusRow, status_id)
        if row is None or not (staff or row.user_name == user):
            raise NotFound(f"no status {status_id}")
        return _status(row.id, aware(row.requested_at), row.detail)


def _status(status_id: str, when: datetime, detail: dict[str, Any]) -> dict[str, Any]:
    successes, failures = detail["successes"], detail["failures"]
    return {
        "id": status_id,
        "status": "complete",
        "request_timestamp": stix_time(when),
        "total_count": len(successes) + len(failures),
        "success_count": len(successes),
        "successes": successes,
        "failure_count": len(failures),
        "failures": failures,
        "pending_count": 0,
        "pendings": [],
    }


def stix_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
