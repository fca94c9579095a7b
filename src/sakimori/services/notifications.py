"""Notifications of counter-measure packages: endpoints, deliveries through the job queue,
retries, the dead-letter list.

Enqueueing (:func:`enqueue_revision`) runs in the transaction that publishes a revision or
adds a recipient (``services.packages``): one ``notify_delivery`` row and one job per
(recipient, endpoint) the revision may go to, written in bulk, so they exist only if the
publication commits. Who may get what is decided there and again when the job runs
(:func:`run_delivery`): the endpoint's organisation must be an active recipient, its filters
must match, and the package rule (``packages.model.may_read``) must let the endpoint read it —
TLP:RED only to personal e-mail endpoints of the people named (``notify.filters.entitled``).

Exactly once in effect: a delivery's job locks its row, sends, and records the outcome in the
job's own transaction (committed with the job's ``done`` mark). A delivered row is never sent
again; a worker dying between the send and the commit sends the same bytes again with the same
``Idempotency-Key`` (e-mail: the same ``Message-ID``), which the receiver de-duplicates. A
failed attempt schedules the next as a new job after an exponential backoff with jitter
(``notify.backoff``); after the budget the delivery is ``dead`` — listed for admins, and
retried on request (:func:`retry_delivery`).

Low-priority notifications (``notify.digest.low_priority``) to an endpoint with ``digest`` on
are written ``held``, without a job, and sent in a digest (``services.digests``).

The use cases taking a :class:`~sakimori.services.access.Principal` check the role
(``notify.read`` / ``notify.manage``: coordinator admins, and member admins for their own
organisation) and record every write in the audit log.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Row, insert, select, text
from sqlalchemy.orm import Session

from sakimori.config import Settings
from sakimori.errors import Conflict, InvalidInput, NotFound
from sakimori.jobs import interface as jobs
from sakimori.notify import backoff, digest, message, sealing, webhook
from sakimori.notify.channels import Channels, Destination
from sakimori.notify.filters import KINDS, LANGUAGES, Filters, entitled
from sakimori.notify.settings import NotifySettings
from sakimori.packages import lifecycle as lc
from sakimori.packages.model import Content, Receipt, Tlp
from sakimori.services import audit
from sakimori.services.access import Action, Principal, require
from sakimori.store import models
from sakimori.store.db import Database, aware

log = logging.getLogger(__name__)

DELIVER: Final = "notify.deliver"
PENDING: Final = "pending"
DELIVERED: Final = "delivered"
DEAD: Final = "dead"
DROPPED: Final = "dropped"
#: Low priority, waiting for the endpoint's digest (``services.digests``).
HELD: Final = "held"
STATES: Final = (PENDING, HELD, DELIVERED, DEAD, DROPPED)
#: Tries of one delivery *job* (a crashed worker); a failed send is a new job, not a retry.
_JOB_ATTEMPTS: Final = 3
_EMAIL: Final = re.compile(r"[^@\s<>,;\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")
_URL: Final = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(/[^\s]*)?")


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """An endpoint to register (the API body, the CLI options)."""

    organisation: str
    kind: str
    target: str
    user: str | None = None
    language: str | None = None
    filters: Filters = field(default_factory=Filters)
    #: Low-priority notifications wait for the endpoint's digest (``notify.digest``).
    digest: bool = False


@dataclass(frozen=True, slots=True)
class EndpointView:
    id: int
    organisation: str
    kind: str
    target: str
    user: str | None
    language: str | None
    filters: Filters
    active: bool
    created_by: str
    created_at: datetime
    digest: bool = False


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    package_id: int
    revision: int
    organisation: str
    endpoint_id: int
    kind: str
    idempotency_key: str
    cause: str
    state: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    #: The digest carrying it (a held low-priority notification), if any.
    digest_id: int | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def job_key(delivery_id: int, attempt: int, last: int | None = None) -> str:
    """The key of the job making attempt ``attempt`` of one delivery, or of the batch of
    deliveries from ``delivery_id`` to ``last`` (batches of a revision never overlap)."""
    span = delivery_id if last is None or last == delivery_id else f"{delivery_id}-{last}"
    return f"{DELIVER}:{span}:{attempt}"


def _payload(deliveries: list[int], attempt: int) -> dict[str, Any]:
    if len(deliveries) == 1:
        return {"delivery": deliveries[0], "attempt": attempt}
    return {"deliveries": deliveries, "attempt": attempt}


# -- enqueueing, in the publishing transaction ----------------------------------------------------


def enqueue_revision(
    session: Session,
    package_id: int,
    revision: int,
    content: Content,
    event: str,
    *,
    organisation_ids: Iterable[int] | None = None,
    attempts: int | None = None,
    now: datetime | None = None,
) -> int:
    """Write a delivery for every endpoint of the package's active recipients (or only of
    ``organisation_ids``) that may receive this revision, and the jobs of their first
    attempts; returns how many deliveries.

    Endpoints already holding a delivery of this revision are skipped, so calling it again
    adds nothing."""
    moment = now or _now()
    notify = NotifySettings.load()
    budget = attempts or notify.attempts
    endpoint, recipient = models.NotifyEndpointRow, models.PackageRecipientRow
    query = (
        select(
            endpoint.id,
            endpoint.organisation_id,
            endpoint.kind,
            endpoint.user_name,
            endpoint.sectors,
            endpoint.vulnerabilities,
            endpoint.purl_prefixes,
            endpoint.min_tlp,
            endpoint.max_tlp,
            endpoint.digest,
            recipient.active,
            recipient.named_users,
            recipient.reason,
        )
        .join(recipient, recipient.organisation_id == endpoint.organisation_id)
        .where(
            recipient.package_id == package_id,
            recipient.active.is_(True),
            endpoint.active.is_(True),
        )
        .order_by(endpoint.id)
    )
    wanted = None if organisation_ids is None else set(organisation_ids)
    if wanted is not None and len(wanted) <= 1000:
        query = query.where(endpoint.organisation_id.in_(sorted(wanted)))
    done = set(
        session.scalars(
            select(models.NotifyDeliveryRow.endpoint_id).where(
                models.NotifyDeliveryRow.package_id == package_id,
                models.NotifyDeliveryRow.revision == revision,
            )
        )
    )
    chosen: list[tuple[int, int, str, bool]] = []
    exposed: set[int] | None = None
    for row in session.execute(query):
        if row.id in done or (wanted is not None and row.organisation_id not in wanted):
            continue
        receipt = Receipt(row.active, tuple(row.named_users))
        if not entitled(content.tlp, kind=row.kind, personal_user=row.user_name, receipt=receipt):
            continue
        if not _filters(row).matches(content):
            continue
        held = row.digest and digest.low_priority(
            content.tlp, event=event, reason=row.reason, exposed=False, most=notify.digest_tlp
        )
        if held:
            if exposed is None:
                exposed = _exposed(session, content)
            held = row.organisation_id not in exposed
        chosen.append((row.id, row.organisation_id, row.kind, held))
    if not chosen:
        return 0
    inserted = session.execute(
        insert(models.NotifyDeliveryRow).returning(
            models.NotifyDeliveryRow.id, sort_by_parameter_order=True
        ),
        [
            {
                "package_id": package_id,
                "revision": revision,
                "organisation_id": org_id,
                "endpoint_id": endpoint_id,
                "idempotency_key": message.idempotency_key(
                    package_id, revision, org_id, endpoint_id
                ),
                "cause": event,
                "state": HELD if held else PENDING,
                "attempts": 0,
                "max_attempts": budget,
                "next_attempt_at": None if held else moment,
                "created_at": moment,
            }
            for endpoint_id, org_id, _, held in chosen
        ],
    ).scalars()
    now_sent = [
        (ident, kind)
        for ident, (_, _, kind, held) in zip(inserted, chosen, strict=True)
        if not held
    ]
    if now_sent:
        _enqueue_first_attempts(session, now_sent, notify.batch, moment)
    log.info(
        "package %d revision %d: %d notifications queued, %d held for digests (%s)",
        package_id,
        revision,
        len(now_sent),
        len(chosen) - len(now_sent),
        event,
    )
    return len(chosen)


def _exposed(session: Session, content: Content) -> set[int]:
    """The organisations whose current inventories hold an affected product."""
    from sakimori.services.packages import exposed_organisations  # it imports this module

    return exposed_organisations(session, content.products)


def _enqueue_first_attempts(
    session: Session, deliveries: list[tuple[int, str]], batch: int, now: datetime
) -> None:
    """``jobs.interface.enqueue`` of the first attempts of the deliveries just written, in one
    bulk ``INSERT`` (their keys are new, so none is looked up first): webhooks ``batch`` to a
    job — their receivers de-duplicate by idempotency key, so a batch that runs again after a
    crash is harmless — and each e-mail in a job of its own (a mail server does not
    de-duplicate: a crash resends at most that one message)."""
    webhooks = [ident for ident, kind in deliveries if kind == "webhook"]
    groups = [webhooks[n : n + batch] for n in range(0, len(webhooks), batch)]
    groups += [[ident] for ident, kind in deliveries if kind != "webhook"]
    session.execute(
        insert(models.JobRow),
        [
            {
                "name": DELIVER,
                "key": job_key(group[0], 1, group[-1]),
                "payload": _payload(group, 1),
                "state": jobs.QUEUED,
                "attempts": 0,
                "max_attempts": _JOB_ATTEMPTS,
                "run_after": now,
                "created_at": now,
            }
            for group in groups
        ],
    )
    session.info[jobs.ENQUEUED] = True


def _filters(row: Any) -> Filters:
    return Filters(
        sectors=tuple(row.sectors),
        vulnerabilities=tuple(row.vulnerabilities),
        purl_prefixes=tuple(row.purl_prefixes),
        min_tlp=None if row.min_tlp is None else Tlp(row.min_tlp),
        max_tlp=None if row.max_tlp is None else Tlp(row.max_tlp),
    )


# -- running one delivery (the job) ---------------------------------------------------------------


class Worker:
    """What one worker thread keeps between deliveries: the channels (the HTTP client pools
    its connections) and the parsed content of published revisions, which never change."""

    def __init__(self, settings: Settings, notify: NotifySettings) -> None:
        from sakimori.services.identity import TokenKey

        self.notify = notify
        self.channels = Channels(notify, TokenKey.load(settings.token_key_path).secret)
        self._contents: dict[tuple[int, int], Content] = {}

    def content(self, session: Session, package_id: int, number: int) -> Content | None:
        """The content of a published revision (None if it is not published)."""
        found = self._contents.get((package_id, number))
        if found is None:
            revision = session.scalar(
                select(models.PackageRevisionRow).where(
                    models.PackageRevisionRow.package_id == package_id,
                    models.PackageRevisionRow.number == number,
                )
            )
            if revision is None or revision.status != lc.RevisionStatus.PUBLISHED:
                return None
            found = Content.from_dict(revision.content)
            if len(self._contents) > 256:
                self._contents.clear()
            self._contents[(package_id, number)] = found
        return found

    def close(self) -> None:
        self.channels.close()


_local = threading.local()


def worker_for(settings: Settings, notify: NotifySettings) -> Worker:
    """This thread's worker state for these settings."""
    key = (settings.token_key_path, notify)
    held: tuple[Any, Worker] | None = getattr(_local, "worker", None)
    if held is None or held[0] != key:
        if held is not None:
            held[1].close()
        held = (key, Worker(settings, notify))
        _local.worker = held
    return held[1]


