"""The authorisation matrix of the web interface: every page route, every kind of caller.

The routes come from ``sakimori.web.ROUTERS``, so a page added without a rule fails
``test_every_page_route_has_a_rule``; and every route the whole application serves must be an
API route (``tests/api/test_authorization_matrix.py``) or a page route here. Outcomes: ``ok``
(2xx, or a 303 that is not to the sign-in page), ``forbidden`` (403), ``hidden`` (404, as for
what does not exist), ``signin`` (303 to the sign-in page: no session). Pages call the same use
cases as the API, so tenancy is the same: a refused call writes nothing.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.routing import Mount

from sakimori import totp, web
from sakimori.api import create_app
from sakimori.formats.limits import Limits
from sakimori.packages.model import Content
from sakimori.services import findings, identity
from sakimori.services import packages as package_service
from sakimori.services.organisations import create_organisation
from sakimori.services.tracking import upload_inventory
from sakimori.store import models
from sakimori.web.sessions import SignInThrottle
from tests.web import test_notification_pages as notification_pages
from tests.web.conftest import BANK, OTHER_BANK, PASSWORD, Platform, build_platform, cern_sbom
from tests.web.helpers import csrf_of, sign_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

#: caller -> user name (None: no session)
CALLERS: dict[str, str | None] = {
    "anonymous": None,
    "coordinator_admin": "kanri",
    "analyst": "bunseki",
    "member_user": "bank-user",
    "member_user_b": "harbour-user",
    "vendor": "vendor-psirt",
}
STAFF = frozenset({"coordinator_admin", "analyst"})
SIGNED_IN = frozenset(CALLERS) - {"anonymous"}
ADMIN = frozenset({"coordinator_admin"})


@dataclass(frozen=True)
class Rule:
    ok: frozenset[str]
    hidden: frozenset[str] = frozenset()
    public: bool = False
    #: Checks a successful answer for the caller (what a list or a page shows).
    check: Callable[[str, Any], None] | None = None
    #: Success is a redirect to the sign-in page that removes the session cookie (sign-out).
    ends_session: bool = False
    #: Refused as a conflict with the caller's state (409), e.g. enrolling twice.
    conflict: frozenset[str] = frozenset()

    def expected(self, caller: str) -> str:
        if self.public:
            return "public"
        if caller == "anonymous":
            return "signin"
        if caller in self.ok:
            return "ok"
        if caller in self.conflict:
            return "conflict"
        if caller in self.hidden:
            return "hidden"
        return "forbidden"


def not_other_banks(caller: str, response: Any) -> None:
    """A member sees nothing of another bank."""
    if caller == "member_user_b":
        assert f"{BANK}/" not in response.text
    if caller == "member_user":
        assert f"{OTHER_BANK}/" not in response.text


def wrote_nothing_for_b(caller: str, response: Any) -> None:
    if caller == "member_user_b":
        assert "done" not in re.findall(r"</a>: ([a-z]+)", response.text)


P = web.PREFIX
ORG = P + "/organisations/{organisation}"
FINDING = P + "/findings/{finding_id}"
PACKAGE = P + "/packages/{package_id}"
MEMBERS = frozenset({"member_user"})
SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')

RULES: dict[tuple[str, str], Rule] = {
    ("GET", P + "/signin"): Rule(SIGNED_IN, public=True),
    ("POST", P + "/signin"): Rule(SIGNED_IN, public=True),
    ("GET", P + "/language/{language}"): Rule(SIGNED_IN, public=True),
    # Single sign-on: open to anyone (no provider is configured here, so both are 404 pages;
    # tests/web/test_oidc.py drives them against a provider).
    ("GET", P + "/signin/oidc"): Rule(SIGNED_IN, public=True),
    ("GET", P + "/signin/oidc/callback"): Rule(SIGNED_IN, public=True),
    ("POST", P + "/signout"): Rule(SIGNED_IN, ends_session=True),
    ("GET", P + "/"): Rule(SIGNED_IN),
    ("GET", P + "/dashboard"): Rule(STAFF | MEMBERS | {"member_user_b"}, check=not_other_banks),
    ("GET", ORG): Rule(STAFF | MEMBERS, hidden=frozenset({"member_user_b", "vendor"})),
    ("GET", ORG + "/upload"): Rule(STAFF | MEMBERS, hidden=frozenset({"member_user_b", "vendor"})),
    ("POST", ORG + "/upload"): Rule(ADMIN | MEMBERS, hidden=frozenset({"member_user_b"})),
    ("GET", P + "/findings"): Rule(STAFF | MEMBERS | {"member_user_b"}, check=not_other_banks),
    ("POST", P + "/findings/bulk"): Rule(
        STAFF | MEMBERS | {"member_user_b"}, check=wrote_nothing_for_b
    ),
    ("GET", FINDING): Rule(STAFF | MEMBERS, hidden=frozenset({"member_user_b"})),
    ("POST", FINDING + "/transition"): Rule(STAFF | MEMBERS, hidden=frozenset({"member_user_b"})),
    ("GET", P + "/vulnerabilities/{vulnerability}"): Rule(
        STAFF | MEMBERS | {"member_user_b"}, check=not_other_banks
    ),
    ("GET", P + "/admin/organisations"): Rule(SIGNED_IN),
    ("POST", P + "/admin/organisations"): Rule(ADMIN),
    ("GET", P + "/admin/users"): Rule(ADMIN),
    ("POST", P + "/admin/users"): Rule(ADMIN),
    ("POST", P + "/admin/users/{name}/deactivate"): Rule(ADMIN),
    ("GET", P + "/admin/tokens"): Rule(SIGNED_IN),
    ("POST", P + "/admin/tokens"): Rule(SIGNED_IN),
    ("POST", P + "/admin/tokens/{token_id}/revoke"): Rule(SIGNED_IN),
    # members: their available updates; the vendor: its own; staff: every vendor's
    ("GET", P + "/updates"): Rule(SIGNED_IN, check=not_other_banks),
    # Counter-measure packages: staff draft and move them; a recipient reads and acknowledges
    # (the package is TLP:AMBER, to the first bank only).
    ("GET", P + "/packages"): Rule(SIGNED_IN),
    ("GET", P + "/packages/new"): Rule(STAFF),
    ("POST", P + "/packages"): Rule(STAFF),
    ("GET", PACKAGE): Rule(STAFF | MEMBERS, hidden=frozenset({"member_user_b", "vendor"})),
    ("POST", PACKAGE + "/move"): Rule(ADMIN),
    ("POST", PACKAGE + "/acknowledge"): Rule(
        MEMBERS, hidden=frozenset({"member_user_b", "vendor"})
    ),
    # A report the package requires is filed by a member of the recipient (vendors never).
    ("POST", PACKAGE + "/reports/{kind}"): Rule(MEMBERS, hidden=frozenset({"member_user_b"})),
    # The sign-in's second step needs the pending cookie of a right password: a session is
    # not one (every caller is sent to sign in), like the sign-in form itself.
    ("GET", P + "/signin/code"): Rule(SIGNED_IN, public=True),
    ("POST", P + "/signin/code"): Rule(SIGNED_IN, public=True),
    ("GET", P + "/signin/enrol"): Rule(SIGNED_IN, public=True),
    ("POST", P + "/signin/enrol"): Rule(SIGNED_IN, public=True),
    # One's own second factor: enrol (the admin has one already), new recovery codes (only
    # from a session that passed it); a coordinator admin resets another user's.
    ("GET", P + "/account/second-factor"): Rule(SIGNED_IN),
    ("POST", P + "/account/second-factor"): Rule(SIGNED_IN - ADMIN, conflict=ADMIN),
    ("POST", P + "/account/second-factor/recovery-codes"): Rule(ADMIN),
    ("POST", P + "/admin/users/{name}/second-factor/reset"): Rule(ADMIN),
    # Notification endpoints and dead letters: administrators only (a member admin, for their
    # own organisation: tests/web/test_notification_pages.py).
    ("GET", P + "/notifications"): Rule(ADMIN),
    ("GET", P + "/notifications/endpoints/new"): Rule(ADMIN),
    ("POST", P + "/notifications/endpoints"): Rule(ADMIN),
    ("POST", P + "/notifications/endpoints/{endpoint_id}/remove"): Rule(ADMIN),
    ("POST", P + "/notifications/deliveries/{delivery_id}/retry"): Rule(ADMIN),
}

ROUTES = web.route_table()
NEXT_STATE = {
    "open": "acknowledged",
    "acknowledged": "in_progress",
    "in_progress": "fix_applied",
    "fix_applied": "in_progress",
}


@dataclass
class WebWorld:
    platform: Platform
    app: Any
    finding: int
    vulnerability: str
    package: int = 0
    clients: dict[str, TestClient] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebWorld]:
    platform = build_platform(tmp_path_factory.mktemp("web-matrix"))
    db = platform.db
    upload_inventory(db, f"{BANK}/online-banking", cern_sbom(), "setup", Limits())
    create_organisation(db, "vendor-co", "Vendor Co", "vendor")
    identity.create_user(
        db, "bunseki", organisation="coordination", role="analyst", password=PASSWORD
    )
    identity.create_user(
        db, "vendor-psirt", organisation="vendor-co", role="vendor", password=PASSWORD
    )
    first = platform.findings_of(BANK)[0]
    app = create_app(platform.settings)
    # The matrix sends wrong passwords and codes on purpose, many per user and all from one
    # address: with the real limits the sign-ins of later cases would be throttled, depending
    # on the order xdist runs them in. Throttling has tests of its own (tests/web).
    app.state.throttle = SignInThrottle(per_user=1_000_000, per_address=1_000_000)
    built = WebWorld(platform, app, first.id, first.vulnerability)
    built.package = publish_package(platform, first.vulnerability)
    for caller, user in CALLERS.items():
        client = TestClient(app, base_url="http://127.0.0.1")
        client.__enter__()
        built.clients[caller] = client
        if user is not None:
            code = functools.partial(platform.code, user)
            assert sign_in(client, user, PASSWORD, code).status_code == 303
            built.csrf[caller] = csrf_of(client.get(P + "/admin/tokens").text)
    yield built
    for client in built.clients.values():
        client.__exit__(None, None, None)
    db.dispose()


@dataclass
class Call:
    url: str
    data: dict[str, Any] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes, str]] | None = None
    client: TestClient | None = None


def publish_package(platform: Platform, vulnerability: str, reports: tuple[str, ...] = ()) -> int:
    """A published TLP:AMBER package to the first bank (drafted by the analyst, approved by
    the coordinator's administrator), requiring ``reports``."""
    content = Content.from_dict(
        {
            "title": "Patch now",
            "tlp": "AMBER",
            "audience": {"organisations": [BANK]},
            "vulnerabilities": [vulnerability],
            "products": [{"purl": "pkg:npm/lodash@4.17.4"}],
            "reports": list(reports),
        }
    )
    view = package_service.create_draft(platform.db, content, "bunseki")
    package_service.submit(platform.db, view.id, "bunseki")
    package_service.approve(platform.db, view.id, "kanri")
    return view.id


def _state(world: WebWorld) -> str:
    view, _ = findings.show(world.platform.db, world.finding)
    return view.state


def request_for(world: WebWorld, method: str, path: str, caller: str) -> Call:
    suffix = caller.replace("_", "-")
    user = CALLERS[caller] or "bank-user"
    values = {
        "organisation": BANK,
        "finding_id": str(world.finding),
        "vulnerability": world.vulnerability,
        "language": "ja",
        "name": f"gone-{suffix}",
        "token_id": "",
        "package_id": str(world.package),
        "kind": "early_warning",
    }
    if "{package_id}" in path and method == "POST":  # a move or a receipt changes it: a fresh one
        reports = ("early_warning",) if path.endswith("/reports/{kind}") else ()
        values["package_id"] = str(publish_package(world.platform, world.vulnerability, reports))
    if "{name}" in path:
        if path.endswith("/second-factor/reset"):
            values["name"] = f"reset-{suffix}"
        identity.create_user(
            world.platform.db, values["name"], organisation=BANK, role="member_user"
        )
        if path.endswith("/second-factor/reset"):
            world.platform.enrol(values["name"])
    if "{endpoint_id}" in path:  # a fresh one: removing it changes it
        values["endpoint_id"] = str(notification_pages.endpoint_of(world.platform))
    if "{delivery_id}" in path:  # a fresh dead letter: a retry changes it
        values["delivery_id"] = str(notification_pages.dead_delivery(world.platform))
    if "{token_id}" in path:
        values["token_id"] = identity.create_token(
            world.platform.db, world.platform.key, user, "throwaway", ["read"]
        )[0].id
    url = path.format(**values)
    csrf = {"csrf": world.csrf.get(caller, "")}
    if (method, path) == ("POST", P + "/signin"):
        return Call(url, {"username": user, "password": "wrong", "csrf": "x", "next": ""})
    if (method, path) == ("POST", P + "/signout"):
        fresh = TestClient(world.app, base_url="http://127.0.0.1")
        if CALLERS[caller]:
            signed = sign_in(fresh, user, PASSWORD, functools.partial(world.platform.code, user))
            assert signed.status_code == 303, f"{user} could not sign in for the sign-out case"
            csrf = {"csrf": csrf_of(fresh.get(P + "/admin/tokens").text)}
        return Call(url, csrf, client=fresh)
    if (method, path) == ("POST", P + "/account/second-factor"):
        # A client of its own: a confirmed enrolment replaces the session it came with.
        fresh = TestClient(world.app, base_url="http://127.0.0.1")
        if CALLERS[caller]:
            sign_in(fresh, user, PASSWORD, functools.partial(world.platform.code, user))
            page = fresh.get(url).text
            secret = SECRET.search(page)
            code = ""
            if secret:  # from now on, the caller signs in with a code of it
                world.platform.secrets[user] = secret.group(1)
                code = totp.code_at(secret.group(1), totp.step_of(datetime.now(UTC)))
            csrf = {"csrf": csrf_of(page), "code": code or "000000"}
        return Call(url, csrf, client=fresh)
    if (method, path) == ("POST", ORG + "/upload"):
        data = cern_sbom().read_bytes()
        return Call(
            url, csrf | {"asset": "online-banking"}, {"file": ("bom.json", data, "text/plain")}
        )
    if (method, path) == ("POST", P + "/findings/bulk"):
        next_state = "acknowledged" if _state(world) == "open" else "in_progress"
        return Call(url, csrf | {"action": next_state, "ids": [str(world.finding)]})
    if (method, path) == ("POST", FINDING + "/transition"):
        return Call(url, csrf | {"state": NEXT_STATE[_state(world)], "note": suffix})
    if (method, path) == ("POST", P + "/admin/organisations"):
        return Call(url, csrf | {"slug": f"new-{suffix}", "name": "New", "kind": "operator"})
    if (method, path) == ("POST", P + "/admin/users"):
        return Call(
            url,
            csrf | {"name": f"made-{suffix}", "organisation": BANK, "role": "member_user"},
        )
    if (method, path) == ("POST", PACKAGE + "/move"):
        return Call(url, csrf | {"move": "withdraw"})
    if (method, path) == ("POST", PACKAGE + "/reports/{kind}"):
        return Call(url, csrf | {"summary": f"filed by {suffix}"})
    if (method, path) == ("POST", P + "/packages"):
        return Call(
            url,
            csrf
            | {
                "title": f"Drafted by {suffix}",
                "tlp": "GREEN",
                "affected": "true",
                "vulnerabilities": world.vulnerability,
                "products": "pkg:npm/lodash@4.17.4",
            },
        )
    if (method, path) == ("POST", P + "/notifications/endpoints"):
        return Call(
            url,
            csrf
            | {"organisation": BANK, "kind": "webhook", "target": f"https://{suffix}.example/"},
        )
    if (method, path) == ("POST", P + "/admin/tokens"):
        return Call(url, csrf | {"name": f"web {suffix}", "scopes": "read", "days": "7"})
    return Call(url, csrf if method == "POST" else {})


def footprint(world: WebWorld) -> dict[str, int]:
    tables = (
        models.Organisation,
        models.Asset,
        models.Inventory,
        models.FindingTransition,
        models.User,
    )
    with world.platform.db.transaction() as session:
        counts = {
            t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0
            for t in tables
        }
        inactive = session.scalar(
            select(func.count()).select_from(models.User).where(models.User.active.is_(False))
        )
    return counts | {"inactive users": inactive or 0}


def test_every_page_route_has_a_rule_and_every_rule_a_route() -> None:
    missing = [f"{m} {p}" for m, p in ROUTES if (m, p) not in RULES]
    stale = [f"{m} {p}" for m, p in RULES if (m, p) not in ROUTES]
    assert not missing, f"page routes without an authorisation rule: {missing}"
    assert not stale, f"rules for page routes that do not exist: {stale}"


def test_the_page_route_table_is_what_the_pages_serve() -> None:
    """A page added some other way than through ``web.ROUTERS`` shows in the pages' own
    (unpublished) OpenAPI document; the only mount of the app is the pages'."""
    from tests.api.conftest import settings_for

    app = create_app(settings_for("sqlite://", Path("/nonexistent")))
    mounts = [route for route in app.routes if isinstance(route, Mount)]
    assert [m.path for m in mounts] == [web.PREFIX]
    pages = mounts[0].app
    assert isinstance(pages, FastAPI)
    document = pages.openapi()
    served = sorted(
        (method.upper(), web.PREFIX + path)
        for path, item in document["paths"].items()
        for method in item
    )
    assert served == ROUTES
    assert app.openapi()["paths"].keys().isdisjoint(p for _, p in ROUTES)


OUTCOMES = {"forbidden": (403,), "hidden": (404,), "conflict": (409,)}
RECOVERY_CODE = re.compile(r"<li><code>([^<]+)</code></li>")


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_page_matrix(world: WebWorld, method: str, path: str, caller: str) -> None:
    rule = RULES.get((method, path))
    assert rule is not None, f"{method} {path} has no rule"
    expected = rule.expected(caller)
    call = request_for(world, method, path, caller)
    client = call.client or world.clients[caller]
    before = footprint(world)
    response = client.request(
        method, call.url, data=call.data or None, files=call.files, follow_redirects=False
    )
    status = response.status_code
    where = response.headers.get("location", "")
    user = CALLERS[caller]
    if path.endswith("/recovery-codes") and status == 200 and user is not None:
        # New recovery codes replace the old ones: later sign-ins of this user may need them.
        world.platform.recovery[user] = RECOVERY_CODE.findall(response.text)
        assert world.platform.recovery[user]
    described = f"{caller} {method} {call.url}: expected {expected}, got {status} {where}"
    if expected == "public":
        assert status < 500, described
        return
    if expected == "ok" and rule.ends_session:
        assert (status, where) == (303, P + "/signin"), described
        assert 'sakimori_session=""' in response.headers["set-cookie"]
        return
    if expected == "signin":
        assert status == 303, described
        assert where.startswith(P + "/signin"), described
    elif expected == "ok":
        assert 200 <= status < 300 or (status == 303 and "/signin" not in where), described
        if rule.check is not None:
            rule.check(caller, response)
        return
    else:
        assert status in OUTCOMES[expected], described
        assert "text/html" in response.headers["content-type"]
    assert footprint(world) == before, "a refused call changed something"
