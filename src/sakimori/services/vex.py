"""VEX for organisations and assets: import a document and apply it to findings; export.

``import_vex`` parses the whole document first (any of the three formats), then, in one
transaction, stores it as received with one ``vex_statement`` row per (statement, product), and
applies each statement to the findings it matches: same package (purl, see ``vex_match``) and
same vulnerability (the id or any alias, on either side). What a statement does to a matched
finding (``docs/vex.md``, "Importing"):

- ``not_affected`` with a justification → the finding moves to ``not_affected`` (without a
  justification the lifecycle refuses the move, and the finding is reported as skipped);
- ``fixed`` → ``fixed`` when the lifecycle allows it (from ``fix_applied``), else skipped;
- ``affected`` → an ``open`` finding is acknowledged, the action statement in the note;
- ``under_investigation`` → recorded, nothing changes.

Closed findings are never reopened or re-closed by an import: they are reported as skipped.
Every move is checked by ``model.lifecycle.check`` and recorded like ``findings.transition``
(who, when, from, to, note) on the finding's locked row.

A statement whose product matches no component of a current inventory of the organisation (or
the asset) is an *unknown product*: the whole import is refused, naming it, and nothing is
written — unless ``allow_unmatched``, which stores it and reports it as unmatched.

``export_vex`` writes the imported statements (as imported) and, for the findings in scope,
statements derived from their states, leaving out a derived one that an imported statement
already says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from sakimori.errors import Conflict, InvalidInput, NotFound, SakimoriError
from sakimori.formats.limits import DEFAULT_LIMITS, Limits
from sakimori.formats.vex import VexFormat, csaf_vex, cyclonedx_vex, detect, openvex, parse
from sakimori.model.ecosystem import to_purl
from sakimori.model.lifecycle import ALLOWED, CLOSED, Move, State
from sakimori.model.vex import VexDocument, VexProduct, VexStatement, VexStatus
from sakimori.services.findings import apply_move
from sakimori.services.organisations import organisation as find_organisation
from sakimori.services.vex_export import derive, merge
from sakimori.services.vex_match import from_data, same_package, same_vulnerability, to_data
from sakimori.store import models
from sakimori.store.db import Database


@dataclass(frozen=True, slots=True)
class FindingChange:
    """A finding a statement moved."""

    finding_id: int
    asset: str
    vulnerability: str
    from_state: str
    to_state: str


@dataclass(frozen=True, slots=True)
class FindingSkip:
    """A finding a statement matched but did not move, and why."""

    finding_id: int
    asset: str
    vulnerability: str
    state: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    document_id: int
    format: str
    author: str | None
    statements: int  # stored rows: one per (statement, product)
    matched: int  # findings matched (a finding matched by two statements counts twice)
    applied: tuple[FindingChange, ...]
    skipped: tuple[FindingSkip, ...]
    unmatched: tuple[str, ...]  # "vulnerability in product" of unknown-product statements


@dataclass(frozen=True, slots=True)
class StatementView:
    id: int
    vulnerability: str
    aliases: tuple[str, ...]
    product: str
    asset: str | None
    status: str
    justification: str | None
    document_id: int | None  # the import it came from
    document: str  # where it came from: the import's source and the document's own id
    stated_at: datetime | None
    matched: int
    applied: int
    unmatched: bool


# -- import ---------------------------------------------------------------------------------------


def import_vex(
    db: Database,
    data: bytes,
    *,
    organisation: str,
    asset: str | None,
    actor: str,
    source: str,
    allow_unmatched: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    now: datetime | None = None,
) -> ImportReport:
    """Import a VEX document for ``organisation`` (or its ``asset``, a slug) and apply it."""
    now = now or datetime.now(UTC)
    if not actor.strip():
        raise InvalidInput("a VEX import needs the person who makes it", hint="give --actor")
    try:
        fmt = detect(data, limits)
        document = parse(data, limits)
    except SakimoriError as exc:
        raise exc.located(source) from None
    singles = document.split()
    digest = hashlib.sha256(data).hexdigest()
    with db.transaction() as session:
        owner = find_organisation(session, organisation)
        target = _scope_asset(session, owner, asset)
        scope = f"{owner.slug}/{target.slug}" if target else owner.slug
        assets = _assets(session, owner, target)
        components = _current_purls(session, assets)
        known = [_known(single.products[0], components) for single in singles]
        unknown = [_said(s) for s, ok in zip(singles, known, strict=True) if not ok]
        if unknown and not allow_unmatched:
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            raise InvalidInput(
                f"the VEX statement on {unknown[0]} names a product that is in no current "
                f"inventory of {scope}{more}; nothing was imported",
                where=source,
                hint="check the product's purl against the inventory, upload the inventory "
                "first, or import with --allow-unmatched to keep such statements unapplied",
            )
        _refuse_duplicate(session, owner.id, target, digest, source)
        row = models.VexDocumentRow(
            organisation_id=owner.id,
            asset_id=target.id if target else None,
            format=fmt.value,
            document_ref=document.id,
            author=document.author,
            issued_at=document.issued,
            source=source,
            content_hash=digest,
            document=data,
            imported_at=now,
            imported_by=actor.strip(),
        )
        session.add(row)
        session.flush()
        refs = {a.id: f"{owner.slug}/{a.slug}" for a in assets}
        findings = _matching_findings(session, list(refs), singles)
        applied: list[FindingChange] = []
        skipped: list[FindingSkip] = []
        matched = 0
        for single, product_known in zip(singles, known, strict=True):
            hits = [f for f in findings if _matches(single, f)]
            matched += len(hits)
            moved: list[int] = []
            for finding in hits:
                outcome = _apply(session, finding, single, document, source, actor, now)
                where = refs[finding.asset_id]
                if isinstance(outcome, _Skip):
                    skipped.append(
                        FindingSkip(
                            finding.id, where, single.vulnerability, finding.state, outcome.reason
                        )
                    )
                elif outcome is not None:
                    moved.append(finding.id)
                    applied.append(
                        FindingChange(
                            finding.id, where, single.vulnerability, outcome.value, finding.state
                        )
                    )
            product = single.products[0]
            session.add(
                models.VexStatementRow(
                    document_id=row.id,
                    organisation_id=owner.id,
                    asset_id=target.id if target else None,
                    vulnerability=single.vulnerability,
                    aliases=list(single.aliases),
                    purl=product.purl,
                    cpe=product.cpe,
                    status=single.status.value,
                    justification=single.justification.value if single.justification else None,
                    data=to_data(single),
                    stated_at=single.timestamp,
                    recorded_at=now,
                    unmatched=not product_known,
                    matched_findings=[f.id for f in hits],
                    applied_findings=moved,
                )
            )
        return ImportReport(
            document_id=row.id,
            format=fmt.value,
            author=document.author,
            statements=len(singles),
            matched=matched,
            applied=tuple(applied),
            skipped=tuple(skipped),
            unmatched=tuple(unknown),
        )


def _said(statement: VexStatement) -> str:
    return f"{statement.vulnerability} in {statement.products[0].label}"


def _scope_asset(
    session: Session, owner: models.Organisation, asset: str | None
) -> models.Asset | None:
    if asset is None:
        return None
    from sakimori.services.organisations import asset as find_asset

    slug = asset.rsplit("/", 1)[-1]
    return find_asset(session, f"{owner.slug}/{slug}")


def _assets(
    session: Session, owner: models.Organisation, target: models.Asset | None
) -> list[models.Asset]:
    if target is not None:
        return [target]
    return list(
        session.scalars(
            select(models.Asset)
            .where(models.Asset.organisation_id == owner.id)
            .order_by(models.Asset.id)
        )
    )


def _current_purls(session: Session, assets: Sequence[models.Asset]) -> list[tuple[int, str]]:
    """(asset id, purl) of every component of each asset's newest inventory."""
    if not assets:
        return []
    newest = (
        select(models.Inventory.asset_id, func.max(models.Inventory.version).label("version"))
        .where(models.Inventory.asset_id.in_([a.id for a in assets]))
        .group_by(models.Inventory.asset_id)
        .subquery()
    )
    rows = session.execute(
        select(
            models.Inventory.asset_id,
            models.InventoryComponent.purl,
            models.InventoryComponent.ecosystem,
            models.InventoryComponent.name,
            models.InventoryComponent.version,
        )
        .join(models.Inventory, models.Inventory.id == models.InventoryComponent.inventory_id)
        .join(
            newest,
            (newest.c.asset_id == models.Inventory.asset_id)
            & (newest.c.version == models.Inventory.version),
        )
    )
    found: list[tuple[int, str]] = []
    for asset_id, purl, ecosystem, name, version in rows:
        written = purl or to_purl(ecosystem, name, version)
        if written:
            found.append((asset_id, written))
    return found