def close_channels() -> None:
    """Close this thread's channels (a worker thread that stops; tests)."""
    held: tuple[Any, Worker] | None = getattr(_local, "worker", None)
    if held is not None:
        held[1].close()
        _local.worker = None


def deliver_job(context: jobs.JobContext) -> None:
    """The ``notify.deliver`` handler: one attempt of one delivery, the first attempts of a
    batch of webhook deliveries, or one attempt of a digest."""
    notify = NotifySettings.load()
    payload = context.payload
    if "digest" in payload:
        from sakimori.services import digests

        worker = worker_for(context.settings, notify)
        digests.run_digest(context.session, worker, int(payload["digest"]), int(payload["attempt"]))
        return
    ids = payload["deliveries"] if "deliveries" in payload else [payload["delivery"]]
    run_deliveries(
        context.session,
        worker_for(context.settings, notify),
        [int(ident) for ident in ids],
        int(payload["attempt"]),
    )


def run_delivery(
    session: Session,
    worker: Worker,
    delivery_id: int,
    attempt: int,
    now: datetime | None = None,
) -> str:
    """Make attempt ``attempt`` of a delivery, in ``session``; returns the state it is left
    in (or ``skipped`` when this job is stale: already delivered, dead, or a repeat)."""
    return run_deliveries(session, worker, [delivery_id], attempt, now)[delivery_id]


