"""Counter-measure packages: draft, edit, review and publish (two people), revise, withdraw;
recipients read, acknowledge, and fetch the CSAF advisory or the STIX bundle; the reports a
package requires are listed with their clocks and filed by the recipient operators' members
(``sakimori.services.package_followup``).

Roles, tenancy and TLP are decided in ``sakimori.services.access``; a package the caller may
not read answers 404, as one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import Field, StringConstraints

from sakimori.api.deps import PrincipalDep, RuntimeDep
from sakimori.api.problems import responses
from sakimori.api.schemas import Moment, Request, Response
from sakimori.services import access, package_followup
from sakimori.services.package_followup import ReportView
from sakimori.services.packages import PackageView, RecipientView

router = APIRouter(prefix="/v1/packages", tags=["packages"])

PackageId = Path(ge=1, le=2**31 - 1, description="The package's id.")
_Short = Annotated[str, StringConstraints(max_length=300, pattern=r"^[^\x00-\x1f\x7f]*$")]
_Long = Annotated[str, StringConstraints(max_length=100_000, pattern=r"^[^\x00]*$")]
_Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}$")]
ReportKind = Literal["early_warning", "notification", "final"]
_FormText = Annotated[str, StringConstraints(max_length=5_000, pattern=r"^[^\x00]*$")]


class AudienceIn(Request):
    everyone: bool = False
    sectors: list[_Ident] = Field(default_factory=list, max_length=50)
    organisations: list[_Ident] = Field(default_factory=list, max_length=500)
    affected: bool = Field(default=False, description="Every organisation exposed (by purl).")
    people: list[_Ident] = Field(default_factory=list, max_length=500)


class ProductIn(Request):
    purl: _Short | None = None
    cpe: _Short | None = None
    vendor: _Short | None = None
    product: _Short | None = None
    version: _Short | None = None


class MitigationIn(Request):
    category: Literal["vendor_fix", "workaround", "mitigation", "no_fix_planned", "none_available"]
    details: _Long
    url: _Short | None = None


class RuleIn(Request):
    sigma: _Long = Field(description="A Sigma rule (YAML).")


class DeadlineIn(Request):
    due: date
    vulnerability: _Ident | None = None
    source: _Short = Field("explicit", description="`explicit` or `policy:NAME`.")


class ReferenceIn(Request):
    url: _Short
    summary: _Short = ""


class ContentIn(Request):
    title: _Short
    summary: _Long = ""
    tlp: Literal["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]
    audience: AudienceIn = Field(default_factory=lambda: AudienceIn())
    vulnerabilities: list[_Ident] = Field(default_factory=list, max_length=500)
    products: list[ProductIn] = Field(default_factory=list, max_length=500)
    guidance: _Long = ""
    mitigations: list[MitigationIn] = Field(default_factory=list, max_length=100)
    detection_rules: list[RuleIn] = Field(default_factory=list, max_length=100)
    deadlines: list[DeadlineIn] = Field(default_factory=list, max_length=500)
    references: list[ReferenceIn] = Field(default_factory=list, max_length=200)
    acknowledge_within_hours: int | None = Field(
        None,
        ge=1,
        le=24 * 366,
        description="Hours recipients have to acknowledge (absent: the instance's default).",
    )
    reports: list[ReportKind] = Field(
        default_factory=list,
        max_length=3,
        description="The reports each recipient operator must file, each with its clock.",
    )

    def plain(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class RevisionIn(Request):
    content: ContentIn
    change: _Short = Field(description="What this revision changes (the revision history).")


class MoveIn(Request):
    move: Literal["submit", "send_back", "approve", "withdraw"]


class RevisionOut(Response):
    number: int
    status: str
    tlp: str
    author: str
    approver: str | None
    change: str
    created_at: Moment
    published_at: Moment | None


class PackageOut(Response):
    id: int
    state: str
    revision: int = Field(description="The newest published revision (0: not yet published).")
    tlp: str
    title: str
    content: dict[str, Any] = Field(
        description="The newest revision (staff) or the newest published one (recipients)."
    )
    history: list[RevisionOut]
    created_by: str
    created_at: Moment
    withdrawn_at: Moment | None


class RecipientOut(Response):
    organisation: str
    reason: str
    active: bool
    named_users: list[str]
    since_revision: int
    delivered_at: Moment
    read_at: Moment | None
    read_by: str | None
    acknowledged_at: Moment | None
    acknowledged_by: str | None
    reminded_at: Moment | None = Field(description="When the acknowledgement reminder went out.")
    escalated_at: Moment | None = Field(
        description="When it was escalated to its admins and the coordinator."
    )
    findings_open: int = Field(
        description="Remediation progress: its findings of the package's vulnerabilities, open."
    )
    findings_closed: int = Field(description="… and those closed (fixed, mitigated, …).")


class ReportIn(Request):
    """A report's form: each text at most 5,000 characters."""

    summary: _FormText = Field(description="What happened (required).")
    impact: _FormText = ""
    exploitation_observed: bool = False
    measures: _FormText = Field("", description="The measures taken.")


