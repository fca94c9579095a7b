"""The pages people work in: home, the national dashboard, an organisation, findings (list,
bulk actions, one finding and its actions), a vulnerability, and the inventory upload.

Every page calls a use case of ``sakimori.services.access`` with the signed-in principal, so
roles and tenancy are those of the API: another organisation's finding is "not found" (404).
"""

from __future__ import annotations

from collections import Counter, OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from sakimori.api.routes.organisations import read_upload
from sakimori.errors import Conflict, InvalidInput, SakimoriError
from sakimori.model.lifecycle import ALLOWED, CLOSED, JUSTIFICATIONS, Move, State
from sakimori.services import access
from sakimori.services import dashboard as dashboard_panels
from sakimori.services.access import Action, Principal
from sakimori.services.findings import Filters, FindingView
from sakimori.services.metrics import Report
from sakimori.store.db import Database
from sakimori.store.jvn import jvn_ids_for, jvn_records
from sakimori.web import charts
from sakimori.web.render import Checked, Renderer, RendererDep, RuntimeDep, SignedIn, redirect

router = APIRouter()

_SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
_ASSET = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_VULNERABILITY = r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,199}$"
OrgSlug = Annotated[str, Path(pattern=_SLUG)]
FindingId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PAGE = 100
#: How far back a finding counts as new for the alert on an organisation's page.
NEW_FINDINGS = timedelta(days=7)
#: Moves offered in bulk on the finding list.
BULK_MOVES = (State.ACKNOWLEDGED, State.IN_PROGRESS, State.RISK_ACCEPTED)


@dataclass(frozen=True, slots=True)
class Affected:
    """One organisation's exposure to a vulnerability."""

    slug: str
    name: str
    sectors: tuple[str, ...]
    open: int
    closed: int
    states: dict[str, int]
    deadline: datetime | None
    overdue: bool


def _decision_counts(found: list[FindingView]) -> dict[str, int]:
    return dict(Counter(f.decision or "none" for f in found))


def _overdue(found: list[FindingView], now: datetime) -> list[FindingView]:
    return sorted(
        (f for f in found if f.deadline is not None and _aware(f.deadline) < now),
        key=lambda f: _aware(f.deadline or now),
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, principal: SignedIn, pages: RendererDep, rt: RuntimeDep) -> Response:
    if principal.sees_everything:
        return redirect("/dashboard")
    if principal.may(Action.ASSET_READ):
        return redirect(f"/organisations/{principal.organisation}")
    organisation = access.get_organisation(rt.database, principal, principal.organisation)
    return pages.page(request, "home.html", organisation=organisation)


#: Rendered dashboard figures kept per application (``app.state``): one snapshot's figures are
#: the same for every viewer of a scope and language, and drawing the charts costs more than the
#: rest of the page. Keyed by the report's time, so a new snapshot is drawn once.
FIGURES_KEPT = 64


def _figures(request: Request, pages: Renderer, principal: Principal, report: Report) -> Markup:
    language = pages.language(request)
    scope = "*" if principal.sees_everything else principal.organisation
    key = (report.at.isoformat(), scope, language)
    kept: OrderedDict[tuple[str, str, str], Markup] | None = getattr(
        request.app.state, "dashboard_figures", None
    )
    if kept is None:
        kept = request.app.state.dashboard_figures = OrderedDict()
    found = kept.get(key)
    if found is not None:
        return found
    decisions = [*charts.DECISIONS[:-1], "untriaged"]
    sectors = sorted(report.sectors.items())
    organisations = sorted(report.organisations.items(), key=lambda kv: (-kv[1].open, kv[0]))[:20]
    months = sorted(report.months.items())[-12:]
    html = (
        pages.environments[language]
        .get_template("dashboard_figures.html")
        .render(
            report=report,
            decisions=decisions,
            sectors=sectors,
            exposure=charts.stacked([(s, f.open_by_decision) for s, f in sectors], decisions),
            overdue=charts.single([(s, f.overdue) for s, f in sectors], "overdue"),
            by_organisation=charts.stacked(
                [(o, f.open_by_decision) for o, f in organisations], decisions
            ),
            trend=charts.stacked(months, ["opened", "remediated"]),
            css_class=charts.css_class,
        )
    )
    found = kept[key] = Markup(html)  # noqa: S704 - rendered by the autoescaping environment
    while len(kept) > FIGURES_KEPT:
        kept.popitem(last=False)
    return found


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, principal: SignedIn, pages: RendererDep, rt: RuntimeDep) -> Any:
    """The national picture: figures overall, by sector, by organisation, month by month —
    pre-aggregated (``services.metrics_snapshot``) and shown with the time they are as of."""
    report = access.metrics_report(rt.database, principal, organisation=None, sector=None, top=20)
    # The alarm on stale intel sources, and the exploitation attempts to review (staff).
    shown = dashboard_panels.panels(rt.database, principal)
    return pages.page(
        request,
        "dashboard.html",
        figures=_figures(request, pages, principal, report),
        stale_sources=shown.stale_sources,
        attempts=shown.attempts,
    )


