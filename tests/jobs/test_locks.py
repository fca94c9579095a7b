"""PostgreSQL: a job's advisory lock is held for exactly as long as the job runs — taken by the
claim, released in the transaction of its done mark (or after a failure is recorded) — so a
worker that keeps its connection never holds the lock of a job it finished."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from sakimori.config import Settings
from sakimori.errors import SourceUnavailable
from sakimori.jobs.interface import JobContext, enqueue
from sakimori.jobs.runner import LOCK_SPACE, Runner
from sakimori.store import models
from sakimori.store.db import Database
from tests.conftest import postgres_db

pytestmark = pytest.mark.postgres


@pytest.fixture
def db() -> Iterator[Database]:
    with postgres_db() as database:
        yield database


def _held(db: Database) -> set[int]:
    """The job ids whose advisory locks someone holds in this database (seen from another
    connection; other tests' databases share the server's lock table)."""
    with db.transaction() as session:
        return {
            int(objid)
            for objid in session.scalars(
                text(
                    "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = :space"
                    " AND objsubid = 2 AND granted AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                ),
                {"space": LOCK_SPACE},
            )
        }


def test_a_jobs_lock_is_held_while_it_runs_and_released_when_it_ends(
    db: Database, tmp_path: Path
) -> None:
    seen: dict[int, set[int]] = {}

    def look(context: JobContext) -> None:
        seen[context.job_id] = _held(context.db)

    def fail(context: JobContext) -> None:
        look(context)
        if context.payload["transient"]:
            raise SourceUnavailable("down")
        raise ValueError("a bug")

    handlers = {"test.look": look, "test.fail": fail}
    with db.transaction() as session:
        for key, name, payload in (
            ("ok", "test.look", {}),
            ("retried", "test.fail", {"transient": True}),
            ("dead", "test.fail", {"transient": False}),
        ):
            enqueue(session, name, payload, key, max_attempts=1 if key == "dead" else 2)
    url = db.engine.url.render_as_string(hide_password=False)
    runner = Runner(db, Settings(home=tmp_path, database_url=url, job_backoff=60), handlers, "t")
    try:
        ran = 0
        while runner.run_one():
            ran += 1
            assert _held(db) == set()  # the connection is open, the lock is gone
        assert ran == 3
    finally:
        runner.close()
    with db.transaction() as session:
        jobs = {j.key: j for j in session.scalars(select(models.JobRow))}
    assert {key: job.state for key, job in jobs.items()} == {
        "ok": "done",
        "retried": "queued",
        "dead": "dead",
    }
    assert seen == {job.id: {job.id} for job in jobs.values()}  # each held its own, alone
