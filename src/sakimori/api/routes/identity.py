"""``/v1/me`` and the caller's own API tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Path

from sakimori.api.deps import PrincipalDep, RuntimeDep
from sakimori.api.problems import responses
from sakimori.api.schemas import Me, TokenCreated, TokenIn, TokenOut
from sakimori.services import identity

router = APIRouter(prefix="/v1", tags=["identity"])

TokenId = Path(pattern=r"^[0-9a-f]{16}$", description="The token's id (the part after skm_).")


def _token(view: identity.TokenView) -> TokenOut:
    return TokenOut(
        id=view.id,
        user=view.user,
        name=view.name,
        scopes=list(view.scopes),
        created_at=view.created_at,
        expires_at=view.expires_at,
        revoked_at=view.revoked_at,
        last_used_at=view.last_used_at,
    )


@router.get("/me", response_model=Me, responses=responses())
def me(principal: PrincipalDep) -> Me:
    """Who the token belongs to: user, role, organisation and the token's scopes."""
    return Me(
        user=principal.name,
        role=principal.role.value,
        organisation=principal.organisation,
        scopes=sorted(s.value for s in principal.scopes),
        token_id=principal.token_id,
    )


@router.get("/tokens", response_model=list[TokenOut], responses=responses(403))
def list_tokens(principal: PrincipalDep, rt: RuntimeDep) -> list[TokenOut]:
    """The caller's own tokens (never their secrets)."""
    return [_token(t) for t in identity.own_tokens(rt.database, principal)]


@router.post("/tokens", response_model=TokenCreated, status_code=201, responses=responses(400, 403))
def create_token(body: TokenIn, principal: PrincipalDep, rt: RuntimeDep) -> TokenCreated:
    """A new token for the caller, with at most the scopes of the token used to ask.

    A coordinator or member admin's tokens are made only from a web session that passed the
    second factor (API tokens under the web interface): with an API token they get 403."""
    view, secret = identity.create_own_token(
        rt.database, rt.key, principal, body.name, body.scopes, timedelta(days=body.expires_in_days)
    )
    return TokenCreated(token=_token(view), secret=secret)


@router.delete("/tokens/{token_id}", response_model=TokenOut, responses=responses(403, 404))
def revoke_token(principal: PrincipalDep, rt: RuntimeDep, token_id: str = TokenId) -> TokenOut:
    """Revoke one of the caller's tokens (another user's token is not found)."""
    return _token(identity.revoke_own_token(rt.database, principal, token_id))
