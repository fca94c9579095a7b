"""The follow-up of published packages: acknowledgement reminders and escalations, report
clocks, and the reports recipients file.

:func:`run` (the ``packages.followup`` job, ``sakimori package followup``) looks at every
active recipient of a live package and every unfiled report, asks the pure rules
(``sakimori.packages.followup``) what is due at ``now``, and for each step:

- stamps it on the row with a conditional ``UPDATE … WHERE reminded_at IS NULL`` (or
  ``escalated_at``; and still unacknowledged / unfiled), so it happens **once** however many
  runs overlap: a second run's ``UPDATE`` waits for the first's row lock and then matches
  nothing (on PostgreSQL the runs are also serialised by a transaction-level advisory lock);
- queues one ``packages.followup.mail`` job per e-mail address (idempotency key per step,
  package, recipient, report and endpoint), in the same transaction;
- records it in the audit log (actor ``sakimori``), in the same transaction.

Who gets what (TLP re-checked here and again when the mail job runs): reminders go to the
recipient organisation's active e-mail endpoints that may receive the package
(``notify.filters.entitled``: TLP:RED only to the personal endpoints of the people named) and
whose filters match it; escalations go to all of its entitled e-mail endpoints and to the
coordinator's e-mail endpoints — for a TLP:RED package the coordinator's message leaves the
title out. Report reminders go to the organisation only.

Messages are sent by this module's own job (``send_job``) through
``notify.smtp_sender.SmtpSender`` (S/MIME-signed by ``notify.signing`` like the other
e-mails, when a key is configured) rather than the package-notification deliveries of
``services.notifications``, whose rows are keyed by package revision and endpoint: a failed
send raises ``SourceUnavailable`` and the job queue retries it with its backoff, then lists it
as dead (``sakimori worker --dead``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Final, Protocol

from sqlalchemy import CursorResult, and_, or_, select, text, update
from sqlalchemy.orm import Session

from sakimori.config import Settings, package_followup_settings
from sakimori.errors import Conflict, InvalidInput, NotFound, PermissionDenied, SourceUnavailable
from sakimori.jobs import interface as jobs
from sakimori.notify import signing
from sakimori.notify.filters import Filters, entitled
from sakimori.notify.interface import Outcome
from sakimori.notify.settings import NotifySettings
from sakimori.notify.smtp_sender import SmtpSender
from sakimori.packages import followup as rules
from sakimori.packages import followup_message as messages
from sakimori.packages import lifecycle as lc
from sakimori.packages.model import REPORT_KINDS, Content, Receipt, Tlp
from sakimori.services import audit
from sakimori.services.access import Action, Principal, Role, own_receipt, require
from sakimori.store import models
from sakimori.store.db import Database, aware

log = logging.getLogger(__name__)

FOLLOWUP: Final = "packages.followup"
MAIL: Final = "packages.followup.mail"
ACTOR: Final = "sakimori"
AUDIT_ACTION: Final = "package.followup"
FILE_ACTION: Final = "package.report"
#: Who may file a recipient organisation's reports.
FILERS: Final = frozenset({Role.MEMBER_ADMIN, Role.MEMBER_USER})
_MAIL_ATTEMPTS: Final = 8
_LOCK: Final = 0x5A4B_F011  # the advisory lock serialising runs on PostgreSQL


def policy_of(settings: Settings) -> rules.Policy:
    return rules.Policy.of_hours(
        settings.package_ack_hours, settings.package_escalation_hours, settings.package_report_hours
    )


@dataclass(frozen=True, slots=True)
class Done:
    """One step taken by :func:`run`."""

    what: str  # followup_message.WHATS
    package_id: int
    organisation: str
    report: str | None
    messages: int


# -- the run --------------------------------------------------------------------------------------


def run(session: Session, now: datetime, policy: rules.Policy | None = None) -> list[Done]:
    """Take every follow-up step due at ``now``, in ``session``'s transaction."""
    if policy is None:
        found = package_followup_settings()
        policy = rules.Policy.of_hours(
            found["package_ack_hours"],
            found["package_escalation_hours"],
            found["package_report_hours"],
        )
    chosen = policy
    now = now.astimezone(UTC)  # SQLite compares the stored (UTC) times as text
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    r, p = models.PackageRecipientRow, models.PackageReportRow
    live = select(models.PackageRow.id).where(models.PackageRow.state.in_(sorted(lc.LIVE)))
    # Candidates only: a window is at least an hour, so nothing delivered since is due.
    pending = session.scalars(
        select(r)
        .where(
            r.package_id.in_(live),
            r.active.is_(True),
            r.acknowledged_at.is_(None),
            r.escalated_at.is_(None),
            or_(
                and_(r.reminded_at.is_(None), r.delivered_at <= now - timedelta(hours=1)),
                r.reminded_at <= now - chosen.escalate_after,
            ),
        )
        .order_by(r.id)
    ).all()
    reports = session.execute(
        select(p, r)
        .join(r, (r.package_id == p.package_id) & (r.organisation_id == p.organisation_id))
        .where(
            p.package_id.in_(live),
            p.filed_at.is_(None),
            p.escalated_at.is_(None),
            r.active.is_(True),
        )
        .order_by(p.id)
    ).all()
    wanted = {row.package_id for row in pending} | {report.package_id for report, _ in reports}
    if not wanted:
        return []
    contents = _contents(session, wanted)
    slugs: dict[int, str] = dict(
        session.execute(select(models.Organisation.id, models.Organisation.slug)).all()
    )
    done: list[Done] = []
    for row in pending:
        content = contents[row.package_id]
        receipt = rules.Receipt(
            aware(row.delivered_at), None, aware(row.reminded_at), None, row.active
        )
        window = chosen.window(content.acknowledge_within_hours)
        step = rules.acknowledgement_step(receipt, window, chosen.escalate_after, now)
        if step is rules.Step.NOTHING:
            continue
        column = r.reminded_at if step is rules.Step.REMIND else r.escalated_at
        guard = update(r).where(r.id == row.id, column.is_(None), r.acknowledged_at.is_(None))
        if step is rules.Step.ESCALATE:
            guard = guard.where(r.reminded_at.is_not(None))
        if not _stamped(session, guard.values({column.key: now})):
            continue
        what = messages.ACK_REMINDER if step is rules.Step.REMIND else messages.ACK_ESCALATION
        due = rules.acknowledgement_due(receipt, window)
        done.append(_take(session, what, row, content, slugs, due, None, now))
    for report, recipient in reports:
        if report.kind not in contents[report.package_id].reports:
            continue  # a later revision no longer requires it: not chased
        clock = _clock(report)
        step = rules.report_step(clock, now)
        if step is rules.Step.NOTHING:
            continue
        column = p.reminded_at if step is rules.Step.REMIND else p.escalated_at
        guard = update(p).where(p.id == report.id, column.is_(None), p.filed_at.is_(None))
        if not _stamped(session, guard.values({column.key: now})):
            continue
        what = messages.REPORT_REMINDER if step is rules.Step.REMIND else messages.REPORT_ESCALATION
        content = contents[report.package_id]
        done.append(_take(session, what, recipient, content, slugs, clock.due_at, report.kind, now))
    return done


