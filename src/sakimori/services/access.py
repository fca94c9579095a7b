"""Who may do what, and the use cases as a signed-in person calls them (tenancy).

Every caller of the platform service is a :class:`Principal`: a user, the one role they hold in
one organisation, and the scopes of the token they came with. The functions below the
permission table are the use cases the API (and, later, the web pages) call; each one first
checks the role and the scope (:func:`require`, ``PermissionDenied`` → 403), then the tenancy
(an organisation the principal may not see is reported as ``NotFound`` → 404, exactly as one
that does not exist, so ids cannot be probed), and only then calls the existing service.
A route never calls ``services.organisations``, ``services.findings`` … directly; a test holds
every route to a rule of the authorisation matrix.

Tenancy:

- ``coordinator_admin`` and ``analyst`` (staff of a ``coordinator`` organisation) see every
  organisation, asset, finding and aggregate.
- ``member_admin`` and ``member_user`` see only their own organisation's assets, inventories,
  findings, VEX statements and figures.
- ``vendor`` and ``partner`` see their own organisation's record and the intel status, and the
  counter-measure packages they receive (CSAF, STIX, TAXII under TLP); partners also exchange
  STIX objects with the coordinator in the TAXII sharing-group collection. Vendor advisories
  and VEX for their products come with later issues.
- counter-measure packages: staff see every package; anyone else only the published packages
  their organisation actively receives, and TLP:RED ones only when named
  (``sakimori.packages.model.may_read``); another package answers as one that does not exist.

Not built yet (seams): raw inventory contents are not served by any use case, so the member's
"share raw inventories with the coordinator" setting has no table yet.

Audit (``sakimori.services.audit``): every write use case runs its service in one transaction
(``audit.audited``) and appends the entry that records it in the same transaction; every read of
a TLP:AMBER or TLP:RED package records an entry in a small transaction of its own. Who and
from where come from the principal (``source``, ``request_id``, set by the API and the pages).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select

from sakimori.errors import InvalidInput, NotFound, PermissionDenied, SakimoriError
from sakimori.formats.limits import Limits
from sakimori.formats.vex import VexFormat
from sakimori.model.lifecycle import Move
from sakimori.packages.model import RESTRICTED, Content, Tlp
from sakimori.services import audit, metrics_snapshot, taxii_store, tracking
from sakimori.services import findings as findings_service
from sakimori.services import intel as intel_service
from sakimori.services import metrics as metrics_service
from sakimori.services import organisations as registry
from sakimori.services import packages as packages_service
from sakimori.services import vex as vex_service
from sakimori.store import models
from sakimori.store.db import Database
from sakimori.triage.policy import PolicySet


class Role(StrEnum):
    COORDINATOR_ADMIN = "coordinator_admin"
    ANALYST = "analyst"
    MEMBER_ADMIN = "member_admin"
    MEMBER_USER = "member_user"
    VENDOR = "vendor"
    PARTNER = "partner"


#: Roles that see every organisation (coordinator staff).
COORDINATOR_ROLES: Final = frozenset({Role.COORDINATOR_ADMIN, Role.ANALYST})
#: Roles that cannot sign in without a second factor (``services.second_factor``).
SECOND_FACTOR_ROLES: Final = frozenset({Role.COORDINATOR_ADMIN, Role.MEMBER_ADMIN})

#: The organisation kinds (``model.organisation.KINDS``) a role may be held in.
ROLE_KINDS: Final[dict[Role, frozenset[str]]] = {
    Role.COORDINATOR_ADMIN: frozenset({"coordinator"}),
    Role.ANALYST: frozenset({"coordinator"}),
    Role.MEMBER_ADMIN: frozenset({"agency", "operator"}),
    Role.MEMBER_USER: frozenset({"agency", "operator"}),
    Role.VENDOR: frozenset({"vendor"}),
    Role.PARTNER: frozenset({"partner"}),
}


class Scope(StrEnum):
    """What a token may be used for: reading, and changing state."""

    READ = "read"
    WRITE = "write"


class Action(StrEnum):
    ORGANISATION_READ = "organisation.read"
    ORGANISATION_CREATE = "organisation.create"
    ASSET_READ = "asset.read"
    ASSET_CREATE = "asset.create"
    INVENTORY_UPLOAD = "inventory.upload"
    FINDING_READ = "finding.read"
    FINDING_TRANSITION = "finding.transition"
    INTEL_READ = "intel.read"
    VEX_READ = "vex.read"
    VEX_IMPORT = "vex.import"
    METRICS_READ = "metrics.read"
    TOKEN_READ = "token.read"  # noqa: S105 - an action name, not a secret
    TOKEN_MANAGE = "token.manage"  # noqa: S105 - an action name
    PACKAGE_DRAFT = "package.draft"
    PACKAGE_PUBLISH = "package.publish"
    PACKAGE_WITHDRAW = "package.withdraw"
    PACKAGE_READ = "package.read"
    PACKAGE_ACKNOWLEDGE = "package.acknowledge"
    PACKAGE_RECIPIENTS = "package.recipients"
    TAXII_READ = "taxii.read"
    TAXII_WRITE = "taxii.write"
    UPDATE_READ = "update.read"
    UPDATE_REGISTER = "update.register"
    UPDATE_PUBLISH = "update.publish"
    UPDATE_REFRESH = "update.refresh"
    UPDATE_RELEASES = "update.releases"
    UPDATE_REPORT = "update.report"
    AUDIT_READ = "audit.read"
    SIGHTING_REPORT = "sighting.report"
    SIGHTING_READ = "sighting.read"
    SIGHTING_SUMMARY = "sighting.summary"
    SIGHTING_REVIEW = "sighting.review"
    NOTIFY_READ = "notify.read"
    NOTIFY_MANAGE = "notify.manage"
    SECOND_FACTOR_RESET = "second_factor.reset"


_ALL: Final = frozenset(Role)
_STAFF_AND_MEMBERS: Final = frozenset(
    {Role.COORDINATOR_ADMIN, Role.ANALYST, Role.MEMBER_ADMIN, Role.MEMBER_USER}
)
_MEMBERS_AND_ADMIN: Final = frozenset({Role.COORDINATOR_ADMIN, Role.MEMBER_ADMIN, Role.MEMBER_USER})
_RECIPIENTS: Final = frozenset({Role.MEMBER_ADMIN, Role.MEMBER_USER, Role.VENDOR, Role.PARTNER})

#: The permission table: which roles may take each action (tenancy narrows it further), and
#: the token scope it needs. docs/api.md shows it per route.
PERMISSIONS: Final[dict[Action, tuple[frozenset[Role], Scope]]] = {
    Action.ORGANISATION_READ: (_ALL, Scope.READ),
    Action.ORGANISATION_CREATE: (frozenset({Role.COORDINATOR_ADMIN}), Scope.WRITE),
    Action.ASSET_READ: (_STAFF_AND_MEMBERS, Scope.READ),
    Action.ASSET_CREATE: (frozenset({Role.COORDINATOR_ADMIN, Role.MEMBER_ADMIN}), Scope.WRITE),
    Action.INVENTORY_UPLOAD: (_MEMBERS_AND_ADMIN, Scope.WRITE),
    Action.FINDING_READ: (_STAFF_AND_MEMBERS, Scope.READ),
    Action.FINDING_TRANSITION: (_STAFF_AND_MEMBERS, Scope.WRITE),
    Action.INTEL_READ: (_ALL, Scope.READ),
    Action.VEX_READ: (_STAFF_AND_MEMBERS, Scope.READ),
    Action.VEX_IMPORT: (_MEMBERS_AND_ADMIN, Scope.WRITE),
    Action.METRICS_READ: (_STAFF_AND_MEMBERS, Scope.READ),
    Action.TOKEN_READ: (_ALL, Scope.READ),
    Action.TOKEN_MANAGE: (_ALL, Scope.WRITE),
    # Packages: staff draft and review; publishing also needs a second person (the lifecycle);
    # recipients read (within TLP, narrowed by the service) and acknowledge.
    Action.PACKAGE_DRAFT: (COORDINATOR_ROLES, Scope.WRITE),
    Action.PACKAGE_PUBLISH: (COORDINATOR_ROLES, Scope.WRITE),
    Action.PACKAGE_WITHDRAW: (frozenset({Role.COORDINATOR_ADMIN}), Scope.WRITE),
    Action.PACKAGE_READ: (_ALL, Scope.READ),
    Action.PACKAGE_ACKNOWLEDGE: (_RECIPIENTS, Scope.WRITE),
    Action.PACKAGE_RECIPIENTS: (COORDINATOR_ROLES, Scope.READ),
    # TAXII: every role may ask; each collection's readers and writers narrow it.
    Action.TAXII_READ: (_ALL, Scope.READ),
    Action.TAXII_WRITE: (_ALL, Scope.WRITE),
    # Emergency updates (services/updates.py, docs/updates.md): hosted TUF repositories are
    # read by staff, members and the vendor itself; the vendor publishes; operators report.
    Action.UPDATE_READ: (_STAFF_AND_MEMBERS | {Role.VENDOR}, Scope.READ),
    Action.UPDATE_REGISTER: (frozenset({Role.COORDINATOR_ADMIN}), Scope.WRITE),
    Action.UPDATE_PUBLISH: (frozenset({Role.VENDOR}), Scope.WRITE),
    Action.UPDATE_REFRESH: (COORDINATOR_ROLES, Scope.WRITE),
    Action.UPDATE_RELEASES: (_STAFF_AND_MEMBERS, Scope.READ),
    Action.UPDATE_REPORT: (frozenset({Role.MEMBER_ADMIN, Role.MEMBER_USER}), Scope.WRITE),
    # The audit log: coordinator admins only (each read of it is itself recorded).
    Action.AUDIT_READ: (frozenset({Role.COORDINATOR_ADMIN}), Scope.READ),
    # Sightings (services/sightings.py, docs/monitoring.md): members report their monitoring's
    # sightings and read their own; staff read everyone's, the summary per vulnerability, and
    # confirm or reject a vulnerability's exploitation.
    Action.SIGHTING_REPORT: (frozenset({Role.MEMBER_ADMIN, Role.MEMBER_USER}), Scope.WRITE),
    Action.SIGHTING_READ: (_STAFF_AND_MEMBERS, Scope.READ),
    Action.SIGHTING_SUMMARY: (COORDINATOR_ROLES, Scope.READ),
    Action.SIGHTING_REVIEW: (COORDINATOR_ROLES, Scope.WRITE),
    # Notification endpoints and deliveries (services/notifications.py): coordinator admins
    # for every organisation, member admins for their own.
    Action.NOTIFY_READ: (frozenset({Role.COORDINATOR_ADMIN, Role.MEMBER_ADMIN}), Scope.READ),
    Action.NOTIFY_MANAGE: (frozenset({Role.COORDINATOR_ADMIN, Role.MEMBER_ADMIN}), Scope.WRITE),
    # Resetting another user's second factor (services/second_factor.py).
    Action.SECOND_FACTOR_RESET: (frozenset({Role.COORDINATOR_ADMIN}), Scope.WRITE),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in caller: the user, their role in their organisation, the token's scopes."""

    user_id: int
    name: str
    role: Role
    organisation_id: int
    organisation: str  # slug
    scopes: frozenset[Scope]
    token_id: str | None = None
    #: Where the call came from (client address) and its request id, for the audit log.
    source: str | None = None
    request_id: str | None = None
    #: The session passed the second factor (TOTP or a recovery code) at sign-in.
    second_factor: bool = False

    @property
    def sees_everything(self) -> bool:
        return self.role in COORDINATOR_ROLES

    def may(self, action: Action) -> bool:
        roles, scope = PERMISSIONS[action]
        return self.role in roles and scope in self.scopes


