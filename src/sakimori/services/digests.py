"""Digests of low-priority notifications: held deliveries gathered into one message per
endpoint and period, sent through the job queue with the deliveries' retries, backoff and
dead-letter list (docs/notifications.md).

1. :func:`~sakimori.services.notifications.enqueue_revision` writes a low-priority
   notification (``notify.digest.low_priority``) to an endpoint with ``digest`` on as a
   ``held`` delivery, with no job.
2. The periodic ``notify.digest`` job (:func:`gather`) takes every held delivery not yet in a
   digest — locked, skipping any another gatherer holds — and makes one ``notify_digest`` per
   endpoint (at most ``MAX_ITEMS`` items each) whose idempotency key derives from the items'
   keys, and the ``notify.deliver`` job of its first attempt. A gatherer that runs again finds
   nothing left to take.
3. :func:`run_digest` makes one attempt: it locks the digest and its items, re-checks each
   item's entitlement (TLP, recipient, person, endpoint, package) as a single delivery's job
   does — an item no longer entitled is ``dropped``, never sent — and sends the rest as one
   message. The outcome is recorded on the digest and mirrored on its items in the job's
   transaction: ``delivered`` once; a failure retries the digest alone after a backoff; after
   its budget the digest and its items are ``dead`` (listed with the dead letters; retrying one
   item retries its digest, :func:`retry`).

Exactly once in effect: a digest attempt runs once (its number must be the next); a digest
that runs again after a crash sends the same key, which the receiver (or a mail reader, by the
``Message-ID``) recognises, and each item also carries its own notification's key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Final

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from sakimori.errors import Conflict
from sakimori.jobs import interface as jobs
from sakimori.notify import backoff, digest, message
from sakimori.notify.settings import NotifySettings
from sakimori.packages.model import Receipt
from sakimori.services import notifications as service
from sakimori.store import models

log = logging.getLogger(__name__)

GATHER: Final = "notify.digest"


def _now() -> datetime:
    return datetime.now(UTC)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def job_key(digest_id: int, attempt: int) -> str:
    return f"{service.DELIVER}:digest-{digest_id}:{attempt}"


def gather_job(context: jobs.JobContext) -> None:
    """The ``notify.digest`` handler: gather the held deliveries into digests."""
    gather(context.session, NotifySettings.load())


def gather(session: Session, notify: NotifySettings, now: datetime | None = None) -> list[int]:
    """Make a digest of each endpoint's held deliveries not yet in one, and queue its first
    attempt; the digests' ids."""
    moment = now or _now()
    d = models.NotifyDeliveryRow
    query = (
        select(d)
        .where(d.state == service.HELD, d.digest_id.is_(None))
        .order_by(d.endpoint_id, d.id)
    )
    if _postgres(session):
        query = query.with_for_update(skip_locked=True)
    made: list[int] = []
    for endpoint_id, rows in groupby(session.scalars(query), key=lambda row: row.endpoint_id):
        held = list(rows)
        for start in range(0, len(held), digest.MAX_ITEMS):
            made.append(
                _make(session, endpoint_id, held[start : start + digest.MAX_ITEMS], notify, moment)
            )
    if made:
        log.info("%d digests made", len(made))
    return made


def _make(
    session: Session,
    endpoint_id: int,
    items: Sequence[models.NotifyDeliveryRow],
    notify: NotifySettings,
    moment: datetime,
) -> int:
    row = models.NotifyDigestRow(
        organisation_id=items[0].organisation_id,
        endpoint_id=endpoint_id,
        idempotency_key=digest.idempotency_key(endpoint_id, (i.idempotency_key for i in items)),
        state=service.PENDING,
        attempts=0,
        max_attempts=notify.attempts,
        next_attempt_at=moment,
        created_at=moment,
    )
    session.add(row)
    session.flush()
    for item in items:
        item.digest_id = row.id
    _enqueue(session, row.id, 1, moment)
    return row.id


def _enqueue(session: Session, digest_id: int, attempt: int, when: datetime) -> None:
    service.enqueue_attempt(
        session, {"digest": digest_id, "attempt": attempt}, job_key(digest_id, attempt), when
    )