def _stamped(session: Session, statement: Any) -> bool:
    result = session.execute(statement.execution_options(synchronize_session=False))
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def _clock(row: models.PackageReportRow) -> rules.ReportClock:
    return rules.ReportClock(
        row.kind,
        aware(row.started_at),
        aware(row.due_at),
        aware(row.filed_at),
        aware(row.reminded_at),
        aware(row.escalated_at),
    )


def _contents(session: Session, package_ids: set[int]) -> dict[int, Content]:
    """The content of the published revision of each package."""
    rows = session.execute(
        select(models.PackageRow.id, models.PackageRevisionRow.content)
        .join(
            models.PackageRevisionRow,
            (models.PackageRevisionRow.package_id == models.PackageRow.id)
            & (models.PackageRevisionRow.number == models.PackageRow.published_revision),
        )
        .where(models.PackageRow.id.in_(sorted(package_ids)))
    )
    return {ident: Content.from_dict(content) for ident, content in rows}


def _take(
    session: Session,
    what: str,
    recipient: models.PackageRecipientRow,
    content: Content,
    slugs: Mapping[int, str],
    due: datetime,
    report: str | None,
    now: datetime,
) -> Done:
    """Queue the messages of one step and record it in the audit log."""
    package_id, organisation_id = recipient.package_id, recipient.organisation_id
    count = 0
    for endpoint_id in _addressees(session, what, recipient, content):
        key = messages.idempotency_key(what, package_id, organisation_id, endpoint_id, report)
        payload = {
            "what": what,
            "package": package_id,
            "organisation": organisation_id,
            "endpoint": endpoint_id,
            "report": report,
            "due": due.isoformat(),
            "key": key,
        }
        if jobs.enqueue(session, MAIL, payload, f"{MAIL}:{key}", max_attempts=_MAIL_ATTEMPTS):
            count += 1
    slug = slugs.get(organisation_id, str(organisation_id))
    audit.append(
        session,
        audit.Entry(
            actor=ACTOR,
            action=AUDIT_ACTION,
            object_kind="package",
            object_id=str(package_id),
            tlp=content.tlp.value,
            source="followup",
            detail={
                "step": what,
                "organisation": slug,
                "report": report,
                "due": due.isoformat(),
                "at": now.isoformat(),
                "messages": count,
            },
        ),
    )
    log.info("package %d, %s: %s (%d messages)", package_id, slug, what, count)
    return Done(what, package_id, slug, report, count)


