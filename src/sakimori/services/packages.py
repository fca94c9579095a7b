"""Counter-measure packages: drafting, review, two-person publishing, revisions, withdrawal,
targeting (audience + exposure under TLP), and what recipients read and acknowledge.

The rules are pure (``sakimori.packages``); this module applies them in one transaction each and
records who did what. Roles and tenancy are checked by the callers in
``sakimori.services.access``; ``visible`` / ``receipt_of`` here answer the TLP question the same
way for every channel (API reads, TAXII).

Exposure: an organisation is exposed when a *current* inventory of one of its assets holds an
affected product, matched by purl (ecosystem, normalised name and, when the purl has one, the
exact version). CPE and vendor-product matching is not built yet. ``on_new_exposure`` is the
hook for a new upload: it adds the organisation as a recipient of every live package targeting
"everyone affected" that it is now exposed to (never a TLP:RED one), and returns what it added.
Publishing, each revision and each recipient added queue their notifications in the same
transaction (``services.notifications.enqueue_revision``).

Reports: when a published revision requires reports (``Content.reports``), each active
recipient operator or agency gets one ``cm_package_report`` row per kind, in the transaction
that makes it a recipient (publication, a revision adding reports, new exposure); its clock
starts then and runs for the instance's ``SAKIMORI_PACKAGE_REPORT_HOURS``
(``sakimori.packages.followup``; ``services.package_followup`` follows them up).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from sakimori.cpe import name as cpe_name
from sakimori.cpe.cve_affected import fold
from sakimori.cpe.matching import name_matches
from sakimori.errors import InvalidInput, NotFound
from sakimori.matching.product_names import PRODUCT_ECOSYSTEM, key_of, variants
from sakimori.model.ecosystem import normalize_name, parse_purl
from sakimori.packages import csaf, stix, targeting, taxii
from sakimori.packages import lifecycle as lc
from sakimori.packages.model import Content, Product, Receipt, Tlp, may_read
from sakimori.store import models
from sakimori.store.db import Database, aware

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RevisionView:
    number: int
    status: str
    tlp: str
    author: str
    approver: str | None
    change: str
    created_at: datetime
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class PackageView:
    id: int
    state: str
    #: The newest published revision's number (0: never published).
    revision: int
    content: Content
    history: tuple[RevisionView, ...]
    created_by: str
    created_at: datetime
    withdrawn_at: datetime | None

    @property
    def tlp(self) -> Tlp:
        return self.content.tlp

    @property
    def pending(self) -> RevisionView | None:
        last = self.history[-1]
        return None if last.status == lc.RevisionStatus.PUBLISHED else last


@dataclass(frozen=True, slots=True)
class RecipientView:
    organisation: str
    reason: str
    active: bool
    named_users: tuple[str, ...]
    since_revision: int
    delivered_at: datetime
    read_at: datetime | None
    read_by: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None
    #: Remediation progress: the organisation's findings of the package's vulnerabilities
    #: (by the finding's primary id), still open and closed.
    findings_open: int = 0
    findings_closed: int = 0


@dataclass(frozen=True, slots=True)
class Exposure:
    package_id: int
    organisation: str


def _now() -> datetime:
    return datetime.now(UTC)


# -- reading --------------------------------------------------------------------------------------


def _package(session: Session, package_id: int, *, lock: bool = False) -> models.PackageRow:
    query = select(models.PackageRow).where(models.PackageRow.id == package_id)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"no package {package_id}", hint="see GET /v1/packages")
    return row


def _revisions(session: Session, package_id: int) -> list[models.PackageRevisionRow]:
    return list(
        session.scalars(
            select(models.PackageRevisionRow)
            .where(models.PackageRevisionRow.package_id == package_id)
            .order_by(models.PackageRevisionRow.number)
        )
    )


def _view(
    row: models.PackageRow, revisions: list[models.PackageRevisionRow], *, latest: bool
) -> PackageView:
    """``latest``: the content of the newest revision (staff); else of the newest published."""
    served = revisions[-1]
    if not latest and row.published_revision:
        served = next(r for r in revisions if r.number == row.published_revision)
    return PackageView(
        id=row.id,
        state=row.state,
        revision=row.published_revision,
        content=Content.from_dict(served.content),
        history=tuple(
            RevisionView(
                r.number,
                r.status,
                r.tlp,
                r.author,
                r.approver,
                r.change,
                aware(r.created_at),
                aware(r.published_at),
            )
            for r in revisions
            if latest or r.status == lc.RevisionStatus.PUBLISHED
        ),
        created_by=row.created_by,
        created_at=aware(row.created_at),
        withdrawn_at=aware(row.withdrawn_at),
    )


def get(db: Database, package_id: int, *, latest: bool = True) -> PackageView:
    with db.transaction() as session:
        row = _package(session, package_id)
        return _view(row, _revisions(session, package_id), latest=latest)


def list_all(db: Database) -> list[PackageView]:
    with db.transaction() as session:
        rows = session.scalars(select(models.PackageRow).order_by(models.PackageRow.id)).all()
        return [_view(r, _revisions(session, r.id), latest=True) for r in rows]


def receipt_of(session: Session, package_id: int, organisation_id: int) -> Receipt | None:
    row = session.scalar(
        select(models.PackageRecipientRow).where(
            models.PackageRecipientRow.package_id == package_id,
            models.PackageRecipientRow.organisation_id == organisation_id,
        )
    )
    return None if row is None else Receipt(row.active, tuple(row.named_users))


def visible(db: Database, *, staff: bool, organisation_id: int, user: str) -> list[PackageView]:
    """The published (or withdrawn) packages this person may read, newest published content."""
    with db.transaction() as session:
        rows = session.scalars(
            select(models.PackageRow)
            .where(models.PackageRow.published_revision > 0)
            .order_by(models.PackageRow.id)
        ).all()
        receipts = {
            r.package_id: Receipt(r.active, tuple(r.named_users))
            for r in session.scalars(
                select(models.PackageRecipientRow).where(
                    models.PackageRecipientRow.organisation_id == organisation_id
                )
            )
        }
        out = []
        for row in rows:
            view = _view(row, _revisions(session, row.id), latest=False)
            if may_read(view.tlp, staff=staff, receipt=receipts.get(row.id), user=user):
                out.append(view)
        return out


def recipients(db: Database, package_id: int) -> list[RecipientView]:
    with db.transaction() as session:
        package = _package(session, package_id)
        progress = _progress(session, package)
        rows = session.execute(
            select(models.PackageRecipientRow, models.Organisation.slug)
            .join(models.Organisation)
            .where(models.PackageRecipientRow.package_id == package_id)
            .order_by(models.Organisation.slug)
        ).all()
        return [
            RecipientView(
                slug,
                r.reason,
                r.active,
                tuple(r.named_users),
                r.since_revision,
                aware(r.delivered_at),
                aware(r.read_at),
                r.read_by,
                aware(r.acknowledged_at),
                r.acknowledged_by,
                aware(r.reminded_at),
                aware(r.escalated_at),
                *progress.get(r.organisation_id, (0, 0)),
            )
            for r, slug in rows
        ]


def _progress(session: Session, package: models.PackageRow) -> dict[int, tuple[int, int]]:
    """Per recipient organisation: its findings of the package's vulnerabilities (by the
    finding's primary id), (still open, closed)."""
    from sakimori.model.lifecycle import CLOSED

    served = session.scalar(
        select(models.PackageRevisionRow.content).where(
            models.PackageRevisionRow.package_id == package.id,
            models.PackageRevisionRow.number == (package.published_revision or 1),
        )
    )
    vulnerabilities = list((served or {}).get("vulnerabilities") or [])
    if not vulnerabilities:
        return {}
    organisation = models.Asset.organisation_id
    recipients_of = select(models.PackageRecipientRow.organisation_id).where(
        models.PackageRecipientRow.package_id == package.id
    )
    counted = session.execute(
        select(organisation, models.Finding.state, func.count())
        .join(models.Asset, models.Asset.id == models.Finding.asset_id)
        .where(
            organisation.in_(recipients_of),
            models.Finding.vulnerability.in_(vulnerabilities),
        )
        .group_by(organisation, models.Finding.state)
    )
    found: dict[int, tuple[int, int]] = {}
    for org_id, state, count in counted:
        still, closed = found.get(org_id, (0, 0))
        if state in CLOSED:
            closed += count
        else:
            still += count
        found[org_id] = (still, closed)
    return found