def _known(product: VexProduct, components: Sequence[tuple[int, str]]) -> bool:
    return product.purl is not None and any(
        same_package(product.purl, purl) for _, purl in components
    )


def _refuse_duplicate(
    session: Session, owner_id: int, target: models.Asset | None, digest: str, source: str
) -> None:
    query = select(models.VexDocumentRow).where(
        models.VexDocumentRow.organisation_id == owner_id,
        models.VexDocumentRow.content_hash == digest,
        models.VexDocumentRow.asset_id.is_(None)
        if target is None
        else models.VexDocumentRow.asset_id == target.id,
    )
    earlier = session.scalars(query.limit(1)).first()
    if earlier is not None:
        raise Conflict(
            f"this VEX document was imported already (document {earlier.id}, from "
            f"{earlier.source}, on {earlier.imported_at:%Y-%m-%d})",
            where=source,
            hint="see `sakimori vex list`; a new version of the document can be imported",
        )


def _finding_purl(finding: models.Finding) -> str | None:
    if finding.purl:
        return finding.purl
    if finding.ecosystem and finding.package:
        return to_purl(finding.ecosystem, finding.package, finding.version)
    return None


def _matches(statement: VexStatement, finding: models.Finding) -> bool:
    product = statement.products[0]
    purl = _finding_purl(finding)
    return (
        product.purl is not None
        and purl is not None
        and same_package(product.purl, purl)
        and same_vulnerability(
            statement.vulnerability_ids, (finding.vulnerability, *finding.aliases)
        )
    )