@router.get("/organisations/{organisation}", response_class=HTMLResponse)
def organisation_page(
    request: Request,
    principal: SignedIn,
    pages: RendererDep,
    rt: RuntimeDep,
    organisation: OrgSlug,
) -> Any:
    """An organisation: its assets, open findings by decision, deadlines, what is overdue."""
    db = rt.database
    org = access.get_organisation(db, principal, organisation)
    assets = access.list_assets(db, principal, organisation)
    found = access.list_findings(
        db, principal, Filters(organisation=org.slug, open_only=True, limit=5000)
    )
    now = datetime.now(UTC)
    upcoming = sorted(
        (f for f in found if f.deadline is not None and _aware(f.deadline) >= now),
        key=lambda f: _aware(f.deadline or now),
    )[:10]
    fresh = [
        f
        for f in found
        if f.state == State.OPEN.value and now - _aware(f.first_seen) <= NEW_FINDINGS
    ]
    by_decision = _decision_counts(found)
    return pages.page(
        request,
        "organisation.html",
        organisation=org,
        assets=assets,
        open_count=len(found),
        by_decision=by_decision,
        decision_chart=charts.stacked(
            [(d, {d: by_decision.get(d, 0)}) for d in charts.DECISIONS], charts.DECISIONS
        ),
        css_class=charts.css_class,
        overdue=_overdue(found, now),
        upcoming=upcoming,
        fresh=len(fresh),
        may_upload=principal.may(Action.INVENTORY_UPLOAD),
    )