def require(principal: Principal, action: Action) -> None:
    """Refuse (``PermissionDenied``) unless the role and the token's scopes allow ``action``."""
    roles, scope = PERMISSIONS[action]
    if principal.role not in roles:
        raise PermissionDenied(f"the {principal.role.value} role may not do {action.value}")
    if scope not in principal.scopes:
        raise PermissionDenied(
            f"{action.value} needs a token with the {scope.value!r} scope",
            hint="create a token with that scope",
        )


def _audit_read(
    db: Database, principal: Principal, action: Action, kind: str, object_id: object, tlp: str
) -> None:
    """Record a read of TLP:AMBER or TLP:RED data (other reads are not recorded)."""
    if tlp.upper() in audit.SENSITIVE_TLP:
        audit.record(db, audit.entry_for(principal, action.value, kind, object_id, tlp.upper()))


def _no_organisation(slug: str) -> NotFound:
    # Word for word what services.organisations says, so "hidden" and "absent" look the same.
    return NotFound(f"no organisation {slug!r}", hint="see `sakimori org list`")


def _visible_organisation(principal: Principal, slug: str) -> str:
    """The normalised slug, if the principal may see that organisation; else ``NotFound``."""
    wanted = slug.strip().lower()
    if not principal.sees_everything and wanted != principal.organisation:
        raise _no_organisation(slug)
    return wanted


