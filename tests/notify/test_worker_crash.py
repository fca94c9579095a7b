"""A ``sakimori worker`` killed with SIGKILL in the middle of a batch of webhook deliveries
(PostgreSQL, real processes): another worker sends the whole batch again with the same
idempotency keys, and every notification takes effect exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from sakimori.jobs.handlers import NOTIFY_DELIVER
from sakimori.store import models
from tests.conftest import ROOT
from tests.jobs.test_crash import wait_for
from tests.notify.conftest import FAST, deliveries, publish
from tests.notify.servers import Receiver, webhook_receiver
from tests.notify.test_batches import WEBHOOKS, _register
from tests.packages.conftest import Platform, build_platform

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    with build_platform("postgresql", tmp_path) as built:
        yield built


def start_worker(platform: Platform, name: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **FAST,
        "SAKIMORI_HOME": str(platform.home),
        "SAKIMORI_DATABASE_URL": platform.db.engine.url.render_as_string(hide_password=False),
        "SAKIMORI_JOBS": "postgres",
        # long enough for the test to kill the worker while it waits for an answer
        "SAKIMORI_NOTIFY_TIMEOUT": "60",
        "PYTHONPATH": str(ROOT),
    }
    log = platform.home / f"{name}.log"
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "sakimori", "-v", "worker", "--concurrency", "2"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(pg_platform: Platform) -> None:
    platform = pg_platform
    order: list[str] = []  # the idempotency keys in the batch's order
    # the third notification of the batch is answered only after the worker is gone
    receiver = Receiver(
        secrets={},
        slow=30.0,
        plan=lambda key, seen: "slow" if [key, seen] == [order[2], 0] else "ok",
    )
    with webhook_receiver(receiver):
        _register(platform, receiver)
        package_id = publish(platform, tlp="GREEN", audience={"everyone": True})
        order.extend(r.idempotency_key for r in deliveries(platform, package_id))
        with platform.db.transaction() as session:
            [job] = session.scalars(
                select(models.JobRow).where(models.JobRow.name == NOTIFY_DELIVER)
            ).all()
        assert len(job.payload["deliveries"]) == len(WEBHOOKS)

        first = start_worker(platform, "first")
        try:
            wait_for(lambda: len(receiver.requests) == 3, "the third send", first)
            assert [key for _, key, _ in receiver.requests] == order[:3]
            # two notifications taken, none recorded: the batch's outcomes are uncommitted
            assert {(r.state, r.attempts) for r in deliveries(platform, package_id)} == {
                ("pending", 0)
            }
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        assert first.returncode == -signal.SIGKILL

        second = start_worker(platform, "second")
        try:
            wait_for(
                lambda: {r.state for r in deliveries(platform, package_id)} == {"delivered"},
                "every delivery",
                second,
            )
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
        assert second.returncode == 0
    rows = deliveries(platform, package_id)
    assert {r.attempts for r in rows} == {1}
    assert set(receiver.effects) == set(order)  # every notification taken, once
    assert receiver.duplicates == 2  # the two taken before the kill, recognised by their keys
    assert [receiver.attempts(key) for key in order] == [2, 2, 2, 1]
    assert receiver.bad_signatures == []
    with platform.db.transaction() as session:
        again = session.get(models.JobRow, job.id)
        assert again is not None
        assert (again.state, again.attempts) == ("done", 2)
