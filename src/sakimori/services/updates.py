"""Vendors' TUF repositories hosted by the platform: register, publish, serve, refresh, report.

Where things are (the repositories are files, as TUF wants them)::

    $SAKIMORI_HOME/updates-repos/<vendor>/      the vendor's repository (updates/layout.py):
                                                public/metadata, public/targets are served
    $SAKIMORI_HOME/updates-keys/<vendor>/       the platform's online snapshot and timestamp
                                                keys (directory 0700, private keys 0600)

The database keeps what links the repositories to the programme (migration 0009): the releases
published (``update_release``), every roll-out step reported (``update_report``) and which
recipient organisation has seen which release (``update_seen``, the in-interface alert).

The use cases check the role and the token scope first (``access.require``), then the tenancy:

- a repository is read (metadata, artefacts, the list) by coordinator staff, by every member
  organisation — TUF metadata is signed, not secret, and a vendor's customers are not known to
  the platform — and by the vendor itself; another vendor gets 404, partners 403;
- only the vendor organisation a repository belongs to uploads to it (another vendor: 404);
- the coordinator admin registers a repository (making its online keys); staff refresh
  timestamps (and the jobs layer calls :func:`refresh_all` on a schedule);
- releases are listed to staff (all) and to members (those whose counter-measure package they
  receive); an operator reports roll-out steps for its own assets only (another's: 404).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from tuf.api.metadata import Metadata, Targets

from sakimori.config import Settings
from sakimori.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from sakimori.model.lifecycle import Move, State
from sakimori.services import audit
from sakimori.services import findings as findings_service
from sakimori.services import organisations as registry
from sakimori.services import packages as packages_service
from sakimori.services.access import Action, Principal, Role, require
from sakimori.store import models
from sakimori.store.db import Database
from sakimori.updates import keys as keyfiles
from sakimori.updates import repository as tuf_repository
from sakimori.updates.acceptance import Release, UploadRefused, parse
from sakimori.updates.layout import ONLINE, check_file_name, check_line

log = logging.getLogger(__name__)

REPOS_DIR = "updates-repos"
KEYS_DIR = "updates-keys"
_VENDOR = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_METADATA_NAME = re.compile(r"^(?:[0-9]{1,10}\.)?[a-z0-9][a-z0-9-]{0,62}\.json$")
_PACKAGE_REF = re.compile(r"^(?:SAKIMORI-PKG-)?0*([0-9]{1,9})$", re.IGNORECASE)
#: Findings in these states move to ``fix_applied`` when a release fixing them is rolled out.
_MOVABLE = (State.OPEN, State.ACKNOWLEDGED, State.IN_PROGRESS)
#: Roll-out journal events an operator may report (updates/rollout.py).
REPORTED_EVENTS = frozenset(
    {
        "rollout-started",
        "already-installed",
        "installed",
        "install-failed",
        "health-check",
        "health-check-skipped",
        "rolled-back",
        "rollback-failed",
        "rollout-failed",
        "rollout-completed",
        "rollback-started",
        "rollback-completed",
    }
)
#: The event after which the release counts as rolled out to the asset.
COMPLETED = "rollout-completed"
#: The event after which every host is back on its previous version.
ROLLED_BACK = "rollback-completed"


@dataclass(frozen=True)
class Hosting:
    """Where the platform keeps the hosted repositories and their online keys."""

    home: Path

    @classmethod
    def of(cls, settings: Settings) -> Hosting:
        return cls(settings.home)

    def repository(self, vendor: str) -> tuf_repository.VendorRepository:
        return tuf_repository.VendorRepository(self.home / REPOS_DIR / _vendor(vendor))

    def keys(self, vendor: str) -> Path:
        return self.home / KEYS_DIR / _vendor(vendor)

    def vendors(self) -> list[str]:
        base = self.home / KEYS_DIR
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and _VENDOR.match(p.name))

    def registered(self, vendor: str) -> bool:
        return (self.keys(vendor) / "timestamp.key").is_file()


@dataclass(frozen=True)
class RepositoryInfo:
    vendor: str
    #: The online keys' TUF key objects (``keyid`` added), for the vendor's root.
    online_keys: dict[str, dict[str, Any]]
    root_version: int | None
    timestamp_version: int | None


@dataclass(frozen=True)
class ReleaseView:
    vendor: str
    path: str
    line: str
    version: str
    package: str
    package_id: int | None
    fixes: tuple[str, ...]
    length: int
    sha256: str


@dataclass(frozen=True)
class UploadReport:
    published: tuple[tuple[str, int], ...]
    releases: tuple[ReleaseView, ...]
    snapshot_version: int
    timestamp_version: int
    #: Organisations receiving the linked packages (notification channels come later).
    notified: tuple[str, ...]


@dataclass(frozen=True)
class StepReport:
    vendor: str
    asset: str
    event: str
    line: str | None = None
    version: str | None = None
    #: The roll-out group (stage) of the step, when the operator sends it.
    group: str | None = None
    #: A health check's outcome.
    passed: bool | None = None


@dataclass(frozen=True)
class StepOutcome:
    event: str
    release: str | None
    moved: tuple[int, ...]
    #: Findings moved back from ``fix_applied`` to ``in_progress`` by a roll-back.
    reopened: tuple[int, ...] = ()


def _vendor(slug: str) -> str:
    wanted = slug.strip().lower()
    if not _VENDOR.match(wanted):
        raise NotFound(f"no update repository {slug!r}", hint="see GET /v1/updates/repositories")
    return wanted


def _missing(vendor: str) -> NotFound:
    return NotFound(f"no update repository {vendor!r}", hint="see GET /v1/updates/repositories")


def _readable_vendor(principal: Principal, hosting: Hosting, vendor: str) -> str:
    """The vendor slug, if its repository exists and the principal may read it."""
    require(principal, Action.UPDATE_READ)
    wanted = _vendor(vendor)
    if principal.role is Role.VENDOR and wanted != principal.organisation:
        raise _missing(vendor)
    if not hosting.registered(wanted):
        raise _missing(vendor)
    return wanted


def package_id_of(reference: str) -> int | None:
    """The platform package id a release names (``SAKIMORI-PKG-000007`` or ``7``), or None."""
    found = _PACKAGE_REF.match(reference.strip())
    return int(found.group(1)) if found else None


# -- registering and listing ----------------------------------------------------------------------


def register_repository(
    db: Database, principal: Principal, hosting: Hosting, vendor: str
) -> RepositoryInfo:
    """Host a repository for the vendor organisation ``vendor``: make its online keys."""
    require(principal, Action.UPDATE_REGISTER)
    slug = _vendor(vendor)
    with db.transaction() as session:
        organisation = registry.organisation(session, slug)
        kind = organisation.kind
    if kind != "vendor":
        raise InvalidInput(f"{slug!r} is a {kind} organisation, not a vendor")
    directory = hosting.keys(slug)
    if hosting.registered(slug):
        raise Conflict(f"{slug} already has an update repository")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    for role in ONLINE:
        keyfiles.generate(directory, role)  # NAME.key is created with mode 0600
    hosting.repository(slug).path.mkdir(parents=True, exist_ok=True)
    log.info("registered the update repository of %s (by %s)", slug, principal.name)
    audit.record(
        db, audit.entry_for(principal, Action.UPDATE_REGISTER.value, "update-repository", slug)
    )
    return _info(hosting, slug)


def _info(hosting: Hosting, vendor: str) -> RepositoryInfo:
    online: dict[str, dict[str, Any]] = {}
    for role in ONLINE:
        key = keyfiles.load_public(hosting.keys(vendor) / f"{role}{keyfiles.PUBLIC_SUFFIX}")
        online[role] = {"keyid": key.keyid, **key.to_dict()}
    repo = hosting.repository(vendor)
    root, timestamp = repo.load("root"), repo.load("timestamp")
    return RepositoryInfo(
        vendor=vendor,
        online_keys=online,
        root_version=None if root is None else root.signed.version,
        timestamp_version=None if timestamp is None else timestamp.signed.version,
    )


def list_repositories(principal: Principal, hosting: Hosting) -> list[RepositoryInfo]:
    require(principal, Action.UPDATE_READ)
    vendors = hosting.vendors()
    if principal.role is Role.VENDOR:
        vendors = [v for v in vendors if v == principal.organisation]
    return [_info(hosting, v) for v in vendors if hosting.registered(v)]


# -- serving --------------------------------------------------------------------------------------


def metadata_file(principal: Principal, hosting: Hosting, vendor: str, name: str) -> Path:
    """The served metadata file ``name`` (``timestamp.json``, ``3.snapshot.json``…)."""
    slug = _readable_vendor(principal, hosting, vendor)
    if not _METADATA_NAME.match(name):
        raise NotFound(f"no metadata {name!r}")
    path = hosting.repository(slug).layout.metadata / name
    if not path.is_file():
        raise NotFound(f"no metadata {name!r}")
    return path


def target_file(principal: Principal, hosting: Hosting, vendor: str, line: str, name: str) -> Path:
    """The served artefact ``line/<sha256>.<file>``."""
    slug = _readable_vendor(principal, hosting, vendor)
    try:
        check_line(line)
        check_file_name(name)
    except InvalidInput:
        raise NotFound(f"no target {line}/{name}") from None
    path = hosting.repository(slug).layout.targets / line / name
    if not path.is_file():
        raise NotFound(f"no target {line}/{name}")
    return path


# -- publishing -----------------------------------------------------------------------------------


def upload(
    db: Database,
    principal: Principal,
    hosting: Hosting,
    vendor: str,
    metadata: Mapping[str, bytes],
    artefacts: Mapping[str, bytes],
) -> UploadReport:
    """Check the vendor's upload (``acceptance.check_upload``) and publish it with the online
    keys; every new release must name a counter-measure package of this platform. Refused:
    ``UploadRefused`` (400) and nothing written."""
    require(principal, Action.UPDATE_PUBLISH)
    slug = _vendor(vendor)
    if slug != principal.organisation or not hosting.registered(slug):
        raise _missing(vendor)
    releases = _new_releases(slug, metadata)
    package_ids = {r.package_id for r in releases if r.package_id is not None}
    _check_packages(db, releases)
    repo = hosting.repository(slug)
    signers = tuf_repository.online_signers(hosting.keys(slug))
    with tempfile.TemporaryDirectory(prefix="sakimori-update-") as folder:
        files: dict[str, Path] = {}
        for index, (target, data) in enumerate(sorted(artefacts.items())):
            line, slash, name = target.partition("/")
            if not slash:
                raise UploadRefused(f"artefact {target!r} is not named LINE/FILE")
            check_line(line)
            check_file_name(name)
            path = Path(folder) / f"{index}"
            path.write_bytes(data)
            files[target] = path
        report = tuf_repository.publish(repo, signers, upload=metadata, artefacts=files)
    published_targets = set(report.targets)
    shown = tuple(r for r in releases if r.path in published_targets)
    notified = _recipients(db, package_ids)
    for release in shown:
        log.info(
            "published %s %s %s (package %s, fixes %s); recipients to notify: %s",
            slug,
            release.path,
            release.version,
            release.package,
            ", ".join(release.fixes) or "-",
            ", ".join(notified) or "none",
        )
    entry = audit.entry_for(
        principal,
        Action.UPDATE_PUBLISH.value,
        "update-repository",
        slug,
        detail={"releases": [r.path for r in shown], "notified": list(notified)},
    )
    with db.transaction() as session:
        _record_releases(session, shown, principal.name, datetime.now(UTC))
        audit.append(session, entry)
    return UploadReport(
        published=report.published,
        releases=shown,
        snapshot_version=report.snapshot_version,
        timestamp_version=report.timestamp_version,
        notified=notified,
    )


def _new_releases(vendor: str, metadata: Mapping[str, bytes]) -> list[ReleaseView]:
    found: list[ReleaseView] = []
    for role, data in metadata.items():
        if role in ("root", "targets") or role in ONLINE:
            continue
        parsed = parse(role, data)
        targets: Targets = parsed.signed
        for path, target in targets.targets.items():
            try:
                found.append(_release_view(vendor, path, target))
            except ValueError:
                continue  # check_upload names the missing fields
    return found


def _release_view(vendor: str, path: str, target: Any) -> ReleaseView:
    release = Release.from_target(target)
    return ReleaseView(
        vendor=vendor,
        path=path,
        line=path.partition("/")[0],
        version=release.version,
        package=release.package,
        package_id=package_id_of(release.package),
        fixes=release.fixes,
        length=target.length,
        sha256=target.hashes.get("sha256", ""),
    )


def _check_packages(db: Database, releases: Sequence[ReleaseView]) -> None:
    with db.transaction() as session:
        for release in releases:
            known = (
                release.package_id is not None
                and session.get(models.PackageRow, release.package_id) is not None
            )
            if not known:
                raise UploadRefused(
                    f"target {release.path} names package {release.package!r}, which is no "
                    "counter-measure package of this platform",
                    hint="name the package as SAKIMORI-PKG-nnnnnn (its CSAF tracking id)",
                )


def _record_releases(
    session: Session, releases: Sequence[ReleaseView], actor: str, now: datetime
) -> None:
    """Keep each published release (its recipients see an alert until they open the updates
    page). A release already recorded keeps its first publication."""
    for release in releases:
        known = session.scalar(
            select(models.UpdateReleaseRow.id).where(
                models.UpdateReleaseRow.vendor == release.vendor,
                models.UpdateReleaseRow.path == release.path,
            )
        )
        if known is not None:
            continue
        session.add(
            models.UpdateReleaseRow(
                vendor=release.vendor,
                path=release.path,
                line=release.line,
                version=release.version,
                package_id=release.package_id,
                fixes=list(release.fixes),
                published_at=now,
                published_by=actor,
            )
        )


def _recipients(db: Database, package_ids: set[int]) -> tuple[str, ...]:
    names: set[str] = set()
    for package_id in sorted(package_ids):
        names.update(
            r.organisation for r in packages_service.recipients(db, package_id) if r.active
        )
    return tuple(sorted(names))


# -- the scheduled refresh ------------------------------------------------------------------------


def refresh(db: Database, principal: Principal, hosting: Hosting, vendor: str) -> tuple[int, int]:
    """Sign a new timestamp (and snapshot when due) now: (snapshot, timestamp) versions."""
    require(principal, Action.UPDATE_REFRESH)
    slug = _vendor(vendor)
    if not hosting.registered(slug):
        raise _missing(vendor)
    versions = _refresh(hosting, slug)
    detail = {"snapshot": versions[0], "timestamp": versions[1]}
    entry = audit.entry_for(
        principal, Action.UPDATE_REFRESH.value, "update-repository", slug, detail=detail
    )
    audit.record(db, entry)
    return versions


def _refresh(hosting: Hosting, vendor: str) -> tuple[int, int]:
    repo = hosting.repository(vendor)
    if repo.load("root") is None:
        raise NotFound(f"the update repository of {vendor} has nothing published yet")
    report = tuf_repository.publish(repo, tuf_repository.online_signers(hosting.keys(vendor)))
    return report.snapshot_version, report.timestamp_version


def refresh_all(settings: Settings) -> dict[str, tuple[int, int]]:
    """The scheduled job: refresh the timestamp of every hosted repository that has published
    something (a new snapshot too once half its validity is gone). Run it more often than a
    timestamp expires (one day): e.g. hourly. Idempotent; a failing repository is logged and
    the others still refresh. Returns vendor → (snapshot version, timestamp version)."""
    hosting = Hosting.of(settings)
    done: dict[str, tuple[int, int]] = {}
    for vendor in hosting.vendors():
        if hosting.repository(vendor).load("root") is None:
            continue
        try:
            done[vendor] = _refresh(hosting, vendor)
        except Exception:
            log.exception("refreshing the update repository of %s failed", vendor)
    return done


# -- releases and roll-out reports ----------------------------------------------------------------


def _published_releases(hosting: Hosting, vendor: str) -> list[ReleaseView]:
    repo = hosting.repository(vendor)
    found: list[ReleaseView] = []
    for line in repo.product_lines():
        metadata: Metadata[Any] | None = repo.load(line)
        if metadata is None:
            continue
        for path, target in metadata.signed.targets.items():
            try:
                found.append(_release_view(vendor, path, target))
            except ValueError:
                continue
    return found


def list_releases(db: Database, principal: Principal, hosting: Hosting) -> list[ReleaseView]:
    """Every hosted release (staff), or those whose package the member's organisation
    receives."""
    require(principal, Action.UPDATE_RELEASES)
    releases = [r for v in hosting.vendors() for r in _published_releases(hosting, v)]
    if principal.sees_everything:
        return releases
    received = {
        view.id
        for view in packages_service.visible(
            db, staff=False, organisation_id=principal.organisation_id, user=principal.name
        )
    }
    return [r for r in releases if r.package_id in received]


def report_step(
    db: Database, principal: Principal, hosting: Hosting, report: StepReport
) -> StepOutcome:
    """Store an operator's roll-out step for its own asset (``update_report``), with the
    finding moves and the audit entry in one transaction. When the release has been rolled
    out (``rollout-completed``), the asset's open findings for the vulnerabilities it fixes
    move to ``fix_applied`` (pending verification by the next inventory); a
    ``rollback-completed`` moves those still in ``fix_applied`` back to ``in_progress``."""
    require(principal, Action.UPDATE_REPORT)
    org, _ = registry.split_ref(report.asset)
    if org != principal.organisation:
        raise NotFound(f"no asset {report.asset!r}", hint=f"see `sakimori asset list {org}`")
    if report.event not in REPORTED_EVENTS:
        raise InvalidInput(f"{report.event!r} is not a roll-out step")
    slug = _readable_vendor(principal, hosting, report.vendor)
    release: ReleaseView | None = None
    if report.version is not None:
        if report.line is None:
            raise InvalidInput("a step with a version needs its product line")
        matching = [
            r
            for r in _published_releases(hosting, slug)
            if r.line == report.line and r.version == report.version
        ]
        if not matching:
            raise NotFound(f"no release {report.line} {report.version} of {slug}")
        release = matching[0]
    elif report.event == COMPLETED:
        raise InvalidInput("a completed roll-out names its line and version")
    now = datetime.now(UTC)
    moved: list[int] = []
    reopened: list[int] = []
    path = release.path if release else None
    with db.transaction() as session:
        asset = registry.asset(session, report.asset)
        if release is not None and report.event == COMPLETED:
            moved = _apply_fixes(session, asset.id, slug, release, principal.name, now)
        elif report.event == ROLLED_BACK and report.line is not None:
            path, reopened = _undo_fixes(session, asset.id, slug, report.line, principal.name, now)
        detail: dict[str, Any] = {"findings_moved": moved}
        if report.passed is not None:
            detail["passed"] = report.passed
        if report.event == ROLLED_BACK:
            detail["findings_reopened"] = reopened
        session.add(
            models.UpdateReportRow(
                vendor=slug,
                path=path,
                line=report.line,
                version=report.version,
                asset_id=asset.id,
                event=report.event,
                stage=report.group,
                actor=principal.name,
                at=now,
                detail=detail,
            )
        )
        entry = audit.entry_for(
            principal,
            Action.UPDATE_REPORT.value,
            "asset",
            report.asset,
            None,
            {"event": report.event, "release": path, **detail},
        )
        audit.append(session, entry)
    log.info(
        "roll-out step %s of %s %s on %s reported by %s; findings moved: %s, reopened: %s",
        report.event,
        slug,
        path or report.line or "-",
        report.asset,
        principal.name,
        moved or "none",
        reopened or "none",
    )
    return StepOutcome(report.event, path, tuple(moved), tuple(reopened))


def _apply_fixes(
    session: Session, asset_id: int, vendor: str, release: ReleaseView, actor: str, now: datetime
) -> list[int]:
    """Move the asset's open findings for what ``release`` fixes to ``fix_applied``."""
    fixes = set(release.fixes)
    rows = session.scalars(
        select(models.Finding)
        .where(
            models.Finding.asset_id == asset_id,
            models.Finding.state.in_([s.value for s in _MOVABLE]),
        )
        .order_by(models.Finding.id)
        .with_for_update()
    ).all()
    note = (
        f"update {vendor} {release.path} {release.version} rolled out "
        f"(fixes {', '.join(release.fixes)}); pending verification by the next inventory"
    )
    moved: list[int] = []
    for row in rows:
        if row.vulnerability in fixes or fixes.intersection(row.aliases or ()):
            findings_service.apply_move(session, row, Move(State.FIX_APPLIED, actor, note), now)
            moved.append(row.id)
    return moved