@router.get("/findings", response_class=HTMLResponse)
def findings_page(
    request: Request,
    principal: SignedIn,
    pages: RendererDep,
    rt: RuntimeDep,
    organisation: Annotated[str | None, Query(pattern=_SLUG)] = None,
    asset: Annotated[str | None, Query(max_length=201)] = None,
    state: Annotated[str | None, Query(max_length=40)] = None,
    vulnerability: Annotated[str | None, Query(pattern=_VULNERABILITY)] = None,
    closed: bool = False,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Any:
    """Findings with filters, a page at a time, with bulk actions."""
    chosen = State(state) if state in {s.value for s in State} else None
    filters = Filters(
        organisation=organisation or None,
        asset=asset or None,
        states=[chosen.value] if chosen else [],
        open_only=not closed,
        vulnerability=vulnerability or None,
        limit=PAGE + 1,
        offset=offset,
    )
    found = access.list_findings(rt.database, principal, filters)
    return pages.page(
        request,
        "findings.html",
        findings=found[:PAGE],
        more=len(found) > PAGE,
        offset=offset,
        page=PAGE,
        filters={
            "organisation": organisation or "",
            "asset": asset or "",
            "state": chosen.value if chosen else "",
            "vulnerability": vulnerability or "",
            "closed": closed,
        },
        states=[s.value for s in State],
        bulk_moves=[m.value for m in BULK_MOVES],
        may_move=principal.may(Action.FINDING_TRANSITION),
        now=datetime.now(UTC),
        aware=_aware,
        tomorrow=(date.today() + timedelta(days=1)).isoformat(),
    )


@router.post("/findings/bulk", response_class=HTMLResponse)
def bulk(
    request: Request,
    principal: Checked,
    pages: RendererDep,
    rt: RuntimeDep,
    action: Annotated[str, Form(max_length=40)],
    ids: Annotated[list[int], Form(max_length=500)] = [],  # noqa: B006 - FastAPI copies it
    note: Annotated[str, Form(max_length=2000)] = "",
    expires: Annotated[date | None, Form()] = None,
) -> Any:
    """One move for many findings; each is checked on its own, the outcome shown per finding."""
    access.require(principal, Action.FINDING_TRANSITION)
    if action not in {m.value for m in BULK_MOVES}:
        raise InvalidInput(f"{action!r} is not an action offered in bulk")
    target = State(action)
    outcomes: list[tuple[int, str]] = []
    for finding_id in ids:
        move = Move(
            target,
            principal.name,
            note,
            None,
            expires if target is State.RISK_ACCEPTED else None,
        )
        try:
            access.transition_finding(rt.database, principal, finding_id, move)
        except SakimoriError as exc:
            outcomes.append((finding_id, exc.diagnostics()))
        else:
            outcomes.append((finding_id, ""))
    return pages.page(request, "bulk.html", outcomes=outcomes, action=target.value)


def _finding_page(
    request: Request,
    principal: Principal,
    pages: RendererDep,
    rt: RuntimeDep,
    finding_id: int,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    view, history = access.show_finding(rt.database, principal, finding_id)
    explanation = access.finding_explanation(rt.database, principal, finding_id)
    current = State(view.state)
    return pages.page(
        request,
        "finding.html",
        status=status,
        finding=view,
        history=history,
        explanation=explanation,
        moves=sorted(m.value for m in ALLOWED[current]),
        closed=current in CLOSED,
        justifications=sorted(JUSTIFICATIONS),
        may_move=principal.may(Action.FINDING_TRANSITION),
        error=error,
        overdue=view.deadline is not None
        and current not in CLOSED
        and _aware(view.deadline) < datetime.now(UTC),
        tomorrow=(date.today() + timedelta(days=1)).isoformat(),
    )


@router.get("/findings/{finding_id}", response_class=HTMLResponse)
def finding_page(
    request: Request,
    principal: SignedIn,
    pages: RendererDep,
    rt: RuntimeDep,
    finding_id: FindingId,
) -> Any:
    """A finding: its decision and why, its history, and what can be done with it."""
    return _finding_page(request, principal, pages, rt, finding_id)


@router.post("/findings/{finding_id}/transition", response_class=HTMLResponse)
def transition(
    request: Request,
    principal: Checked,
    pages: RendererDep,
    rt: RuntimeDep,
    finding_id: FindingId,
    state: Annotated[str, Form(max_length=40)],
    note: Annotated[str, Form(max_length=2000)] = "",
    justification: Annotated[str, Form(max_length=100)] = "",
    expires: Annotated[date | None, Form()] = None,
) -> Any:
    try:
        target = State(state)
    except ValueError:
        raise InvalidInput(f"unknown state {state!r}") from None
    move = Move(target, principal.name, note, justification or None, expires)
    try:
        access.transition_finding(rt.database, principal, finding_id, move)
    except (InvalidInput, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 400
        return _finding_page(request, principal, pages, rt, finding_id, exc.diagnostics(), status)
    return redirect(f"/findings/{finding_id}")


@router.get("/vulnerabilities/{vulnerability}", response_class=HTMLResponse)
def vulnerability_page(
    request: Request,
    principal: SignedIn,
    pages: RendererDep,
    rt: RuntimeDep,
    vulnerability: Annotated[str, Path(pattern=_VULNERABILITY)],
) -> Any:
    """Who is affected by a vulnerability, by sector and organisation, with deadlines and
    states (the coordinator sees everyone; a member its own organisation)."""
    db = rt.database
    found = access.list_findings(
        db, principal, Filters(vulnerability=vulnerability, open_only=False, limit=10_000)
    )
    sectors_of = {o.slug: o.sectors for o in access.list_organisations(db, principal)}
    names = {o.slug: o.name for o in access.list_organisations(db, principal)}
    by_org: dict[str, list[FindingView]] = defaultdict(list)
    for finding in found:
        by_org[finding.asset.split("/", 1)[0]].append(finding)
    closed = {s.value for s in CLOSED}
    now = datetime.now(UTC)
    rows: list[Affected] = []
    for slug, items in sorted(by_org.items()):
        open_items = [f for f in items if f.state not in closed]
        deadlines = [_aware(f.deadline) for f in open_items if f.deadline is not None]
        rows.append(
            Affected(
                slug=slug,
                name=names.get(slug, slug),
                sectors=sectors_of.get(slug, ()),
                open=len(open_items),
                closed=len(items) - len(open_items),
                states=dict(Counter(f.state for f in items)),
                deadline=min(deadlines) if deadlines else None,
                overdue=any(d < now for d in deadlines),
            )
        )
    by_sector: dict[str, dict[str, int]] = defaultdict(lambda: {"open": 0, "closed": 0})
    for row in rows:
        for sector in row.sectors or ("—",):
            by_sector[sector]["open"] += row.open
            by_sector[sector]["closed"] += row.closed
    aliases = sorted({a for f in found for a in f.aliases})
    return pages.page(
        request,
        "vulnerability.html",
        vulnerability=vulnerability,
        aliases=aliases,
        jvn=_jvn_entries(db, [vulnerability, *aliases], pages.language(request)),
        rows=rows,
        findings=found,
        sector_chart=charts.stacked(sorted(by_sector.items()), ["open", "closed"]),
        css_class=charts.css_class,
    )


@dataclass(frozen=True, slots=True)
class JvnEntry:
    """A JVN iPedia entry as the vulnerability page shows it, in the reader's language when
    JVN wrote it in that language (else in the other), saying which."""

    id: str
    title: str
    description: str
    language: str
    url: str


def _jvn_entries(db: Database, ids: Sequence[str], language: str) -> list[JvnEntry]:
    """The JVN iPedia entries of a vulnerability: its JVNDB ids and those linked to its CVE ids.
    Public intelligence: no tenancy applies."""
    with db.transaction() as session:
        linked = jvn_ids_for(session, [i for i in ids if i.startswith("CVE-")])
        wanted = {i for i in ids if i.startswith("JVNDB-")} | {
            j for js in linked.values() for j in js
        }
        records = jvn_records(session, wanted)
    entries = []
    for jvn_id, record in sorted(records.items()):
        shown = language if record.title(language) else ("ja" if record.title("ja") else "en")
        site = f"https://jvndb.jvn.jp/{'en' if shown == 'en' else 'ja'}/contents"
        year = jvn_id.split("-")[1]
        entries.append(
            JvnEntry(
                jvn_id,
                record.title(shown) or jvn_id,
                record.description(shown) or "",
                shown,
                f"{site}/{year}/{jvn_id}.html",
            )
        )
    return entries


def _upload_page(
    request: Request,
    principal: Principal,
    pages: RendererDep,
    rt: RuntimeDep,
    organisation: str,
    **values: Any,
) -> HTMLResponse:
    org = access.get_organisation(rt.database, principal, organisation)
    assets = access.list_assets(rt.database, principal, organisation)
    status = values.pop("status", 200)
    return pages.page(
        request,
        "upload.html",
        status=status,
        organisation=org,
        assets=assets,
        limit=rt.settings.limits.max_bytes,
        **values,
    )


@router.get("/organisations/{organisation}/upload", response_class=HTMLResponse)
def upload_form(
    request: Request,
    principal: SignedIn,
    pages: RendererDep,
    rt: RuntimeDep,
    organisation: OrgSlug,
) -> Any:
    return _upload_page(request, principal, pages, rt, organisation)


@router.post("/organisations/{organisation}/upload", response_class=HTMLResponse)
def upload(
    request: Request,
    principal: Checked,
    pages: RendererDep,
    rt: RuntimeDep,
    organisation: OrgSlug,
    asset: Annotated[str, Form(pattern=_ASSET)],
    file: UploadFile,
) -> Any:
    """Upload an inventory; the report says what was read, and what was not and why."""
    filename = file.filename or "upload"
    try:
        data = read_upload(file, rt.settings.limits.max_bytes)
        report = access.upload_inventory(
            rt.database,
            principal,
            f"{organisation}/{asset}",
            data,
            filename,
            rt.settings.limits,
            policies=rt.policies,
        )
    except InvalidInput as exc:
        return _upload_page(
            request,
            principal,
            pages,
            rt,
            organisation,
            error=exc.diagnostics(),
            filename=filename,
            status=400,
        )
    return _upload_page(
        request, principal, pages, rt, organisation, report=report, filename=filename
    )
