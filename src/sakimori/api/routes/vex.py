"""VEX of an organisation (or one of its assets): import, export, list the statements."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, UploadFile
from fastapi.responses import Response

from sakimori.api.deps import PrincipalDep, RuntimeDep
from sakimori.api.problems import responses
from sakimori.api.routes.organisations import read_upload
from sakimori.api.schemas import SLUG_PATTERN, VexChange, VexImportOut, VexSkip, VexStatementOut
from sakimori.formats.vex import VexFormat
from sakimori.services import access

router = APIRouter(prefix="/v1/organisations/{organisation}/vex", tags=["vex"])

OrgSlug = Path(pattern=SLUG_PATTERN, description="The organisation's short name.")
AssetQuery = Annotated[
    str | None,
    Query(pattern=SLUG_PATTERN, description="Only this asset of the organisation."),
]
_FORMATS = {"openvex": VexFormat.OPENVEX, "cyclonedx": VexFormat.CYCLONEDX, "csaf": VexFormat.CSAF}


@router.post(
    "", response_model=VexImportOut, status_code=201, responses=responses(400, 403, 404, 409, 413)
)
def import_vex(
    file: UploadFile,
    principal: PrincipalDep,
    rt: RuntimeDep,
    organisation: str = OrgSlug,
    asset: AssetQuery = None,
    allow_unmatched: Annotated[
        bool,
        Query(description="Keep statements about products in no current inventory, unapplied."),
    ] = False,
) -> VexImportOut:
    """Import a CycloneDX VEX, OpenVEX or CSAF VEX document and apply it to the findings."""
    limits = rt.settings.limits
    data = read_upload(file, limits.max_bytes)
    name = (file.filename or "upload").replace("\x00", "")[:200]
    report = access.import_vex(
        rt.database,
        principal,
        data,
        organisation=organisation,
        asset=asset,
        source=f"upload {name}",
        allow_unmatched=allow_unmatched,
        limits=limits,
    )
    return VexImportOut(
        document_id=report.document_id,
        format=report.format,
        author=report.author,
        statements=report.statements,
        matched=report.matched,
        applied=[
            VexChange(
                finding_id=c.finding_id,
                asset=c.asset,
                vulnerability=c.vulnerability,
                from_state=c.from_state,
                to_state=c.to_state,
            )
            for c in report.applied
        ],
        skipped=[
            VexSkip(
                finding_id=s.finding_id,
                asset=s.asset,
                vulnerability=s.vulnerability,
                state=s.state,
                reason=s.reason,
            )
            for s in report.skipped
        ],
        unmatched=list(report.unmatched),
    )


@router.get(
    "",
    response_class=Response,
    responses={
        200: {
            "description": "The VEX document",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **responses(403, 404),
    },
)
def export_vex(
    principal: PrincipalDep,
    rt: RuntimeDep,
    organisation: str = OrgSlug,
    asset: AssetQuery = None,
    format: Annotated[
        Literal["openvex", "cyclonedx", "csaf"], Query(description="The VEX format.")
    ] = "openvex",
    imported_only: Annotated[
        bool, Query(description="Only imported statements, not the findings' states.")
    ] = False,
    tlp: Annotated[
        Literal["WHITE", "GREEN", "AMBER", "RED"], Query(description="CSAF: the TLP label.")
    ] = "AMBER",
) -> Response:
    """The organisation's (or asset's) statements as one VEX document."""
    data = access.export_vex(
        rt.database,
        principal,
        organisation=organisation,
        asset=asset,
        fmt=_FORMATS[format],
        derived=not imported_only,
        tlp=tlp,
    )
    return Response(data, media_type="application/json")


@router.get("/statements", response_model=list[VexStatementOut], responses=responses(403, 404))
def list_statements(
    principal: PrincipalDep,
    rt: RuntimeDep,
    organisation: str = OrgSlug,
    asset: AssetQuery = None,
) -> list[VexStatementOut]:
    """Every statement: status, justification, source document, findings it applied to."""
    found = access.list_vex_statements(
        rt.database, principal, organisation=organisation, asset=asset
    )
    return [
        VexStatementOut(
            id=v.id,
            vulnerability=v.vulnerability,
            aliases=list(v.aliases),
            product=v.product,
            asset=v.asset,
            status=v.status,
            justification=v.justification,
            document_id=v.document_id,
            document=v.document,
            stated_at=v.stated_at,
            matched=v.matched,
            applied=v.applied,
            unmatched=v.unmatched,
        )
        for v in found
    ]