def _visible_asset(principal: Principal, ref: str) -> str:
    org, asset = registry.split_ref(ref)
    if not principal.sees_everything and org != principal.organisation:
        raise NotFound(f"no asset {ref!r}", hint=f"see `sakimori asset list {org}`")
    return f"{org}/{asset}"


def _check_finding(db: Database, principal: Principal, finding_id: int) -> None:
    with db.transaction() as session:
        owner = session.scalar(
            select(models.Asset.organisation_id)
            .join(models.Finding, models.Finding.asset_id == models.Asset.id)
            .where(models.Finding.id == finding_id)
        )
    if owner is None or not (principal.sees_everything or owner == principal.organisation_id):
        raise NotFound(f"no finding {finding_id}", hint="see `sakimori finding list`")


# -- organisations and assets ---------------------------------------------------------------------


def list_organisations(db: Database, principal: Principal) -> list[registry.OrganisationView]:
    require(principal, Action.ORGANISATION_READ)
    found = registry.list_organisations(db)
    if principal.sees_everything:
        return found
    return [o for o in found if o.slug == principal.organisation]


def get_organisation(db: Database, principal: Principal, slug: str) -> registry.OrganisationView:
    require(principal, Action.ORGANISATION_READ)
    wanted = _visible_organisation(principal, slug)
    for view in registry.list_organisations(db):
        if view.slug == wanted:
            return view
    raise _no_organisation(slug)