class ReportOut(Response):
    organisation: str
    kind: ReportKind
    started_at: Moment = Field(description="When the clock started (the requirement arrived).")
    due_at: Moment
    overdue: bool
    filed_at: Moment | None
    filed_by: str | None
    body: dict[str, Any] = Field(description="The form as filed (empty until filed).")
    reminded_at: Moment | None
    escalated_at: Moment | None


def report_out(view: ReportView, now: datetime) -> ReportOut:
    return ReportOut(
        organisation=view.organisation,
        kind=view.kind,  # type: ignore[arg-type]
        started_at=view.started_at,
        due_at=view.due_at,
        overdue=view.clock.overdue(now),
        filed_at=view.filed_at,
        filed_by=view.filed_by,
        body=view.body,
        reminded_at=view.reminded_at,
        escalated_at=view.escalated_at,
    )


def package_out(view: PackageView) -> PackageOut:
    return PackageOut(
        id=view.id,
        state=view.state,
        revision=view.revision,
        tlp=view.tlp.value,
        title=view.content.title,
        content=view.content.to_dict(),
        history=[
            RevisionOut(
                number=r.number,
                status=r.status,
                tlp=r.tlp,
                author=r.author,
                approver=r.approver,
                change=r.change,
                created_at=r.created_at,
                published_at=r.published_at,
            )
            for r in view.history
        ],
        created_by=view.created_by,
        created_at=view.created_at,
        withdrawn_at=view.withdrawn_at,
    )


def recipient_out(view: RecipientView) -> RecipientOut:
    return RecipientOut(
        organisation=view.organisation,
        reason=view.reason,
        active=view.active,
        named_users=list(view.named_users),
        since_revision=view.since_revision,
        delivered_at=view.delivered_at,
        read_at=view.read_at,
        read_by=view.read_by,
        acknowledged_at=view.acknowledged_at,
        acknowledged_by=view.acknowledged_by,
        reminded_at=view.reminded_at,
        escalated_at=view.escalated_at,
        findings_open=view.findings_open,
        findings_closed=view.findings_closed,
    )


@router.get("", response_model=list[PackageOut], responses=responses(403))
def list_packages(principal: PrincipalDep, rt: RuntimeDep) -> list[PackageOut]:
    """Staff: every package, drafts included; anyone else: the packages they receive."""
    return [package_out(v) for v in access.list_packages(rt.database, principal)]


@router.post("", response_model=PackageOut, status_code=201, responses=responses(400, 403, 413))
def create_package(body: ContentIn, principal: PrincipalDep, rt: RuntimeDep) -> PackageOut:
    """Draft a new package (revision 1)."""
    return package_out(access.create_package(rt.database, principal, body.plain()))


@router.get("/{package_id}", response_model=PackageOut, responses=responses(403, 404))
def read_package(
    principal: PrincipalDep, rt: RuntimeDep, package_id: Annotated[int, PackageId]
) -> PackageOut:
    """One package; a recipient's read is recorded."""
    return package_out(access.read_package(rt.database, principal, package_id))


@router.put(
    "/{package_id}/draft", response_model=PackageOut, responses=responses(400, 403, 404, 409)
)
def edit_draft(
    body: ContentIn, principal: PrincipalDep, rt: RuntimeDep, package_id: Annotated[int, PackageId]
) -> PackageOut:
    """Replace the content of the draft revision."""
    return package_out(access.edit_package(rt.database, principal, package_id, body.plain()))


