"""Vendors' TUF repositories hosted by the platform: register, publish, serve, refresh, report.

Where things are (no database table; the repositories are files, as TUF wants them)::

    $SAKIMORI_HOME/updates-repos/<vendor>/      the vendor's repository (updates/layout.py):
                                                public/metadata, public/targets are served
    $SAKIMORI_HOME/updates-keys/<vendor>/       the platform's online snapshot and timestamp
                                                keys (directory 0700, private keys 0600)

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
from tuf.api.metadata import Metadata, Targets

from sakimori.config import Settings
from sakimori.errors import Conflict, InvalidInput, NotFound
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


@dataclass(frozen=True)
class StepOutcome:
    event: str
    release: str | None
    moved: tuple[int, ...]


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
    audit.record(
        db,
        audit.entry_for(
            principal,
            Action.UPDATE_PUBLISH.value,
            "update-repository",
            slug,
            detail={"releases": [r.path for r in shown], "notified": list(notified)},
        ),
    )
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
    """Record an operator's roll-out step for its own asset. When the release has been rolled
    out (``rollout-completed``), the asset's open findings for the vulnerabilities it fixes
    move to ``fix_applied`` (pending verification by the next inventory)."""
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
    with db.transaction() as session:
        asset = registry.asset(session, report.asset)
        if release is not None and report.event == COMPLETED:
            fixes = set(release.fixes)
            rows = session.scalars(
                select(models.Finding)
                .where(
                    models.Finding.asset_id == asset.id,
                    models.Finding.state.in_([s.value for s in _MOVABLE]),
                )
                .order_by(models.Finding.id)
                .with_for_update()
            ).all()
            note = (
                f"update {slug} {release.path} {release.version} rolled out "
                f"(fixes {', '.join(release.fixes)}); pending verification by the next inventory"
            )
            for row in rows:
                if row.vulnerability in fixes or fixes.intersection(row.aliases or ()):
                    move = Move(to=State.FIX_APPLIED, actor=principal.name, note=note)
                    findings_service.apply_move(session, row, move, now)
                    moved.append(row.id)
        detail = {
            "event": report.event,
            "release": release.path if release else None,
            "findings_moved": moved,
        }
        entry = audit.entry_for(
            principal, Action.UPDATE_REPORT.value, "asset", report.asset, None, detail
        )
        audit.append(session, entry)
    log.info(
        "roll-out step %s of %s %s on %s reported by %s; findings moved: %s",
        report.event,
        slug,
        release.path if release else "-",
        report.asset,
        principal.name,
        moved or "none",
    )
    return StepOutcome(report.event, release.path if release else None, tuple(moved))