def mark(db: Database, package_id: int, organisation_id: int, user: str, *, ack: bool) -> None:
    """Record that ``user`` read (or acknowledged) the package for their organisation; the first
    read and the first acknowledgement are kept."""
    with db.transaction() as session:
        row = session.scalar(
            select(models.PackageRecipientRow).where(
                models.PackageRecipientRow.package_id == package_id,
                models.PackageRecipientRow.organisation_id == organisation_id,
            )
        )
        if row is None:
            return  # staff reading a package their organisation does not receive
        now = _now()
        if row.read_at is None:
            row.read_at, row.read_by = now, user
        if ack and row.acknowledged_at is None:
            row.acknowledged_at, row.acknowledged_by = now, user


# -- drafting and the lifecycle -------------------------------------------------------------------


def create_draft(db: Database, content: Content, actor: str) -> PackageView:
    now = _now()
    with db.transaction() as session:
        row = models.PackageRow(
            state=lc.State.DRAFT, created_by=actor, created_at=now, published_revision=0
        )
        session.add(row)
        session.flush()
        session.add(_revision_row(row.id, 1, content, actor, now, ""))
        session.flush()
        return _view(row, _revisions(session, row.id), latest=True)


def _revision_row(
    package_id: int, number: int, content: Content, actor: str, now: datetime, change: str
) -> models.PackageRevisionRow:
    return models.PackageRevisionRow(
        package_id=package_id,
        number=number,
        status=lc.RevisionStatus.DRAFT,
        tlp=content.tlp.value,
        content=content.to_dict(),
        change=change,
        author=actor,
        created_at=now,
    )