def create_organisation(
    db: Database,
    principal: Principal,
    slug: str,
    name: str,
    kind: str,
    sectors: Sequence[str] = (),
) -> registry.OrganisationView:
    require(principal, Action.ORGANISATION_CREATE)
    return audit.audited(
        db,
        principal,
        Action.ORGANISATION_CREATE,
        "organisation",
        lambda joined: registry.create_organisation(joined, slug, name, kind, sectors),
        lambda view: view.slug,
    )


def list_assets(db: Database, principal: Principal, organisation: str) -> list[registry.AssetView]:
    require(principal, Action.ASSET_READ)
    return registry.list_assets(db, _visible_organisation(principal, organisation))


def get_asset(db: Database, principal: Principal, ref: str) -> registry.AssetView:
    require(principal, Action.ASSET_READ)
    wanted = _visible_asset(principal, ref)
    org = wanted.partition("/")[0]
    for view in registry.list_assets(db, org):
        if view.ref == wanted:
            return view
    raise NotFound(f"no asset {ref!r}", hint=f"see `sakimori asset list {org}`")


def create_asset(
    db: Database,
    principal: Principal,
    ref: str,
    name: str,
    criticality: str = "medium",
    internet_facing: bool | None = None,
    environment: str | None = None,
) -> registry.AssetView:
    require(principal, Action.ASSET_CREATE)
    target = _visible_asset(principal, ref)
    return audit.audited(
        db,
        principal,
        Action.ASSET_CREATE,
        "asset",
        lambda joined: registry.create_asset(
            joined, target, name, criticality, internet_facing, environment
        ),
        lambda _: target,
    )


def upload_inventory(
    db: Database,
    principal: Principal,
    ref: str,
    data: bytes,
    filename: str,
    limits: Limits,
    policies: PolicySet | None = None,
) -> tracking.UploadReport:
    """Store ``data`` (an inventory received over the network) as the asset's next version,
    uploaded by the principal.

    An uploaded requirements file may not include others (``-r``): the include would be read
    from the server's file system. ``filename`` (reduced to a safe base name) is what the
    inventory's ``source`` records.
    """
    from sakimori.formats.detect import parse_inventory

    require(principal, Action.INVENTORY_UPLOAD)
    target = _visible_asset(principal, ref)
    name = _safe_name(filename)
    try:
        parsed = parse_inventory(data, limits)
    except SakimoriError as exc:
        raise exc.located(name) from None
    if parsed.includes:
        raise InvalidInput(
            "an uploaded inventory may not include other files (-r, -c)",
            where=name,
            hint="upload a single resolved file, e.g. from `pip freeze` or a lockfile",
        )
    with tempfile.TemporaryDirectory(prefix="sakimori-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            return audit.audited(
                db,
                principal,
                Action.INVENTORY_UPLOAD,
                "asset",
                lambda joined: tracking.upload_inventory(
                    joined, target, path, principal.name, limits, policies=policies
                ),
                lambda _: target,
                {"file": name, "bytes": len(data)},
            )
        except SakimoriError as exc:
            if exc.where is not None and exc.where.startswith(folder):
                exc.where = name
            raise


