"""Findings that persist: inventory uploads, and keeping every asset's findings current.

An upload stores a new inventory version for the asset (its unique package-versions), matches
it, and reconciles the asset's package findings in the same transaction
(``sakimori.services.reconcile`` holds the rules):

- a vulnerability found for the first time opens a finding;
- a finding whose component is gone from the newest inventory closes as ``fixed``
  ("verified by inventory"), from whatever state it was in;
- a ``fixed`` finding whose vulnerable version is back reopens (a regression).

When an advisory is added, changed or withdrawn, ``refresh_packages`` re-matches only the
current inventories that hold the packages it names — no full rescan — and does it for all of
them at once: each distinct package-version is matched once, the results fan out to the assets
that hold it, and the findings of all those assets are reconciled in bulk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Integer, Table, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from sakimori.formats import products_csv
from sakimori.formats.limits import Limits
from sakimori.matching import AdvisoryIndex, PackageVersion, match_components, package_version_of
from sakimori.matching.findings import build_findings
from sakimori.model.finding import Finding as FoundVulnerability
from sakimori.model.inventory import Component
from sakimori.services.assessment import assess_findings, policy_set
from sakimori.services.organisations import asset as find_asset
from sakimori.services.product_findings import match_assets, unknown_products
from sakimori.services.reconcile import Package, SyncCounts, finding_key, reconcile
from sakimori.services.scan import read_bytes, read_inventory
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.store.db import Database
from sakimori.store.inventories import is_current
from sakimori.store.jvn import jvn_ids_for, with_jvn_aliases
from sakimori.triage.policy import PolicySet

#: The origin of the entries of a product list (``inventory_component.origin``).
PRODUCTS = "products"

__all__ = [
    "PRODUCTS",
    "Package",
    "SyncCounts",
    "UploadReport",
    "finding_key",
    "refresh_packages",
    "sync_findings",
    "upload_inventory",
]


@dataclass(slots=True)
class UploadReport:
    asset: str
    version: int
    format: str
    components: int
    package_versions: int
    counts: SyncCounts = field(default_factory=SyncCounts)
    not_evaluated: int = 0
    #: Published counter-measure packages this upload made the organisation a recipient of
    #: (their audience includes "everyone affected" and the new inventory holds a product).
    new_packages: tuple[int, ...] = ()
    #: Product entries (their CPE names) that no loaded record names: most likely spelled
    #: otherwise than NVD and the CNAs spell them (``sakimori product suggest``).
    unknown_products: tuple[str, ...] = ()
    #: Entries of the other kind kept from the previous version (the product list's when an
    #: SBOM or lockfile is uploaded, and the other way round); included in ``components``.
    kept: int = 0


def upload_inventory(
    db: Database,
    ref: str,
    path: Path,
    actor: str,
    limits: Limits,
    now: datetime | None = None,
    policies: PolicySet | None = None,
) -> UploadReport:
    """Parse completely first, then store the new version and reconcile, in one transaction."""
    now = now or datetime.now(UTC)
    inventories = read_inventory(path, limits)
    digest = hashlib.sha256(read_bytes(path, limits)).hexdigest()
    uploaded = [c for inventory in inventories for c in inventory.components]
    origin = PRODUCTS if inventories[0].format == products_csv.FORMAT else None
    with db.transaction() as session:
        target = _locked_asset(session, ref)
        previous = session.scalar(
            select(func.max(models.Inventory.version)).where(models.Inventory.asset_id == target.id)
        )
        version = 1 + (previous or 0)
        # A product list and an SBOM (or lockfile, or image) describe different things: an
        # upload of one kind keeps the other kind's entries of the previous version.
        kept = _entries_of(session, target.id, previous, PRODUCTS if origin is None else None)
        kept_count = len(kept)
        components = uploaded + kept
        inventory = models.Inventory(
            asset_id=target.id,
            version=version,
            format=inventories[0].format,
            source=str(path),
            content_hash=digest,
            component_count=len(components),
            uploaded_at=now,
            uploaded_by=actor,
        )
        session.add(inventory)
        session.flush()
        kept_origin = PRODUCTS if origin is None else None
        entries = [(c, origin) for c in uploaded] + [(c, kept_origin) for c in kept]
        held = _store_components(session, inventory.id, entries)
        found, not_evaluated = _match(session, components, str(path))
        unknown = tuple(c.cpe or c.name for c in unknown_products(session, components))
        why = f"inventory version {version}"
        result = reconcile(session, {target.id: found}, now, why, None)
        # Every package finding of the asset (an upload re-assesses the asset), and those of
        # other assets sharing a detail this match changed.
        scope = result.in_scope | result.changed
        assess_findings(session, scope, policies or policy_set(None), now, why)
        organisation = session.get(models.Organisation, target.organisation_id)
        assert organisation is not None  # the asset's foreign key
        slug = organisation.slug
    # New exposure after publication: the organisation joins the packages it now needs. This
    # reads the committed inventory, in a transaction of its own.
    from sakimori.services.packages import on_new_exposure

    added = on_new_exposure(db, slug)
    return UploadReport(
        ref,
        version,
        inventories[0].format,
        len(components),
        held,
        result.counts,
        not_evaluated,
        tuple(sorted({e.package_id for e in added})),
        unknown,
        kept_count,
    )


def _entries_of(
    session: Session, asset_id: int, version: int | None, origin: str | None
) -> list[Component]:
    """The components of one origin in the asset's inventory ``version`` (none if no version)."""
    if version is None:
        return []
    component = models.InventoryComponent
    wanted = component.origin == origin if origin is not None else component.origin.is_(None)
    rows = session.execute(
        select(
            component.display_name,
            component.version,
            component.ecosystem,
            component.purl,
            component.release,
            component.cpe,
        )
        .join(models.Inventory, models.Inventory.id == component.inventory_id)
        .where(models.Inventory.asset_id == asset_id, models.Inventory.version == version, wanted)
        .order_by(component.id)
    )
    return [
        Component(name=name, version=v, ecosystem=eco, purl=purl, release=release, cpe=cpe)
        for name, v, eco, purl, release, cpe in rows
    ]


