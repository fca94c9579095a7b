"""The job interface: what a job is, what a handler receives, and how a job is enqueued.

A job is a row of the ``job`` table, written by :func:`enqueue` in the session of the work
that causes it (a transactional outbox: the table is the queue). It therefore exists only if
that transaction commits; a rollback leaves nothing to run. Its ``key`` makes enqueueing
idempotent: a second job with a key already present is not added.

A handler receives a :class:`JobContext`. The effect a job must have exactly once is written
in ``context.session``: the runner commits that session together with the job's ``done`` mark,
guarded by the claim it holds, so a job that runs again after a crash (its first transaction
rolled back with the dead connection) still has its effect once. Handlers that work in
transactions of their own (intel sync) must be idempotent in themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import event, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from sakimori.config import Settings
from sakimori.errors import InvalidInput, SourceUnavailable
from sakimori.store import models
from sakimori.store.db import Database

QUEUED: Final = "queued"
RUNNING: Final = "running"
DONE: Final = "done"
DEAD: Final = "dead"

#: The key in ``Session.info`` telling backends that a job was enqueued in this transaction.
ENQUEUED: Final = "sakimori.jobs.enqueued"


@dataclass(frozen=True, slots=True)
class JobContext:
    job_id: int
    name: str
    payload: Mapping[str, Any]
    attempt: int
    #: The job's own transaction: committed with the job's ``done`` mark.
    session: Session
    db: Database
    settings: Settings


Handler = Callable[[JobContext], None]


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: an upstream feed or the database was unavailable."""
    if isinstance(exc, SourceUnavailable | OperationalError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def enqueue(
    session: Session,
    name: str,
    payload: Mapping[str, Any] | None = None,
    key: str | None = None,
    *,
    max_attempts: int = 5,
    delay: float = 0.0,
    now: datetime | None = None,
) -> bool:
    """Add a job in ``session``'s transaction; False if a job with ``key`` already exists.

    Nothing runs before the transaction commits (the backends only see committed rows)."""
    if not name or len(name) > 100:
        raise InvalidInput(f"job name {name!r} must have 1 to 100 characters")
    chosen = key or f"{name}:{uuid.uuid4()}"
    if len(chosen) > 200:
        raise InvalidInput("a job key may have at most 200 characters")
    present = session.scalar(select(models.JobRow.id).where(models.JobRow.key == chosen))
    if present is not None:
        return False
    moment = now or datetime.now(UTC)
    # A concurrent enqueue of the same key loses on the unique constraint (its transaction
    # fails): the caller retries and then sees the job present.
    session.add(
        models.JobRow(
            name=name,
            key=chosen,
            payload=dict(payload or {}),
            state=QUEUED,
            attempts=0,
            max_attempts=max_attempts,
            run_after=moment + timedelta(seconds=delay),
            created_at=moment,
        )
    )
    session.flush()
    session.info[ENQUEUED] = True
    return True


def on_commit(db: Database, callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` after each commit of a transaction of ``db`` that enqueued a job;
    returns the function that stops it."""

    def after_commit(session: Session) -> None:
        if session.info.pop(ENQUEUED, False):
            callback()

    event.listen(db.sessions, "after_commit", after_commit)

    def stop() -> None:
        event.remove(db.sessions, "after_commit", after_commit)

    return stop
