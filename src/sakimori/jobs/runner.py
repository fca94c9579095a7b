"""Claim a job, run its handler, and finish, retry or dead-letter it.

Why not procrastinate (or another queue library): the guarantees asked of Sakimori's jobs sit
in the application's own transactions. A job must exist only if the transaction that causes it
commits, so it is written in that transaction (procrastinate defers through its own
connection, so an outbox table and a dispatcher would be needed anyway); and a job's effect
must commit together with its ``done`` mark, guarded by the claim (procrastinate marks a job
succeeded on its connection, after the task returns, so a crash in between runs it twice).
It also has no SQLite mode for the embedded default. What remains for the queue itself is
small and uses PostgreSQL's own tools, as the library does:

- *claiming* (PostgreSQL): ``SELECT … FOR UPDATE SKIP LOCKED`` over runnable jobs, then a
  session-level advisory lock on the job id, held by the worker's connection for as long as the
  job runs. A worker killed with SIGKILL loses its connection, so PostgreSQL rolls back the
  job's transaction (its effect) and releases the lock; any worker that then finds the job
  ``running`` and can take its lock knows the owner is gone and runs it again — no lease
  timer, no clock.
- *finishing*: the handler's session commits with ``UPDATE job SET state = 'done' WHERE
  id = … AND claim = …``; if another worker has taken the job over, nothing matches and the
  effect is rolled back. The advisory lock is released in that same transaction, after the
  update: until the commit the row lock of the update keeps other workers off the job (their
  search for orphans skips locked rows), and a commit that fails is a rollback, as a crash.
- *cost* (PostgreSQL): a job takes two transactions — the claim (a ``SELECT … FOR UPDATE
  SKIP LOCKED`` that reads the job, the advisory lock, the ``running`` update) and the run
  (the handler's statements, the done mark, the unlock). The claim commits without waiting
  for the WAL flush: a claim lost with a server crash only lets the job be claimed again.
  Claiming several jobs per transaction was weighed and left out: the jobs claimed together
  wait behind the first (an hour of ``intel.sync`` would hold back the notifications claimed
  with it while other workers sit idle); work that comes in many small pieces batches itself
  instead (``notify.deliver`` sends up to ``SAKIMORI_NOTIFY_BATCH`` webhooks in one job).
- *failing*: transient errors (``is_transient``) are retried after ``backoff · 2^(n−1)``
  seconds; after ``max_attempts`` tries, or on any other error, the job is ``dead`` with its
  last error (the dead-letter state: ``sakimori worker --dead`` lists them).

SQLite (the embedded default) has no row locks or advisory locks: claims there are
compare-and-set updates, and jobs found ``running`` when a runner starts are taken to be
orphans of a previous process (one process runs jobs on SQLite).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, Row, select, text, update
from sqlalchemy.orm import Session

from sakimori.config import Settings
from sakimori.jobs.interface import DEAD, DONE, QUEUED, RUNNING, Handler, JobContext, is_transient
from sakimori.store import models
from sakimori.store.db import Database

log = logging.getLogger(__name__)

#: The first key of the job advisory locks (the second is the job id).
LOCK_SPACE: Final = 0x5A4B
_MAX_BACKOFF: Final = 3600.0


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    name: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    claim: str


#: What a claim reads of a candidate job (one statement with the row lock, PostgreSQL).
_CANDIDATE: Final = select(
    models.JobRow.id,
    models.JobRow.name,
    models.JobRow.payload,
    models.JobRow.state,
    models.JobRow.attempts,
    models.JobRow.max_attempts,
    models.JobRow.claim,
)


class _LostClaim(Exception):
    """Another worker took the job over: this run's effect is rolled back."""


def _now() -> datetime:
    return datetime.now(UTC)