def _addressees(
    session: Session, what: str, recipient: models.PackageRecipientRow, content: Content
) -> list[int]:
    """The e-mail endpoints one step writes to (the module docstring says which)."""
    e = models.NotifyEndpointRow
    escalation = what in {messages.ACK_ESCALATION, messages.REPORT_ESCALATION}
    receipt = Receipt(recipient.active, tuple(recipient.named_users))
    found: list[int] = []
    own = session.scalars(
        select(e)
        .where(
            e.organisation_id == recipient.organisation_id,
            e.kind == "email",
            e.active.is_(True),
        )
        .order_by(e.id)
    )
    for endpoint in own:
        if not entitled(
            content.tlp, kind="email", personal_user=endpoint.user_name, receipt=receipt
        ):
            continue
        if not escalation and not _filters(endpoint).matches(content):
            continue
        found.append(endpoint.id)
    if escalation:
        found += session.scalars(
            select(e.id)
            .join(models.Organisation, models.Organisation.id == e.organisation_id)
            .where(
                models.Organisation.kind == "coordinator",
                e.kind == "email",
                e.active.is_(True),
            )
            .order_by(e.id)
        ).all()
    return found


def _filters(row: models.NotifyEndpointRow) -> Filters:
    return Filters(
        sectors=tuple(row.sectors),
        vulnerabilities=tuple(row.vulnerabilities),
        purl_prefixes=tuple(row.purl_prefixes),
        min_tlp=None if row.min_tlp is None else Tlp(row.min_tlp),
        max_tlp=None if row.max_tlp is None else Tlp(row.max_tlp),
    )


# -- sending one message (the job) ----------------------------------------------------------------


def send_job(context: jobs.JobContext) -> None:
    """The ``packages.followup.mail`` handler."""
    notify = NotifySettings.load()
    signer = signing.load(notify.smime_cert, notify.smime_key)
    sent = send(context.session, context.payload, notify, SmtpSender(notify), signer)
    log.info("follow-up %s: %s", context.payload.get("key", "?")[:12], sent)


class Sender(Protocol):
    def send(self, message: EmailMessage) -> Outcome: ...