def _undo_fixes(
    session: Session, asset_id: int, vendor: str, line: str, actor: str, now: datetime
) -> tuple[str | None, list[int]]:
    """A roll-back puts every host back on its previous version: undo the newest completed
    roll-out of ``line`` on the asset that no earlier roll-back undid. The findings it moved
    to ``fix_applied`` and still there go back to ``in_progress`` (the lifecycle allows it);
    those verified or closed since keep their state. Returns the release path undone (the
    roll-back is recorded against it) and the findings moved back."""
    steps = session.execute(
        select(
            models.UpdateReportRow.event, models.UpdateReportRow.path, models.UpdateReportRow.detail
        )
        .where(
            models.UpdateReportRow.asset_id == asset_id,
            models.UpdateReportRow.vendor == vendor,
            models.UpdateReportRow.line == line,
            models.UpdateReportRow.event.in_([COMPLETED, ROLLED_BACK]),
        )
        .order_by(models.UpdateReportRow.id)
    ).all()
    done: list[tuple[str | None, list[int]]] = []
    for event, path, detail in steps:
        if event == COMPLETED:
            done.append((path, [int(i) for i in (detail or {}).get("findings_moved", [])]))
        elif done:
            done.pop()
    if not done:
        return None, []
    path, ids = done[-1]
    if not ids:
        return path, []
    rows = session.scalars(
        select(models.Finding)
        .where(
            models.Finding.id.in_(ids),
            models.Finding.asset_id == asset_id,
            models.Finding.state == State.FIX_APPLIED.value,
        )
        .order_by(models.Finding.id)
        .with_for_update()
    ).all()
    note = f"update {vendor} {path} rolled back; the fix is no longer applied"
    reopened: list[int] = []
    for row in rows:
        findings_service.apply_move(session, row, Move(State.IN_PROGRESS, actor, note), now)
        reopened.append(row.id)
    return path, reopened


