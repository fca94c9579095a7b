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

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from sakimori.api import create_app
from sakimori.api.app import route_table
from sakimori.packages.model import Content
from sakimori.packages.taxii import BY_ID as TAXII_COLLECTIONS
from sakimori.services import identity, taxii_store
from sakimori.services import packages as package_service
from sakimori.store import models
from tests.api import sightings_matrix
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
from tests.notify import matrix as notify_matrix
from tests.updates import matrix as updates_matrix

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


MATRIX_PACKAGE = "Matrix package for city-bank"


def packages_seen(principal: str, body: Any) -> None:
    titles = {p["title"] for p in body}
    if principal in STAFF | MEMBERS_A:
        assert MATRIX_PACKAGE in titles
    else:
        assert MATRIX_PACKAGE not in titles
    if principal not in STAFF:
        assert all(p["state"] in {"published", "updated", "withdrawn"} for p in body)


def csaf_feed_seen(principal: str, body: Any) -> None:
    titles = {e["title"] for e in body["feed"]["entry"]}
    assert (MATRIX_PACKAGE in titles) == (principal in STAFF | MEMBERS_A)


# -- the rules: one per route ---------------------------------------------------------------------

ORG_PATH = "/v1/organisations/{organisation}"
ASSET_PATH = ORG_PATH + "/assets/{asset}"
FINDING_PATH = "/v1/findings/{finding_id}"
PACKAGE_PATH = "/v1/packages/{package_id}"
COLLECTION_PATH = "/taxii2/api/collections/{collection_id}/"
PACKAGE_READERS = Rule(STAFF | MEMBERS_A, hidden=frozenset({"member_user_b", "vendor", "partner"}))
#: The coordinator-and-partners TAXII collection (members and vendors have no right on it).
PARTNERS = Rule(STAFF | {"partner"})
UPDATE_READERS = Rule(STAFF | MEMBERS_A | {"member_user_b", "vendor"})
NOTIFY_ADMINS = frozenset({"coordinator_admin", "member_admin"})

RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): Rule(EVERYONE, public=True),
    ("GET", "/readyz"): Rule(EVERYONE, public=True),
    ("GET", "/metrics"): Rule(STAFF),  # Prometheus: national aggregates
    ("GET", "/v1/me"): Rule(EVERYONE),
    ("GET", "/v1/tokens"): Rule(EVERYONE),
    # An administrator's tokens are made only from a web session that passed the second factor
    # (services/second_factor.py): an API token, even theirs, may not make more.
    ("POST", "/v1/tokens"): Rule(EVERYONE - {"coordinator_admin", "member_admin"}),
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
    ("GET", "/v1/products/suggestions"): Rule(EVERYONE),
    ("GET", "/v1/metrics"): Rule(STAFF | MEMBERS_A | {"member_user_b"}, check=metrics_seen),
    ("POST", ORG_PATH + "/vex"): Rule(
        MEMBERS_A | {"coordinator_admin"}, hidden=frozenset({"member_user_b"})
    ),
    ("GET", ORG_PATH + "/vex"): Rule(STAFF | MEMBERS_A, hidden=frozenset({"member_user_b"})),
    ("GET", ORG_PATH + "/vex/statements"): Rule(
        STAFF | MEMBERS_A, hidden=frozenset({"member_user_b"}), check=statements_seen
    ),
    ("GET", "/v1/packages"): Rule(EVERYONE, check=packages_seen),
    ("POST", "/v1/packages"): Rule(STAFF),
    ("GET", PACKAGE_PATH): PACKAGE_READERS,
    ("PUT", PACKAGE_PATH + "/draft"): Rule(STAFF),
    ("POST", PACKAGE_PATH + "/revisions"): Rule(STAFF),
    ("POST", PACKAGE_PATH + "/transitions"): Rule(STAFF),
    ("POST", PACKAGE_PATH + "/acknowledgement"): Rule(
        MEMBERS_A, hidden=frozenset({"member_user_b", "vendor", "partner"})
    ),
    ("GET", PACKAGE_PATH + "/recipients"): Rule(STAFF),
    # Reports a package requires: staff read all, a recipient its own; its members file them.
    ("GET", PACKAGE_PATH + "/reports"): PACKAGE_READERS,
    ("POST", PACKAGE_PATH + "/reports/{kind}"): Rule(
        MEMBERS_A, hidden=frozenset({"member_user_b"})
    ),
    ("GET", PACKAGE_PATH + "/csaf"): PACKAGE_READERS,
    ("GET", PACKAGE_PATH + "/stix"): PACKAGE_READERS,
    ("GET", "/taxii2/"): Rule(EVERYONE),
    ("GET", "/taxii2/api/"): Rule(EVERYONE),
    ("GET", "/taxii2/api/collections/"): Rule(EVERYONE),
    ("GET", COLLECTION_PATH): PARTNERS,
    ("GET", COLLECTION_PATH + "objects/"): PARTNERS,
    ("POST", COLLECTION_PATH + "objects/"): PARTNERS,
    ("GET", COLLECTION_PATH + "objects/{object_id}/"): PARTNERS,
    ("GET", COLLECTION_PATH + "objects/{object_id}/versions/"): PARTNERS,
    ("GET", COLLECTION_PATH + "manifest/"): PARTNERS,
    ("GET", "/taxii2/api/status/{status_id}/"): Rule(
        STAFF | {"partner"},
        hidden=frozenset({"member_admin", "member_user", "member_user_b", "vendor"}),
    ),
    ("GET", "/v1/audit"): Rule(frozenset({"coordinator_admin"})),
    # The CSAF provider: metadata, key and TLP:WHITE in public; the rest as the package API.
    ("GET", "/.well-known/csaf/provider-metadata.json"): Rule(EVERYONE, public=True),
    ("GET", "/.well-known/csaf/openpgp/{key_file}"): Rule(EVERYONE, public=True),
    ("GET", "/.well-known/csaf/feed-tlp-white.json"): Rule(EVERYONE, public=True),
    ("GET", "/.well-known/csaf/white/{year}/{file}"): Rule(EVERYONE, public=True),
    ("GET", "/v1/csaf/feed-tlp-{label}.json"): Rule(EVERYONE, check=csaf_feed_seen),
    ("GET", "/v1/csaf/{label}/{year}/{file}"): PACKAGE_READERS,
    # Its directory distribution: the listings hold what the caller may read (an empty one
    # for the others); a year folder with nothing for the caller is absent.
    ("GET", "/.well-known/csaf/white/index.txt"): Rule(EVERYONE, public=True),
    ("GET", "/.well-known/csaf/white/changes.csv"): Rule(EVERYONE, public=True),
    ("GET", "/.well-known/csaf/white/"): Rule(EVERYONE, public=True),
    ("GET", "/.well-known/csaf/white/{year}/"): Rule(EVERYONE, public=True),
    ("GET", "/v1/csaf/{label}/index.txt"): Rule(EVERYONE),
    ("GET", "/v1/csaf/{label}/changes.csv"): Rule(EVERYONE),
    ("GET", "/v1/csaf/{label}/"): Rule(EVERYONE),
    ("GET", "/v1/csaf/{label}/{year}/"): PACKAGE_READERS,
    # Emergency updates: a hosted repository is read by staff, every member and its vendor.
    ("GET", "/v1/updates/repositories"): UPDATE_READERS,
    ("POST", "/v1/updates/repositories"): Rule(frozenset({"coordinator_admin"})),
    ("GET", "/v1/updates/releases"): Rule(
        STAFF | MEMBERS_A | {"member_user_b"}, check=updates_matrix.releases_seen
    ),
    ("POST", "/v1/updates/reports"): Rule(MEMBERS_A, hidden=frozenset({"member_user_b"})),
    ("GET", "/v1/updates/{vendor}/metadata/{name}"): UPDATE_READERS,
    ("GET", "/v1/updates/{vendor}/targets/{line}/{name}"): UPDATE_READERS,
    ("POST", "/v1/updates/{vendor}/uploads"): Rule(frozenset({"vendor"})),
    ("POST", "/v1/updates/{vendor}/timestamp"): Rule(STAFF),
    # Sightings: members report and read their own; staff read all, summarise and review.
    ("POST", "/v1/sightings"): Rule(MEMBERS_A | {"member_user_b"}),
    ("GET", "/v1/sightings"): Rule(
        STAFF | MEMBERS_A | {"member_user_b"},
        check=sightings_matrix.seen_by_own(OWN_ORGANISATION, STAFF),
    ),
    ("GET", "/v1/sightings/stix"): Rule(STAFF | MEMBERS_A | {"member_user_b"}),
    ("GET", "/v1/sightings/vulnerabilities"): Rule(STAFF),
    ("POST", "/v1/sightings/vulnerabilities/{vulnerability}/review"): Rule(STAFF),
    ("GET", "/v1/detection-rules"): Rule(EVERYONE),
    # Notifications: coordinator admins for every organisation, member admins for their own.
    ("GET", "/v1/notifications/endpoints"): Rule(
        NOTIFY_ADMINS, check=notify_matrix.own_organisation_only(ORG_A)
    ),
    ("POST", "/v1/notifications/endpoints"): Rule(NOTIFY_ADMINS),
    ("DELETE", "/v1/notifications/endpoints/{endpoint_id}"): Rule(NOTIFY_ADMINS),
    ("GET", "/v1/notifications/deliveries"): Rule(
        NOTIFY_ADMINS, check=notify_matrix.own_organisation_only(ORG_A)
    ),
    ("POST", "/v1/notifications/deliveries/{delivery_id}/retry"): Rule(NOTIFY_ADMINS),
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
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, world: World, method: str, principal: str) -> httpx.Response:
        """Make the call as ``principal``."""
        return world.client.request(
            method,
            self.url,
            headers=world.headers(principal) | self.headers,
            json=self.json,
            files=self.files,
            params=self.params,
            content=self.content,
        )


TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
TAXII_HEADERS = {"Content-Type": TAXII_MEDIA_TYPE, "Accept": TAXII_MEDIA_TYPE}


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


PARTNERS_COLLECTION = next(c.id for c in TAXII_COLLECTIONS.values() if c.tlp is None)
_SHARED: dict[int, dict[str, str]] = {}


def _package_content(title: str) -> Content:
    return Content.from_dict(
        {
            "title": title,
            "tlp": "AMBER",
            "audience": {"organisations": [ORG_A]},
            "vulnerabilities": ["CVE-2021-35042"],
            "products": [{"purl": "pkg:pypi/django@2.2.24"}],
        }
    )


def _indicator(n: int) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": "scanner address",
        "pattern": "[ipv4-addr:value = '192.0.2.7']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
    }


def _shared(world: World) -> dict[str, str]:
    """A published package for org A, a stored TAXII object and a partner's status, once."""
    found = _SHARED.get(id(world))
    if found is None:
        view = package_service.create_draft(world.db, _package_content(MATRIX_PACKAGE), "bunseki")
        package_service.submit(world.db, view.id, "bunseki")
        package_service.approve(world.db, view.id, "kanri")
        status = taxii_store.add_objects(world.db, PARTNERS_COLLECTION, [_indicator(1)], "allied")
        found = {
            "package_id": str(view.id),
            "object_id": _indicator(1)["id"],
            "status_id": status["id"],
        }
        _SHARED[id(world)] = found
    return found


_CSAF: dict[int, dict[str, str]] = {}


def _csaf(world: World, path: str) -> dict[str, str]:
    """The CSAF provider's paths: a signing key and a TLP:CLEAR package (for vendor-co, which
    has no notification endpoint), made once; the matrix package for the protected paths."""
    from sakimori.packages.csaf_provider import Published
    from sakimori.services import csaf_signing

    found = _CSAF.get(id(world))
    if found is None:
        key = csaf_signing.generate_key(
            world.settings.csaf_key_path, name="Matrix", email="m@x.test", algorithm="ed25519"
        )
        content = _package_content("Matrix CLEAR package").to_dict()
        content.update(tlp="CLEAR", audience={"organisations": ["vendor-co"]})
        view = package_service.create_draft(world.db, Content.from_dict(content), "bunseki")
        package_service.submit(world.db, view.id, "bunseki")
        package_service.approve(world.db, view.id, "kanri")
        found = {"key_file": f"{key.fingerprint}.asc", "clear": str(view.id)}
        _CSAF[id(world)] = found
    public = path.startswith("/.well-known/csaf/white/")
    package_id = int(found["clear"] if public else _shared(world)["package_id"])
    document = Published.of(
        package_service.csaf_document(package_service.get(world.db, package_id, latest=False))
    )
    return found | {"label": document.label.lower(), "year": document.year, "file": document.name}