class Runner:
    """Runs the jobs of one database, one at a time; a worker thread owns one runner."""

    def __init__(
        self, db: Database, settings: Settings, handlers: Mapping[str, Handler], worker: str
    ) -> None:
        self.db = db
        self.settings = settings
        self.handlers = dict(handlers)
        self.worker = worker[:200]
        self.postgres = db.dialect == "postgresql"
        self._connection: Connection | None = None

    # -- the connection that holds the job locks (PostgreSQL) ---------------------------------

    def _locks(self) -> Connection:
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            if self._connection is not None:
                self._connection.close()
            self._connection = self.db.engine.connect()
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _try_lock(self, connection: Connection, job_id: int) -> bool:
        return bool(
            connection.execute(
                text("SELECT pg_try_advisory_lock(:space, :id)"),
                {"space": LOCK_SPACE, "id": job_id},
            ).scalar()
        )

    def _unlock(self, job_id: int) -> None:
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            return  # the lock went with the connection
        connection.execute(
            text("SELECT pg_advisory_unlock(:space, :id)"), {"space": LOCK_SPACE, "id": job_id}
        )
        connection.commit()

    # -- claiming -------------------------------------------------------------------------------

    def recover(self) -> int:
        """SQLite: put back the jobs a previous process left ``running``. (PostgreSQL finds
        orphans by their advisory lock, at every claim.)"""
        if self.postgres:
            return 0
        with self.db.transaction() as session:
            result = session.execute(
                update(models.JobRow)
                .where(models.JobRow.state == RUNNING)
                .values(state=QUEUED, claim=None)
                .returning(models.JobRow.id)
            )
            return len(result.all())

    def claim(self) -> Claimed | None:
        return self._claim_postgres() if self.postgres else self._claim_sqlite()

    def _claim_postgres(self) -> Claimed | None:
        connection = self._locks()
        now = _now()
        held: int | None = None
        try:
            with connection.begin():
                # A claim lost with the server's last unflushed WAL leaves the job queued (or
                # running with its lock gone): it is simply claimed again, and the job's done
                # mark comes later in the WAL. So the claim need not wait for the flush.
                connection.execute(text("SET LOCAL synchronous_commit = off"))
                queued = connection.execute(
                    _CANDIDATE.where(models.JobRow.state == QUEUED, models.JobRow.run_after <= now)
                    .order_by(models.JobRow.run_after, models.JobRow.id)
                    .limit(10)
                    .with_for_update(skip_locked=True)
                ).all()
                orphans: list[Row[Any]] = []
                if not queued:
                    orphans = list(
                        connection.execute(
                            _CANDIDATE.where(models.JobRow.state == RUNNING)
                            .order_by(models.JobRow.id)
                            .limit(100)
                            .with_for_update(skip_locked=True)
                        ).all()
                    )
                for row in [*queued, *orphans]:
                    if not self._try_lock(connection, row.id):
                        continue  # running, and its worker is alive
                    held = row.id
                    if row.state == RUNNING:
                        log.warning("job %d: its worker is gone; running it again", row.id)
                    taken = self._take(connection, row, now)
                    if taken is not None:
                        return taken
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:space, :id)"),
                        {"space": LOCK_SPACE, "id": row.id},
                    )
                    held = None
        except BaseException:
            if held is not None:
                self._unlock(held)  # the claim rolled back: let the job go
            raise
        return None

    def _claim_sqlite(self) -> Claimed | None:
        now = _now()
        with self.db.engine.begin() as connection:
            for row in connection.execute(
                _CANDIDATE.where(models.JobRow.state == QUEUED, models.JobRow.run_after <= now)
                .order_by(models.JobRow.run_after, models.JobRow.id)
                .limit(10)
            ).all():
                taken = self._take(connection, row, now)
                if taken is not None:
                    return taken
        return None

    def _take(self, connection: Connection, row: Row[Any], now: datetime) -> Claimed | None:
        """Claim the job ``row`` was read from, if it is still as read (compare-and-set)."""
        job_id = row.id
        unchanged = (
            (models.JobRow.id == job_id)
            & (models.JobRow.state == row.state)
            & (
                models.JobRow.claim.is_(None)
                if row.claim is None
                else models.JobRow.claim == row.claim
            )
        )
        if row.attempts >= row.max_attempts:
            connection.execute(
                update(models.JobRow)
                .where(unchanged)
                .values(
                    state=DEAD,
                    claim=None,
                    finished_at=now,
                    last_error=f"stopped after {row.attempts} attempts (its worker died)",
                )
            )
            log.error(
                "job %d (%s) is dead: its workers died %d times", job_id, row.name, row.attempts
            )
            return None
        claim = str(uuid.uuid4())
        done = connection.execute(
            update(models.JobRow)
            .where(unchanged)
            .values(
                state=RUNNING,
                attempts=row.attempts + 1,
                claim=claim,
                worker=self.worker,
                started_at=now,
            )
            .returning(models.JobRow.id)
        ).first()
        if done is None:
            return None  # another runner was quicker
        return Claimed(
            job_id, row.name, dict(row.payload), row.attempts + 1, row.max_attempts, claim
        )

    # -- running --------------------------------------------------------------------------------

    def run_one(self) -> bool:
        """Claim and run one job; False when none is runnable."""
        claimed = self.claim()
        if claimed is None:
            return False
        released = False
        try:
            released = self._run(claimed)
        finally:
            if self.postgres and not released:
                self._unlock(claimed.id)
        return True

    def _run(self, claimed: Claimed) -> bool:
        """Run the job's handler and finish it, or record its failure; True once the job's
        advisory lock is released (PostgreSQL: in the transaction of its done mark)."""
        handler = self.handlers.get(claimed.name)
        log.info("job %d (%s) attempt %d", claimed.id, claimed.name, claimed.attempt)
        released = False
        try:
            if handler is None:
                raise LookupError(f"no handler for jobs named {claimed.name!r}")
            bind = self._locks() if self.postgres else self.db.engine
            with Session(bind=bind, expire_on_commit=False) as session, session.begin():
                handler(
                    JobContext(
                        claimed.id,
                        claimed.name,
                        claimed.payload,
                        claimed.attempt,
                        session,
                        self.db,
                        self.settings,
                    )
                )
                finished = session.execute(
                    update(models.JobRow)
                    .where(models.JobRow.id == claimed.id, models.JobRow.claim == claimed.claim)
                    .values(state=DONE, claim=None, finished_at=_now(), last_error=None)
                    .returning(models.JobRow.id)
                ).first()
                if finished is None:
                    raise _LostClaim()
                if self.postgres:
                    # The job's row stays locked by the done mark until the commit: a worker
                    # looking for orphans skips it (SKIP LOCKED), then sees it done. A commit
                    # that fails rolls the mark back with the lock already gone, as a crash does.
                    session.execute(
                        text("SELECT pg_advisory_unlock(:space, :id)"),
                        {"space": LOCK_SPACE, "id": claimed.id},
                    )
                    released = True
        except _LostClaim:
            log.warning("job %d: another worker took it over; this run is rolled back", claimed.id)
        except Exception as exc:  # a job's failure is recorded, never the worker's end
            self._failed(claimed, exc)
        else:
            log.info("job %d (%s) done", claimed.id, claimed.name)
        return released

    def _failed(self, claimed: Claimed, exc: Exception) -> None:
        retry = is_transient(exc) and claimed.attempt < claimed.max_attempts
        wait = min(self.settings.job_backoff * 2 ** (claimed.attempt - 1), _MAX_BACKOFF)
        message = f"{type(exc).__name__}: {exc}"[:2000]
        now = _now()
        values: dict[str, Any] = {"claim": None, "last_error": message}
        if retry:
            values |= {"state": QUEUED, "run_after": now + timedelta(seconds=wait)}
            log.warning("job %d failed (%s); retry in %.0f s", claimed.id, message, wait)
        else:
            values |= {"state": DEAD, "finished_at": now}
            log.error("job %d is dead after attempt %d: %s", claimed.id, claimed.attempt, message)
        with self.db.transaction() as session:
            session.execute(
                update(models.JobRow)
                .where(models.JobRow.id == claimed.id, models.JobRow.claim == claimed.claim)
                .values(**values)
            )

    def run(
        self, stop: threading.Event, wake: threading.Event | None = None, idle: float = 1.0
    ) -> None:
        """Run jobs until ``stop`` is set, waiting up to ``idle`` seconds (or for ``wake``)
        when there is nothing to do."""
        while not stop.is_set():
            try:
                worked = self.run_one()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("the job queue is unavailable (%s); trying again", exc)
                self.close()
                worked = False
                stop.wait(idle * 5)
            if worked:
                continue
            if wake is None:
                stop.wait(idle)
            else:
                wake.wait(idle)
                wake.clear()