def _safe_name(filename: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]", "_", filename.replace("\\", "/").rsplit("/", 1)[-1])
    base = base.lstrip(".")[:100]
    return base or "upload"


# -- findings -------------------------------------------------------------------------------------


def list_findings(
    db: Database, principal: Principal, filters: findings_service.Filters
) -> list[findings_service.FindingView]:
    """Findings matching ``filters``, narrowed to the organisation a member belongs to."""
    require(principal, Action.FINDING_READ)
    if filters.asset:
        filters = replace(filters, asset=_visible_asset(principal, filters.asset))
    elif filters.organisation:
        filters = replace(
            filters, organisation=_visible_organisation(principal, filters.organisation)
        )
    elif not principal.sees_everything:
        filters = replace(filters, organisation=principal.organisation)
    return findings_service.list_findings(db, filters)


def show_finding(
    db: Database, principal: Principal, finding_id: int
) -> tuple[findings_service.FindingView, list[findings_service.TransitionView]]:
    require(principal, Action.FINDING_READ)
    _check_finding(db, principal, finding_id)
    return findings_service.show(db, finding_id)


def transition_finding(
    db: Database, principal: Principal, finding_id: int, move: Move
) -> findings_service.FindingView:
    """Move a finding; the actor recorded is the principal, whatever ``move.actor`` says."""
    require(principal, Action.FINDING_TRANSITION)
    _check_finding(db, principal, finding_id)
    return audit.audited(
        db,
        principal,
        Action.FINDING_TRANSITION,
        "finding",
        lambda joined: findings_service.transition(
            joined, finding_id, replace(move, actor=principal.name)
        ),
        lambda _: finding_id,
        {"state": str(move.to)},
    )


def finding_explanation(db: Database, principal: Principal, finding_id: int) -> dict[str, Any]:
    from sakimori.services.assessment import explanation

    require(principal, Action.FINDING_READ)
    _check_finding(db, principal, finding_id)
    with db.transaction() as session:
        return explanation(session, finding_id)


# -- intelligence, VEX, metrics -------------------------------------------------------------------


def intel_status(db: Database, principal: Principal) -> intel_service.Status:
    require(principal, Action.INTEL_READ)
    return intel_service.status(db)


def suggest_products(
    db: Database, principal: Principal, text: str, vendor: str | None, limit: int
) -> list[Any]:
    """CPE vendor/product suggestions for a product named in free text (public intelligence:
    any signed-in caller; nothing is chosen for them)."""
    from sakimori.services.product_findings import suggest

    require(principal, Action.INTEL_READ)
    return suggest(db, text, vendor=vendor, limit=limit)


def intel_sources(db: Database, principal: Principal) -> list[models.IntelSource]:
    """The intel sources, without the record counts (the dashboard's staleness alarm reads only
    these; counting every advisory on each page view cost more than the rest of the page)."""
    require(principal, Action.INTEL_READ)
    with db.transaction() as session:
        query = select(models.IntelSource).order_by(models.IntelSource.name)
        return list(session.scalars(query))


def import_vex(
    db: Database,
    principal: Principal,
    data: bytes,
    *,
    organisation: str,
    asset: str | None,
    source: str,
    allow_unmatched: bool,
    limits: Limits,
) -> vex_service.ImportReport:
    require(principal, Action.VEX_IMPORT)
    owner = _visible_organisation(principal, organisation)
    return audit.audited(
        db,
        principal,
        Action.VEX_IMPORT,
        "organisation",
        lambda joined: vex_service.import_vex(
            joined,
            data,
            organisation=owner,
            asset=asset,
            actor=principal.name,
            source=source,
            allow_unmatched=allow_unmatched,
            limits=limits,
        ),
        lambda _: owner if asset is None else f"{owner}/{asset}",
        {"source": source},
    )


def export_vex(
    db: Database,
    principal: Principal,
    *,
    organisation: str,
    asset: str | None,
    fmt: VexFormat,
    derived: bool,
    tlp: str,
) -> bytes:
    require(principal, Action.VEX_READ)
    return vex_service.export_vex(
        db,
        organisation=_visible_organisation(principal, organisation),
        asset=asset,
        fmt=fmt,
        derived=derived,
        tlp=tlp,
    )