def _locked_asset(session: Session, ref: str) -> models.Asset:
    target = find_asset(session, ref)
    # Serialise uploads to one asset (version numbers, reconciliation) on PostgreSQL.
    session.execute(select(models.Asset.id).where(models.Asset.id == target.id).with_for_update())
    return target


def _store_components(
    session: Session, inventory_id: int, components: Sequence[tuple[Component, str | None]]
) -> int:
    unique: dict[PackageVersion, tuple[Component, str | None]] = {}
    for component, origin in components:
        package = package_version_of(component)
        if not isinstance(package, str):
            unique.setdefault(package, (component, origin))
    rows = [
        {
            "inventory_id": inventory_id,
            "ecosystem": p.ecosystem,
            "name": p.name,
            "version": p.version,
            "release": p.release,
            "display_name": c.name,
            "purl": c.purl,
            "cpe": c.cpe,
            "origin": origin,
        }
        for p, (c, origin) in unique.items()
    ]
    table = models.Base.metadata.tables["inventory_component"]
    for part in store.chunks(rows):
        session.execute(table.insert(), list(part))
    return len(rows)


def _match(
    session: Session, components: Sequence[Component], source: str
) -> tuple[list[FoundVulnerability], int]:
    resolved = [package_version_of(c) for c in components]
    wanted = {(p.ecosystem, p.name) for p in resolved if not isinstance(p, str)}
    index = AdvisoryIndex(store.affected_entries(session, wanted))
    results = match_components(components, index, resolved)
    records = {hit.entry.advisory_id for r in results for hit in r.result.hits}
    advisories = store.advisory_summaries(session, records)
    cves = {i for info in advisories.values() for i in info.ids if i.startswith("CVE-")}
    advisories = with_jvn_aliases(advisories, jvn_ids_for(session, cves))
    found, not_evaluated = build_findings(
        source,
        results,
        advisories,
        store.kev_entries(session, cves),
        store.epss_scores(session, cves),
        store.cve_severity(session, cves),
    )
    products, reviews = match_assets(session, {0: components}, source)
    return found + products[0], len(not_evaluated) + len(reviews)