def _pending(revisions: list[models.PackageRevisionRow]) -> lc.RevisionStatus | None:
    last = revisions[-1]
    return None if last.status == lc.RevisionStatus.PUBLISHED else lc.RevisionStatus(last.status)


def edit_draft(
    db: Database, package_id: int, content: Content, actor: str, change: str | None = None
) -> PackageView:
    """Replace the content of the draft revision; the editor becomes its author."""
    with db.transaction() as session:
        row = _package(session, package_id, lock=True)
        revisions = _revisions(session, package_id)
        lc.check_edit(lc.State(row.state), _pending(revisions))
        draft = revisions[-1]
        draft.content, draft.tlp, draft.author = content.to_dict(), content.tlp.value, actor
        if change is not None:
            draft.change = change
        session.flush()
        return _view(row, revisions, latest=True)


def revise(db: Database, package_id: int, content: Content, actor: str, change: str) -> PackageView:
    """Open the next revision of a published package as a draft (published content stays)."""
    with db.transaction() as session:
        row = _package(session, package_id, lock=True)
        revisions = _revisions(session, package_id)
        lc.revise(lc.State(row.state), _pending(revisions))
        session.add(
            _revision_row(package_id, revisions[-1].number + 1, content, actor, _now(), change)
        )
        session.flush()
        return _view(row, _revisions(session, package_id), latest=True)


def submit(db: Database, package_id: int, actor: str) -> PackageView:
    with db.transaction() as session:
        row = _package(session, package_id, lock=True)
        revisions = _revisions(session, package_id)
        state, status = lc.submit(lc.State(row.state), _pending(revisions))
        Content.from_dict(revisions[-1].content).ready()
        row.state, revisions[-1].status = state, status
        log.info("package %d revision %d submitted by %s", package_id, revisions[-1].number, actor)
        return _view(row, revisions, latest=True)


def send_back(db: Database, package_id: int, actor: str) -> PackageView:
    with db.transaction() as session:
        row = _package(session, package_id, lock=True)
        revisions = _revisions(session, package_id)
        row.state, revisions[-1].status = lc.send_back(lc.State(row.state), _pending(revisions))
        log.info("package %d sent back to draft by %s", package_id, actor)
        return _view(row, revisions, latest=True)