def list_vex_statements(
    db: Database, principal: Principal, *, organisation: str, asset: str | None
) -> list[vex_service.StatementView]:
    require(principal, Action.VEX_READ)
    return vex_service.list_statements(
        db, organisation=_visible_organisation(principal, organisation), asset=asset
    )


def metrics_report(
    db: Database,
    principal: Principal,
    *,
    organisation: str | None,
    sector: str | None,
    top: int | None = None,
) -> metrics_service.Report:
    """Remediation figures: everything for the coordinator, the own organisation for members
    (read from the pre-aggregated snapshot, ``services.metrics_snapshot``; ``top``: only the
    organisations with the most open findings)."""
    require(principal, Action.METRICS_READ)
    if organisation:
        organisation = _visible_organisation(principal, organisation)
    elif not principal.sees_everything:
        organisation = principal.organisation
    return metrics_snapshot.current(db, organisation=organisation, sector=sector, top=top)


# -- counter-measure packages ---------------------------------------------------------------------


def _content(value: dict[str, Any]) -> Content:
    return Content.from_dict(value)


def create_package(
    db: Database, principal: Principal, content: dict[str, Any]
) -> packages_service.PackageView:
    require(principal, Action.PACKAGE_DRAFT)
    parsed = _content(content)
    return audit.audited(
        db,
        principal,
        Action.PACKAGE_DRAFT,
        "package",
        lambda joined: packages_service.create_draft(joined, parsed, principal.name),
        lambda view: view.id,
        {"move": "create"},
    )


def edit_package(
    db: Database, principal: Principal, package_id: int, content: dict[str, Any]
) -> packages_service.PackageView:
    require(principal, Action.PACKAGE_DRAFT)
    parsed = _content(content)
    return audit.audited(
        db,
        principal,
        Action.PACKAGE_DRAFT,
        "package",
        lambda joined: packages_service.edit_draft(joined, package_id, parsed, principal.name),
        lambda _: package_id,
        {"move": "edit"},
    )


def revise_package(
    db: Database, principal: Principal, package_id: int, content: dict[str, Any], change: str
) -> packages_service.PackageView:
    require(principal, Action.PACKAGE_DRAFT)
    parsed = _content(content)
    return audit.audited(
        db,
        principal,
        Action.PACKAGE_DRAFT,
        "package",
        lambda joined: packages_service.revise(joined, package_id, parsed, principal.name, change),
        lambda _: package_id,
        {"move": "revise"},
    )


def move_package(
    db: Database, principal: Principal, package_id: int, move: str
) -> packages_service.PackageView:
    """``submit`` | ``send_back`` | ``approve`` (publish; a second person) | ``withdraw``."""
    moves = {
        "approve": (Action.PACKAGE_PUBLISH, packages_service.approve),
        "withdraw": (Action.PACKAGE_WITHDRAW, packages_service.withdraw),
        "submit": (Action.PACKAGE_DRAFT, packages_service.submit),
        "send_back": (Action.PACKAGE_DRAFT, packages_service.send_back),
    }
    if move not in moves:
        require(principal, Action.PACKAGE_DRAFT)
        raise InvalidInput(f"{move!r} is not a package move")
    action, service = moves[move]
    require(principal, action)
    return audit.audited(
        db,
        principal,
        action,
        "package",
        lambda joined: service(joined, package_id, principal.name),
        lambda _: package_id,
        {"move": move},
    )


def list_packages(db: Database, principal: Principal) -> list[packages_service.PackageView]:
    """Staff: every package, drafts included; anyone else: what they may read."""
    require(principal, Action.PACKAGE_READ)
    if principal.sees_everything:
        return packages_service.list_all(db)
    return packages_service.visible(
        db, staff=False, organisation_id=principal.organisation_id, user=principal.name
    )


