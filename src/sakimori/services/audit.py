"""The audit log: append-only, each entry chained to the one before it by SHA-256.

Entry *n* stores ``prev_hash`` (the hash of entry *n − 1*, or the all-zero genesis hash) and
``hash = SHA-256(prev_hash ‖ canonical JSON of entry n)``; the canonical JSON covers every
column but the two hashes, the sequence number included. Editing an entry breaks its own hash;
deleting, inserting or reordering entries breaks the sequence or the next ``prev_hash``;
deleting the newest entries leaves the chain head (``audit_chain``) pointing past the end.

Appending serialises on the chain-head row: the first statement of :func:`append` is an
``UPDATE`` of that row, which takes its row lock on PostgreSQL (and the write lock on SQLite)
until the transaction ends. Entries are therefore numbered without gaps in commit order, and an
entry appended in the session of the write it records commits (or rolls back) with it.

Retention (:func:`prune`) deletes the oldest entries and writes a checkpoint: the number and
hash of the last pruned entry, with an HMAC-SHA256 made with the server key, which lives in a
file outside the database. Verification starts from the newest checkpoint whose MAC holds, so a
pruned log still verifies, and someone who can write the database but not read the key file
cannot pass off a deletion as a pruning. Operators who want more keep the exported checkpoints
(and ``verify``'s head hash) elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

import orjson
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from sakimori.errors import InvalidInput
from sakimori.store import models
from sakimori.store.db import Database, joined

if TYPE_CHECKING:  # access imports this module; these names are for annotations only
    from sakimori.services.access import Action, Principal

GENESIS: Final = "0" * 64
#: TLP markings whose every read is audited.
SENSITIVE_TLP: Final = frozenset({"AMBER", "AMBER+STRICT", "RED"})
_BATCH: Final = 1000


@dataclass(frozen=True, slots=True)
class Entry:
    """What happened (before it is numbered and chained)."""

    actor: str
    action: str
    actor_id: int | None = None
    organisation: str | None = None
    role: str | None = None
    object_kind: str | None = None
    object_id: str | None = None
    tlp: str | None = None
    source: str | None = None
    request_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    checked: int
    #: The sequence number where the chain first breaks, and why.
    broken_at: int | None = None
    reason: str | None = None
    first_seq: int = 1
    head_seq: int = 0
    head_hash: str = GENESIS


def _moment(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: models.AuditEntryRow) -> bytes:
    """The bytes an entry's hash covers (everything but the hashes), sorted keys, UTC time."""
    return orjson.dumps(
        {
            "seq": row.seq,
            "at": _moment(row.at),
            "actor": row.actor,
            "actor_id": row.actor_id,
            "organisation": row.organisation,
            "role": row.role,
            "action": row.action,
            "object_kind": row.object_kind,
            "object_id": row.object_id,
            "tlp": row.tlp,
            "source": row.source,
            "request_id": row.request_id,
            "detail": row.detail,
        },
        option=orjson.OPT_SORT_KEYS,
    )


def entry_hash(prev_hash: str, row: models.AuditEntryRow) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(row)).hexdigest()


def append(session: Session, entry: Entry, now: datetime | None = None) -> models.AuditEntryRow:
    """Number, chain and add ``entry`` in ``session``'s transaction (it commits with it)."""
    # The UPDATE comes first: it locks the head row until this transaction ends.
    session.execute(
        update(models.AuditChainRow)
        .where(models.AuditChainRow.id == 1)
        .values(last_seq=models.AuditChainRow.last_seq + 1)
    )
    head = session.execute(
        select(models.AuditChainRow.last_seq, models.AuditChainRow.last_hash).where(
            models.AuditChainRow.id == 1
        )
    ).one()
    # Microseconds are the finest both backends store, so the hash survives a round trip.
    at = (now or datetime.now(UTC)).astimezone(UTC)
    row = models.AuditEntryRow(
        seq=head.last_seq,
        at=at,
        actor=entry.actor[:200],
        actor_id=entry.actor_id,
        organisation=entry.organisation,
        role=entry.role,
        action=entry.action,
        object_kind=entry.object_kind,
        object_id=None if entry.object_id is None else entry.object_id[:200],
        tlp=entry.tlp,
        source=None if entry.source is None else entry.source[:100],
        request_id=None if entry.request_id is None else entry.request_id[:64],
        detail=_plain(entry.detail),
        prev_hash=head.last_hash,
        hash="",
    )
    row.hash = entry_hash(head.last_hash, row)
    session.add(row)
    session.execute(
        update(models.AuditChainRow).where(models.AuditChainRow.id == 1).values(last_hash=row.hash)
    )
    session.flush()
    return row