def approve(db: Database, package_id: int, approver: str) -> PackageView:
    """Publish the revision in review (approver ≠ its author) and target its recipients."""
    now = _now()
    with db.transaction() as session:
        row = _package(session, package_id, lock=True)
        revisions = _revisions(session, package_id)
        pending = revisions[-1]
        content = Content.from_dict(pending.content)
        content.ready()
        state, status = lc.approve(
            lc.State(row.state),
            _pending(revisions),
            author=pending.author,
            approver=approver,
            number=pending.number,
        )
        targets = _resolve(session, content)
        event = "revised" if row.published_revision else "published"
        row.state, pending.status = state, status
        pending.approver, pending.published_at = approver, now
        row.published_revision = pending.number
        _apply_targets(session, package_id, pending.number, targets, now, content)
        _notify(session, package_id, pending.number, content, event)
        log.info(
            "package %d revision %d published by %s to %d organisations",
            package_id,
            pending.number,
            approver,
            len(targets),
        )
        return _view(row, revisions, latest=True)


def withdraw(db: Database, package_id: int, actor: str) -> PackageView:
    with db.transaction() as session:
        row = _package(session, package_id, lock=True)
        row.state = lc.withdraw(lc.State(row.state))
        row.withdrawn_at, row.withdrawn_by = _now(), actor
        return _view(row, _revisions(session, package_id), latest=True)


# -- targeting ------------------------------------------------------------------------------------


def _organisations(session: Session) -> list[targeting.Organisation]:
    return [
        targeting.Organisation(o.id, o.slug, o.kind, tuple(o.sectors))
        for o in session.scalars(select(models.Organisation))
    ]


def _people(session: Session, names: Sequence[str]) -> dict[str, int]:
    if not names:
        return {}
    rows = session.execute(
        select(models.User.name, models.Membership.organisation_id)
        .join(models.Membership, models.Membership.user_id == models.User.id)
        .where(models.User.name.in_(list(names)), models.User.active.is_(True))
    )
    found: dict[str, int] = {}
    for name, org in rows:
        found[name] = org
    return found


def _resolve(session: Session, content: Content) -> dict[int, targeting.Target]:
    exposed: Iterable[int] = ()
    if content.audience.affected and content.tlp is not Tlp.RED:
        exposed = exposed_organisations(session, content.products)
    return targeting.resolve(
        content.tlp,
        content.audience,
        _organisations(session),
        people=_people(session, content.audience.people),
        exposed=exposed,
    )


def _apply_targets(
    session: Session,
    package_id: int,
    number: int,
    targets: dict[int, targeting.Target],
    now: datetime,
    content: Content | None = None,
) -> None:
    """Write the recipients of revision ``number`` (new ones delivered at ``now``; those no
    longer targeted become inactive) and the report clocks ``content`` requires of them."""
    existing = {
        r.organisation_id: r
        for r in session.scalars(
            select(models.PackageRecipientRow).where(
                models.PackageRecipientRow.package_id == package_id
            )
        )
    }
    for org_id, row in existing.items():
        if org_id not in targets:
            row.active, row.named_users = False, []
    for org_id, target in targets.items():
        held = existing.get(org_id)
        if held is None:
            session.add(
                models.PackageRecipientRow(
                    package_id=package_id,
                    organisation_id=org_id,
                    reason=target.reason,
                    active=True,
                    named_users=list(target.named_users),
                    since_revision=number,
                    delivered_at=now,
                )
            )
        else:
            held.active, held.reason = True, target.reason
            held.named_users = list(target.named_users)
    if content is not None and content.reports and targets:
        _open_reports(session, package_id, content.reports, set(targets), now)


#: The organisation kinds that file reports (their members may: ``member_admin``, ``member_user``).
REPORTING_KINDS = frozenset({"operator", "agency"})


def _open_reports(
    session: Session, package_id: int, kinds: Sequence[str], organisations: set[int], now: datetime
) -> None:
    """Start the clock of each report ``kinds`` names for each of ``organisations`` (operators
    and agencies) that does not have that report yet; its clock starts ``now``."""
    from sakimori.config import package_followup_settings
    from sakimori.packages.followup import Policy

    found = package_followup_settings()
    policy = Policy.of_hours(
        found["package_ack_hours"],
        found["package_escalation_hours"],
        found["package_report_hours"],
    )
    reporting = set(
        session.scalars(
            select(models.Organisation.id).where(
                models.Organisation.id.in_(sorted(organisations)),
                models.Organisation.kind.in_(sorted(REPORTING_KINDS)),
            )
        )
    )
    held = {
        (org, kind)
        for org, kind in session.execute(
            select(models.PackageReportRow.organisation_id, models.PackageReportRow.kind).where(
                models.PackageReportRow.package_id == package_id
            )
        )
    }
    for org_id in sorted(reporting):
        for kind in kinds:
            if (org_id, kind) in held:
                continue
            session.add(
                models.PackageReportRow(
                    package_id=package_id,
                    organisation_id=org_id,
                    kind=kind,
                    started_at=now,
                    due_at=policy.report_due(kind, now),
                    body={},
                )
            )