def read_package(
    db: Database, principal: Principal, package_id: int
) -> packages_service.PackageView:
    """One package: staff see the newest revision; a recipient the newest published one, and
    the read is recorded."""
    require(principal, Action.PACKAGE_READ)
    if principal.sees_everything:
        found = packages_service.get(db, package_id)
        _audit_read(db, principal, Action.PACKAGE_READ, "package", package_id, found.tlp)
        return found
    view = _readable(db, principal, package_id)
    # The read receipt is a write: recorded whatever the TLP.
    audit.audited(
        db,
        principal,
        Action.PACKAGE_READ,
        "package",
        lambda joined: packages_service.mark(
            joined, package_id, principal.organisation_id, principal.name, ack=False
        ),
        lambda _: package_id,
        {"tlp": view.tlp},
    )
    return view


def _readable(db: Database, principal: Principal, package_id: int) -> packages_service.PackageView:
    for view in packages_service.visible(
        db,
        staff=principal.sees_everything,
        organisation_id=principal.organisation_id,
        user=principal.name,
    ):
        if view.id == package_id:
            return view
    raise NotFound(f"no package {package_id}", hint="see GET /v1/packages")


def package_csaf(db: Database, principal: Principal, package_id: int) -> dict[str, Any]:
    require(principal, Action.PACKAGE_READ)
    view = _readable(db, principal, package_id)
    _audit_read(db, principal, Action.PACKAGE_READ, "package.csaf", package_id, view.tlp)
    return packages_service.csaf_document(view)


def package_stix(db: Database, principal: Principal, package_id: int) -> dict[str, Any]:
    from sakimori.packages import stix

    require(principal, Action.PACKAGE_READ)
    view = _readable(db, principal, package_id)
    _audit_read(db, principal, Action.PACKAGE_READ, "package.stix", package_id, view.tlp)
    return stix.bundle(packages_service.stix_objects(view))


def csaf_public_packages(db: Database) -> list[packages_service.PackageView]:
    """The CSAF provider's public documents: published TLP:CLEAR packages that are not
    withdrawn. TLP:CLEAR is not limited, and CSAF requirement 4 has TLP:WHITE served without
    access control; every other label needs a principal (``csaf_packages``)."""
    return [
        v
        for v in packages_service.visible(db, staff=True, organisation_id=0, user="")
        if v.tlp is Tlp.CLEAR and v.withdrawn_at is None
    ]


def csaf_packages(
    db: Database, principal: Principal, labels: frozenset[Tlp]
) -> list[packages_service.PackageView]:
    """The packages with one of ``labels`` that the caller may read (exactly those of
    ``list_packages`` for a recipient), withdrawn ones left out: one CSAF feed."""
    require(principal, Action.PACKAGE_READ)
    found = [
        v
        for v in packages_service.visible(
            db,
            staff=principal.sees_everything,
            organisation_id=principal.organisation_id,
            user=principal.name,
        )
        if v.tlp in labels and v.withdrawn_at is None
    ]
    restricted = [t for t in Tlp if t in labels & RESTRICTED]
    if restricted:  # one entry a feed read, under its most restricted label
        label = restricted[-1].value
        _audit_read(db, principal, Action.PACKAGE_READ, "csaf.feed", label, label)
    return found


def csaf_package(
    db: Database, principal: Principal, package_id: int
) -> packages_service.PackageView:
    """One package for the CSAF provider's protected path: as ``package_csaf`` (404 for what
    the caller may not read), and 404 once withdrawn."""
    require(principal, Action.PACKAGE_READ)
    view = _readable(db, principal, package_id)
    if view.withdrawn_at is not None:
        raise NotFound(f"no package {package_id}", hint="see GET /v1/packages")
    _audit_read(db, principal, Action.PACKAGE_READ, "package.csaf", package_id, view.tlp)
    return view


def acknowledge_package(
    db: Database, principal: Principal, package_id: int
) -> packages_service.RecipientView:
    require(principal, Action.PACKAGE_ACKNOWLEDGE)
    view = _readable(db, principal, package_id)
    audit.audited(
        db,
        principal,
        Action.PACKAGE_ACKNOWLEDGE,
        "package",
        lambda joined: packages_service.mark(
            joined, package_id, principal.organisation_id, principal.name, ack=True
        ),
        lambda _: package_id,
        {"tlp": view.tlp},
    )
    for recipient in packages_service.recipients(db, package_id):
        if recipient.organisation == principal.organisation:
            return recipient
    raise NotFound(f"no package {package_id}")  # pragma: no cover - _readable found it


