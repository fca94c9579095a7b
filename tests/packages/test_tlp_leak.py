"""The TLP leak property: over random labels and audiences, no channel — the package API
(list, read, CSAF, STIX) or TAXII — ever gives a package to someone outside the set its label
and audience entitle, computed here independently of the service."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sakimori.api import create_app
from sakimori.config import Settings
from sakimori.packages import stix
from sakimori.packages.taxii import COLLECTIONS, MEDIA_TYPE
from tests.packages.conftest import ORGANISATIONS, USERS, Platform, build_platform, content

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # Starlette asks for httpx2 (tests/api)
    from fastapi.testclient import TestClient

STAFF = {"kanri", "bunseki"}
RECEIVERS = sorted(set(USERS) - STAFF)
#: city-bank's requirements.txt holds django 1.11.29, the product of ``content()``.
EXPOSED = {"city-bank"}
SLUGS = sorted(s for s, (kind, _) in ORGANISATIONS.items() if kind != "coordinator")
TLPS = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, Any]]:
    home = tmp_path_factory.mktemp("leak")
    with build_platform("sqlite", home) as platform:
        settings = Settings(
            home=home,
            database_url=f"sqlite:///{home / 'sakimori.db'}",
            token_key_file=home / "token.key",
        )
        with TestClient(create_app(settings)) as client:
            yield platform, client


def entitled(tlp: str, audience: dict[str, Any]) -> set[str]:
    """The people (non-staff) who may receive the package: the TLP rules, restated."""
    orgs: set[str] = set()
    if audience["everyone"]:
        orgs |= set(SLUGS)
    orgs |= {s for s in SLUGS if set(ORGANISATIONS[s][1]) & set(audience["sectors"])}
    orgs |= set(audience["organisations"])
    if audience["affected"]:
        orgs |= EXPOSED
    orgs |= {USERS[p][0] for p in audience["people"]}
    if tlp == "RED":
        return set(audience["people"])
    return {u for u in RECEIVERS if USERS[u][0] in orgs}


def lawful(tlp: str, audience: dict[str, Any]) -> bool:
    """Whether the label allows the audience (an empty one is allowed in a draft)."""
    if tlp == "RED":
        return not (
            audience["everyone"]
            or audience["sectors"]
            or audience["organisations"]
            or audience["affected"]
        )
    return tlp in {"CLEAR", "GREEN"} or not audience["everyone"]


audiences = st.fixed_dictionaries(
    {
        "everyone": st.booleans(),
        "sectors": st.lists(
            st.sampled_from(["finance", "electric_power", "water", "medical"]),
            max_size=2,
            unique=True,
        ),
        "organisations": st.lists(st.sampled_from(SLUGS), max_size=2, unique=True),
        "affected": st.booleans(),
        "people": st.lists(st.sampled_from(RECEIVERS), max_size=3, unique=True),
    }
)


def _headers(platform: Platform, user: str) -> dict[str, str]:
    return platform.headers(user) | {"Accept": f"{MEDIA_TYPE}, application/json"}


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tlp=st.sampled_from(TLPS), audience=audiences)
def test_nobody_outside_the_entitled_set_gets_a_package(
    world: tuple[Platform, Any], tlp: str, audience: dict[str, Any]
) -> None:
    platform, client = world
    made = client.post(
        "/v1/packages",
        json=content(tlp=tlp, audience=audience, title=f"leak {tlp}"),
        headers=platform.headers("bunseki"),
    )
    if not lawful(tlp, audience):
        assert made.status_code == 400, made.text
        return
    assert made.status_code == 201, made.text
    package_id = made.json()["id"]
    empty = not any(audience.values())
    for user, move in (("bunseki", "submit"), ("kanri", "approve")):
        moved = client.post(
            f"/v1/packages/{package_id}/transitions",
            json={"move": move},
            headers=platform.headers(user),
        )
        assert moved.status_code == (400 if empty else 200), moved.text
        if empty:
            break
    allowed = set() if empty else entitled(tlp, audience)
    collection = next(c for c in COLLECTIONS if c.tlp is not None and c.tlp.value == tlp)
    report = stix._id("report", package_id, "report")
    for user in [*RECEIVERS, *sorted(STAFF)]:
        may = user in allowed or (user in STAFF and not empty)
        headers = platform.headers(user)
        read = client.get(f"/v1/packages/{package_id}", headers=headers)
        assert read.status_code == (200 if may or user in STAFF else 404), (user, tlp, audience)
        listed = {p["id"] for p in client.get("/v1/packages", headers=headers).json()}
        assert (package_id in listed) is (may or user in STAFF), (user, tlp, audience)
        for form in ("csaf", "stix"):
            answer = client.get(f"/v1/packages/{package_id}/{form}", headers=headers)
            assert answer.status_code == (200 if may else 404), (user, form)
        served = client.get(
            f"/taxii2/api/collections/{collection.id}/objects/",
            params={"match[id]": report},
            headers=_headers(platform, user),
        )
        assert served.status_code == 200
        got = [o["id"] for o in served.json().get("objects", [])]
        assert (report in got) is may, (user, tlp, audience)
        # and nothing of it lands in another label's collection
        for other in COLLECTIONS if user in allowed else ():
            if other.tlp is None or other.id == collection.id:
                continue
            leaked = client.get(
                f"/taxii2/api/collections/{other.id}/objects/",
                params={"match[id]": report},
                headers=_headers(platform, user),
            )
            assert leaked.json().get("objects", []) == []
