"""The job queue on both backends: jobs of a rolled-back transaction never run, keys make
enqueueing idempotent, transient failures are retried and then dead-lettered, and the
in-process backend runs what a commit enqueued."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from sakimori.config import Settings
from sakimori.jobs.backends import handlers_for, open_queue
from sakimori.jobs.inprocess import InProcessQueue
from sakimori.jobs.interface import enqueue
from sakimori.jobs.runner import Runner
from sakimori.store import models
from sakimori.store.db import Database, open_database
from tests.jobs.crash_handlers import HANDLERS


class Boom(Exception):
    pass


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    with database.transaction() as session:
        session.execute(text("CREATE TABLE job_effect (job_id integer, step integer)"))
    yield database
    database.dispose()


def _settings(db: Database, tmp_path: Path) -> Settings:
    url = db.engine.url.render_as_string(hide_password=False)
    return Settings(home=tmp_path, database_url=url, job_backoff=0.01)


def _jobs(db: Database) -> dict[str, models.JobRow]:
    with db.transaction() as session:
        return {row.key: row for row in session.scalars(select(models.JobRow))}


def _effects(db: Database) -> list[int]:
    with db.transaction() as session:
        return [r.job_id for r in session.execute(text("SELECT job_id FROM job_effect"))]


def _run_until_settled(runner: Runner, db: Database) -> None:
    """Run jobs until none is queued or running (retries wait their short backoff)."""
    deadline = time.monotonic() + 60
    while any(j.state in {"queued", "running"} for j in _jobs(db).values()):
        assert time.monotonic() < deadline, "jobs did not settle"
        if not runner.run_one():
            time.sleep(0.02)


def test_a_job_of_a_rolled_back_transaction_never_runs(db: Database, tmp_path: Path) -> None:
    payload = {"succeed_on": 1}

    def enqueue_then_fail() -> None:
        with db.transaction() as session:
            enqueue(session, "test.flaky", payload, "rolled-back")
            raise Boom()

    with pytest.raises(Boom):
        enqueue_then_fail()
    with db.transaction() as session:
        assert enqueue(session, "test.flaky", payload, "committed")
        assert not enqueue(session, "test.flaky", payload, "committed")  # same key: no-op
    runner = Runner(db, _settings(db, tmp_path), HANDLERS, "test")
    _run_until_settled(runner, db)
    runner.close()
    jobs = _jobs(db)
    assert set(jobs) == {"committed"}
    assert _effects(db) == [jobs["committed"].id]


def test_transient_failures_are_retried_then_dead_lettered(db: Database, tmp_path: Path) -> None:
    with db.transaction() as session:
        enqueue(session, "test.flaky", {"succeed_on": 3}, "recovers", max_attempts=5)
        enqueue(session, "test.flaky", {"succeed_on": 0}, "never", max_attempts=3)
        enqueue(session, "test.broken", {}, "bug", max_attempts=5)
        enqueue(session, "test.unknown", {}, "unknown", max_attempts=5)
    runner = Runner(db, _settings(db, tmp_path), HANDLERS, "test")
    _run_until_settled(runner, db)
    runner.close()
    jobs = _jobs(db)
    assert (jobs["recovers"].state, jobs["recovers"].attempts) == ("done", 3)
    assert _effects(db) == [jobs["recovers"].id]
    assert (jobs["never"].state, jobs["never"].attempts) == ("dead", 3)
    assert "feed down (attempt 3)" in (jobs["never"].last_error or "")
    assert (jobs["bug"].state, jobs["bug"].attempts) == ("dead", 1)  # not transient: no retry
    assert "ValueError" in (jobs["bug"].last_error or "")
    assert jobs["unknown"].state == "dead"


def test_the_in_process_backend_runs_what_a_commit_enqueued(db: Database, tmp_path: Path) -> None:
    queue = open_queue(db, _settings(db, tmp_path), HANDLERS)
    assert isinstance(queue, InProcessQueue)
    queue.start()
    try:

        def enqueue_then_fail() -> None:
            with db.transaction() as session:
                queue.enqueue(session, "test.flaky", {"succeed_on": 1}, "rolled-back")
                raise Boom()

        with pytest.raises(Boom):
            enqueue_then_fail()
        with db.transaction() as session:
            queue.enqueue(session, "test.flaky", {"succeed_on": 1}, "committed")
        deadline = time.monotonic() + 60
        while _jobs(db)["committed"].state != "done":
            assert time.monotonic() < deadline, "the in-process job did not run"
            time.sleep(0.02)
    finally:
        queue.stop()
    assert set(_jobs(db)) == {"committed"}
    assert _effects(db) == [_jobs(db)["committed"].id]


def test_test_handlers_are_loaded_only_when_configured(tmp_path: Path) -> None:
    from sakimori.jobs.handlers import HANDLERS as PRODUCT

    plain = Settings(home=tmp_path, database_url="sqlite://")
    assert set(handlers_for(plain)) == set(PRODUCT)  # the product's jobs, and only those
    assert {"intel.sync", "assess.open", "updates.refresh", "notify.deliver"} <= set(PRODUCT)
    extra = Settings(
        home=tmp_path, database_url="sqlite://", job_handlers="tests.jobs.crash_handlers"
    )
    assert "test.steps" in handlers_for(extra)