def own_receipt(
    db: Database, principal: Principal, package_id: int
) -> packages_service.RecipientView | None:
    """The caller's organisation's receipt of a package it may read (delivered, read,
    acknowledged, by whom); None when it is not a recipient (staff)."""
    require(principal, Action.PACKAGE_READ)
    _readable(db, principal, package_id)
    for recipient in packages_service.recipients(db, package_id):
        if recipient.organisation == principal.organisation:
            return recipient
    return None


def package_recipients(
    db: Database, principal: Principal, package_id: int
) -> list[packages_service.RecipientView]:
    require(principal, Action.PACKAGE_RECIPIENTS)
    return packages_service.recipients(db, package_id)


# -- TAXII 2.1 ------------------------------------------------------------------------------------


def taxii_collections(principal: Principal) -> list[dict[str, Any]]:
    """The collections the caller may read or write, with its rights."""
    from sakimori.packages import taxii

    require(principal, Action.TAXII_READ)
    return [
        c.resource(principal.role.value)
        for c in taxii.COLLECTIONS
        if principal.role.value in c.readers | c.writers
    ]


def taxii_collection(principal: Principal, collection_id: str, *, write: bool = False) -> Any:
    """The collection, if the caller may read it (or write it); 404 if it does not exist or the
    caller has no right on it at all, 403 for the right it lacks."""
    from sakimori.packages import taxii

    require(principal, Action.TAXII_WRITE if write else Action.TAXII_READ)
    found = taxii.BY_ID.get(collection_id)
    role = principal.role.value
    if found is None:
        raise NotFound(f"no collection {collection_id}")
    if write and role not in found.writers:
        raise PermissionDenied(f"the {role} role may not add objects to {found.alias}")
    if not write and role not in found.readers:
        raise PermissionDenied(f"the {role} role may not read {found.alias}")
    return found


def taxii_records(db: Database, principal: Principal, collection_id: str) -> list[Any]:
    """Every object version of the collection that the caller may receive."""
    collection = taxii_collection(principal, collection_id)
    if collection.tlp is None:
        return taxii_store.stored_records(db, collection.id)
    _audit_read(
        db, principal, Action.TAXII_READ, "taxii.collection", collection.id, collection.tlp.value
    )
    return packages_service.package_records(
        db,
        collection.tlp,
        staff=principal.sees_everything,
        organisation_id=principal.organisation_id,
        user=principal.name,
    )


def taxii_add(
    db: Database, principal: Principal, collection_id: str, objects: list[Any]
) -> dict[str, Any]:
    collection = taxii_collection(principal, collection_id, write=True)
    return audit.audited(
        db,
        principal,
        Action.TAXII_WRITE,
        "taxii.collection",
        lambda joined: taxii_store.add_objects(joined, collection.id, objects, principal.name),
        lambda _: collection.id,
        {"objects": len(objects)},
    )


def taxii_status(db: Database, principal: Principal, status_id: str) -> dict[str, Any]:
    require(principal, Action.TAXII_READ)
    return taxii_store.get_status(
        db, status_id, user=principal.name, staff=principal.sees_everything
    )


# -- sightings: the TLP of an export ---------------------------------------------------------------


def sighting_export_tlp(principal: Principal, label: str) -> Tlp:
    """The TLP 2.0 label a STIX export of sightings may carry for ``principal``.

    Members report their sightings to the coordinator under TLP:AMBER: staff, whose export
    holds every organisation's, may not mark it less restricted than AMBER. A member exporting
    its own may mark it as it likes. Never RED: an export is a file, not a named recipient.
    """
    require(principal, Action.SIGHTING_READ)
    tlp = Tlp.parse(label)
    if tlp is Tlp.RED:
        raise InvalidInput("a sightings export is never TLP:RED", hint="use AMBER+STRICT")
    if principal.sees_everything and tlp not in RESTRICTED:
        raise InvalidInput(
            f"members' sightings reach the coordinator under TLP:AMBER; an export of them may "
            f"not be TLP:{tlp.value}",
            hint="use AMBER or AMBER+STRICT",
        )
    return tlp


# -- the audit log --------------------------------------------------------------------------------


def audit_entries(
    db: Database, principal: Principal, *, after: int, limit: int
) -> list[dict[str, Any]]:
    """A page of the audit log (oldest first, after entry ``after``); the read is recorded."""
    require(principal, Action.AUDIT_READ)
    found = audit.page(db, after=after, limit=limit)
    audit.record(
        db,
        audit.entry_for(principal, Action.AUDIT_READ.value, "audit", None, None, {"after": after}),
    )
    return found