def record(db: Database, entry: Entry) -> None:
    """Append ``entry`` in a transaction of its own (audited reads)."""
    with db.transaction() as session:
        append(session, entry)


def _plain(detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` as it will read back from a JSON column (so its hash stays the same)."""
    loaded: dict[str, Any] = orjson.loads(orjson.dumps(detail, default=str))
    return loaded


# -- checkpoints ----------------------------------------------------------------------------------


def checkpoint_mac(key: bytes, seq: int, digest: str, pruned: int, at: datetime) -> str:
    message = f"sakimori-audit-checkpoint\n{seq}\n{digest}\n{pruned}\n{_moment(at)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _start(session: Session, key: bytes | None) -> tuple[int, str, str | None]:
    """(first expected sequence number, its expected prev_hash, a problem) from checkpoints."""
    newest = session.scalars(
        select(models.AuditCheckpointRow).order_by(models.AuditCheckpointRow.seq.desc()).limit(1)
    ).first()
    if newest is None:
        return 1, GENESIS, None
    if key is not None:
        expected = checkpoint_mac(key, newest.seq, newest.hash, newest.pruned, newest.at)
        if not hmac.compare_digest(expected, newest.mac):
            return newest.seq + 1, newest.hash, "the newest checkpoint's MAC does not verify"
    return newest.seq + 1, newest.hash, None


# -- verify, export, prune, read ------------------------------------------------------------------


def _after(session: Session, seq: int, limit: int) -> Sequence[models.AuditEntryRow]:
    """Up to ``limit`` entries with sequence numbers above ``seq``, oldest first."""
    return session.scalars(
        select(models.AuditEntryRow)
        .where(models.AuditEntryRow.seq > seq)
        .order_by(models.AuditEntryRow.seq)
        .limit(limit)
    ).all()


def _walk(session: Session, seq: int) -> Iterator[models.AuditEntryRow]:
    """Every entry above ``seq`` in order, read in batches that are let go once passed."""
    while rows := _after(session, seq, _BATCH):
        yield from rows
        seq = rows[-1].seq
        session.expunge_all()


def verify(db: Database, key: bytes | None = None) -> Verification:
    """Walk the chain from the newest checkpoint (or genesis) and report the first broken link.

    Without ``key`` the checkpoint's MAC is not checked (say so to the operator)."""
    with db.transaction() as session:
        expected_seq, prev, problem = _start(session, key)
        first = expected_seq
        if problem is not None:
            return Verification(False, 0, expected_seq - 1, problem, first)
        checked = 0
        for row in _walk(session, expected_seq - 1):
            if row.seq != expected_seq:
                return Verification(
                    False, checked, expected_seq, f"entry {expected_seq} is missing", first
                )
            if row.prev_hash != prev:
                return Verification(
                    False,
                    checked,
                    row.seq,
                    f"entry {row.seq} does not follow entry {row.seq - 1} (its prev_hash differs)",
                    first,
                )
            if entry_hash(prev, row) != row.hash:
                return Verification(False, checked, row.seq, f"entry {row.seq} was changed", first)
            prev = row.hash
            expected_seq += 1
            checked += 1
        head = session.execute(
            select(models.AuditChainRow.last_seq, models.AuditChainRow.last_hash)
        ).one()
    if head.last_seq != expected_seq - 1 or head.last_hash != prev:
        return Verification(
            False,
            checked,
            expected_seq,
            f"the chain head is at entry {head.last_seq} but the log ends at {expected_seq - 1}",
            first,
            head.last_seq,
            head.last_hash,
        )
    return Verification(True, checked, None, None, first, head.last_seq, head.last_hash)


def as_dict(row: models.AuditEntryRow) -> dict[str, Any]:
    return {**orjson.loads(canonical(row)), "prev_hash": row.prev_hash, "hash": row.hash}


def export(db: Database, since_seq: int = 0) -> Iterator[bytes]:
    """Every entry after ``since_seq`` as JSON lines, preceded by the newest checkpoint (if any)
    so the exported chain can be verified on its own."""
    with db.transaction() as session:
        newest = session.scalars(
            select(models.AuditCheckpointRow).order_by(models.AuditCheckpointRow.seq.desc())
        ).first()
        if newest is not None and since_seq == 0:
            yield (
                orjson.dumps(
                    {
                        "checkpoint": {
                            "seq": newest.seq,
                            "hash": newest.hash,
                            "pruned": newest.pruned,
                            "at": _moment(newest.at),
                            "mac": newest.mac,
                        }
                    }
                )
                + b"\n"
            )
        for row in _walk(session, since_seq):
            yield orjson.dumps(as_dict(row)) + b"\n"


def page(db: Database, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Up to ``limit`` entries with sequence numbers above ``after``, oldest first."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit must be between 1 and 1000")
    with db.transaction() as session:
        return [as_dict(row) for row in _after(session, after, limit)]


@dataclass(frozen=True, slots=True)
class Pruned:
    deleted: int
    checkpoint_seq: int | None


def prune(db: Database, key: bytes, before: datetime, now: datetime | None = None) -> Pruned:
    """Delete the entries older than ``before`` (a prefix of the chain) and checkpoint the last.

    Runs under the chain lock, so no entry is appended meanwhile."""
    now = now or datetime.now(UTC)
    with db.transaction() as session:
        session.execute(
            update(models.AuditChainRow)
            .where(models.AuditChainRow.id == 1)
            .values(last_seq=models.AuditChainRow.last_seq)
        )
        # The prefix: entries up to the first one that is not older than ``before``.
        first_kept = session.scalar(
            select(func.min(models.AuditEntryRow.seq)).where(models.AuditEntryRow.at >= before)
        )
        query = select(models.AuditEntryRow).order_by(models.AuditEntryRow.seq.desc()).limit(1)
        if first_kept is not None:
            query = query.where(models.AuditEntryRow.seq < first_kept)
        last = session.scalars(query).first()
        if last is None:
            return Pruned(0, None)
        count = (
            session.scalar(select(func.count()).where(models.AuditEntryRow.seq <= last.seq)) or 0
        )
        session.execute(delete(models.AuditEntryRow).where(models.AuditEntryRow.seq <= last.seq))
        session.add(
            models.AuditCheckpointRow(
                seq=last.seq,
                hash=last.hash,
                pruned=count,
                at=now,
                mac=checkpoint_mac(key, last.seq, last.hash, count, now),
            )
        )
        return Pruned(count, last.seq)


# -- one transaction for a use case and its entry -------------------------------------------------
# A service called with ``joined(db, session)`` (store.db) writes in the caller's transaction, so
# its write and the audit entry that records it commit together (or not at all).


_T = TypeVar("_T")


def entry_for(
    principal: Principal,
    action: str,
    kind: str | None,
    object_id: object = None,
    tlp: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Entry:
    """The entry recording what ``principal`` did (who, from where, which request)."""
    return Entry(
        actor=principal.name,
        action=action,
        actor_id=principal.user_id,
        organisation=principal.organisation,
        role=principal.role.value,
        object_kind=kind,
        object_id=None if object_id is None else str(object_id),
        tlp=tlp,
        source=principal.source,
        request_id=principal.request_id,
        detail=detail or {},
    )


def audited(
    db: Database,
    principal: Principal,
    action: Action,
    kind: str,
    run: Callable[[Database], _T],
    ident: Callable[[_T], object] = lambda _: None,
    detail: dict[str, Any] | None = None,
) -> _T:
    """``run`` the service in one transaction with the audit entry recording it."""
    with db.transaction() as session:
        result = run(joined(db, session))
        tlp = getattr(result, "tlp", None)
        append(session, entry_for(principal, action.value, kind, ident(result), tlp, detail))
    return result