# -- what the pages show: releases, stages per asset, alerts --------------------------------------

#: The stages a roll-out goes through on an asset, as the pages show them.
STAGES = ("staged", "canary", "health_check", "rolled_out", "rolled_back", "failed")
_FAILED = frozenset({"install-failed", "rollout-failed", "rollback-failed"})


@dataclass(frozen=True)
class PublishedRelease:
    id: int
    vendor: str
    path: str
    line: str
    version: str
    package_id: int | None
    fixes: tuple[str, ...]
    published_at: datetime
    published_by: str
    #: Roll-out reports received for the release: event → count.
    events: dict[str, int]
    #: How many assets reported, and how many completed the roll-out.
    assets: int
    rolled_out: int
    #: The organisations that reported (coordinator staff only; empty for the vendor).
    organisations: tuple[str, ...]


@dataclass(frozen=True)
class AssetStages:
    asset: str
    #: stage (``STAGES``) → state: ``done``, ``passed``, ``failed``, ``skipped`` or ``""``.
    stages: dict[str, str]
    moved: tuple[int, ...]
    reopened: tuple[int, ...]


@dataclass(frozen=True)
class AvailableUpdate:
    release: PublishedRelease
    assets: tuple[AssetStages, ...]
    #: True when the organisation had not seen it before this call.
    new: bool