def sync_findings(
    session: Session,
    asset_id: int,
    found: Iterable[FoundVulnerability],
    now: datetime,
    why: str,
    scope: set[Package] | None,
) -> SyncCounts:
    """Reconcile one asset's package findings with what matching found now.

    ``scope`` limits the reconciliation to findings of these packages (an advisory refresh);
    ``None`` means the whole inventory (an upload).
    """
    return reconcile(session, {asset_id: list(found)}, now, why, scope).counts


def refresh_packages(
    session: Session,
    packages: set[Package],
    now: datetime,
    why: str,
    policies: PolicySet | None = None,
) -> SyncCounts:
    """Re-match the current inventories holding any of ``packages`` (after an intel change).

    Findings created, reopened, closed or changed are re-assessed, and so are those matched by
    a record this load wrote (``advisory.loaded_at`` at or after ``now``, the time the caller
    stored the changed advisories with): their evidence may have changed even when nothing
    else about them did.
    """
    if not packages:
        return SyncCounts()
    held = _current_holders(session, packages)
    if not held:
        return SyncCounts()
    found = _match_held(session, held, why)
    spellings = set(packages)
    spellings.update(
        (c.ecosystem, c.name) for components in held.values() for c in components if c.ecosystem
    )
    result = reconcile(session, found, now, why, packages, spellings)
    fresh = _records_written_since(session, {r for rs in result.matched.values() for r in rs}, now)
    ids = result.changed | {
        i for i, records in result.matched.items() if fresh.intersection(records)
    }
    if ids:
        assess_findings(session, ids, policies or policy_set(None), now, why)
    return result.counts


def _by_ecosystem(packages: Iterable[Package]) -> list[tuple[str, list[str]]]:
    grouped: dict[str, set[str]] = {}
    for ecosystem, name in packages:
        grouped.setdefault(ecosystem, set()).add(name)
    return [(ecosystem, sorted(names)) for ecosystem, names in sorted(grouped.items())]


def _current_holders(session: Session, packages: set[Package]) -> dict[int, list[Component]]:
    """The current inventories' components of ``packages``, by asset, with the assets locked.

    On PostgreSQL the assets are locked (in id order) as an upload locks its asset, so an
    upload and a refresh of the same asset run one after the other. The components are read
    first and the read is repeated if an upload committed a newer inventory meanwhile (rare):
    reading once, locking by primary key and checking the versions costs less than a second
    pass over the package index.
    """
    held, versions = _held_components(session, packages)
    if session.get_bind().dialect.name != "postgresql" or not held:
        return held  # SQLite writes one transaction at a time
    ids = bindparam("ids", sorted(held), type_=postgresql.ARRAY(Integer))
    inventory = models.Inventory
    session.execute(
        select(models.Asset.id)
        .where(models.Asset.id == any_(ids))
        .order_by(models.Asset.id)
        .with_for_update()
    ).all()
    newest = session.execute(
        select(inventory.asset_id, func.max(inventory.version))
        .where(inventory.asset_id == any_(ids))
        .group_by(inventory.asset_id)
    )
    if any(versions[asset_id] != version for asset_id, version in newest):
        held, _ = _held_components(session, packages)
    return held


