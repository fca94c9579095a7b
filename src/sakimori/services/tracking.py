"""Findings that persist: inventory uploads, and keeping every asset's findings current.

An upload stores a new inventory version for the asset (its unique package-versions), matches
it, and reconciles the asset's package findings in the same transaction:

- a vulnerability found for the first time opens a finding;
- a finding whose component is gone from the newest inventory closes as ``fixed``
  ("verified by inventory"), from whatever state it was in;
- a ``fixed`` finding whose vulnerable version is back reopens (a regression).

When an advisory is added, changed or withdrawn, ``refresh_packages`` re-matches only the
current inventories that hold the packages it names — no full rescan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sakimori.formats.limits import Limits
from sakimori.matching import AdvisoryIndex, PackageVersion, match_components, package_version_of
from sakimori.matching.findings import build_findings
from sakimori.model.ecosystem import normalize_name
from sakimori.model.finding import Finding as FoundVulnerability
from sakimori.model.inventory import Component
from sakimori.model.lifecycle import State
from sakimori.services.assessment import assess_asset, policy_set
from sakimori.services.organisations import asset as find_asset
from sakimori.services.scan import read_bytes, read_inventory
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.store.db import Database
from sakimori.triage.policy import PolicySet

Package = tuple[str, str]


@dataclass(slots=True)
class SyncCounts:
    opened: int = 0
    closed: int = 0
    reopened: int = 0
    kept: int = 0

    def add(self, other: SyncCounts) -> None:
        self.opened += other.opened
        self.closed += other.closed
        self.reopened += other.reopened
        self.kept += other.kept


@dataclass(slots=True)
class UploadReport:
    asset: str
    version: int
    format: str
    components: int
    package_versions: int
    counts: SyncCounts = field(default_factory=SyncCounts)
    not_evaluated: int = 0


def finding_key(found: FoundVulnerability) -> str:
    return f"pkg:{found.ecosystem}/{found.package}@{found.version}#{found.vulnerability}"


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
    components = [c for inventory in inventories for c in inventory.components]
    with db.transaction() as session:
        target = _locked_asset(session, ref)
        version = 1 + (
            session.scalar(
                select(func.max(models.Inventory.version)).where(
                    models.Inventory.asset_id == target.id
                )
            )
            or 0
        )
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
        held = _store_components(session, inventory.id, components)
        found, not_evaluated = _match(session, components, str(path))
        why = f"inventory version {version}"
        counts = sync_findings(session, target.id, found, now, why, scope=None)
        session.flush()
        assess_asset(session, target.id, policies or policy_set(None), now, why)
    return UploadReport(
        ref, version, inventories[0].format, len(components), held, counts, not_evaluated
    )


def _locked_asset(session: Session, ref: str) -> models.Asset:
    target = find_asset(session, ref)
    # Serialise uploads to one asset (version numbers, reconciliation) on PostgreSQL.
    session.execute(select(models.Asset.id).where(models.Asset.id == target.id).with_for_update())
    return target


def _store_components(session: Session, inventory_id: int, components: Sequence[Component]) -> int:
    unique: dict[PackageVersion, Component] = {}
    for component in components:
        package = package_version_of(component)
        if not isinstance(package, str):
            unique.setdefault(package, component)
    rows = [
        {
            "inventory_id": inventory_id,
            "ecosystem": p.ecosystem,
            "name": p.name,
            "version": p.version,
            "release": p.release,
            "display_name": c.name,
            "purl": c.purl,
        }
        for p, c in unique.items()
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
    found, not_evaluated = build_findings(
        source,
        results,
        advisories,
        store.kev_entries(session, cves),
        store.epss_scores(session, cves),
        store.cve_severity(session, cves),
    )
    return found, len(not_evaluated)


def _transition(
    session: Session, row: models.Finding, to: State, now: datetime, actor: str, note: str
) -> None:
    session.add(
        models.FindingTransition(
            finding_id=row.id,
            at=now,
            actor=actor,
            from_state=row.state,
            to_state=to.value,
            note=note,
        )
    )
    row.state = to.value
    row.state_changed_at = now
    row.closed_at = (
        now
        if to in {State.FIXED, State.MITIGATED, State.NOT_AFFECTED, State.RISK_ACCEPTED}
        else None
    )
    row.revision += 1


def sync_findings(
    session: Session,
    asset_id: int,
    found: Iterable[FoundVulnerability],
    now: datetime,
    why: str,
    scope: set[Package] | None,
) -> SyncCounts:
    """Reconcile an asset's package findings with what matching found now.

    ``scope`` limits the reconciliation to findings of these packages (an advisory refresh);
    ``None`` means the whole inventory (an upload).
    """
    counts = SyncCounts()
    query = select(models.Finding).where(
        models.Finding.asset_id == asset_id, models.Finding.kind == "package"
    )
    existing = {row.key: row for row in session.scalars(query)}
    current = {finding_key(f): f for f in found}
    actor = "sakimori"
    for key, item in current.items():
        row = existing.get(key)
        if row is None:
            row = models.Finding(
                asset_id=asset_id,
                key=key,
                kind="package",
                vulnerability=item.vulnerability,
                aliases=list(item.aliases),
                records=list(item.records),
                ecosystem=item.ecosystem,
                package=item.package,
                version=item.version,
                purl=item.purl,
                fixed_versions=list(item.fixed),
                state=State.OPEN.value,
                first_seen_at=now,
                last_seen_at=now,
                state_changed_at=now,
                revision=1,
            )
            session.add(row)
            session.flush()
            session.add(
                models.FindingTransition(
                    finding_id=row.id,
                    at=now,
                    actor=actor,
                    from_state=None,
                    to_state=State.OPEN.value,
                    note=f"found: {why}",
                )
            )
            counts.opened += 1
            continue
        row.last_seen_at = now
        row.aliases, row.records = list(item.aliases), list(item.records)
        row.fixed_versions = list(item.fixed)
        if row.state == State.FIXED.value:
            _transition(session, row, State.OPEN, now, actor, f"regression: back in {why}")
            row.resolution = None
            counts.reopened += 1
        else:
            counts.kept += 1
    for key, row in existing.items():
        if key in current or row.state == State.FIXED.value:
            continue
        if scope is not None and _package_of(row) not in scope:
            continue
        _transition(session, row, State.FIXED, now, actor, f"verified by inventory: {why}")
        row.resolution = "verified by inventory"
        counts.closed += 1
    return counts


def _package_of(row: models.Finding) -> Package:
    ecosystem = row.ecosystem or ""
    return ecosystem, normalize_name(ecosystem, row.package or "")


def refresh_packages(
    session: Session,
    packages: set[Package],
    now: datetime,
    why: str,
    policies: PolicySet | None = None,
) -> SyncCounts:
    """Re-match the current inventories holding any of ``packages`` (after an intel change)."""
    counts = SyncCounts()
    if not packages:
        return counts
    latest = (
        select(models.Inventory.asset_id, func.max(models.Inventory.version).label("version"))
        .group_by(models.Inventory.asset_id)
        .subquery()
    )
    component = models.InventoryComponent
    held: dict[int, list[Component]] = {}
    by_ecosystem: dict[str, set[str]] = {}
    for ecosystem, name in packages:
        by_ecosystem.setdefault(ecosystem, set()).add(name)
    for ecosystem, names in by_ecosystem.items():
        for part in store.chunks(sorted(names), 500):
            rows = session.execute(
                select(models.Inventory.asset_id, component)
                .join(models.Inventory, models.Inventory.id == component.inventory_id)
                .join(
                    latest,
                    (latest.c.asset_id == models.Inventory.asset_id)
                    & (latest.c.version == models.Inventory.version),
                )
                .where(component.ecosystem == ecosystem, component.name.in_(part))
            )
            for asset_id, row in rows:
                held.setdefault(asset_id, []).append(
                    Component(
                        name=row.display_name,
                        version=row.version,
                        ecosystem=row.ecosystem,
                        purl=row.purl,
                        release=row.release,
                    )
                )
    for asset_id, components in sorted(held.items()):
        found, _ = _match(session, components, why)
        counts.add(sync_findings(session, asset_id, found, now, why, scope=packages))
        session.flush()
        assess_asset(session, asset_id, policies or policy_set(None), now, why)
    return counts
