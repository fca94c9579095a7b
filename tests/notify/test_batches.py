"""First attempts of webhook deliveries go several to a job (``SAKIMORI_NOTIFY_BATCH``), on
SQLite and PostgreSQL: each delivery keeps its own outcome and retries, e-mails stay one to a
job, and a batch interrupted after some of its sends is sent again with the same keys, so
every notification still takes effect once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from sakimori.jobs.handlers import HANDLERS, NOTIFY_DELIVER
from sakimori.jobs.interface import JobContext
from sakimori.notify.interface import Outcome
from sakimori.notify.settings import NotifySettings
from sakimori.services import notifications as service
from sakimori.store import models
from tests.notify.conftest import deliveries, drain, principal, publish
from tests.notify.servers import Receiver, webhook_receiver
from tests.packages.conftest import Platform

WEBHOOKS = {
    "/bank": "city-bank",
    "/bank-second": "city-bank",
    "/power": "river-power",
    "/water": "water-works",
}


def _register(platform: Platform, receiver: Receiver) -> dict[int, str]:
    """A webhook per path of ``WEBHOOKS``; endpoint id -> path."""
    made = {}
    for path, org in WEBHOOKS.items():
        view, secret = service.create_endpoint(
            platform.db,
            principal(platform, "kanri"),
            platform.key.secret,
            service.EndpointSpec(org, "webhook", receiver.url(path)),
        )
        assert secret is not None
        receiver.secrets[path] = secret
        made[view.id] = path
    return made


def _delivery_jobs(platform: Platform) -> list[models.JobRow]:
    with platform.db.transaction() as session:
        return list(
            session.scalars(
                select(models.JobRow)
                .where(models.JobRow.name == NOTIFY_DELIVER)
                .order_by(models.JobRow.id)
            )
        )


def test_webhooks_go_in_batches_each_with_its_own_retries_and_emails_alone(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAKIMORI_NOTIFY_BATCH", "3")
    monkeypatch.setenv("SAKIMORI_NOTIFY_ATTEMPTS", "3")
    failing = "/power"
    receiver = Receiver(secrets={})
    path_of_key: dict[str, str] = {}
    receiver.plan = lambda key, seen: "error" if path_of_key[key] == failing else "ok"
    with webhook_receiver(receiver):
        path_of = _register(platform, receiver)
        mail, _ = service.create_endpoint(
            platform.db,
            principal(platform, "kanri"),
            platform.key.secret,
            service.EndpointSpec("river-power", "email", "csirt@power.test"),
        )  # no SMTP server is configured: every attempt of it fails
        package_id = publish(platform, tlp="GREEN", audience={"everyone": True})
        rows = deliveries(platform, package_id)
        webhooks = [r.id for r in rows if r.endpoint_id in path_of]
        [email] = [r.id for r in rows if r.endpoint_id == mail.id]
        for row in rows:
            if row.endpoint_id in path_of:
                path_of_key[row.idempotency_key] = path_of[row.endpoint_id]
        first_jobs = _delivery_jobs(platform)
        assert sorted(
            (j.key, tuple(j.payload.get("deliveries") or [j.payload["delivery"]]))
            for j in first_jobs
        ) == sorted(
            [
                (service.job_key(webhooks[0], 1, webhooks[2]), tuple(webhooks[:3])),
                (service.job_key(webhooks[3], 1), (webhooks[3],)),
                (service.job_key(email, 1), (email,)),
            ]
        )
        drain(platform)
    after = {r.id: r for r in deliveries(platform, package_id)}
    for row in after.values():
        if row.id == email:
            assert (row.state, row.attempts) == ("dead", 3)
            assert "SMTP" in (row.last_error or "")
        elif path_of[row.endpoint_id] == failing:  # retried alone, then dead
            assert (row.state, row.attempts, row.last_status) == ("dead", 3, 500)
            assert receiver.attempts(row.idempotency_key) == 3
        else:
            assert (row.state, row.attempts) == ("delivered", 1)
            assert receiver.attempts(row.idempotency_key) == 1
    # the retries were jobs of one delivery each, with that delivery's key
    retries = {j.key for j in _delivery_jobs(platform)} - {j.key for j in first_jobs}
    failed = [i for i, r in after.items() if r.state == "dead"]
    assert retries == {service.job_key(i, n) for i in failed for n in (2, 3)}
    assert set(receiver.effects) == {
        r.idempotency_key for r in after.values() if r.state == "delivered"
    }
    assert receiver.duplicates == 0
    assert receiver.bad_signatures == []


def test_a_batch_interrupted_after_some_sends_resends_them_with_the_same_keys(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver(secrets={})
    interrupted: list[int] = []

    def interrupt_after_two_sends(context: JobContext) -> None:
        worker = service.worker_for(context.settings, NotifySettings.load())
        send = type(worker.channels).send
        sent: list[str] = []

        def counting(self: Any, to: Any, notice: Any, now: Any) -> Outcome:
            outcome = send(self, to, notice, now)
            sent.append(notice.idempotency_key)
            if len(sent) == 2 and not interrupted:
                interrupted.append(context.job_id)
                # the connection is lost mid-batch: the outcomes so far roll back
                raise OperationalError("UPDATE", {}, Exception("server closed the connection"))
            return outcome

        monkeypatch.setattr(type(worker.channels), "send", counting)
        try:
            HANDLERS[NOTIFY_DELIVER](context)
        finally:
            monkeypatch.setattr(type(worker.channels), "send", send)

    with webhook_receiver(receiver):
        _register(platform, receiver)
        package_id = publish(platform, tlp="GREEN", audience={"everyone": True})
        [job] = _delivery_jobs(platform)
        assert len(job.payload["deliveries"]) == len(WEBHOOKS)
        drain(platform, {NOTIFY_DELIVER: interrupt_after_two_sends})
    rows = deliveries(platform, package_id)
    assert interrupted == [job.id]
    assert {(r.state, r.attempts) for r in rows} == {("delivered", 1)}
    sent_twice = [r.idempotency_key for r in rows[:2]]
    for row in rows:
        assert receiver.attempts(row.idempotency_key) == (
            2 if row.idempotency_key in sent_twice else 1
        )
    assert set(receiver.effects) == {r.idempotency_key for r in rows}  # each taken once
    assert receiver.duplicates == 2
    [job] = _delivery_jobs(platform)
    assert (job.state, job.attempts) == ("done", 2)
