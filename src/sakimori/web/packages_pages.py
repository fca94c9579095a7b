"""Counter-measure packages in the browser: drafting, review, publication, reading, receipts.

- ``/packages``: coordinator staff see every package with its state; anyone else the published
  packages their organisation receives, with whether it read and acknowledged each;
- ``/packages/new``: staff draft one (title, summary, TLP, audience, vulnerabilities, affected
  products, guidance, references);
- ``/packages/{id}``: the package as its reader may see it — opening it records the read
  receipt for a recipient; staff see the recipients (delivered, read, acknowledged, by whom) and
  the moves the package's state allows (submit, send back, approve — a second person —,
  withdraw); a recipient acknowledges it.
- follow-up (``sakimori.services.package_followup``): a recipient sees its acknowledgement
  deadline and, for each report the package requires, a countdown to its due time and the
  report's form (``POST /packages/{id}/reports/{kind}``); staff see, per recipient, when it was
  reminded and escalated and the state of each report, overdue ones in red.

Every read and move is a use case of ``sakimori.services.access`` (roles, tenancy, TLP and the
audit trail are checked there, as for the API); a package the caller may not read is 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse

from sakimori.errors import Conflict, InvalidInput, PermissionDenied
from sakimori.model.organisation import SECTORS
from sakimori.packages import followup as rules
from sakimori.packages import lifecycle as lc
from sakimori.packages.model import Tlp
from sakimori.services import access, package_followup
from sakimori.services.access import Action, Principal
from sakimori.web.render import Checked, RendererDep, RuntimeDep, SignedIn, redirect

router = APIRouter()

PackageId = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: The moves a page offers, by package state (approve and withdraw need the publish right).
_MOVES: dict[str, tuple[str, ...]] = {
    lc.State.DRAFT.value: ("submit",),
    lc.State.REVIEW.value: ("approve", "send_back"),
    lc.State.PUBLISHED.value: ("withdraw",),
    lc.State.UPDATED.value: ("withdraw",),
}


def _may(principal: Principal, action: Action) -> bool:
    try:
        access.require(principal, action)
    except PermissionDenied:
        return False
    return True


@router.get("/packages", response_class=HTMLResponse)
def packages_page(request: Request, principal: SignedIn, pages: RendererDep, rt: RuntimeDep) -> Any:
    """Staff: every package; a recipient: what its organisation receives, read or not."""
    found = access.list_packages(rt.database, principal)
    receipts = (
        {}
        if principal.sees_everything
        else {v.id: access.own_receipt(rt.database, principal, v.id) for v in found}
    )
    return pages.page(
        request,
        "packages.html",
        packages=found,
        receipts=receipts,
        may_draft=_may(principal, Action.PACKAGE_DRAFT),
    )


@router.get("/packages/new", response_class=HTMLResponse)
def new_package_page(
    request: Request, principal: SignedIn, pages: RendererDep, rt: RuntimeDep
) -> Any:
    access.require(principal, Action.PACKAGE_DRAFT)
    return _draft_form(request, pages, {})


def _draft_form(
    request: Request, pages: RendererDep, values: dict[str, Any], error: str = "", status: int = 200
) -> HTMLResponse:
    return pages.page(
        request,
        "package_new.html",
        status,
        values=values,
        error=error,
        labels=[t.value for t in Tlp],
        sectors=SECTORS,
    )


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


def _product(line: str) -> dict[str, str]:
    if line.startswith("pkg:"):
        return {"purl": line}
    if line.startswith("cpe:"):
        return {"cpe": line}
    vendor, _, rest = line.partition("/")
    product, _, version = rest.partition("@")
    named = {"vendor": vendor.strip(), "product": product.strip(), "version": version.strip()}
    return {k: v for k, v in named.items() if v}


@router.post("/packages", response_class=HTMLResponse)
def create_package(
    request: Request,
    principal: Checked,
    pages: RendererDep,
    rt: RuntimeDep,
    title: Annotated[str, Form(max_length=300)],
    tlp: Annotated[str, Form(max_length=20)],
    summary: Annotated[str, Form(max_length=20_000)] = "",
    everyone: Annotated[bool, Form()] = False,
    affected: Annotated[bool, Form()] = False,
    sectors: Annotated[list[str] | None, Form()] = None,
    organisations: Annotated[str, Form(max_length=5_000)] = "",
    people: Annotated[str, Form(max_length=5_000)] = "",
    vulnerabilities: Annotated[str, Form(max_length=5_000)] = "",
    products: Annotated[str, Form(max_length=20_000)] = "",
    guidance: Annotated[str, Form(max_length=100_000)] = "",
    references: Annotated[str, Form(max_length=20_000)] = "",
) -> Any:
    """Draft a package from the form; the draft's page follows."""
    values: dict[str, Any] = {
        "title": title,
        "tlp": tlp,
        "summary": summary,
        "everyone": everyone,
        "affected": affected,
        "sectors": sectors or [],
        "organisations": organisations,
        "people": people,
        "vulnerabilities": vulnerabilities,
        "products": products,
        "guidance": guidance,
        "references": references,
    }
    content = {
        "title": title,
        "summary": summary,
        "tlp": tlp,
        "audience": {
            "everyone": everyone,
            "affected": affected,
            "sectors": sectors or [],
            "organisations": _words(organisations),
            "people": _words(people),
        },
        "vulnerabilities": _words(vulnerabilities),
        "products": [_product(line) for line in _lines(products)],
        "guidance": guidance,
        "references": [{"url": url} for url in _lines(references)],
    }
    try:
        view = access.create_package(rt.database, principal, content)
    except InvalidInput as exc:
        return _draft_form(request, pages, values, exc.diagnostics(), 400)
    return redirect(f"/packages/{view.id}")


