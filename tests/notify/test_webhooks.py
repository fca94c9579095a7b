"""Webhooks end to end, on SQLite and PostgreSQL: a real receiver on 127.0.0.1 that verifies
every signature, fails deliveries on purpose (500s, answers too late, reset connections, a
500 *after* taking the notification) and de-duplicates by idempotency key. Every notification
takes effect exactly once, a dead one is listed and retried, and a rerun sends nothing."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from sakimori.jobs.handlers import HANDLERS, NOTIFY_DELIVER
from sakimori.jobs.interface import JobContext, enqueue
from sakimori.notify.filters import Filters
from sakimori.packages.model import Tlp
from sakimori.services import identity
from sakimori.services import notifications as service
from sakimori.services import packages as package_service
from sakimori.services.organisations import create_asset
from tests.notify.conftest import deliveries, drain, principal, publish, revise
from tests.notify.servers import Plan, Receiver, webhook_receiver
from tests.packages.conftest import PYTHON_FIXTURE, Platform, upload

#: path -> what the receiver does with the 1st, 2nd … request of one notification
SCRIPTS = {
    "/bank": ["error", "ok"],
    "/bank-second": ["late", "ok"],
    "/power": ["slow", "reset", "ok"],
    "/water": ["reset", "late", "error", "ok"],
}
ORG_OF = {
    "/bank": "city-bank",
    "/bank-second": "city-bank",
    "/power": "river-power",
    "/water": "water-works",
}


def _scripted(paths: dict[str, str]) -> Plan:
    def plan(key: str, seen: int) -> str:
        script = SCRIPTS[paths[key]]
        return script[min(seen, len(script) - 1)]

    return plan


def _register(platform: Platform, receiver: Receiver, path: str, org: str, **kw: object) -> int:
    who = "bank-admin" if org == "city-bank" else "kanri"
    view, secret = service.create_endpoint(
        platform.db,
        principal(platform, who),
        platform.key.secret,
        service.EndpointSpec(org, "webhook", receiver.url(path), **kw),  # type: ignore[arg-type]
    )
    assert secret is not None
    assert secret.startswith("whsec_")
    receiver.secrets[path] = secret
    return view.id


def test_every_notification_takes_effect_exactly_once(platform: Platform) -> None:
    keys_to_paths: dict[str, str] = {}
    receiver = Receiver(secrets={}, slow=2.5)  # past FAST's 2 s timeout
    receiver.plan = _scripted(keys_to_paths)
    with webhook_receiver(receiver):
        endpoints = {path: _register(platform, receiver, path, org) for path, org in ORG_OF.items()}
        path_of = {ident: path for path, ident in endpoints.items()}
        package_id = publish(platform, tlp="GREEN", audience={"everyone": True})
        revise(platform, package_id, tlp="GREEN", audience={"everyone": True}, title="Update")
        rows = deliveries(platform, package_id)
        for row in rows:
            keys_to_paths[row.idempotency_key] = path_of[row.endpoint_id]
        drain(platform)
    rows = deliveries(platform, package_id)
    assert len(rows) == 2 * len(endpoints)  # two revisions, every endpoint
    assert {r.state for r in rows} == {"delivered"}
    assert set(receiver.effects) == {r.idempotency_key for r in rows}
    assert receiver.bad_signatures == []
    for row in rows:
        path = path_of[row.endpoint_id]
        assert row.attempts == len(SCRIPTS[path]), (path, row.last_error)
        assert receiver.attempts(row.idempotency_key) == len(SCRIPTS[path])
        body = receiver.effects[row.idempotency_key]
        assert body["package"]["id"] == package_id
        assert body["package"]["revision"] == row.revision
        assert body["organisation"] == ORG_OF[path]
        assert body["event"] == ("published" if row.revision == 1 else "revised")
        assert "audience" not in body["package"]
    # "late" took the notification and answered 500: the repeat was recognised by its key
    assert receiver.duplicates == 2 * sum(script.count("late") for script in SCRIPTS.values())
    # publishing the same revision's notifications again, or rerunning a finished job,
    # sends nothing
    before = len(receiver.requests)
    with platform.db.transaction() as session:
        view = package_service.get(platform.db, package_id, latest=False)
        assert service.enqueue_revision(session, package_id, 2, view.content, "revised") == 0
        first = [r.id for r in rows if r.revision == 1]  # one batch: its key is taken
        assert not enqueue(
            session,
            NOTIFY_DELIVER,
            {"deliveries": first, "attempt": 1},
            service.job_key(first[0], 1, first[-1]),
        )
        enqueue(session, NOTIFY_DELIVER, {"delivery": rows[0].id, "attempt": 1}, "rerun")
        enqueue(session, NOTIFY_DELIVER, {"deliveries": first, "attempt": 1}, "rerun-batch")
    drain(platform)
    assert len(receiver.requests) == before
    assert deliveries(platform, package_id)[0].state == "delivered"


def test_a_worker_dying_after_the_send_repeats_it_with_the_same_key(platform: Platform) -> None:
    receiver = Receiver(secrets={})
    crashes: list[int] = []

    def crash_after_sending(context: JobContext) -> None:
        HANDLERS[NOTIFY_DELIVER](context)
        if not crashes:
            crashes.append(context.job_id)
            # the connection is lost before the outcome commits: everything rolls back
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    with webhook_receiver(receiver):
        _register(platform, receiver, "/bank", "city-bank")
        package_id = publish(platform, tlp="AMBER", audience={"organisations": ["city-bank"]})
        drain(platform, {NOTIFY_DELIVER: crash_after_sending})
    [row] = deliveries(platform, package_id)
    assert crashes
    assert row.state == "delivered"
    assert row.attempts == 1
    assert receiver.attempts(row.idempotency_key) == 2  # sent twice …
    assert list(receiver.effects) == [row.idempotency_key]  # … taken once
    assert receiver.duplicates == 1


def test_dead_letters_are_listed_by_tenancy_and_retried(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAKIMORI_NOTIFY_ATTEMPTS", "3")
    failing = True
    receiver = Receiver(secrets={}, plan=lambda key, seen: "error" if failing else "ok")
    identity.create_user(
        platform.db, "power-admin", organisation="river-power", role="member_admin"
    )
    _, token = identity.create_token(
        platform.db, platform.key, "power-admin", "t", ["read", "write"]
    )
    platform.tokens["power-admin"] = token
    with webhook_receiver(receiver):
        _register(platform, receiver, "/bank", "city-bank")
        package_id = publish(platform, tlp="AMBER", audience={"organisations": ["city-bank"]})
        drain(platform)
        [row] = deliveries(platform, package_id)
        assert (row.state, row.attempts, row.last_status) == ("dead", 3, 500)
        assert receiver.attempts(row.idempotency_key) == 3
        admin, other, staff = (
            principal(platform, name) for name in ("bank-admin", "power-admin", "kanri")
        )
        assert [d.id for d in service.list_deliveries(platform.db, admin)] == [row.id]
        assert [d.id for d in service.list_deliveries(platform.db, staff)] == [row.id]
        assert service.list_deliveries(platform.db, other) == []
        try:
            service.retry_delivery(platform.db, other, row.id)
        except service.NotFound:
            pass
        else:
            raise AssertionError("another organisation's admin retried the delivery")
        failing = False
        retried = service.retry_delivery(platform.db, admin, row.id)
        assert (retried.state, retried.max_attempts) == ("pending", 6)
        try:
            service.retry_delivery(platform.db, admin, row.id)
        except service.Conflict:
            pass
        else:
            raise AssertionError("a pending delivery was retried")
        drain(platform)
    [row] = deliveries(platform, package_id)
    assert (row.state, row.attempts) == ("delivered", 4)
    assert list(receiver.effects) == [row.idempotency_key]
    assert service.list_deliveries(platform.db, admin) == []


def test_new_exposure_notifies_the_organisation_added(platform: Platform) -> None:
    receiver = Receiver(secrets={})
    with webhook_receiver(receiver):
        _register(platform, receiver, "/water", "water-works")
        _register(
            platform,
            receiver,
            "/water-npm-only",
            "water-works",
            filters=Filters(purl_prefixes=("pkg:npm/",)),
        )
        package_id = publish(platform)  # AMBER, everyone affected: city-bank holds django
        drain(platform)
        assert receiver.requests == []
        upload(platform.db, "water-works/billing", *PYTHON_FIXTURE)  # now water-works does
        drain(platform)
    [row] = deliveries(platform, package_id)
    assert row.cause == "exposure"
    assert row.state == "delivered"
    [(path, key, _)] = receiver.requests
    assert path == "/water"
    assert key == row.idempotency_key
    assert receiver.effects[key]["event"] == "exposure"


def test_filters_and_removal_narrow_what_is_sent(platform: Platform) -> None:
    receiver = Receiver(secrets={})
    with webhook_receiver(receiver):
        wanted = _register(
            platform,
            receiver,
            "/bank",
            "city-bank",
            filters=Filters(vulnerabilities=("cve-2021-35042",), max_tlp=Tlp.AMBER),
        )
        _register(
            platform,
            receiver,
            "/strict-only",
            "city-bank",
            filters=Filters(min_tlp=Tlp.AMBER_STRICT),
        )
        _register(
            platform,
            receiver,
            "/power-sector",
            "river-power",
            filters=Filters(sectors=("finance",)),
        )
        gone = _register(platform, receiver, "/removed", "city-bank")
        service.remove_endpoint(platform.db, principal(platform, "bank-admin"), gone)
        package_id = publish(platform, tlp="GREEN", audience={"everyone": True})
        drain(platform)
    rows = deliveries(platform, package_id)
    assert [r.endpoint_id for r in rows] == [wanted]
    assert [p for p, _, _ in receiver.requests] == ["/bank"]


def test_an_endpoint_removed_after_publication_is_not_sent_to(platform: Platform) -> None:
    receiver = Receiver(secrets={})
    with webhook_receiver(receiver):
        ident = _register(platform, receiver, "/bank", "city-bank")
        package_id = publish(platform, tlp="GREEN", audience={"organisations": ["city-bank"]})
        service.remove_endpoint(platform.db, principal(platform, "kanri"), ident)
        drain(platform)
    [row] = deliveries(platform, package_id)
    assert row.state == "dropped"
    assert row.last_error == "the endpoint was removed"
    assert receiver.requests == []


def test_assets_without_endpoints_are_fine(platform: Platform) -> None:
    create_asset(platform.db, "water-works/extra", "Extra", "low")
    package_id = publish(platform, tlp="GREEN", audience={"everyone": True})
    drain(platform)
    assert deliveries(platform, package_id) == []
