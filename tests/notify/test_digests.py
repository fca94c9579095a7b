"""Digests end to end, on SQLite and PostgreSQL, with a real webhook receiver on 127.0.0.1 that
verifies every signature and de-duplicates by idempotency key: low-priority notifications are
held and gathered into one message per endpoint, sent through retries exactly once in effect
(the gathering job and a digest's attempt each run twice); an organisation that runs the
affected software is never made to wait; a held item no longer entitled is never sent; a dead
digest is in the dead-letter list and a retry sends it; a scheduling worker enqueues the
gathering once per digest period."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from sakimori.config import Settings
from sakimori.errors import Conflict
from sakimori.jobs.handlers import NOTIFY_DIGEST
from sakimori.jobs.interface import enqueue
from sakimori.notify.settings import NotifySettings
from sakimori.services import digests
from sakimori.services import notifications as service
from sakimori.services.notifications import worker_for
from sakimori.store import models
from sakimori.store.db import Database, open_database
from tests.notify.conftest import deliveries, drain, principal, publish, revise, settings_of
from tests.notify.servers import Receiver, webhook_receiver
from tests.packages.conftest import Platform


def _hook(platform: Platform, receiver: Receiver, org: str, path: str) -> int:
    view, secret = service.create_endpoint(
        platform.db,
        principal(platform, "kanri"),
        platform.key.secret,
        service.EndpointSpec(org, "webhook", receiver.url(path), digest=True),
    )
    assert view.digest
    assert secret is not None
    receiver.secrets[path] = secret
    return view.id


def _gather(platform: Platform, tag: str) -> None:
    with platform.db.transaction() as session:
        assert enqueue(session, NOTIFY_DIGEST, {}, f"{NOTIFY_DIGEST}@{tag}")


def _digests(platform: Platform) -> list[models.NotifyDigestRow]:
    with platform.db.transaction() as session:
        return list(session.scalars(select(models.NotifyDigestRow).order_by("id")))


def test_held_items_go_in_one_digest_per_endpoint_exactly_once(platform: Platform) -> None:
    receiver = Receiver(secrets={})
    with webhook_receiver(receiver):
        bank = _hook(platform, receiver, "city-bank", "/bank")  # runs Django: never waits
        water = _hook(platform, receiver, "water-works", "/water")
        power = _hook(platform, receiver, "river-power", "/power")
        first = publish(platform, tlp="GREEN", audience={"everyone": True}, title="One")
        second = publish(platform, tlp="CLEAR", audience={"everyone": True}, title="Two")
        named = ["city-bank", "water-works", "river-power"]
        publish(platform, tlp="AMBER", audience={"organisations": named}, title="Three")
        rows = deliveries(platform)
        held = {r.id for r in rows if r.state == "held"}
        assert {r.endpoint_id for r in rows if r.id in held} == {water, power}
        assert {r.package_id for r in rows if r.id in held} == {first, second}  # not AMBER
        assert all(r.next_attempt_at is None for r in rows if r.id in held)
        drain(platform)  # the ones not held go now; the held ones wait
        assert [r.state for r in deliveries(platform) if r.id in held] == ["held"] * 4
        assert len(receiver.effects) == 3 + 2  # bank: three packages; water, power: AMBER

        # first attempt refused, second taken but answered 500, third a duplicate
        receiver.plan = lambda key, seen: ["error", "late", "ok"][min(seen, 2)]
        _gather(platform, "one")
        _gather(platform, "two")  # the same period's job twice: nothing left to take
        drain(platform)
    made = _digests(platform)
    assert sorted(d.endpoint_id for d in made) == sorted([water, power])
    assert {(d.state, d.attempts) for d in made} == {("delivered", 3)}
    rows = {r.id: r for r in deliveries(platform)}
    for made_one in made:
        body = receiver.effects[made_one.idempotency_key]
        assert body["type"] == "sakimori.digest"
        items = {r.idempotency_key for r in rows.values() if r.digest_id == made_one.id}
        assert len(items) == 2
        assert {i["idempotency_key"] for i in body["items"]} == items
        assert {i["package"]["id"] for i in body["items"]} == {first, second}
        assert receiver.attempts(made_one.idempotency_key) == 3
    assert receiver.duplicates == 2  # the third attempts, recognised by key
    assert receiver.bad_signatures == []
    assert {(rows[i].state, rows[i].attempts) for i in held} == {("delivered", 3)}
    assert bank not in {d.endpoint_id for d in made}

    # a stale attempt and another gathering change nothing
    with platform.db.transaction() as session:
        worker = worker_for(settings_of(platform), NotifySettings.load())
        assert digests.run_digest(session, worker, made[0].id, 1) == "skipped"
        assert digests.gather(session, NotifySettings.load()) == []
    service.close_channels()
    assert len(_digests(platform)) == 2


def test_a_held_item_no_longer_entitled_is_never_sent(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAKIMORI_NOTIFY_DIGEST_TLP", "AMBER")
    receiver = Receiver(secrets={})
    with webhook_receiver(receiver):
        water = _hook(platform, receiver, "water-works", "/water")
        power = _hook(platform, receiver, "river-power", "/power")
        package = publish(
            platform, tlp="AMBER", audience={"organisations": ["water-works", "river-power"]}
        )
        assert {r.state for r in deliveries(platform, package)} == {"held"}
        # a revision narrows the audience: water-works no longer receives the package
        revise(platform, package, tlp="AMBER", audience={"organisations": ["river-power"]})
        _gather(platform, "one")
        drain(platform)
    rows = {r.endpoint_id: r for r in deliveries(platform, package) if r.revision == 1}
    assert rows[water].state == "dropped"
    assert rows[water].last_error == "the organisation no longer receives the package"
    assert not [r for r in receiver.requests if r[0] == "/water"]  # nothing went there
    [dropped] = [d for d in _digests(platform) if d.endpoint_id == water]
    assert dropped.state == "dropped"
    assert dropped.attempts == 0
    [sent] = [d for d in _digests(platform) if d.endpoint_id == power]
    assert sent.state == "delivered"
    [carried] = receiver.effects[sent.idempotency_key]["items"]
    assert (carried["package"]["revision"], carried["package"]["tlp"]) == (2, "AMBER")
    older = {r.endpoint_id: r for r in deliveries(platform, package) if r.revision == 1}[power]
    assert (older.state, older.last_error) == ("dropped", "revision 2 is in the same digest")


def test_a_dead_digest_is_listed_and_a_retry_sends_it(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAKIMORI_NOTIFY_ATTEMPTS", "2")
    failing = True
    receiver = Receiver(secrets={}, plan=lambda key, seen: "error" if failing else "ok")
    staff = principal(platform, "kanri")
    with webhook_receiver(receiver):
        _hook(platform, receiver, "water-works", "/water")
        for title in ("One", "Two"):
            publish(platform, tlp="GREEN", audience={"organisations": ["water-works"]}, title=title)
        waiting = service.list_deliveries(platform.db, staff, state="held")
        assert len(waiting) == 2
        assert all(v.digest_id is None for v in waiting)
        _gather(platform, "one")
        drain(platform)
        dead = service.list_deliveries(platform.db, staff)
        assert len(dead) == 2
        [made] = _digests(platform)
        assert {(v.state, v.digest_id, v.attempts, v.max_attempts) for v in dead} == {
            ("dead", made.id, 2, 2)
        }
        assert {v.last_error for v in dead} == {f"digest {made.id}: HTTP 500"}
        failing = False
        again = service.retry_delivery(platform.db, staff, dead[0].id, budget=3)
        assert (again.state, again.max_attempts) == ("held", 5)
        with pytest.raises(Conflict):
            service.retry_delivery(platform.db, staff, dead[1].id)  # retried with the first
        drain(platform)
    [made] = _digests(platform)
    assert (made.state, made.attempts) == ("delivered", 3)
    assert {r.state for r in deliveries(platform)} == {"delivered"}
    assert list(receiver.effects) == [made.idempotency_key]
    assert len(receiver.effects[made.idempotency_key]["items"]) == 2


def test_a_scheduling_worker_gathers_once_per_digest_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sakimori.cli.worker import _schedule

    monkeypatch.setenv("SAKIMORI_NOTIFY_DIGEST_MINUTES", "1440")
    url = f"sqlite:///{tmp_path / 'schedule.db'}"
    db = open_database(url)
    done = threading.Event()
    try:
        config = Settings(home=tmp_path, database_url=url)
        thread = threading.Thread(target=_schedule, args=(db, config, 5, done))
        thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _scheduled(db):
            time.sleep(0.05)
        done.set()
        thread.join(timeout=20)
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        assert _scheduled(db) == [f"{NOTIFY_DIGEST}@{today.isoformat()}"]
    finally:
        db.dispose()


def _scheduled(db: Database) -> list[str]:
    with db.transaction() as session:
        return list(
            session.scalars(select(models.JobRow.key).where(models.JobRow.name == NOTIFY_DIGEST))
        )