@router.get("/packages/{package_id}", response_class=HTMLResponse)
def package_page(
    request: Request,
    principal: SignedIn,
    pages: RendererDep,
    rt: RuntimeDep,
    package_id: PackageId,
) -> Any:
    """The package as the caller may see it; a recipient's read is recorded."""
    return _package_page(request, principal, pages, rt, package_id)


def _package_page(
    request: Request,
    principal: Principal,
    pages: RendererDep,
    rt: RuntimeDep,
    package_id: int,
    error: str = "",
    status: int = 200,
    form: dict[str, Any] | None = None,
) -> HTMLResponse:
    db = rt.database
    view = access.read_package(db, principal, package_id)
    staff = principal.sees_everything
    moves: tuple[str, ...] = ()
    if staff:
        allowed = {
            "submit": _may(principal, Action.PACKAGE_DRAFT),
            "send_back": _may(principal, Action.PACKAGE_DRAFT),
            "approve": _may(principal, Action.PACKAGE_PUBLISH),
            "withdraw": _may(principal, Action.PACKAGE_WITHDRAW),
        }
        moves = tuple(m for m in _MOVES.get(view.state, ()) if allowed[m])
    recipients = (
        access.package_recipients(db, principal, package_id)
        if _may(principal, Action.PACKAGE_RECIPIENTS)
        else []
    )
    receipt = None if staff else access.own_receipt(db, principal, package_id)
    now = datetime.now(UTC)
    policy = package_followup.policy_of(rt.settings)
    clocks = [
        _clock(v, now)
        for v in (package_followup.reports(db, principal, package_id) if view.revision else [])
    ]
    ack_due = None
    if receipt is not None:
        ack_due = receipt.delivered_at + policy.window(view.content.acknowledge_within_hours)
    return pages.page(
        request,
        "package.html",
        status,
        package=view,
        content=view.content,
        moves=moves,
        recipients=recipients,
        receipt=receipt,
        may_acknowledge=not staff and _may(principal, Action.PACKAGE_ACKNOWLEDGE),
        ack_due=ack_due,
        ack_late=ack_due is not None
        and receipt is not None
        and (receipt.acknowledged_at is None and now >= ack_due),
        clocks=clocks,
        by_organisation=_by_organisation(clocks),
        may_file=principal.role in package_followup.FILERS,
        form=form or {},
        error=error,
    )


@dataclass(frozen=True, slots=True)
class Clock:
    """One report as a page shows it: its state and the time left (or overdue)."""

    organisation: str
    kind: str
    due_at: datetime
    filed_at: datetime | None
    filed_by: str | None
    body: dict[str, Any]
    overdue: bool
    left: rules.Countdown | None


def _clock(view: package_followup.ReportView, now: datetime) -> Clock:
    remaining = view.clock.remaining(now)
    return Clock(
        view.organisation,
        view.kind,
        view.due_at,
        view.filed_at,
        view.filed_by,
        view.body,
        view.clock.overdue(now),
        None if remaining is None else rules.countdown(remaining),
    )


def _by_organisation(clocks: list[Clock]) -> dict[str, list[Clock]]:
    found: dict[str, list[Clock]] = {}
    for clock in clocks:
        found.setdefault(clock.organisation, []).append(clock)
    return found


@router.post("/packages/{package_id}/move", response_class=HTMLResponse)
def move_package(
    request: Request,
    principal: Checked,
    pages: RendererDep,
    rt: RuntimeDep,
    package_id: PackageId,
    move: Annotated[str, Form(max_length=20)],
) -> Any:
    """Submit for review, send back, approve (publish) or withdraw."""
    try:
        access.move_package(rt.database, principal, package_id, move)
    except (InvalidInput, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 400
        return _package_page(request, principal, pages, rt, package_id, exc.diagnostics(), status)
    return redirect(f"/packages/{package_id}")


@router.post("/packages/{package_id}/acknowledge", response_class=HTMLResponse)
def acknowledge_package(
    request: Request,
    principal: Checked,
    rt: RuntimeDep,
    package_id: PackageId,
) -> Any:
    """The recipient organisation acknowledges the package (who and when are recorded)."""
    access.acknowledge_package(rt.database, principal, package_id)
    return redirect(f"/packages/{package_id}")


@router.post("/packages/{package_id}/reports/{kind}", response_class=HTMLResponse)
def file_report(
    request: Request,
    principal: Checked,
    pages: RendererDep,
    rt: RuntimeDep,
    package_id: PackageId,
    kind: Annotated[Literal["early_warning", "notification", "final"], Path()],
    summary: Annotated[str, Form(max_length=5_000)] = "",
    impact: Annotated[str, Form(max_length=5_000)] = "",
    measures: Annotated[str, Form(max_length=5_000)] = "",
    exploitation_observed: Annotated[bool, Form()] = False,
) -> Any:
    """File one of the reports the package requires of the caller's organisation."""
    body = {
        "summary": summary,
        "impact": impact,
        "measures": measures,
        "exploitation_observed": exploitation_observed,
    }
    try:
        package_followup.file_report(rt.database, principal, package_id, kind, body)
    except (InvalidInput, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 400
        return _package_page(
            request, principal, pages, rt, package_id, exc.diagnostics(), status, {kind: body}
        )
    return redirect(f"/packages/{package_id}#report-{kind}")