def _notify(
    session: Session,
    package_id: int,
    number: int,
    content: Content,
    event: str,
    organisations: set[int] | None = None,
) -> None:
    """Queue the notifications of this revision in the publishing transaction."""
    from sakimori.services import notifications  # it imports access, which imports this

    session.flush()
    notifications.enqueue_revision(
        session, package_id, number, content, event, organisation_ids=organisations
    )


def exposed_organisations(
    session: Session, products: Iterable[Product], organisation_id: int | None = None
) -> set[int]:
    """Organisations whose current inventories hold one of ``products``: by purl (package
    and version), by CPE (the package's name covers a product entry's, NISTIR 7696), or by
    vendor and product (and version, when given) as the CNAs write them."""
    inventory, component, asset = models.Inventory, models.InventoryComponent, models.Asset
    newer = aliased(models.Inventory)
    is_current = ~(
        select(newer.id)
        .where(newer.asset_id == inventory.asset_id, newer.version > inventory.version)
        .exists()
    )
    found: set[int] = set()
    entries = (
        select(asset.organisation_id, component.cpe)
        .join(inventory, inventory.asset_id == asset.id)
        .join(component, component.inventory_id == inventory.id)
        .where(component.ecosystem == PRODUCT_ECOSYSTEM, is_current)
    )
    if organisation_id is not None:
        entries = entries.where(asset.organisation_id == organisation_id)
    for product in products:
        if product.cpe or product.product:
            found |= _holding_product(session, entries, component, product)
        if not product.purl:
            continue
        ref = parse_purl(product.purl)
        if ref.ecosystem is None:
            continue
        query = (
            select(asset.organisation_id)
            .join(inventory, inventory.asset_id == asset.id)
            .join(component, component.inventory_id == inventory.id)
            .where(
                component.ecosystem == ref.ecosystem,
                component.name == normalize_name(ref.ecosystem, ref.name),
                is_current,
            )
            .distinct()
        )
        if ref.version:
            query = query.where(component.version == ref.version)
        if organisation_id is not None:
            query = query.where(asset.organisation_id == organisation_id)
        found.update(session.scalars(query))
    return found


def _holding_product(session: Session, entries: Any, component: Any, product: Product) -> set[int]:
    """The organisations among ``entries`` (current product entries) holding ``product``."""
    if product.cpe:
        pattern = cpe_name.parse(product.cpe)
        package = key_of(pattern)
        rows = session.execute(
            entries.where(component.name.in_([package, "*:" + package.split(":", 1)[1]]))
        )
        return {
            org
            for org, cpe in rows
            if (entry := product_name_of(cpe)) is not None
            and any(name_matches(pattern, v) for v in variants(entry))
        }
    vendor, named = fold(product.vendor or ""), fold(product.product or "")
    held: set[int] = set()
    for org, cpe in session.execute(entries):
        entry = product_name_of(cpe)
        if entry is None or fold(cpe_name.unquote(entry.product)) != named:
            continue
        if vendor and fold(cpe_name.unquote(entry.vendor)) != vendor:
            continue
        if product.version and cpe_name.unquote(entry.version) != product.version:
            continue
        held.add(org)
    return held


def product_name_of(cpe: str | None) -> cpe_name.Wfn | None:
    try:
        return cpe_name.parse(cpe) if cpe else None
    except InvalidInput:
        return None