def send(
    session: Session,
    payload: Mapping[str, Any],
    notify: NotifySettings,
    sender: Sender,
    signer: signing.SmimeSigner | None = None,
    now: datetime | None = None,
) -> str:
    """Send one follow-up e-mail if it is still called for and allowed: ``sent``, or why not
    (``skipped: …``). A failed send raises ``SourceUnavailable`` (the job is retried)."""
    moment = now or datetime.now(UTC)
    what, report = str(payload["what"]), payload.get("report")
    package_id, organisation_id = int(payload["package"]), int(payload["organisation"])
    endpoint = session.get(models.NotifyEndpointRow, int(payload["endpoint"]))
    package = session.get(models.PackageRow, package_id)
    recipient = session.scalar(
        select(models.PackageRecipientRow).where(
            models.PackageRecipientRow.package_id == package_id,
            models.PackageRecipientRow.organisation_id == organisation_id,
        )
    )
    if endpoint is None or not endpoint.active or endpoint.kind != "email":
        return "skipped: the endpoint was removed"
    if package is None or package.state not in lc.LIVE:
        return "skipped: the package is no longer live"
    if recipient is None or not recipient.active:
        return "skipped: the organisation no longer receives the package"
    if what in {messages.ACK_REMINDER, messages.ACK_ESCALATION}:
        if recipient.acknowledged_at is not None:
            return "skipped: acknowledged meanwhile"
    else:
        filed = session.scalar(
            select(models.PackageReportRow.filed_at).where(
                models.PackageReportRow.package_id == package_id,
                models.PackageReportRow.organisation_id == organisation_id,
                models.PackageReportRow.kind == report,
            )
        )
        if filed is not None:
            return "skipped: the report was filed meanwhile"
    revision = session.scalar(
        select(models.PackageRevisionRow.content).where(
            models.PackageRevisionRow.package_id == package_id,
            models.PackageRevisionRow.number == package.published_revision,
        )
    )
    if revision is None:
        return "skipped: the package is not published"
    content = Content.from_dict(revision)
    withheld = False
    if endpoint.organisation_id == organisation_id:
        receipt = Receipt(recipient.active, tuple(recipient.named_users))
        if not entitled(
            content.tlp, kind="email", personal_user=endpoint.user_name, receipt=receipt
        ) or (endpoint.user_name is not None and not _member(session, endpoint, organisation_id)):
            return f"skipped: TLP:{content.tlp.value} does not allow this endpoint"
    else:
        coordinator = session.scalar(
            select(models.Organisation.kind).where(
                models.Organisation.id == endpoint.organisation_id
            )
        )
        if coordinator != "coordinator":
            return "skipped: the endpoint is neither the recipient's nor the coordinator's"
        withheld = content.tlp is Tlp.RED
    slug = session.scalar(
        select(models.Organisation.slug).where(models.Organisation.id == organisation_id)
    )
    followup = messages.FollowUp(
        what=what,
        package_id=package_id,
        tlp=content.tlp,
        title=content.title,
        organisation=slug or str(organisation_id),
        due_at=datetime.fromisoformat(str(payload["due"])),
        report=None if report is None else str(report),
        idempotency_key=str(payload["key"]),
        link=f"{notify.public_url}/ui/packages/{package_id}",
        withheld=withheld,
    )
    mail = messages.email(
        followup,
        language=endpoint.language,
        sender=notify.smtp_from,
        to=endpoint.target,
        moment=moment,
    )
    outcome = sender.send(mail if signer is None else signer.sign(mail))
    if not outcome.ok:
        raise SourceUnavailable(f"follow-up e-mail to endpoint {endpoint.id}: {outcome.error}")
    return "sent"


def _member(session: Session, endpoint: models.NotifyEndpointRow, organisation_id: int) -> bool:
    found = session.scalar(
        select(models.User.id)
        .join(models.Membership, models.Membership.user_id == models.User.id)
        .where(
            models.User.name == endpoint.user_name,
            models.User.active.is_(True),
            models.Membership.organisation_id == organisation_id,
        )
    )
    return found is not None


def run_job(context: jobs.JobContext) -> None:
    """The periodic ``packages.followup`` handler: :func:`run` in the job's transaction."""
    done = run(context.session, datetime.now(UTC), policy_of(context.settings))
    log.info("package follow-up: %d steps", len(done))


