"""Sightings: members' monitoring reports what it saw; staff review exploitation attempts.

``sakimori watch --server`` posts its sightings here and reads the Sigma rules of the packages
its organisation receives (``/v1/detection-rules``). Roles, tenancy and TLP are decided in
``sakimori.services.sightings`` (docs/monitoring.md, "Sightings").
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field, StringConstraints

from sakimori.api.deps import PrincipalDep, RuntimeDep
from sakimori.api.problems import responses
from sakimori.api.schemas import SLUG_PATTERN, Moment, Request, Response
from sakimori.errors import InvalidInput
from sakimori.monitoring import sightings as core
from sakimori.monitoring.sightings import Sighting
from sakimori.services import sightings as service

router = APIRouter(tags=["sightings"])

_VULNERABILITY = r"^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9._:-]{1,120}$"
_Printable = r"^[^\x00-\x1f\x7f]*$"
_Vulnerability = Annotated[str, StringConstraints(pattern=_VULNERABILITY)]
VulnerabilityPath = Annotated[
    str, Path(pattern=_VULNERABILITY, description="A vulnerability id (CVE-…, GHSA-…).")
]
MAX_PAGE = service.LIST_LIMIT


class SightingIn(Request):
    client: Annotated[str, StringConstraints(max_length=100, pattern=_Printable)] = Field(
        description="The client as the privacy setting shows it: an address (full), a /24 or "
        "/48 network or empty (truncate), `hmac-sha256:<32 hex>` (hash)."
    )
    detector: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
    rule: Annotated[str, StringConstraints(max_length=200, pattern=_Printable)] = Field(
        "", description="The rule id (empty for a built-in detector)."
    )
    version: Annotated[str, StringConstraints(max_length=60, pattern=_Printable)] = ""
    title: Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=_Printable)]
    source: Annotated[str, StringConstraints(pattern=r"^(builtin|local|package:[0-9]{1,10})$")]
    vulnerabilities: list[_Vulnerability] = Field(
        default_factory=list, max_length=core.MAX_VULNERABILITIES
    )
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    count: int = Field(ge=1, le=core.MAX_COUNT)

    def sighting(self) -> Sighting:
        return Sighting(
            self.client,
            self.detector,
            self.rule,
            self.version,
            self.title,
            self.source,
            tuple(self.vulnerabilities),
            self.first_seen,
            self.last_seen,
            self.count,
        )


class ReportIn(Request):
    privacy: Literal["full", "truncate", "hash"] = Field(
        description="How the operator's watch shows client addresses."
    )
    sightings: list[SightingIn] = Field(min_length=1, max_length=service.MAX_SIGHTINGS)


class ReportOut(Response):
    received: int
    stored: int = Field(description="New sightings.")
    merged: int = Field(description="Sightings sent before, grown (later last seen, count).")


class SightingOut(Response):
    id: int
    organisation: str
    privacy: str
    reported_at: Moment
    reported_by: str
    client: str
    detector: str
    rule: str
    version: str
    title: str
    source: str
    vulnerabilities: list[str]
    first_seen: Moment
    last_seen: Moment
    count: int


class VulnerabilityOut(Response):
    vulnerability: str
    organisations: int = Field(description="Distinct organisations whose sightings name it.")
    sightings: int
    requests: int = Field(description="The sightings' counts, summed.")
    first_seen: Moment | None
    last_seen: Moment | None
    status: Literal["pending", "confirmed", "rejected"] | None = Field(
        description="The analyst review (null: not flagged)."
    )
    flagged_at: Moment | None
    decided_by: str | None
    decided_at: Moment | None
    note: str
    corroborated: bool = Field(
        description="Exploitation is active in every organisation's decisions: sightings from "
        "at least two organisations, or confirmed by an analyst."
    )
    needs_review: bool


class ReviewIn(Request):
    decision: Literal["confirmed", "rejected"]
    note: Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")] = ""


class PackageRulesOut(Response):
    package_id: int
    revision: int
    tlp: str
    title: str
    vulnerabilities: list[str]
    rules: list[str] = Field(description="Sigma rules (YAML).")


def sighting_out(view: service.SightingView) -> SightingOut:
    s = view.sighting
    return SightingOut(
        id=view.id,
        organisation=view.organisation,
        privacy=view.privacy,
        reported_at=view.reported_at,
        reported_by=view.reported_by,
        client=s.client,
        detector=s.detector,
        rule=s.rule,
        version=s.version,
        title=s.title,
        source=s.source,
        vulnerabilities=list(s.vulnerabilities),
        first_seen=s.first_seen,
        last_seen=s.last_seen,
        count=s.count,
    )


def vulnerability_out(view: service.VulnerabilitySummary) -> VulnerabilityOut:
    return VulnerabilityOut(
        vulnerability=view.vulnerability,
        organisations=view.organisations,
        sightings=view.sightings,
        requests=view.requests,
        first_seen=view.first_seen,
        last_seen=view.last_seen,
        status=view.status,  # type: ignore[arg-type]
        flagged_at=view.flagged_at,
        decided_by=view.decided_by,
        decided_at=view.decided_at,
        note=view.note,
        corroborated=view.corroborated,
        needs_review=view.needs_review,
    )


OrganisationQuery = Annotated[
    str | None, Query(pattern=SLUG_PATTERN, description="Only this organisation's.")
]
VulnerabilityQuery = Annotated[
    str | None, Query(pattern=_VULNERABILITY, description="Only those naming this id.")
]
_MOMENT = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"  # date and time
    r"(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"  # fraction, offset
)
SinceQuery = Annotated[
    str | None,
    Query(
        pattern=_MOMENT,
        description="Only those reported at or after this time (RFC 3339, with its offset).",
    ),
]


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"since {value!r} is not a date and time") from None


@router.post(
    "/v1/sightings", response_model=ReportOut, status_code=201, responses=responses(400, 403, 409)
)
def report(body: ReportIn, principal: PrincipalDep, rt: RuntimeDep) -> ReportOut:
    """A member organisation's sightings (what `sakimori watch --server` sends): stored with
    the organisation; nothing is stored when one of them is refused."""
    outcome = service.report(
        rt.database, principal, [s.sighting() for s in body.sightings], body.privacy
    )
    return ReportOut(received=outcome.received, stored=outcome.stored, merged=outcome.merged)


@router.get("/v1/sightings", response_model=list[SightingOut], responses=responses(400, 403, 404))
def list_sightings(
    principal: PrincipalDep,
    rt: RuntimeDep,
    organisation: OrganisationQuery = None,
    vulnerability: VulnerabilityQuery = None,
    since: SinceQuery = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[SightingOut]:
    """Newest first: every organisation's (staff), the caller's organisation's (members)."""
    filters = service.Filters(organisation, vulnerability, _since(since), limit, offset)
    return [sighting_out(v) for v in service.list_sightings(rt.database, principal, filters)]


