"""The authorisation matrix: every route, every kind of caller, the outcome asserted.

The routes come from the application's route table, so a route added without a rule here fails
``test_every_route_has_a_rule``, and every (route, caller) pair is one test. Outcomes: ``ok``
(2xx), ``forbidden`` (403: the role or scope does not allow it), ``hidden`` (404: the object
belongs to an organisation the caller may not see — answered as if it did not exist), and
``unauthenticated`` (401: no token, an expired or revoked one, or a deactivated user). A call
that is refused must change nothing (row counts of every table it could write, before/after),
and a list never shows another organisation's data to a member.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sakimori.api import create_app
from sakimori.api.app import route_table
from sakimori.services import identity
from sakimori.store import models
from tests.api.conftest import (
    ASSET_A,
    AUTHENTICATED,
    ORG_A,
    ORG_B,
    PRINCIPALS,
    REFUSED,
    USERS,
    VULNERABLE,
    World,
    openvex,
    settings_for,
)

STAFF = frozenset({"coordinator_admin", "analyst"})
MEMBERS_A = frozenset({"member_admin", "member_user"})
EVERYONE = frozenset(AUTHENTICATED)


@dataclass(frozen=True)
class Rule:
    ok: frozenset[str]
    hidden: frozenset[str] = frozenset()
    public: bool = False
    #: Checks a 2xx body for the caller (tenancy of lists).
    check: Callable[[str, Any], None] | None = None

    def expected(self, principal: str) -> str:
        if self.public:
            return "ok"
        if principal in REFUSED:
            return "unauthenticated"
        if principal in self.ok:
            return "ok"
        if principal in self.hidden:
            return "hidden"
        return "forbidden"


# -- what each caller may see in lists ------------------------------------------------------------

OWN_ORGANISATION = {
    "member_admin": ORG_A,
    "member_user": ORG_A,
    "member_user_b": ORG_B,
    "vendor": "vendor-co",
    "partner": "allied-cert",
}


def organisations_seen(principal: str, body: Any) -> None:
    slugs = {o["slug"] for o in body}
    if principal in STAFF:
        assert {ORG_A, ORG_B, "coordination"} <= slugs
    else:
        assert slugs == {OWN_ORGANISATION[principal]}


def findings_seen(principal: str, body: Any) -> None:
    orgs = {f["asset"].split("/")[0] for f in body["items"]}
    if principal in STAFF:
        assert {ORG_A, ORG_B} <= orgs
    else:
        assert orgs == {OWN_ORGANISATION[principal]}


def metrics_seen(principal: str, body: Any) -> None:
    orgs = set(body["organisations"])
    if principal in STAFF:
        assert {ORG_A, ORG_B} <= orgs
    else:
        assert orgs == {OWN_ORGANISATION[principal]}


def statements_seen(principal: str, body: Any) -> None:
    assert all(s["asset"] is None or s["asset"].startswith(f"{ORG_A}/") for s in body)


# -- the rules: one per route ---------------------------------------------------------------------

ORG_PATH = "/v1/organisations/{organisation}"
ASSET_PATH = ORG_PATH + "/assets/{asset}"
FINDING_PATH = "/v1/findings/{finding_id}"

RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): Rule(EVERYONE, public=True),
    ("GET", "/readyz"): Rule(EVERYONE, public=True),
    ("GET", "/v1/me"): Rule(EVERYONE),
    ("GET", "/v1/tokens"): Rule(EVERYONE),
    ("POST", "/v1/tokens"): Rule(EVERYONE),
    ("DELETE", "/v1/tokens/{token_id}"): Rule(EVERYONE),
    ("GET", "/v1/organisations"): Rule(EVERYONE, check=organisations_seen),
    ("POST", "/v1/organisations"): Rule(frozenset({"coordinator_admin"})),
    ("GET", ORG_PATH): Rule(
        STAFF | MEMBERS_A, hidden=frozenset({"member_user_b", "vendor", "partner"})
    ),
    ("GET", ORG_PATH + "/assets"): Rule(STAFF | MEMBERS_A, hidden=frozenset({"member_user_b"})),
    ("POST", ORG_PATH + "/assets"): Rule(frozenset({"coordinator_admin", "member_admin"})),
    ("GET", ASSET_PATH): Rule(STAFF | MEMBERS_A, hidden=frozenset({"member_user_b"})),
    ("POST", ASSET_PATH + "/inventories"): Rule(
        MEMBERS_A | {"coordinator_admin"}, hidden=frozenset({"member_user_b"})
    ),
    ("GET", "/v1/findings"): Rule(STAFF | MEMBERS_A | {"member_user_b"}, check=findings_seen),
    ("GET", FINDING_PATH): Rule(STAFF | MEMBERS_A, hidden=frozenset({"member_user_b"})),
    ("POST", FINDING_PATH + "/transitions"): Rule(
        STAFF | MEMBERS_A, hidden=frozenset({"member_user_b"})
    ),
    ("GET", FINDING_PATH + "/explanation"): Rule(
        STAFF | MEMBERS_A, hidden=frozenset({"member_user_b"})
    ),
    ("GET", "/v1/intel/status"): Rule(EVERYONE),
    ("GET", "/v1/metrics"): Rule(STAFF | MEMBERS_A | {"member_user_b"}, check=metrics_seen),
    ("POST", ORG_PATH + "/vex"): Rule(
        MEMBERS_A | {"coordinator_admin"}, hidden=frozenset({"member_user_b"})
    ),
    ("GET", ORG_PATH + "/vex"): Rule(STAFF | MEMBERS_A, hidden=frozenset({"member_user_b"})),
    ("GET", ORG_PATH + "/vex/statements"): Rule(
        STAFF | MEMBERS_A, hidden=frozenset({"member_user_b"}), check=statements_seen
    ),
}


# -- the requests: org A's objects, made unique per caller where a success writes ------------------

NEXT_STATE = {
    "open": "acknowledged",
    "acknowledged": "in_progress",
    "in_progress": "fix_applied",
    "fix_applied": "in_progress",
}


@dataclass
class Call:
    url: str
    json: Any = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _throwaway_token(world: World, principal: str) -> str:
    user = USERS.get(principal, USERS["member_user"])[0]
    if principal in {"anonymous", "deactivated"}:
        user = USERS["member_user"][0]
    view, _ = identity.create_token(world.db, world.key, user, "throwaway", ["read"])
    return view.id


def _finding_state(world: World) -> str:
    response = world.client.get(
        f"/v1/findings/{world.finding_a}", headers=world.headers("coordinator_admin")
    )
    state: str = response.json()["finding"]["state"]
    return state


def request_for(world: World, method: str, path: str, principal: str) -> Call:
    suffix = principal.replace("_", "-")
    values = {
        "organisation": ORG_A,
        "asset": ASSET_A.split("/")[1],
        "finding_id": str(world.finding_a),
        "token_id": "",
    }
    if "{token_id}" in path:
        values["token_id"] = _throwaway_token(world, principal)
    url = path.format(**values)
    if (method, path) == ("POST", "/v1/tokens"):
        return Call(url, json={"name": f"matrix {suffix}", "scopes": ["read"]})
    if (method, path) == ("POST", "/v1/organisations"):
        return Call(url, json={"slug": f"new-{suffix}", "kind": "operator"})
    if (method, path) == ("POST", ORG_PATH + "/assets"):
        return Call(url, json={"slug": f"asset-{suffix}", "criticality": "low"})
    if (method, path) == ("POST", ASSET_PATH + "/inventories"):
        return Call(url, files={"file": ("requirements.txt", VULNERABLE.encode(), "text/plain")})
    if (method, path) == ("POST", FINDING_PATH + "/transitions"):
        return Call(url, json={"state": NEXT_STATE[_finding_state(world)], "note": suffix})
    if (method, path) == ("POST", ORG_PATH + "/vex"):
        document = openvex(f"CVE-2099-{10000 + PRINCIPALS.index(principal)}")
        return Call(
            url,
            files={"file": ("vex.json", document, "application/json")},
            params={"allow_unmatched": "true"},
        )
    return Call(url)


def footprint(world: World) -> dict[str, int]:
    tables = (
        models.Organisation,
        models.Asset,
        models.Inventory,
        models.FindingTransition,
        models.VexDocumentRow,
        models.ApiToken,
    )
    with world.db.transaction() as session:
        counts = {
            t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0
            for t in tables
        }
        revoked = session.scalar(
            select(func.count())
            .select_from(models.ApiToken)
            .where(models.ApiToken.revoked_at.is_not(None))
        )
    return counts | {"revoked tokens": revoked or 0}


ROUTES = route_table()
OUTCOMES = {"ok": range(200, 300), "forbidden": (403,), "hidden": (404,), "unauthenticated": (401,)}


def test_the_route_table_is_what_the_app_serves() -> None:
    """A route added to the app some other way than through ``ROUTERS`` shows in OpenAPI."""
    document = create_app(settings_for("sqlite://", Path("/nonexistent"))).openapi()
    served = sorted(
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    )
    assert served == ROUTES


def test_every_route_has_a_rule_and_every_rule_a_route() -> None:
    missing = [f"{m} {p}" for m, p in ROUTES if (m, p) not in RULES]
    stale = [f"{m} {p}" for m, p in RULES if (m, p) not in ROUTES]
    assert not missing, f"routes without an authorisation rule: {missing}"
    assert not stale, f"rules for routes that do not exist: {stale}"


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_matrix(world: World, method: str, path: str, principal: str) -> None:
    rule = RULES.get((method, path))
    assert rule is not None, f"{method} {path} has no rule in the authorisation matrix"
    expected = rule.expected(principal)
    call = request_for(world, method, path, principal)
    before = footprint(world)
    response = world.client.request(
        method,
        call.url,
        headers=world.headers(principal),
        json=call.json,
        files=call.files,
        params=call.params,
    )
    assert response.status_code in OUTCOMES[expected], (
        f"{principal} {method} {call.url}: expected {expected}, got {response.status_code} "
        f"{response.text[:300]}"
    )
    if expected != "ok":
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == response.status_code
        assert footprint(world) == before, "a refused call changed something"
    elif rule.check is not None:
        rule.check(principal, response.json())


def test_a_member_of_b_gets_the_same_answer_as_for_a_missing_finding(world: World) -> None:
    headers = world.headers("member_user_b")
    theirs = world.client.get(f"/v1/findings/{world.finding_a}", headers=headers)
    missing = world.client.get("/v1/findings/2147483000", headers=headers)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["title"] == missing.json()["title"]
    assert theirs.json()["detail"].replace(str(world.finding_a), "N") == missing.json()[
        "detail"
    ].replace("2147483000", "N")
    own = world.client.get(f"/v1/findings/{world.finding_b}", headers=headers)
    assert own.status_code == 200


def test_a_member_cannot_filter_its_way_into_another_organisation(world: World) -> None:
    headers = world.headers("member_user")
    for params in ({"organisation": ORG_B}, {"asset": f"{ORG_B}/grid-portal"}):
        response = world.client.get("/v1/findings", headers=headers, params=params)
        assert response.status_code == 404, params
    response = world.client.get("/v1/metrics", headers=headers, params={"organisation": ORG_B})
    assert response.status_code == 404
    response = world.client.get(
        f"/v1/organisations/{ORG_B}/vex", headers=world.headers("member_admin")
    )
    assert response.status_code == 404


def test_a_read_only_token_cannot_write(world: World) -> None:
    user = USERS["member_admin"][0]
    _, secret = identity.create_token(world.db, world.key, user, "ro", ["read"], timedelta(days=1))
    headers = {"Authorization": f"Bearer {secret}"}
    assert world.client.get("/v1/findings", headers=headers).status_code == 200
    before = footprint(world)
    response = world.client.post(
        f"/v1/findings/{world.finding_a}/transitions",
        headers=headers,
        json={"state": "mitigated", "note": "no"},
    )
    assert response.status_code == 403
    assert "scope" in response.json()["detail"]
    widened = world.client.post(
        "/v1/tokens", headers=headers, json={"name": "wider", "scopes": ["read", "write"]}
    )
    assert widened.status_code == 403
    assert footprint(world) == before