@dataclass(frozen=True)
class UpdateAlert:
    release_id: int
    vendor: str
    line: str
    version: str
    package_id: int | None
    fixes: tuple[str, ...]


def _published(
    row: models.UpdateReleaseRow, reports: Sequence[tuple[str, int, str]], names: bool
) -> PublishedRelease:
    """``reports``: (event, asset id, organisation slug) of the release's reports."""
    events: dict[str, int] = {}
    for event, _, _ in reports:
        events[event] = events.get(event, 0) + 1
    return PublishedRelease(
        id=row.id,
        vendor=row.vendor,
        path=row.path,
        line=row.line,
        version=row.version,
        package_id=row.package_id,
        fixes=tuple(row.fixes or ()),
        published_at=row.published_at,
        published_by=row.published_by,
        events=events,
        assets=len({a for _, a, _ in reports}),
        rolled_out=len({a for e, a, _ in reports if e == COMPLETED}),
        organisations=tuple(sorted({o for _, _, o in reports})) if names else (),
    )


def _reports_by_release(
    session: Session, vendor: str | None
) -> dict[tuple[str, str], list[tuple[str, int, str]]]:
    """(vendor, path) → (event, asset id, organisation slug) of every stored report."""
    query = (
        select(
            models.UpdateReportRow.vendor,
            models.UpdateReportRow.path,
            models.UpdateReportRow.event,
            models.UpdateReportRow.asset_id,
            models.Organisation.slug,
        )
        .join(models.Asset, models.Asset.id == models.UpdateReportRow.asset_id)
        .join(models.Organisation, models.Organisation.id == models.Asset.organisation_id)
        .where(models.UpdateReportRow.path.is_not(None))
        .order_by(models.UpdateReportRow.id)
    )
    if vendor is not None:
        query = query.where(models.UpdateReportRow.vendor == vendor)
    found: dict[tuple[str, str], list[tuple[str, int, str]]] = {}
    for slug, path, event, asset_id, org in session.execute(query):
        if path is not None:
            found.setdefault((slug, path), []).append((event, asset_id, org))
    return found


