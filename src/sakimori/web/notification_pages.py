"""Notification endpoints and the dead-letter list in the browser (docs/notifications.md).

- ``/notifications``: an organisation's administrator sees its endpoints (webhook URL or
  e-mail address, language, filters), removes one, and sees its deliveries — the dead letters
  first, each with a button to try it again; a coordinator administrator sees every
  organisation's, and may narrow the page to one organisation;
- ``/notifications/endpoints/new``: the form to register an endpoint; a webhook's signing
  secret is shown once, on the page that answers the form, and never again.

Every read and write is a use case of ``sakimori.services.notifications``, which checks the
role (``notify.read`` / ``notify.manage``: administrators only), tenancy (another
organisation's endpoint or delivery is "not found", as for the API) and records writes in the
audit log. Bad input re-renders the form with the reason, and nothing is registered.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse

from sakimori.errors import Conflict, InvalidInput, NotFound
from sakimori.model.organisation import SECTORS
from sakimori.notify.filters import Filters, names
from sakimori.packages.model import Tlp
from sakimori.services import access
from sakimori.services import notifications as service
from sakimori.services.access import Action, Principal
from sakimori.web.render import Checked, RendererDep, RuntimeDep, SignedIn, redirect

router = APIRouter(prefix="/notifications")

_SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
Ident = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: Deliveries shown below the dead letters (newest first).
RECENT = 100
#: The delivery states the page filters by ("any": all of them).
STATE_CHOICES = ("any", *service.STATES)


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


def _label(value: str, field: str) -> Tlp | None:
    if not value:
        return None
    try:
        return Tlp(value)
    except ValueError:
        labels = ", ".join(t.value for t in Tlp)
        raise InvalidInput(f"{field} {value[:40]!r} is not a TLP label ({labels})") from None


def _page(
    request: Request,
    principal: Principal,
    pages: RendererDep,
    rt: RuntimeDep,
    *,
    organisation: str | None = None,
    state: str = "any",
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    db = rt.database
    wanted = organisation or None
    endpoints = service.list_endpoints(db, principal, wanted)  # checks the role first
    if state not in STATE_CHOICES:
        raise InvalidInput(
            f"delivery state {state[:40]!r} is not one of {', '.join(STATE_CHOICES)}"
        )
    dead = service.list_deliveries(db, principal, state=service.DEAD, organisation=wanted)
    recent = service.list_deliveries(
        db,
        principal,
        state=None if state == "any" else state,
        organisation=wanted,
        limit=RECENT,
    )
    organisations = (
        [o.slug for o in access.list_organisations(db, principal)]
        if principal.sees_everything
        else []
    )
    return pages.page(
        request,
        "notifications.html",
        status,
        endpoints=endpoints,
        dead=dead,
        recent=recent,
        organisation=wanted or "",
        organisations=organisations,
        state=state,
        states=STATE_CHOICES,
        sectors=SECTORS,
        **values,
    )


@router.get("", response_class=HTMLResponse)
def notifications_page(
    request: Request,
    principal: SignedIn,
    pages: RendererDep,
    rt: RuntimeDep,
    organisation: Annotated[str, Query(pattern=r"^$|" + _SLUG)] = "",
    state: Annotated[str, Query(max_length=20)] = "any",
    retried: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Any:
    """The caller's endpoints, dead letters and recent deliveries (administrators only)."""
    return _page(
        request, principal, pages, rt, organisation=organisation, state=state, retried=retried
    )


