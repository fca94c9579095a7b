"""Emergency updates (TUF): one page, ``/ui/updates``, whose content depends on who looks.

- a member (operator) sees the releases published for the counter-measure packages its
  organisation receives, per asset the state of each roll-out stage from the reports it sent,
  and the findings moved; opening the page marks the releases seen for the organisation, which
  ends the alert on its organisation page;
- a vendor sees the releases it published, when and by whom, and the roll-out reports received,
  counted (never which operator sent them);
- coordinator staff see every vendor's releases, with the organisations that reported.

The reads are the use cases of ``sakimori.services.updates`` (roles and tenancy checked there).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from sakimori.api.deps import Runtime
from sakimori.services import updates
from sakimori.services.access import Principal, Role
from sakimori.web.render import Renderer, RendererDep, RuntimeDep, SignedIn

router = APIRouter()

_MEMBERS = (Role.MEMBER_ADMIN, Role.MEMBER_USER)


@router.get("/updates", response_class=HTMLResponse)
def updates_page(request: Request, principal: SignedIn, pages: RendererDep, rt: RuntimeDep) -> Any:
    """A member's available emergency updates; a vendor's or the coordinator's published ones."""
    if principal.role in _MEMBERS:
        available = updates.available_updates(rt.database, principal)
        return pages.page(
            request, "updates_member.html", available=available, stages=updates.STAGES
        )
    published = updates.published_updates(rt.database, principal)
    return pages.page(
        request, "updates_published.html", releases=published, staff=principal.sees_everything
    )


def install(renderer: Renderer, runtime: Runtime) -> None:
    """Give the templates ``update_alerts(principal)``: the releases the principal's
    organisation has not seen yet (the alert on its organisation page)."""

    def update_alerts(principal: Principal | None) -> list[updates.UpdateAlert]:
        if principal is None:
            return []
        return updates.update_alerts(runtime.database, principal)

    for environment in renderer.environments.values():
        environment.globals["update_alerts"] = update_alerts