def _held_components(
    session: Session, packages: set[Package]
) -> tuple[dict[int, list[Component]], dict[int, int]]:
    """``{asset id: its current inventory's components of packages}`` and the inventory
    versions read, in one query per chunk of names.

    The query starts from the package index and keeps a row when no newer inventory of its
    asset exists (an index probe each): joining a ``max(version)`` per asset instead made
    PostgreSQL walk every inventory when its estimate for a popular package was low.
    """
    # Core tables, not ORM entities: ten thousand rows come back, and the ORM's row handling
    # cost more than the query.
    inventory: Table = models.Inventory.__table__  # type: ignore[assignment]
    component: Table = models.InventoryComponent.__table__  # type: ignore[assignment]
    columns = (
        inventory.c.asset_id,
        inventory.c.version,
        component.c.display_name,
        component.c.version,
        component.c.ecosystem,
        component.c.purl,
        component.c.release,
    )
    held: dict[int, list[Component]] = {}
    versions: dict[int, int] = {}
    shared: dict[tuple[str, str, str, str | None, str | None], Component] = {}
    for ecosystem, names in _by_ecosystem(packages):
        for part in store.chunks(names, 500):
            rows = session.execute(
                select(*columns)
                .select_from(component.join(inventory, inventory.c.id == component.c.inventory_id))
                .where(
                    component.c.ecosystem == ecosystem,
                    component.c.name.in_(part),
                    is_current(inventory),
                )
                .order_by(inventory.c.asset_id, component.c.id)
            )
            for asset_id, inventory_version, name, version, eco, purl, release in rows:
                identity = (name, version, eco, purl, release)
                item = shared.get(identity)
                if item is None:
                    item = shared[identity] = Component(
                        name=name, version=version, ecosystem=eco, purl=purl, release=release
                    )
                held.setdefault(asset_id, []).append(item)
                versions[asset_id] = inventory_version
    return held, versions


def _match_held(
    session: Session, held: Mapping[int, Sequence[Component]], why: str
) -> dict[int, list[FoundVulnerability]]:
    """Match each distinct component once and fan its findings out to the assets holding it.

    Per asset, the result is what :func:`_match` gives for that asset's components: one
    finding per (package-version, vulnerability), the first component's spelling kept.
    """
    unique = list(dict.fromkeys(c for components in held.values() for c in components))
    position = {component: i for i, component in enumerate(unique)}
    resolved = [package_version_of(c) for c in unique]
    wanted = {(p.ecosystem, p.name) for p in resolved if not isinstance(p, str)}
    index = AdvisoryIndex(store.affected_entries(session, wanted))
    results = match_components(unique, index, resolved)
    records = {hit.entry.advisory_id for r in results for hit in r.result.hits}
    advisories = store.advisory_summaries(session, records)
    cves = {i for info in advisories.values() for i in info.ids if i.startswith("CVE-")}
    advisories = with_jvn_aliases(advisories, jvn_ids_for(session, cves))
    kev = store.kev_entries(session, cves)
    epss = store.epss_scores(session, cves)
    cvss = store.cve_severity(session, cves)
    per_component: dict[int, list[FoundVulnerability]] = {}
    for result in results:
        if result.result.hits:
            found, _ = build_findings(why, [result], advisories, kev, epss, cvss)
            per_component[result.index] = found
    matched: dict[int, list[FoundVulnerability]] = {}
    for asset_id, components in held.items():
        chosen: dict[tuple[str, str, str, str], FoundVulnerability] = {}
        for component in components:
            i = position[component]
            package = resolved[i]
            if isinstance(package, str):
                continue
            for item in per_component.get(i, ()):
                identity = (package.ecosystem, package.name, package.version, item.vulnerability)
                chosen.setdefault(identity, item)
        matched[asset_id] = list(chosen.values())
    return matched


def _records_written_since(session: Session, records: set[str], now: datetime) -> set[str]:
    """The advisory records among ``records`` stored at or after ``now`` (by this load)."""
    table = models.Advisory
    fresh: set[str] = set()
    for part in store.chunks(sorted(records), 900):
        fresh.update(
            session.scalars(select(table.id).where(table.id.in_(part), table.loaded_at >= now))
        )
    return fresh