def published_updates(db: Database, principal: Principal) -> list[PublishedRelease]:
    """The releases published through the platform with the roll-out reports received:
    a vendor sees its own, counted (never which operator reported: the platform does not tell
    a vendor who its customers are); coordinator staff see every vendor's, with the
    organisations that reported. Members: 403 (they have :func:`available_updates`)."""
    require(principal, Action.UPDATE_READ)
    staff = principal.sees_everything
    if not staff and principal.role is not Role.VENDOR:
        raise PermissionDenied("only vendors and coordinator staff see published updates")
    vendor = None if staff else principal.organisation
    with db.transaction() as session:
        query = select(models.UpdateReleaseRow).order_by(
            models.UpdateReleaseRow.published_at.desc(), models.UpdateReleaseRow.id.desc()
        )
        if vendor is not None:
            query = query.where(models.UpdateReleaseRow.vendor == vendor)
        rows = session.scalars(query).all()
        reports = _reports_by_release(session, vendor)
        return [_published(row, reports.get((row.vendor, row.path), []), staff) for row in rows]


def _received_releases(
    db: Database, principal: Principal, session: Session
) -> list[models.UpdateReleaseRow]:
    """The recorded releases whose package the member may read as a recipient."""
    received = {
        view.id
        for view in packages_service.visible(
            db, staff=False, organisation_id=principal.organisation_id, user=principal.name
        )
    }
    if not received:
        return []
    return list(
        session.scalars(
            select(models.UpdateReleaseRow)
            .where(models.UpdateReleaseRow.package_id.in_(sorted(received)))
            .order_by(
                models.UpdateReleaseRow.published_at.desc(), models.UpdateReleaseRow.id.desc()
            )
        ).all()
    )