def on_new_exposure(db: Database, organisation: str) -> list[Exposure]:
    """After an upload by ``organisation``: add it to every live package for "everyone
    affected" (not TLP:RED) whose affected products its current inventories now hold."""
    added: list[Exposure] = []
    now = _now()
    with db.transaction() as session:
        org = session.scalar(
            select(models.Organisation).where(models.Organisation.slug == organisation)
        )
        if org is None:
            raise NotFound(f"no organisation {organisation!r}")
        live = session.scalars(
            select(models.PackageRow).where(models.PackageRow.state.in_(list(lc.LIVE)))
        ).all()
        for row in live:
            served = session.scalar(
                select(models.PackageRevisionRow).where(
                    models.PackageRevisionRow.package_id == row.id,
                    models.PackageRevisionRow.number == row.published_revision,
                )
            )
            assert served is not None
            content = Content.from_dict(served.content)
            if not content.audience.affected or content.tlp is Tlp.RED:
                continue
            if not exposed_organisations(session, content.products, org.id):
                continue
            current = receipt_of(session, row.id, org.id)
            if current is not None and current.active:
                continue
            _apply_targets(
                session,
                row.id,
                row.published_revision,
                {
                    **{
                        r.organisation_id: targeting.Target(r.organisation_id, r.reason)
                        for r in session.scalars(
                            select(models.PackageRecipientRow).where(
                                models.PackageRecipientRow.package_id == row.id,
                                models.PackageRecipientRow.active.is_(True),
                            )
                        )
                    },
                    org.id: targeting.Target(org.id, targeting.EXPOSURE),
                },
                now,
                content,
            )
            _notify(session, row.id, row.published_revision, content, "exposure", {org.id})
            added.append(Exposure(row.id, organisation))
            log.info("package %d now reaches %s (new exposure)", row.id, organisation)
    return added


# -- renderings -----------------------------------------------------------------------------------


def _releases(view: PackageView) -> list[csaf.Release]:
    return [
        csaf.Release(r.number, r.published_at, r.change)
        for r in view.history
        if r.published_at is not None
    ]


def csaf_document(view: PackageView) -> dict[str, Any]:
    """The CSAF advisory of a published package (``view`` from ``get(latest=False)``)."""
    if not view.revision:
        raise InvalidInput(f"package {view.id} is not published; it has no CSAF document")
    return csaf.render(view.id, view.content, _releases(view))


def stix_objects(view: PackageView) -> list[dict[str, Any]]:
    releases = _releases(view)
    if not releases:
        raise InvalidInput(f"package {view.id} is not published; it has no STIX objects")
    modified = view.withdrawn_at or releases[-1].published_at
    return stix.objects(
        view.id,
        view.content,
        created=releases[0].published_at,
        modified=modified,
        revoked=view.withdrawn_at is not None,
    )


# -- TAXII: package objects rendered on read (stored objects: services.taxii_store) --------------

_ORDER = list(Tlp)


def package_records(
    db: Database, tlp: Tlp, *, staff: bool, organisation_id: int, user: str
) -> list[taxii.Record]:
    """Every version of the STIX objects of the packages this person may read, for the
    collection of ``tlp``.

    Each published revision is one version of the package's objects (added when it was
    published); a withdrawal adds the revoked report. A revision is served only when its label
    is ``tlp`` and is not more restricted than the package's current label: a package whose
    audience was widened does not carry its older, more restricted revisions to the new
    recipients.
    """
    records: list[taxii.Record] = []
    for view in visible(db, staff=staff, organisation_id=organisation_id, user=user):
        with db.transaction() as session:
            revisions = [
                r
                for r in _revisions(session, view.id)
                if r.status == lc.RevisionStatus.PUBLISHED and r.published_at is not None
            ]
        first = aware(revisions[0].published_at)
        assert first is not None
        for number, revision in enumerate(revisions):
            label = Tlp(revision.tlp)
            if label is not tlp or _ORDER.index(label) > _ORDER.index(view.tlp):
                continue
            published = aware(revision.published_at)
            assert published is not None
            content = Content.from_dict(revision.content)
            versions = [(published, False)]
            if number == len(revisions) - 1 and view.withdrawn_at is not None:
                versions.append((view.withdrawn_at, True))
            for moment, revoked in versions:
                for item in stix.objects(
                    view.id, content, created=first, modified=moment, revoked=revoked
                ):
                    if revoked and item["type"] != "report":
                        continue
                    records.append(taxii.Record(moment, item))
    if records:
        earliest = min(r.added for r in records)
        records.append(taxii.Record(earliest, stix.marking(tlp)))
        records.append(taxii.Record(earliest, stix.identity()))
    return records