def _matching_findings(
    session: Session, asset_ids: list[int], statements: Sequence[VexStatement]
) -> list[models.Finding]:
    """The package findings of the assets that some statement matches, their rows locked."""
    if not asset_ids or not statements:
        return []
    candidates = session.scalars(
        select(models.Finding).where(
            models.Finding.asset_id.in_(asset_ids), models.Finding.kind == "package"
        )
    ).all()
    wanted = [f.id for f in candidates if any(_matches(s, f) for s in statements)]
    if not wanted:
        return []
    # Lock, then read the state as it is now: a concurrent transition waits or is waited for.
    return list(
        session.scalars(
            select(models.Finding)
            .where(models.Finding.id.in_(wanted))
            .order_by(models.Finding.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


@dataclass(frozen=True, slots=True)
class _Skip:
    reason: str


def _apply(
    session: Session,
    finding: models.Finding,
    statement: VexStatement,
    document: VexDocument,
    source: str,
    actor: str,
    now: datetime,
) -> State | _Skip | None:
    """Apply one statement to one matched finding: the state it left (the move was made), why
    it was skipped, or ``None`` (recorded, no change)."""
    current = State(finding.state)
    if current in CLOSED:
        return _Skip(f"closed ({current.value}); a VEX import does not reopen or re-close it")
    note = _note(statement, document, source)
    move: Move | None = None
    if statement.status is VexStatus.NOT_AFFECTED:
        if statement.justification is None:
            return _Skip("the statement gives no justification, which 'not affected' needs")
        move = Move(State.NOT_AFFECTED, actor.strip(), note, statement.justification.value)
    elif statement.status is VexStatus.FIXED:
        if State.FIXED not in ALLOWED[current]:
            return _Skip(f"the lifecycle does not allow {current.value} -> fixed")
        move = Move(State.FIXED, actor.strip(), note)
    elif statement.status is VexStatus.AFFECTED and current is State.OPEN:
        move = Move(State.ACKNOWLEDGED, actor.strip(), note)
    if move is None:
        return None
    apply_move(session, finding, move, now)
    return current


def _note(statement: VexStatement, document: VexDocument, source: str) -> str:
    parts = [
        f"VEX {statement.status.value} from {document.id or source} "
        f"by {statement.author or document.author or 'an unnamed author'}"
    ]
    if statement.justification is not None:
        parts.append(f"justification: {statement.justification.value}")
    if statement.impact_statement:
        parts.append(f"impact: {statement.impact_statement}")
    if statement.action_statement:
        parts.append(f"action: {statement.action_statement}")
    return "; ".join(parts)


# -- export and list ------------------------------------------------------------------------------


def export_vex(
    db: Database,
    *,
    organisation: str,
    asset: str | None = None,
    fmt: VexFormat,
    derived: bool = True,
    tlp: str = "AMBER",
    publisher_namespace: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """The statements of ``organisation`` (or its ``asset``) as one VEX document in ``fmt``.

    Imported statements come out as imported; with ``derived``, the findings' states are added
    as statements (``vex_export.derive``) unless an imported statement says the same already.
    CSAF needs a TLP label (TLP 1.0, as CSAF 2.0 uses) and the publisher's namespace URI.
    """
    now = now or datetime.now(UTC)
    with db.transaction() as session:
        owner = find_organisation(session, organisation)
        target = _scope_asset(session, owner, asset)
        imported = [from_data(row.data) for row in _statement_rows(session, owner, target)]
        findings: list[tuple[models.Finding, str | None]] = []
        if derived:
            assets = _assets(session, owner, target)
            findings = [
                (f, _finding_purl(f))
                for f in session.scalars(
                    select(models.Finding)
                    .where(
                        models.Finding.asset_id.in_([a.id for a in assets]),
                        models.Finding.kind == "package",
                    )
                    .order_by(models.Finding.id)
                )
            ]
        statements = merge([*imported, *derive(findings, imported, owner.name)])
        name, slug = owner.name, owner.slug
    document = VexDocument(statements=tuple(statements), author=name, timestamp=now)
    if fmt is VexFormat.OPENVEX:
        return openvex.render(document)
    if fmt is VexFormat.CYCLONEDX:
        return cyclonedx_vex.render(document)
    if not statements:
        raise NotFound(
            f"{slug + (f'/{asset}' if asset else '')} has no VEX statement and no finding to "
            "export, and a CSAF VEX document needs at least one",
            hint="import a VEX document or upload an inventory first",
        )
    return csaf_vex.render(
        document,
        tlp=tlp,
        publisher_namespace=publisher_namespace or f"urn:sakimori:organisation:{slug}",
        title=f"VEX statements of {name}" + (f" for {asset}" if asset else ""),
    )


def _statement_rows(
    session: Session, owner: models.Organisation, target: models.Asset | None
) -> list[models.VexStatementRow]:
    """An organisation's statements; for an asset, those imported for it, and those imported for
    the whole organisation whose product is in the asset's current inventory."""
    query = select(models.VexStatementRow).where(models.VexStatementRow.organisation_id == owner.id)
    if target is not None:
        query = query.where(
            or_(
                models.VexStatementRow.asset_id == target.id,
                models.VexStatementRow.asset_id.is_(None),
            )
        )
    rows = list(session.scalars(query.order_by(models.VexStatementRow.id)))
    if target is None:
        return rows
    components = _current_purls(session, [target])
    return [
        row
        for row in rows
        if row.asset_id == target.id
        or (row.purl is not None and _known(VexProduct(purl=row.purl), components))
    ]


def list_statements(
    db: Database, *, organisation: str, asset: str | None = None
) -> list[StatementView]:
    with db.transaction() as session:
        owner = find_organisation(session, organisation)
        target = _scope_asset(session, owner, asset)
        rows = _statement_rows(session, owner, target)
        documents = {
            d.id: d
            for d in session.scalars(
                select(models.VexDocumentRow).where(
                    models.VexDocumentRow.id.in_({r.document_id for r in rows if r.document_id})
                )
            )
        }
        slugs = {  # noqa: C416 - a Result is not a mapping (see organisations.list_organisations)
            asset_id: slug
            for asset_id, slug in session.execute(
                select(models.Asset.id, models.Asset.slug).where(
                    models.Asset.organisation_id == owner.id
                )
            )
        }
        views = []
        for row in rows:
            origin = documents.get(row.document_id) if row.document_id else None
            statement = from_data(row.data)
            views.append(
                StatementView(
                    id=row.id,
                    vulnerability=row.vulnerability,
                    aliases=tuple(row.aliases),
                    product=statement.products[0].label,
                    asset=f"{owner.slug}/{slugs[row.asset_id]}" if row.asset_id else None,
                    status=row.status,
                    justification=row.justification,
                    document_id=row.document_id,
                    document=_origin(origin),
                    stated_at=row.stated_at,
                    matched=len(row.matched_findings),
                    applied=len(row.applied_findings),
                    unmatched=row.unmatched,
                )
            )
        return views


def _origin(document: models.VexDocumentRow | None) -> str:
    if document is None:
        return "made here"
    ref = f" ({document.document_ref})" if document.document_ref else ""
    return f"{document.source}{ref}"
