"""Administration: organisations, users (coordinator admins), and each user's own API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse

from sakimori.errors import Conflict, InvalidInput, NotFound
from sakimori.model.organisation import KINDS
from sakimori.services import access, identity
from sakimori.services.access import Action, Principal, Role
from sakimori.web.render import Checked, RendererDep, RuntimeDep, SignedIn, redirect

router = APIRouter(prefix="/admin")

_Text = Annotated[str, Form(max_length=200)]
_USER = r"^[a-z0-9][a-z0-9._@-]{0,99}$"
_TOKEN_ID = r"^[0-9a-f]{16}$"  # noqa: S105 - a pattern, not a secret


def _organisations_page(
    request: Request, principal: Principal, pages: RendererDep, rt: RuntimeDep, **values: Any
) -> HTMLResponse:
    status = values.pop("status", 200)
    return pages.page(
        request,
        "admin_organisations.html",
        status=status,
        organisations=access.list_organisations(rt.database, principal),
        kinds=sorted(KINDS),
        may_create=principal.may(Action.ORGANISATION_CREATE),
        **values,
    )


@router.get("/organisations", response_class=HTMLResponse)
def organisations(request: Request, principal: SignedIn, pages: RendererDep, rt: RuntimeDep) -> Any:
    return _organisations_page(request, principal, pages, rt)


@router.post("/organisations", response_class=HTMLResponse)
def create_organisation(
    request: Request,
    principal: Checked,
    pages: RendererDep,
    rt: RuntimeDep,
    slug: _Text,
    name: _Text,
    kind: _Text,
    sectors: _Text = "",
) -> Any:
    try:
        access.create_organisation(
            rt.database,
            principal,
            slug,
            name,
            kind,
            [s.strip() for s in sectors.split(",") if s.strip()],
        )
    except (InvalidInput, Conflict) as exc:
        return _organisations_page(
            request, principal, pages, rt, error=exc.diagnostics(), status=400
        )
    return redirect("/admin/organisations")


def _users_page(
    request: Request, principal: Principal, pages: RendererDep, rt: RuntimeDep, **values: Any
) -> HTMLResponse:
    status = values.pop("status", 200)
    return pages.page(
        request,
        "admin_users.html",
        status=status,
        users=identity.users_for(rt.database, principal),
        organisations=access.list_organisations(rt.database, principal),
        roles=[r.value for r in Role],
        **values,
    )


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, principal: SignedIn, pages: RendererDep, rt: RuntimeDep) -> Any:
    return _users_page(request, principal, pages, rt)


@router.post("/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    principal: Checked,
    pages: RendererDep,
    rt: RuntimeDep,
    name: _Text,
    organisation: _Text,
    role: _Text,
    display_name: _Text = "",
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Any:
    try:
        identity.create_user_for(
            rt.database,
            principal,
            name,
            organisation=organisation,
            role=role,
            display_name=display_name,
            password=password or None,
        )
    except (InvalidInput, Conflict, NotFound) as exc:
        return _users_page(request, principal, pages, rt, error=exc.diagnostics(), status=400)
    return redirect("/admin/users")


@router.post("/users/{name}/deactivate", response_class=HTMLResponse)
def deactivate_user(
    request: Request,
    principal: Checked,
    pages: RendererDep,
    rt: RuntimeDep,
    name: Annotated[str, Path(pattern=_USER)],
) -> Any:
    try:
        identity.deactivate_user_for(rt.database, principal, name)
    except Conflict as exc:
        return _users_page(request, principal, pages, rt, error=exc.diagnostics(), status=409)
    return redirect("/admin/users")


def _tokens_page(
    request: Request, principal: Principal, pages: RendererDep, rt: RuntimeDep, **values: Any
) -> HTMLResponse:
    status = values.pop("status", 200)
    tokens = [
        t
        for t in identity.own_tokens(rt.database, principal)
        if identity.SESSION_SCOPE not in t.scopes
    ]
    return pages.page(request, "tokens.html", status=status, tokens=tokens, **values)


@router.get("/tokens", response_class=HTMLResponse)
def tokens(request: Request, principal: SignedIn, pages: RendererDep, rt: RuntimeDep) -> Any:
    return _tokens_page(request, principal, pages, rt)


@router.post("/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    principal: Checked,
    pages: RendererDep,
    rt: RuntimeDep,
    name: _Text,
    scopes: Annotated[list[str], Form(max_length=2)] = [],  # noqa: B006 - FastAPI copies it
    days: Annotated[int, Form(ge=1, le=366)] = 90,
) -> Any:
    try:
        view, secret = identity.create_own_token(
            rt.database, rt.key, principal, name, scopes, timedelta(days=days)
        )
    except InvalidInput as exc:
        return _tokens_page(request, principal, pages, rt, error=exc.diagnostics(), status=400)
    return _tokens_page(request, principal, pages, rt, made=view, secret=secret)


@router.post("/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke_token(
    request: Request,
    principal: Checked,
    rt: RuntimeDep,
    token_id: Annotated[str, Path(pattern=_TOKEN_ID)],
) -> Any:
    identity.revoke_own_token(rt.database, principal, token_id)
    return redirect("/admin/tokens")
