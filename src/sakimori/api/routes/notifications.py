"""Notification endpoints (webhooks, e-mail addresses) with their filters, and deliveries with
the dead-letter list (docs/notifications.md).

Coordinator admins manage every organisation's endpoints; member admins their own
organisation's (another's answers 404, as one that does not exist). A webhook's signing secret
is in the answer to its creation only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field, StringConstraints

from sakimori.api.deps import PrincipalDep, RuntimeDep
from sakimori.api.problems import responses
from sakimori.api.schemas import SLUG_PATTERN, Moment, Request, Response, Slug
from sakimori.notify.filters import Filters, names
from sakimori.notify.settings import NotifySettings
from sakimori.packages.model import Tlp
from sakimori.services import notifications as service

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])

EndpointId = Path(ge=1, le=2**31 - 1, description="The endpoint's id.")
DeliveryId = Path(ge=1, le=2**31 - 1, description="The delivery's id.")
_Target = Annotated[str, StringConstraints(min_length=3, max_length=2000, pattern=r"^\S+$")]
_Word = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"^[^\x00-\x1f]+$")]
TlpLabel = Literal["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]


class FiltersIo(Request):
    sectors: list[_Word] = Field(
        default_factory=list, max_length=100, description="The package's audience names one."
    )
    vulnerabilities: list[_Word] = Field(
        default_factory=list, max_length=100, description="The package covers one."
    )
    purl_prefixes: list[_Word] = Field(
        default_factory=list,
        max_length=100,
        description="An affected product's purl starts with one (`pkg:pypi/django`).",
    )
    min_tlp: TlpLabel | None = None
    max_tlp: TlpLabel | None = None

    def parsed(self) -> Filters:
        return Filters(
            sectors=names(self.sectors, "sectors"),
            vulnerabilities=names(self.vulnerabilities, "vulnerabilities"),
            purl_prefixes=names(self.purl_prefixes, "products"),
            min_tlp=None if self.min_tlp is None else Tlp(self.min_tlp),
            max_tlp=None if self.max_tlp is None else Tlp(self.max_tlp),
        )


class EndpointIn(Request):
    organisation: Slug | None = Field(
        None, description="Whose endpoint (default: the caller's organisation)."
    )
    kind: Literal["webhook", "email"]
    target: _Target = Field(description="The https:// URL, or the e-mail address.")
    user: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._@-]{0,99}$")] | None = Field(
        None,
        description="E-mail only: the member whose own mailbox it is (TLP:RED reaches only "
        "these, when the package names that person).",
    )
    language: Literal["ja", "en"] | None = Field(
        None, description="E-mail language; none: Japanese and English."
    )
    filters: FiltersIo = Field(default_factory=lambda: FiltersIo())
    digest: bool = Field(
        False,
        description="Low-priority notifications (the organisation runs none of the affected "
        "software; label at most the digest ceiling, GREEN by default) wait for one digest per "
        "period instead of going one by one.",
    )


class EndpointOut(Response):
    id: int
    organisation: str
    kind: str
    target: str
    user: str | None
    language: str | None
    filters: FiltersIo
    digest: bool
    active: bool
    created_by: str
    created_at: Moment


class EndpointCreated(EndpointOut):
    secret: str | None = Field(
        description="Webhooks: the signing secret (HMAC-SHA256), shown this once."
    )


class DeliveryOut(Response):
    id: int
    package_id: int
    revision: int
    organisation: str
    endpoint_id: int
    kind: str
    idempotency_key: str
    cause: str
    state: str
    attempts: int
    max_attempts: int
    next_attempt_at: Moment | None
    last_status: int | None
    last_error: str | None
    created_at: Moment
    finished_at: Moment | None
    digest_id: int | None = Field(
        description="A low-priority notification: the digest that carries (or will carry) it."
    )


def endpoint_out(view: service.EndpointView) -> EndpointOut:
    f = view.filters
    return EndpointOut(
        id=view.id,
        organisation=view.organisation,
        kind=view.kind,
        target=view.target,
        user=view.user,
        language=view.language,
        filters=FiltersIo(
            sectors=list(f.sectors),
            vulnerabilities=list(f.vulnerabilities),
            purl_prefixes=list(f.purl_prefixes),
            min_tlp=None if f.min_tlp is None else f.min_tlp.value,
            max_tlp=None if f.max_tlp is None else f.max_tlp.value,
        ),
        digest=view.digest,
        active=view.active,
        created_by=view.created_by,
        created_at=view.created_at,
    )


def delivery_out(view: service.DeliveryView) -> DeliveryOut:
    return DeliveryOut(**{name: getattr(view, name) for name in DeliveryOut.model_fields})


@router.get("/endpoints", response_model=list[EndpointOut], responses=responses(403, 404))
def list_endpoints(
    principal: PrincipalDep,
    rt: RuntimeDep,
    organisation: Annotated[
        str | None, Query(pattern=SLUG_PATTERN, description="Only this organisation.")
    ] = None,
) -> list[EndpointOut]:
    """The active endpoints the caller manages."""
    return [endpoint_out(v) for v in service.list_endpoints(rt.database, principal, organisation)]


@router.post(
    "/endpoints",
    response_model=EndpointCreated,
    status_code=201,
    responses=responses(400, 403, 404),
)
def create_endpoint(body: EndpointIn, principal: PrincipalDep, rt: RuntimeDep) -> EndpointCreated:
    """Register a webhook or an e-mail address; a webhook's secret is in this answer only."""
    spec = service.EndpointSpec(
        organisation=body.organisation or principal.organisation,
        kind=body.kind,
        target=body.target,
        user=body.user,
        language=body.language,
        filters=body.filters.parsed(),
        digest=body.digest,
    )
    view, secret = service.create_endpoint(rt.database, principal, rt.key.secret, spec)
    return EndpointCreated(**endpoint_out(view).model_dump(), secret=secret)


@router.delete(
    "/endpoints/{endpoint_id}", response_model=EndpointOut, responses=responses(403, 404)
)
def remove_endpoint(
    principal: PrincipalDep, rt: RuntimeDep, endpoint_id: Annotated[int, EndpointId]
) -> EndpointOut:
    """Stop sending to an endpoint (deliveries not yet made to it are dropped)."""
    return endpoint_out(service.remove_endpoint(rt.database, principal, endpoint_id))


@router.get("/deliveries", response_model=list[DeliveryOut], responses=responses(400, 403, 404))
def list_deliveries(
    principal: PrincipalDep,
    rt: RuntimeDep,
    state: Annotated[
        Literal["pending", "held", "delivered", "dead", "dropped", "any"],
        Query(description="`dead` (default): the dead-letter list; `held`: waiting for a digest."),
    ] = "dead",
    organisation: Annotated[
        str | None, Query(pattern=SLUG_PATTERN, description="Only this organisation.")
    ] = None,
    package_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    """Deliveries, newest first, of the organisations the caller manages."""
    found = service.list_deliveries(
        rt.database,
        principal,
        state=None if state == "any" else state,
        organisation=organisation,
        package_id=package_id,
        limit=limit,
    )
    return [delivery_out(v) for v in found]


@router.post(
    "/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    responses=responses(403, 404, 409),
)
def retry_delivery(
    principal: PrincipalDep, rt: RuntimeDep, delivery_id: Annotated[int, DeliveryId]
) -> DeliveryOut:
    """Give a dead delivery a fresh budget of attempts, starting now (one carried by a digest:
    the digest, with its other dead items)."""
    budget = NotifySettings.load().attempts
    return delivery_out(service.retry_delivery(rt.database, principal, delivery_id, budget))