# -- reports: what recipients file ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportView:
    organisation: str
    kind: str
    started_at: datetime
    due_at: datetime
    filed_at: datetime | None
    filed_by: str | None
    body: dict[str, Any]
    reminded_at: datetime | None
    escalated_at: datetime | None

    @property
    def clock(self) -> rules.ReportClock:
        return rules.ReportClock(
            self.kind,
            self.started_at,
            self.due_at,
            self.filed_at,
            self.reminded_at,
            self.escalated_at,
        )


def _views(session: Session, package_id: int, organisation_id: int | None) -> list[ReportView]:
    p, o = models.PackageReportRow, models.Organisation
    query = select(p, o.slug).join(o, o.id == p.organisation_id).where(p.package_id == package_id)
    if organisation_id is not None:
        query = query.where(p.organisation_id == organisation_id)
    order = {kind: n for n, kind in enumerate(REPORT_KINDS)}
    rows = sorted(
        ((row, slug) for row, slug in session.execute(query)),
        key=lambda t: (t[1], order.get(t[0].kind, 9)),
    )
    return [
        ReportView(
            slug,
            row.kind,
            aware(row.started_at),
            aware(row.due_at),
            aware(row.filed_at),
            row.filed_by,
            dict(row.body or {}),
            aware(row.reminded_at),
            aware(row.escalated_at),
        )
        for row, slug in rows
    ]


def reports(db: Database, principal: Principal, package_id: int) -> list[ReportView]:
    """Staff: every recipient's reports of a package; a recipient: its own organisation's."""
    require(principal, Action.PACKAGE_READ)
    if principal.sees_everything:
        with db.transaction() as session:
            if session.get(models.PackageRow, package_id) is None:
                raise NotFound(f"no package {package_id}", hint="see GET /v1/packages")
            return _views(session, package_id, None)
    own_receipt(db, principal, package_id)  # 404 unless the caller may read it
    with db.transaction() as session:
        return _views(session, package_id, principal.organisation_id)


def file_report(
    db: Database, principal: Principal, package_id: int, kind: str, body: Mapping[str, Any]
) -> ReportView:
    """File one report of the caller's organisation (once); nothing changes when refused."""
    if principal.role not in FILERS:
        raise PermissionDenied(f"the {principal.role.value} role may not file reports")
    require(principal, Action.PACKAGE_ACKNOWLEDGE)  # and a token with the write scope
    own_receipt(db, principal, package_id)  # 404 unless the caller may read it
    if kind not in REPORT_KINDS:
        raise InvalidInput(f"{kind!r} is not a report kind ({', '.join(REPORT_KINDS)})")
    form = rules.report_form(body)
    p = models.PackageReportRow
    with db.transaction() as session:
        row = session.scalar(
            select(p).where(
                p.package_id == package_id,
                p.organisation_id == principal.organisation_id,
                p.kind == kind,
            )
        )
        if row is None:
            raise InvalidInput(
                f"package {package_id} does not require a {kind} report "
                f"from {principal.organisation}",
                hint=f"see GET /v1/packages/{package_id}/reports",
            )
        stamp = (
            update(p)
            .where(p.id == row.id, p.filed_at.is_(None))
            .values(filed_at=datetime.now(UTC), filed_by=principal.name, body=form)
        )
        if not _stamped(session, stamp):
            raise Conflict(
                f"the {kind} report of package {package_id} was already filed "
                f"for {principal.organisation}",
                hint="a filed report is final; add corrections to the next report",
            )
        tlp = session.scalar(
            select(models.PackageRevisionRow.tlp)
            .join(models.PackageRow, models.PackageRow.id == models.PackageRevisionRow.package_id)
            .where(
                models.PackageRevisionRow.package_id == package_id,
                models.PackageRevisionRow.number == models.PackageRow.published_revision,
            )
        )
        session.expire_all()  # the UPDATE bypassed the loaded row
        audit.append(
            session,
            audit.entry_for(principal, FILE_ACTION, "package", package_id, tlp, {"report": kind}),
        )
        return next(
            v for v in _views(session, package_id, principal.organisation_id) if v.kind == kind
        )