@router.get(
    "/v1/sightings/vulnerabilities",
    response_model=list[VulnerabilityOut],
    responses=responses(403),
)
def vulnerabilities(principal: PrincipalDep, rt: RuntimeDep) -> list[VulnerabilityOut]:
    """Per vulnerability that sightings name: how many organisations, first and last seen,
    the analyst review, whether exploitation is corroborated; what needs review first (staff)."""
    return [vulnerability_out(v) for v in service.summary(rt.database, principal)]


@router.post(
    "/v1/sightings/vulnerabilities/{vulnerability}/review",
    response_model=VulnerabilityOut,
    responses=responses(400, 403),
)
def review(
    vulnerability: VulnerabilityPath, body: ReviewIn, principal: PrincipalDep, rt: RuntimeDep
) -> VulnerabilityOut:
    """An analyst confirms exploitation of the vulnerability (active in every decision) or
    rejects the attempts reported so far; decisions are re-assessed when that changes."""
    return vulnerability_out(
        service.review(rt.database, principal, vulnerability, body.decision, body.note)
    )


@router.get(
    "/v1/sightings/stix",
    responses={
        **responses(400, 403, 404),
        200: {"description": "A STIX 2.1 bundle", "content": {"application/stix+json": {}}},
    },
)
def stix(
    principal: PrincipalDep,
    rt: RuntimeDep,
    tlp: Annotated[
        Literal["CLEAR", "GREEN", "AMBER", "AMBER+STRICT"],
        Query(description="The TLP 2.0 marking (staff: AMBER or AMBER+STRICT)."),
    ] = "AMBER",
    organisation: OrganisationQuery = None,
    vulnerability: VulnerabilityQuery = None,
    since: SinceQuery = None,
) -> JSONResponse:
    """The sightings the caller may list (up to 10,000, newest first) as STIX 2.1 `sighting`,
    `indicator`, `vulnerability`, `identity` and `observed-data` objects."""
    filters = service.Filters(organisation, vulnerability, _since(since), service.EXPORT_LIMIT)
    return JSONResponse(
        service.stix_bundle(rt.database, principal, filters, tlp),
        media_type="application/stix+json;version=2.1",
    )


@router.get("/v1/detection-rules", response_model=list[PackageRulesOut], responses=responses(403))
def detection_rules(principal: PrincipalDep, rt: RuntimeDep) -> list[PackageRulesOut]:
    """The Sigma rules of the published counter-measure packages the caller may read, with
    their vulnerabilities (what `sakimori watch --server` runs beside its own rules)."""
    return [
        PackageRulesOut(
            package_id=p.package_id,
            revision=p.revision,
            tlp=p.tlp,
            title=p.title,
            vulnerabilities=list(p.vulnerabilities),
            rules=list(p.rules),
        )
        for p in service.package_rules(rt.database, principal)
    ]