def run_digest(
    session: Session,
    worker: service.Worker,
    digest_id: int,
    attempt: int,
    now: datetime | None = None,
) -> str:
    """Make attempt ``attempt`` of a digest, in ``session``; the state it is left in (or
    ``skipped`` when this job is stale)."""
    moment = now or _now()
    postgres = _postgres(session)
    g, e = models.NotifyDigestRow, models.NotifyEndpointRow
    query = (
        select(g, e, models.Organisation.slug)
        .join(e, e.id == g.endpoint_id)
        .join(models.Organisation, models.Organisation.id == g.organisation_id)
        .where(g.id == digest_id)
    )
    if postgres:
        query = query.with_for_update(of=g)
    found = session.execute(query).first()
    if found is None or found[0].state != service.PENDING or found[0].attempts + 1 != attempt:
        log.info("digest %d attempt %d: nothing to do", digest_id, attempt)
        return "skipped"
    row, endpoint, slug = found
    if postgres:  # as for deliveries: a lost commit only causes a resend with the same key
        session.execute(text("SET LOCAL synchronous_commit = off"))
    sent = _entitled_items(session, worker, row, endpoint, slug, moment)
    if not sent:
        row.state, row.finished_at, row.next_attempt_at = service.DROPPED, moment, None
        row.last_error = "every item was dropped: nothing left to send"
        log.info("digest %d dropped: no item is still entitled", digest_id)
        return service.DROPPED
    gathered = digest.Digest(slug, row.idempotency_key, tuple(notice for _, notice in sent))
    destination = service.destination_of(endpoint)
    outcome = worker.channels.send_digest(destination, gathered, moment)
    row.attempts, row.last_status, row.last_error = attempt, outcome.status, outcome.error
    if outcome.ok:
        row.state, row.finished_at, row.next_attempt_at = service.DELIVERED, moment, None
    elif attempt >= row.max_attempts:
        row.state, row.finished_at, row.next_attempt_at = service.DEAD, moment, None
        log.warning("digest %d is dead after %d attempts: %s", digest_id, attempt, outcome.error)
    else:
        wait = backoff.delay(attempt, worker.notify.backoff, worker.notify.backoff_cap)
        row.next_attempt_at = moment + timedelta(seconds=wait)
        _enqueue(session, digest_id, attempt + 1, row.next_attempt_at)
        log.info(
            "digest %d attempt %d failed (%s); next in %.1f s",
            digest_id,
            attempt,
            outcome.error,
            wait,
        )
    for item, _ in sent:
        item.attempts, item.max_attempts = attempt, row.max_attempts
        item.last_status = outcome.status
        item.last_error = None if outcome.error is None else f"digest {digest_id}: {outcome.error}"
        if row.state in (service.DELIVERED, service.DEAD):
            item.state, item.finished_at, item.next_attempt_at = row.state, moment, None
    return row.state


def _entitled_items(
    session: Session,
    worker: service.Worker,
    row: models.NotifyDigestRow,
    endpoint: models.NotifyEndpointRow,
    slug: str,
    moment: datetime,
) -> list[tuple[models.NotifyDeliveryRow, message.Notice]]:
    """The digest's held items, locked, that may still go to the endpoint, as notices; the
    others are dropped with the reason, as is a revision whose package has a newer one in the
    same digest."""
    d, r = models.NotifyDeliveryRow, models.PackageRecipientRow
    query = (
        select(d, models.PackageRow.state, r.active, r.named_users)
        .join(models.PackageRow, models.PackageRow.id == d.package_id)
        .outerjoin(r, (r.package_id == d.package_id) & (r.organisation_id == d.organisation_id))
        .where(d.digest_id == row.id, d.state == service.HELD)
        .order_by(d.id)
    )
    if _postgres(session):
        query = query.with_for_update(of=d)
    kept: list[tuple[models.NotifyDeliveryRow, message.Notice]] = []
    for item, package_state, active, named in session.execute(query):
        receipt = None if active is None else Receipt(active, tuple(named))
        content, refusal = service.entitlement(
            session, worker, item, endpoint, package_state, receipt
        )
        if refusal is not None or content is None:
            item.state, item.last_error, item.finished_at = service.DROPPED, refusal, moment
            log.info("delivery %d dropped from digest %d: %s", item.id, row.id, refusal)
            continue
        kept.append((item, service.notice_of(item, content, slug, worker)))
    newest: dict[int, int] = {}
    for item, _ in kept:
        newest[item.package_id] = max(newest.get(item.package_id, 0), item.revision)
    for item, _ in kept:
        if item.revision < newest[item.package_id]:
            item.state, item.finished_at = service.DROPPED, moment
            item.last_error = f"revision {newest[item.package_id]} is in the same digest"
    return [(item, notice) for item, notice in kept if item.state != service.DROPPED]


def retry(session: Session, digest_id: int, tries: int, now: datetime) -> None:
    """Give a dead digest a fresh budget of attempts, starting now; its dead items wait for
    it again (``held``)."""
    query = select(models.NotifyDigestRow).where(models.NotifyDigestRow.id == digest_id)
    if _postgres(session):
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None or row.state != service.DEAD:
        state = "gone" if row is None else row.state
        raise Conflict(f"digest {digest_id} is {state}; only a dead digest is retried")
    row.state, row.finished_at, row.next_attempt_at = service.PENDING, None, now
    row.max_attempts = row.attempts + tries
    d = models.NotifyDeliveryRow
    for item in session.scalars(select(d).where(d.digest_id == digest_id, d.state == service.DEAD)):
        item.state, item.finished_at, item.next_attempt_at = service.HELD, None, None
        item.max_attempts = row.max_attempts
    _enqueue(session, digest_id, row.attempts + 1, now)
