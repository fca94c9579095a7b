"""Request and response bodies: pydantic models at the wire boundary only.

Request models forbid unknown fields; strings are bounded and free of NUL characters (which
PostgreSQL cannot store), so a hostile body is refused with a 422 before any service runs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from sakimori.model.lifecycle import State

SLUG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
Text = Annotated[str, StringConstraints(max_length=4000, pattern=r"^[^\x00]*$")]
Name = Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")]


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time Sakimori stores is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


#: A moment with its offset (RFC 3339 ``date-time``), whatever the database returned.
Moment = Annotated[datetime, AfterValidator(_utc)]

Kind = Literal["coordinator", "agency", "operator", "vendor", "partner"]
Sector = Literal[
    "information_communications",
    "finance",
    "aviation",
    "airports",
    "railways",
    "electric_power",
    "gas",
    "government",
    "medical",
    "water",
    "logistics",
    "chemicals",
    "credit_cards",
    "petroleum",
    "ports",
]
Criticality = Literal["low", "medium", "high", "critical"]
Justification = Literal[
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
]
ScopeName = Literal["read", "write"]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests -------------------------------------------------------------------------------------


class OrganisationIn(Request):
    slug: Slug
    name: Name = ""
    kind: Kind = "operator"
    sectors: list[Sector] = Field(default_factory=list, max_length=15)


class AssetIn(Request):
    slug: Slug
    name: Name = ""
    criticality: Criticality = "medium"
    internet_facing: StrictBool | None = None
    environment: (
        Annotated[str, StringConstraints(max_length=40, pattern=r"^[^\x00-\x1f\x7f]*$")] | None
    ) = None


class TransitionIn(Request):
    state: State
    note: Text = ""
    justification: Justification | None = None
    expires: date | None = Field(None, description="Until when an accepted risk stands.")


class TokenIn(Request):
    name: Annotated[
        str,
        StringConstraints(
            min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$"
        ),
    ]
    scopes: list[ScopeName] = Field(min_length=1, max_length=2)
    expires_in_days: int = Field(90, ge=1, le=366)


# -- responses ------------------------------------------------------------------------------------


class Health(Response):
    status: str


class Me(Response):
    user: str
    role: str
    organisation: str
    scopes: list[str]
    token_id: str | None


class OrganisationOut(Response):
    slug: str
    name: str
    kind: str
    sectors: list[str]
    assets: int


class AssetOut(Response):
    ref: str
    organisation: str
    slug: str
    name: str
    criticality: str
    internet_facing: bool | None
    environment: str | None
    inventory_version: int | None


class UploadOut(Response):
    asset: str
    version: int
    format: str
    components: int
    package_versions: int
    opened: int
    closed: int
    reopened: int
    kept: int
    not_evaluated: int
    new_packages: list[int] = Field(
        default_factory=list,
        description="published counter-measure packages the organisation now receives because "
        "this inventory holds an affected product",
    )
    kept_entries: int = Field(
        0,
        description="entries of the other kind kept from the previous version (a product list's "
        "when an SBOM or lockfile is uploaded, and the other way round); included in components",
    )
    unknown_products: list[str] = Field(
        default_factory=list,
        description="product entries (CPE names) that no loaded NVD or CVE record names: most "
        "likely spelled otherwise than NVD and the CNAs spell them",
    )


class FindingOut(Response):
    id: int
    asset: str
    vulnerability: str
    aliases: list[str]
    package: str | None
    version: str | None
    ecosystem: str | None
    fixed: list[str]
    state: str
    first_seen: Moment
    last_seen: Moment
    decision: str | None
    priority: str | None
    deadline: Moment | None
    resolution: str | None
    justification: str | None
    risk_accepted_until: date | None


class TransitionOut(Response):
    at: Moment
    actor: str
    from_state: str | None
    to_state: str
    note: str


class FindingDetail(Response):
    finding: FindingOut
    history: list[TransitionOut]


class FindingPage(Response):
    items: list[FindingOut]
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last.")


class Explanation(Response):
    finding: int
    explanation: dict[str, Any] = Field(
        description="The stored decision with every input and its source; "
        '{"unavailable": why} when it could not be decided; {} before the first triage.'
    )


class IntelSourceOut(Response):
    name: str
    kind: str
    location: str
    checked_at: Moment | None
    changed_at: Moment | None
    record_count: int


class IntelStatus(Response):
    sources: list[IntelSourceOut]
    counts: dict[str, int]
    newest: dict[str, str]


class ProductSuggestion(Response):
    vendor: str
    product: str
    score: float = Field(description="0..1: 0.3·vendor + 0.5·product recall + 0.2·precision")
    explanation: str = Field(description="the matched tokens, the three parts, where it was seen")
    seen_in: int = Field(description="how many loaded records name this vendor/product")


class VexChange(Response):
    finding_id: int
    asset: str
    vulnerability: str
    from_state: str
    to_state: str


class VexSkip(Response):
    finding_id: int
    asset: str
    vulnerability: str
    state: str
    reason: str


class VexImportOut(Response):
    document_id: int
    format: str
    author: str | None
    statements: int
    matched: int
    applied: list[VexChange]
    skipped: list[VexSkip]
    unmatched: list[str]


class VexStatementOut(Response):
    id: int
    vulnerability: str
    aliases: list[str]
    product: str
    asset: str | None
    status: str
    justification: str | None
    document_id: int | None
    document: str
    stated_at: Moment | None
    matched: int
    applied: int
    unmatched: bool


class Figures(Response):
    open: int
    open_by_decision: dict[str, int]
    overdue: int
    closed: int
    on_time_rate: float | None
    median_days_to_remediate: float | None


class Metrics(Response):
    at: Moment
    overall: Figures
    organisations: dict[str, Figures]
    sectors: dict[str, Figures]
    months: dict[str, dict[str, int]]


class TokenOut(Response):
    id: str
    user: str
    name: str
    scopes: list[str]
    created_at: Moment
    expires_at: Moment
    revoked_at: Moment | None
    last_used_at: Moment | None


class TokenCreated(Response):
    token: TokenOut
    secret: str = Field(description="The token to send as `Authorization: Bearer …`; shown once.")
