"""Organisations, their assets, and inventory uploads."""

from __future__ import annotations

from fastapi import APIRouter, Path, UploadFile

from sakimori.api.deps import PrincipalDep, RuntimeDep
from sakimori.api.problems import responses
from sakimori.api.schemas import (
    SLUG_PATTERN,
    AssetIn,
    AssetOut,
    OrganisationIn,
    OrganisationOut,
    UploadOut,
)
from sakimori.errors import LimitExceeded
from sakimori.services import access
from sakimori.services.organisations import AssetView, OrganisationView

router = APIRouter(prefix="/v1/organisations", tags=["organisations"])

OrgSlug = Path(pattern=SLUG_PATTERN, description="The organisation's short name.")
AssetSlug = Path(pattern=SLUG_PATTERN, description="The asset's short name.")

_CHUNK = 1024 * 1024


def _organisation(view: OrganisationView) -> OrganisationOut:
    return OrganisationOut(
        slug=view.slug,
        name=view.name,
        kind=view.kind,
        sectors=list(view.sectors),
        assets=view.assets,
    )


def _asset(view: AssetView) -> AssetOut:
    return AssetOut(
        ref=view.ref,
        organisation=view.organisation,
        slug=view.slug,
        name=view.name,
        criticality=view.criticality,
        internet_facing=view.internet_facing,
        environment=view.environment,
        inventory_version=view.inventory_version,
    )


def read_upload(upload: UploadFile, limit: int) -> bytes:
    """The uploaded file's bytes, refusing one larger than ``limit`` without reading it all."""
    parts: list[bytes] = []
    size = 0
    while chunk := upload.file.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise LimitExceeded(
                f"the upload is more than the limit of {limit:,} bytes",
                hint="the server's SAKIMORI_MAX_INPUT_BYTES sets the limit",
            )
        parts.append(chunk)
    return b"".join(parts)


@router.get("", response_model=list[OrganisationOut], responses=responses(403))
def list_organisations(principal: PrincipalDep, rt: RuntimeDep) -> list[OrganisationOut]:
    """Organisations: every one for the coordinator, the caller's own for everyone else."""
    return [_organisation(o) for o in access.list_organisations(rt.database, principal)]


@router.post(
    "", response_model=OrganisationOut, status_code=201, responses=responses(400, 403, 409)
)
def create_organisation(
    body: OrganisationIn, principal: PrincipalDep, rt: RuntimeDep
) -> OrganisationOut:
    """Register an organisation (coordinator admin)."""
    made = access.create_organisation(
        rt.database, principal, body.slug, body.name, body.kind, body.sectors
    )
    return _organisation(made)


@router.get("/{organisation}", response_model=OrganisationOut, responses=responses(403, 404))
def get_organisation(
    principal: PrincipalDep, rt: RuntimeDep, organisation: str = OrgSlug
) -> OrganisationOut:
    """One organisation."""
    return _organisation(access.get_organisation(rt.database, principal, organisation))


@router.get("/{organisation}/assets", response_model=list[AssetOut], responses=responses(403, 404))
def list_assets(
    principal: PrincipalDep, rt: RuntimeDep, organisation: str = OrgSlug
) -> list[AssetOut]:
    """The organisation's assets, with their current inventory version."""
    return [_asset(a) for a in access.list_assets(rt.database, principal, organisation)]


@router.post(
    "/{organisation}/assets",
    response_model=AssetOut,
    status_code=201,
    responses=responses(400, 403, 404, 409),
)
def create_asset(
    body: AssetIn, principal: PrincipalDep, rt: RuntimeDep, organisation: str = OrgSlug
) -> AssetOut:
    """Register an asset of the organisation."""
    made = access.create_asset(
        rt.database,
        principal,
        f"{organisation}/{body.slug}",
        body.name,
        body.criticality,
        body.internet_facing,
        body.environment,
    )
    return _asset(made)


@router.get(
    "/{organisation}/assets/{asset}", response_model=AssetOut, responses=responses(403, 404)
)
def get_asset(
    principal: PrincipalDep,
    rt: RuntimeDep,
    organisation: str = OrgSlug,
    asset: str = AssetSlug,
) -> AssetOut:
    """One asset."""
    return _asset(access.get_asset(rt.database, principal, f"{organisation}/{asset}"))


@router.post(
    "/{organisation}/assets/{asset}/inventories",
    response_model=UploadOut,
    status_code=201,
    responses=responses(400, 403, 404, 413),
)
def upload_inventory(
    file: UploadFile,
    principal: PrincipalDep,
    rt: RuntimeDep,
    organisation: str = OrgSlug,
    asset: str = AssetSlug,
) -> UploadOut:
    """Upload the asset's next inventory version (an SBOM, a lockfile or a package database,
    recognised by content) and bring its findings up to date."""
    limits = rt.settings.limits
    data = read_upload(file, limits.max_bytes)
    report = access.upload_inventory(
        rt.database,
        principal,
        f"{organisation}/{asset}",
        data,
        file.filename or "upload",
        limits,
        rt.policies,
    )
    counts = report.counts
    return UploadOut(
        asset=report.asset,
        version=report.version,
        format=report.format,
        components=report.components,
        package_versions=report.package_versions,
        opened=counts.opened,
        closed=counts.closed,
        reopened=counts.reopened,
        kept=counts.kept,
        not_evaluated=report.not_evaluated,
        new_packages=list(report.new_packages),
        unknown_products=list(report.unknown_products),
        kept_entries=report.kept,
    )