def _form(
    request: Request,
    principal: Principal,
    pages: RendererDep,
    rt: RuntimeDep,
    values: dict[str, Any],
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    organisations = (
        [o.slug for o in access.list_organisations(rt.database, principal)]
        if principal.sees_everything
        else []
    )
    return pages.page(
        request,
        "notification_endpoint_new.html",
        status,
        values=values,
        error=error,
        organisations=organisations,
        labels=[t.value for t in Tlp],
        sectors=SECTORS,
    )


@router.get("/endpoints/new", response_class=HTMLResponse)
def new_endpoint_page(
    request: Request, principal: SignedIn, pages: RendererDep, rt: RuntimeDep
) -> Any:
    access.require(principal, Action.NOTIFY_MANAGE)
    return _form(request, principal, pages, rt, {"kind": "webhook"})


@router.post("/endpoints", response_class=HTMLResponse)
def create_endpoint(
    request: Request,
    principal: Checked,
    pages: RendererDep,
    rt: RuntimeDep,
    kind: Annotated[str, Form(max_length=20)],
    target: Annotated[str, Form(max_length=2000)] = "",
    organisation: Annotated[str, Form(max_length=63)] = "",
    user: Annotated[str, Form(max_length=100)] = "",
    language: Annotated[str, Form(max_length=5)] = "",
    sectors: Annotated[list[str] | None, Form()] = None,
    vulnerabilities: Annotated[str, Form(max_length=5_000)] = "",
    purl_prefixes: Annotated[str, Form(max_length=20_000)] = "",
    min_tlp: Annotated[str, Form(max_length=20)] = "",
    max_tlp: Annotated[str, Form(max_length=20)] = "",
    digest: Annotated[bool, Form()] = False,
) -> Any:
    """Register an endpoint; a webhook's signing secret is on the answer, once."""
    access.require(principal, Action.NOTIFY_MANAGE)
    values: dict[str, Any] = {
        "kind": kind,
        "target": target,
        "organisation": organisation,
        "user": user,
        "language": language,
        "sectors": sectors or [],
        "vulnerabilities": vulnerabilities,
        "purl_prefixes": purl_prefixes,
        "min_tlp": min_tlp,
        "max_tlp": max_tlp,
        "digest": digest,
    }
    owner = organisation.strip() if principal.sees_everything else ""
    try:
        if principal.sees_everything and not owner:
            raise InvalidInput("choose the organisation the endpoint belongs to")
        filters = Filters(
            sectors=names(sectors or [], "sectors"),
            vulnerabilities=names(_words(vulnerabilities), "vulnerabilities"),
            purl_prefixes=names(_words(purl_prefixes), "products"),
            min_tlp=_label(min_tlp, "minimum TLP"),
            max_tlp=_label(max_tlp, "maximum TLP"),
        )
        spec = service.EndpointSpec(
            organisation=owner or principal.organisation,
            kind=kind,
            target=target.strip(),
            user=user.strip() or None,
            language=language or None,
            filters=filters,
            digest=digest,
        )
        view, secret = service.create_endpoint(rt.database, principal, rt.key.secret, spec)
    except (InvalidInput, NotFound) as exc:
        status = 404 if isinstance(exc, NotFound) else 400
        return _form(request, principal, pages, rt, values, exc.diagnostics(), status)
    return _page(
        request,
        principal,
        pages,
        rt,
        organisation=view.organisation if principal.sees_everything else None,
        status=201,
        made=view,
        secret=secret,
    )


@router.post("/endpoints/{endpoint_id}/remove", response_class=HTMLResponse)
def remove_endpoint(principal: Checked, rt: RuntimeDep, endpoint_id: Ident) -> Any:
    """Stop sending to an endpoint (what was not yet sent to it is dropped)."""
    service.remove_endpoint(rt.database, principal, endpoint_id)
    return redirect("/notifications")


@router.post("/deliveries/{delivery_id}/retry", response_class=HTMLResponse)
def retry_delivery(
    request: Request,
    principal: Checked,
    pages: RendererDep,
    rt: RuntimeDep,
    delivery_id: Ident,
) -> Any:
    """Give a dead delivery a fresh budget of attempts, starting now."""
    try:
        service.retry_delivery(rt.database, principal, delivery_id)
    except Conflict as exc:
        return _page(request, principal, pages, rt, status=409, error=exc.diagnostics())
    return redirect(f"/notifications?retried={delivery_id}")