def _stages(steps: Sequence[models.UpdateReportRow]) -> dict[str, str]:
    """The state of each stage on one asset from its reports of one release, in order."""
    state = dict.fromkeys(STAGES, "")
    first_group: str | None = None
    for step in steps:
        state["staged"] = "done"
        if step.event in ("installed", "already-installed", "install-failed"):
            first_group = first_group or step.stage
            if step.stage is None or step.stage == first_group:
                failed = step.event == "install-failed"
                state["canary"] = "failed" if failed else state["canary"] or "done"
        elif step.event == "health-check":
            state["health_check"] = "passed" if step.detail.get("passed") else "failed"
        elif step.event == "health-check-skipped":
            state["health_check"] = state["health_check"] or "skipped"
        elif step.event == COMPLETED:
            state["rolled_out"], state["rolled_back"] = "done", ""
        elif step.event == ROLLED_BACK:
            state["rolled_back"], state["rolled_out"] = "done", ""
        if step.event in _FAILED:
            state["failed"] = "failed"
    return state


def available_updates(db: Database, principal: Principal) -> list[AvailableUpdate]:
    """For a member: the releases published for the packages its organisation receives, and
    for each of its assets that reported, the state of each stage and the findings moved.
    Opening them marks them seen for the organisation (the alert goes away)."""
    require(principal, Action.UPDATE_RELEASES)
    if principal.sees_everything:
        raise PermissionDenied("coordinator staff see every release on the overview")
    now = datetime.now(UTC)
    with db.transaction() as session:
        releases = _received_releases(db, principal, session)
        seen = set(
            session.scalars(
                select(models.UpdateSeenRow.release_id).where(
                    models.UpdateSeenRow.organisation_id == principal.organisation_id
                )
            )
        )
        steps = session.execute(
            select(models.UpdateReportRow, models.Asset.slug)
            .join(models.Asset, models.Asset.id == models.UpdateReportRow.asset_id)
            .where(models.Asset.organisation_id == principal.organisation_id)
            .order_by(models.UpdateReportRow.id)
        ).all()
        by_release: dict[tuple[str, str], dict[str, list[models.UpdateReportRow]]] = {}
        for step, asset in steps:
            if step.path is not None:
                key = (step.vendor, step.path)
                by_release.setdefault(key, {}).setdefault(asset, []).append(step)
        out: list[AvailableUpdate] = []
        for row in releases:
            assets = by_release.get((row.vendor, row.path), {})
            stages = tuple(
                AssetStages(
                    asset=f"{principal.organisation}/{slug}",
                    stages=_stages(found),
                    moved=tuple(i for s in found for i in s.detail.get("findings_moved", [])),
                    reopened=tuple(i for s in found for i in s.detail.get("findings_reopened", [])),
                )
                for slug, found in sorted(assets.items())
            )
            all_reports = [
                (s.event, s.asset_id, principal.organisation) for f in assets.values() for s in f
            ]
            out.append(
                AvailableUpdate(_published(row, all_reports, False), stages, row.id not in seen)
            )
            if row.id not in seen:
                session.add(
                    models.UpdateSeenRow(
                        organisation_id=principal.organisation_id,
                        release_id=row.id,
                        seen_at=now,
                        seen_by=principal.name,
                    )
                )
        return out


def update_alerts(db: Database, principal: Principal) -> list[UpdateAlert]:
    """The releases for packages the member's organisation receives that nobody of the
    organisation has seen yet (the in-interface notification). Others have none."""
    if principal.sees_everything or not principal.may(Action.UPDATE_RELEASES):
        return []
    with db.transaction() as session:
        seen = set(
            session.scalars(
                select(models.UpdateSeenRow.release_id).where(
                    models.UpdateSeenRow.organisation_id == principal.organisation_id
                )
            )
        )
        return [
            UpdateAlert(r.id, r.vendor, r.line, r.version, r.package_id, tuple(r.fixes or ()))
            for r in _received_releases(db, principal, session)
            if r.id not in seen
        ]