def _fresh_package(world: World, principal: str, *, published: bool) -> str:
    view = package_service.create_draft(world.db, _package_content(f"fresh {principal}"), "kanri")
    if published:
        package_service.submit(world.db, view.id, "kanri")
        package_service.approve(world.db, view.id, "bunseki")
    return str(view.id)


def _report_package(world: World, principal: str) -> int:
    """A published package requiring an early warning of org A (one per caller: a report is
    filed once)."""
    content = _package_content(f"reports {principal}").to_dict() | {"reports": ["early_warning"]}
    view = package_service.create_draft(world.db, Content.from_dict(content), "kanri")
    package_service.submit(world.db, view.id, "kanri")
    package_service.approve(world.db, view.id, "bunseki")
    return view.id


def request_for(world: World, method: str, path: str, principal: str) -> Call:
    suffix = principal.replace("_", "-")
    values = {
        "organisation": ORG_A,
        "asset": ASSET_A.split("/")[1],
        "finding_id": str(world.finding_a),
        "token_id": "",
        "collection_id": PARTNERS_COLLECTION,
        "kind": "early_warning",
        **_shared(world),
    }
    if "{token_id}" in path:
        values["token_id"] = _throwaway_token(world, principal)
    if (method, path) in {
        ("PUT", PACKAGE_PATH + "/draft"),
        ("POST", PACKAGE_PATH + "/transitions"),
        ("POST", PACKAGE_PATH + "/revisions"),
    }:
        values["package_id"] = _fresh_package(
            world, principal, published=path.endswith("revisions")
        )
    if path.startswith("/v1/updates/"):
        return Call(**updates_matrix.call(world, method, path, principal, ORG_A, ASSET_A))
    if path.startswith(("/v1/sightings", "/v1/detection-rules")):
        return Call(**sightings_matrix.call(world, method, path, principal, (ORG_A, ORG_B)))
    if path.startswith("/v1/notifications/"):
        return Call(**notify_matrix.call(world, method, path, principal, ORG_A, ORG_B))
    if path.startswith(("/.well-known/csaf/", "/v1/csaf/")):
        return Call(path.format(**_csaf(world, path)))
    url = path.format(**values)
    body = _package_content(f"matrix {suffix}").to_dict()
    if (method, path) in {("POST", "/v1/packages"), ("PUT", PACKAGE_PATH + "/draft")}:
        return Call(url, json=body)
    if (method, path) == ("POST", PACKAGE_PATH + "/revisions"):
        return Call(url, json={"content": body, "change": suffix})
    if (method, path) == ("POST", PACKAGE_PATH + "/transitions"):
        return Call(url, json={"move": "submit"})
    if (method, path) == ("POST", PACKAGE_PATH + "/reports/{kind}"):
        url = path.format(package_id=_report_package(world, principal), kind="early_warning")
        return Call(url, json={"summary": f"filed by {suffix}"})
    if (method, path) == ("POST", COLLECTION_PATH + "objects/"):
        document = {"objects": [_indicator(100 + PRINCIPALS.index(principal))]}
        return Call(url, content=json.dumps(document).encode(), headers=TAXII_HEADERS)
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
    if (method, path) == ("GET", "/v1/products/suggestions"):
        return Call(url, params={"text": "Django"})
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
        models.PackageRow,
        models.PackageRevisionRow,
        models.PackageRecipientRow,
        models.PackageReportRow,
        models.TaxiiObjectRow,
        models.TaxiiStatusRow,
        models.SightingRow,
        models.ExploitationReviewRow,
        models.NotifyEndpointRow,
        models.NotifyDeliveryRow,
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
    response = call.send(world, method, principal)
    assert response.status_code in OUTCOMES[expected], (
        f"{principal} {method} {call.url}: expected {expected}, got {response.status_code} "
        f"{response.text[:300]}"
    )
    if expected != "ok" and path.startswith("/taxii2/"):  # TAXII's own error resource
        assert response.headers["content-type"] == TAXII_MEDIA_TYPE
        assert response.json()["http_status"] == str(response.status_code)
        assert footprint(world) == before, "a refused call changed something"
    elif expected != "ok":
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
