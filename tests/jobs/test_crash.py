"""A ``sakimori worker`` killed with SIGKILL in the middle of a job loses nothing: a new worker
runs the job again and its effect exists exactly once (PostgreSQL, real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from sakimori.jobs.interface import enqueue
from sakimori.store import models
from sakimori.store.db import Database, open_database
from tests.conftest import ROOT, postgres_database

pytestmark = pytest.mark.postgres

WAIT = 60.0  # generous: conditions are awaited, never timed


def wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    """Wait for ``condition``; fail with the worker's log if the worker exits first."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the worker exited ({process.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def pg() -> Iterator[tuple[str, Database]]:
    with postgres_database() as url:
        db = open_database(url)
        with db.transaction() as session:
            session.execute(text("CREATE TABLE job_effect (job_id integer, step integer)"))
        try:
            yield url, db
        finally:
            db.dispose()


def start_worker(url: str, home: Path, name: str) -> subprocess.Popen[bytes]:
    """A ``sakimori worker`` process with the test handlers, logging to ``home/name.log``."""
    env = {
        **os.environ,
        "SAKIMORI_HOME": str(home),
        "SAKIMORI_DATABASE_URL": url,
        "SAKIMORI_JOBS": "postgres",
        "SAKIMORI_JOB_HANDLERS": "tests.jobs.crash_handlers",
        "PYTHONPATH": str(ROOT),
    }
    log = home / f"{name}.log"
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "sakimori", "-v", "worker"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _job(db: Database, job_id: int) -> models.JobRow:
    with db.transaction() as session:
        row = session.get(models.JobRow, job_id)
        assert row is not None
        return row


def _effects(db: Database) -> list[tuple[int, int]]:
    with db.transaction() as session:
        return [
            (r.job_id, r.step)
            for r in session.execute(text("SELECT job_id, step FROM job_effect ORDER BY step"))
        ]


def test_a_job_killed_mid_way_runs_again_and_has_its_effect_once(
    pg: tuple[str, Database], tmp_path: Path
) -> None:
    url, db = pg
    (tmp_path / "block").touch()
    payload = {"folder": str(tmp_path), "steps": 4, "block_after": 1}
    with db.transaction() as session:
        enqueue(session, "test.steps", payload, "crash-1")
    with db.transaction() as session:
        job_id = session.execute(text("SELECT id FROM job WHERE key = 'crash-1'")).scalar_one()

    first = start_worker(url, tmp_path, "first")
    try:
        wait_for(lambda: (tmp_path / "reached-1").exists(), "the job reached step 1", first)
        assert _job(db, job_id).state == "running"
        assert _effects(db) == []  # half the effect is written, none of it committed
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert first.returncode == -signal.SIGKILL

    (tmp_path / "block").unlink()
    second = start_worker(url, tmp_path, "second")
    try:
        wait_for(lambda: _job(db, job_id).state == "done", "the job to be done", second)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=WAIT)
    assert second.returncode == 0
    job = _job(db, job_id)
    assert job.attempts == 2
    assert (tmp_path / "reached-2").exists()
    assert _effects(db) == [(job_id, step) for step in range(4)]  # once: no loss, no double