def run_deliveries(
    session: Session,
    worker: Worker,
    delivery_ids: list[int],
    attempt: int,
    now: datetime | None = None,
) -> dict[int, str]:
    """Make attempt ``attempt`` of each delivery, in ``session`` (their rows locked together,
    in id order); the state each is left in, as :func:`run_delivery` says.

    Each delivery keeps its own outcome, attempts and retry schedule: a failed one queues its
    next attempt as a job of its own."""
    d, e, r = models.NotifyDeliveryRow, models.NotifyEndpointRow, models.PackageRecipientRow
    query = (
        select(
            d,
            e,
            models.PackageRow.state,
            r.active,
            r.named_users,
            models.Organisation.slug,
        )
        .join(e, e.id == d.endpoint_id)
        .join(models.PackageRow, models.PackageRow.id == d.package_id)
        .join(models.Organisation, models.Organisation.id == d.organisation_id)
        .outerjoin(r, (r.package_id == d.package_id) & (r.organisation_id == d.organisation_id))
        .where(d.id.in_(sorted(set(delivery_ids))))
        .order_by(d.id)
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        query = query.with_for_update(of=d)
    states = dict.fromkeys(delivery_ids, "skipped")
    due = [
        found
        for found in session.execute(query)
        if found[0].state == PENDING and found[0].attempts + 1 == attempt
    ]
    for ident in set(delivery_ids) - {found[0].id for found in due}:
        log.info("delivery %d attempt %d: nothing to do", ident, attempt)
    if due and postgres:
        # The outcomes commit with the job's done mark; should a crash lose that commit, the
        # job runs again and resends with the same idempotency keys: durability is not needed.
        session.execute(text("SET LOCAL synchronous_commit = off"))
    for found in due:
        # a fresh moment per send: its signature's timestamp must be recent when it arrives
        states[found[0].id] = _attempt(session, worker, found, attempt, now or _now())
    return states


#: A delivery as its job reads it: the row, its endpoint, the package's state, the recipient's
#: ``active`` and ``named_users`` (None, by the outer join, if it is no recipient any more) and
#: the organisation's slug.
_Found = Row[models.NotifyDeliveryRow, models.NotifyEndpointRow, str, bool, list[str], str]


def _attempt(
    session: Session, worker: Worker, found: _Found, attempt: int, moment: datetime
) -> str:
    """Make one attempt of the delivery ``found`` (its row, endpoint, package state,
    recipient and organisation), if it is still entitled, and record the outcome on its row."""
    row, endpoint, package_state, active, named, slug = found
    receipt = None if active is None else Receipt(active, tuple(named))
    content, refusal = entitlement(session, worker, row, endpoint, package_state, receipt)
    if refusal is not None or content is None:
        row.state, row.last_error, row.finished_at = DROPPED, refusal, moment
        row.next_attempt_at = None
        log.info("delivery %d dropped: %s", row.id, refusal)
        return DROPPED
    notice = notice_of(row, content, slug, worker)
    destination = destination_of(endpoint)
    outcome = worker.channels.send(destination, notice, moment)
    row.attempts, row.last_status = attempt, outcome.status
    if outcome.ok:
        row.state, row.finished_at, row.last_error, row.next_attempt_at = (
            DELIVERED,
            moment,
            None,
            None,
        )
        return DELIVERED
    row.last_error = outcome.error
    if attempt >= row.max_attempts:
        row.state, row.finished_at, row.next_attempt_at = DEAD, moment, None
        log.warning("delivery %d is dead after %d attempts: %s", row.id, attempt, outcome.error)
        return DEAD
    wait = backoff.delay(attempt, worker.notify.backoff, worker.notify.backoff_cap)
    row.next_attempt_at = moment + timedelta(seconds=wait)
    _enqueue_next(session, row.id, attempt + 1, row.next_attempt_at)
    log.info(
        "delivery %d attempt %d failed (%s); next in %.1f s", row.id, attempt, outcome.error, wait
    )
    return PENDING


def _enqueue_next(session: Session, delivery_id: int, attempt: int, when: datetime) -> None:
    enqueue_attempt(
        session, {"delivery": delivery_id, "attempt": attempt}, job_key(delivery_id, attempt), when
    )


def destination_of(endpoint: models.NotifyEndpointRow) -> Destination:
    """Where and how an endpoint is reached (its secret still sealed)."""
    return Destination(
        endpoint.kind,
        endpoint.target,
        endpoint.organisation_id,
        endpoint.language,
        endpoint.sealed_secret,
    )


def notice_of(
    row: models.NotifyDeliveryRow, content: Content, slug: str, worker: Worker
) -> message.Notice:
    """What one delivery tells its recipient (alone, or as an item of a digest)."""
    return message.Notice(
        package_id=row.package_id,
        revision=row.revision,
        event=row.cause,
        content=content,
        organisation=slug,
        idempotency_key=row.idempotency_key,
        link=f"{worker.notify.public_url}/v1/packages/{row.package_id}",
    )


def enqueue_attempt(session: Session, payload: dict[str, Any], key: str, when: datetime) -> None:
    """Queue one ``notify.deliver`` attempt (of a delivery or a digest) to run at ``when``."""
    jobs.enqueue(
        session,
        DELIVER,
        payload,
        key,
        max_attempts=_JOB_ATTEMPTS,
        delay=max(0.0, (when - _now()).total_seconds()),
    )


def entitlement(
    session: Session,
    worker: Worker,
    row: models.NotifyDeliveryRow,
    endpoint: models.NotifyEndpointRow,
    package_state: str,
    receipt: Receipt | None,
) -> tuple[Content | None, str | None]:
    """The revision's content, or why it may not go to this endpoint any more."""
    if package_state == lc.State.WITHDRAWN:
        return None, "the package was withdrawn"
    if not endpoint.active:
        return None, "the endpoint was removed"
    if receipt is None or not receipt.active:
        return None, "the organisation no longer receives the package"
    if endpoint.user_name is not None and not _member(
        session, endpoint.user_name, endpoint.organisation_id
    ):
        return None, f"{endpoint.user_name} is no longer an active member"
    content = worker.content(session, row.package_id, row.revision)
    if content is None:
        return None, "the revision is not published"
    if not entitled(
        content.tlp, kind=endpoint.kind, personal_user=endpoint.user_name, receipt=receipt
    ):
        return None, f"TLP:{content.tlp.value} does not allow this endpoint"
    return content, None


def _member(session: Session, user: str, organisation_id: int) -> bool:
    found = session.scalar(
        select(models.User.id)
        .join(models.Membership, models.Membership.user_id == models.User.id)
        .where(
            models.User.name == user,
            models.User.active.is_(True),
            models.Membership.organisation_id == organisation_id,
        )
    )
    return found is not None


# -- endpoints (tenant-scoped use cases) ----------------------------------------------------------


def _organisation_id(session: Session, principal: Principal, slug: str) -> int:
    """The organisation's id, if the principal may manage it (else ``NotFound``, as absent)."""
    wanted = slug.strip().lower()
    missing = NotFound(f"no organisation {slug!r}", hint="see `sakimori org list`")
    if not principal.sees_everything and wanted != principal.organisation:
        raise missing
    found = session.scalar(select(models.Organisation.id).where(models.Organisation.slug == wanted))
    if found is None:
        raise missing
    return found


def _check_spec(session: Session, spec: EndpointSpec, organisation_id: int) -> None:
    if spec.kind not in KINDS:
        raise InvalidInput(f"endpoint kind {spec.kind!r} is not webhook or email")
    if spec.language is not None and spec.language not in LANGUAGES:
        raise InvalidInput(f"language {spec.language!r} is not ja or en")
    if spec.kind == "webhook":
        if len(spec.target) > 2000 or not _URL.fullmatch(spec.target):
            raise InvalidInput(f"{spec.target[:80]!r} is not an http(s) URL")
        if spec.user is not None:
            raise InvalidInput(
                "a webhook belongs to the organisation, not to a person",
                hint="personal endpoints (the only ones TLP:RED reaches) are e-mail addresses",
            )
        return
    if len(spec.target) > 254 or not _EMAIL.fullmatch(spec.target):
        raise InvalidInput(f"{spec.target[:80]!r} is not an e-mail address")
    if spec.user is not None and not _member(session, spec.user, organisation_id):
        raise InvalidInput(f"{spec.user!r} is not an active member of the organisation")


def create_endpoint(
    db: Database, principal: Principal, server_key: bytes, spec: EndpointSpec
) -> tuple[EndpointView, str | None]:
    """Register an endpoint; a webhook's signing secret is returned here and never again."""
    require(principal, Action.NOTIFY_MANAGE)
    with db.transaction() as session:
        org_id = _organisation_id(session, principal, spec.organisation)
        _check_spec(session, spec, org_id)
    secret = webhook.new_secret() if spec.kind == "webhook" else None

    def run(joined: Database) -> EndpointView:
        with joined.transaction() as session:
            f = spec.filters
            row = models.NotifyEndpointRow(
                organisation_id=org_id,
                kind=spec.kind,
                target=spec.target,
                user_name=spec.user,
                language=spec.language,
                sectors=list(f.sectors),
                vulnerabilities=list(f.vulnerabilities),
                purl_prefixes=list(f.purl_prefixes),
                min_tlp=None if f.min_tlp is None else f.min_tlp.value,
                max_tlp=None if f.max_tlp is None else f.max_tlp.value,
                sealed_secret=(
                    None
                    if secret is None
                    else sealing.seal(sealing.derive(server_key), secret, org_id)
                ),
                digest=spec.digest,
                active=True,
                created_by=principal.name,
                created_at=_now(),
            )
            session.add(row)
            session.flush()
            return _endpoint_view(row, spec.organisation.strip().lower())

    view = audit.audited(
        db,
        principal,
        Action.NOTIFY_MANAGE,
        "notify.endpoint",
        run,
        lambda made: made.id,
        {
            "move": "create",
            "kind": spec.kind,
            "organisation": spec.organisation,
            "digest": spec.digest,
        },
    )
    return view, secret


def _endpoint_view(row: models.NotifyEndpointRow, slug: str) -> EndpointView:
    return EndpointView(
        id=row.id,
        organisation=slug,
        kind=row.kind,
        target=row.target,
        user=row.user_name,
        language=row.language,
        filters=_filters(row),
        active=row.active,
        created_by=row.created_by,
        created_at=aware(row.created_at) or row.created_at,
        digest=row.digest,
    )


def list_endpoints(
    db: Database, principal: Principal, organisation: str | None = None
) -> list[EndpointView]:
    require(principal, Action.NOTIFY_READ)
    with db.transaction() as session:
        query = (
            select(models.NotifyEndpointRow, models.Organisation.slug)
            .join(models.Organisation)
            .where(models.NotifyEndpointRow.active.is_(True))
            .order_by(models.NotifyEndpointRow.id)
        )
        if organisation is not None or not principal.sees_everything:
            org_id = _organisation_id(session, principal, organisation or principal.organisation)
            query = query.where(models.NotifyEndpointRow.organisation_id == org_id)
        return [_endpoint_view(row, slug) for row, slug in session.execute(query)]


def _visible_row(
    session: Session, principal: Principal, kind: type[Any], ident: int, what: str
) -> Any:
    row = session.get(kind, ident)
    if row is None or not (
        principal.sees_everything or row.organisation_id == principal.organisation_id
    ):
        raise NotFound(f"no {what} {ident}")
    return row


def remove_endpoint(db: Database, principal: Principal, endpoint_id: int) -> EndpointView:
    """Stop sending to an endpoint (its pending deliveries are dropped when their turn comes)."""
    require(principal, Action.NOTIFY_MANAGE)
    with db.transaction() as session:
        _visible_row(session, principal, models.NotifyEndpointRow, endpoint_id, "endpoint")

    def run(joined: Database) -> EndpointView:
        with joined.transaction() as session:
            row = session.get(models.NotifyEndpointRow, endpoint_id)
            assert row is not None
            if not row.active:
                raise NotFound(f"no endpoint {endpoint_id}")
            row.active, row.removed_at = False, _now()
            slug = session.scalar(
                select(models.Organisation.slug).where(
                    models.Organisation.id == row.organisation_id
                )
            )
            return _endpoint_view(row, slug or "")

    return audit.audited(
        db,
        principal,
        Action.NOTIFY_MANAGE,
        "notify.endpoint",
        run,
        lambda _: endpoint_id,
        {"move": "remove"},
    )


# -- deliveries and the dead-letter list ----------------------------------------------------------


def _delivery_view(row: models.NotifyDeliveryRow, slug: str, kind: str) -> DeliveryView:
    return DeliveryView(
        id=row.id,
        package_id=row.package_id,
        revision=row.revision,
        organisation=slug,
        endpoint_id=row.endpoint_id,
        kind=kind,
        idempotency_key=row.idempotency_key,
        cause=row.cause,
        state=row.state,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        next_attempt_at=aware(row.next_attempt_at),
        last_status=row.last_status,
        last_error=row.last_error,
        created_at=aware(row.created_at) or row.created_at,
        finished_at=aware(row.finished_at),
        digest_id=row.digest_id,
    )


def list_deliveries(
    db: Database,
    principal: Principal,
    *,
    state: str | None = DEAD,
    organisation: str | None = None,
    package_id: int | None = None,
    limit: int = 100,
) -> list[DeliveryView]:
    """Deliveries, newest first (default: the dead letters), of the organisations the
    principal may see."""
    require(principal, Action.NOTIFY_READ)
    if state is not None and state not in STATES:
        raise InvalidInput(f"delivery state {state!r} is not one of {', '.join(STATES)}")
    d = models.NotifyDeliveryRow
    with db.transaction() as session:
        query = (
            select(d, models.Organisation.slug, models.NotifyEndpointRow.kind)
            .join(models.Organisation, models.Organisation.id == d.organisation_id)
            .join(models.NotifyEndpointRow, models.NotifyEndpointRow.id == d.endpoint_id)
            .order_by(d.id.desc())
            .limit(max(1, min(limit, 1000)))
        )
        if state is not None:
            query = query.where(d.state == state)
        if package_id is not None:
            query = query.where(d.package_id == package_id)
        if organisation is not None or not principal.sees_everything:
            org_id = _organisation_id(session, principal, organisation or principal.organisation)
            query = query.where(d.organisation_id == org_id)
        return [_delivery_view(row, slug, kind) for row, slug, kind in session.execute(query)]


def retry_delivery(
    db: Database, principal: Principal, delivery_id: int, budget: int | None = None
) -> DeliveryView:
    """Give a dead delivery a fresh budget of attempts, starting now (one carried by a digest:
    the digest, with every dead item it carries, which wait for it again as ``held``)."""
    require(principal, Action.NOTIFY_MANAGE)
    tries = budget or NotifySettings.load().attempts
    with db.transaction() as session:
        _visible_row(session, principal, models.NotifyDeliveryRow, delivery_id, "delivery")

    def run(joined: Database) -> DeliveryView:
        with joined.transaction() as session:
            query = select(models.NotifyDeliveryRow).where(
                models.NotifyDeliveryRow.id == delivery_id
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update()
            row = session.scalar(query)
            assert row is not None
            if row.state != DEAD:
                raise Conflict(
                    f"delivery {delivery_id} is {row.state}; only a dead delivery is retried"
                )
            now = _now()
            if row.digest_id is not None:
                from sakimori.services import digests

                digests.retry(session, row.digest_id, tries, now)
            else:
                row.state, row.finished_at, row.next_attempt_at = PENDING, None, now
                row.max_attempts = row.attempts + tries
                _enqueue_next(session, row.id, row.attempts + 1, now)
            slug = session.scalar(
                select(models.Organisation.slug).where(
                    models.Organisation.id == row.organisation_id
                )
            )
            kind = session.scalar(
                select(models.NotifyEndpointRow.kind).where(
                    models.NotifyEndpointRow.id == row.endpoint_id
                )
            )
            return _delivery_view(row, slug or "", kind or "")

    return audit.audited(
        db,
        principal,
        Action.NOTIFY_MANAGE,
        "notify.delivery",
        run,
        lambda _: delivery_id,
        {"move": "retry"},
    )