@router.post(
    "/{package_id}/revisions",
    response_model=PackageOut,
    status_code=201,
    responses=responses(400, 403, 404, 409),
)
def revise(
    body: RevisionIn, principal: PrincipalDep, rt: RuntimeDep, package_id: Annotated[int, PackageId]
) -> PackageOut:
    """Open the next revision of a published package as a draft."""
    return package_out(
        access.revise_package(rt.database, principal, package_id, body.content.plain(), body.change)
    )


@router.post(
    "/{package_id}/transitions",
    response_model=PackageOut,
    responses=responses(400, 403, 404, 409),
)
def move(
    body: MoveIn, principal: PrincipalDep, rt: RuntimeDep, package_id: Annotated[int, PackageId]
) -> PackageOut:
    """`submit` for review, `send_back` to draft, `approve` (publish: not by the revision's
    author), `withdraw`."""
    return package_out(access.move_package(rt.database, principal, package_id, body.move))


@router.post(
    "/{package_id}/acknowledgement", response_model=RecipientOut, responses=responses(403, 404)
)
def acknowledge(
    principal: PrincipalDep, rt: RuntimeDep, package_id: Annotated[int, PackageId]
) -> RecipientOut:
    """The caller's organisation acknowledges the package (the first acknowledgement counts)."""
    return recipient_out(access.acknowledge_package(rt.database, principal, package_id))


@router.get(
    "/{package_id}/recipients", response_model=list[RecipientOut], responses=responses(403, 404)
)
def recipients(
    principal: PrincipalDep, rt: RuntimeDep, package_id: Annotated[int, PackageId]
) -> list[RecipientOut]:
    """Who the package reaches, why, and what each did with it (staff)."""
    return [recipient_out(r) for r in access.package_recipients(rt.database, principal, package_id)]


@router.get(
    "/{package_id}/csaf",
    responses={
        **responses(400, 403, 404),
        200: {"description": "A CSAF 2.0 csaf_security_advisory document"},
    },
)
def csaf(
    principal: PrincipalDep, rt: RuntimeDep, package_id: Annotated[int, PackageId]
) -> JSONResponse:
    """The published package as a CSAF 2.0 security advisory (TLP mapped to TLP 1.0)."""
    return JSONResponse(access.package_csaf(rt.database, principal, package_id))


@router.get(
    "/{package_id}/stix",
    responses={
        **responses(400, 403, 404),
        200: {"description": "A STIX 2.1 bundle", "content": {"application/stix+json": {}}},
    },
)
def stix(
    principal: PrincipalDep, rt: RuntimeDep, package_id: Annotated[int, PackageId]
) -> JSONResponse:
    """The published package as a STIX 2.1 bundle with its TLP 2.0 marking."""
    return JSONResponse(
        access.package_stix(rt.database, principal, package_id),
        media_type="application/stix+json;version=2.1",
    )


@router.get("/{package_id}/reports", response_model=list[ReportOut], responses=responses(403, 404))
def reports(
    principal: PrincipalDep, rt: RuntimeDep, package_id: Annotated[int, PackageId]
) -> list[ReportOut]:
    """The reports the package requires, with their clocks: staff see every recipient's, a
    recipient its own organisation's."""
    now = datetime.now(UTC)
    return [
        report_out(v, now) for v in package_followup.reports(rt.database, principal, package_id)
    ]


@router.post(
    "/{package_id}/reports/{kind}",
    response_model=ReportOut,
    status_code=201,
    responses=responses(400, 403, 404, 409, 413),
)
def file_report(
    body: ReportIn,
    principal: PrincipalDep,
    rt: RuntimeDep,
    package_id: Annotated[int, PackageId],
    kind: Annotated[ReportKind, Path(description="early_warning, notification or final.")],
) -> ReportOut:
    """File one of the reports the package requires of the caller's organisation (members of
    a recipient operator or agency); a report is filed once (409 after)."""
    view = package_followup.file_report(
        rt.database, principal, package_id, kind, body.model_dump(mode="json")
    )
    return report_out(view, datetime.now(UTC))
