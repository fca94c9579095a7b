"""TAXII 2.1 served by the real server (``sakimori serve`` on loopback), spoken to with the
third-party ``taxii2-client`` library: discovery, collections, paging with ``next``, filters,
versions, manifest, adding objects (status), and refusals (a collection the caller may not
read, an oversized or malformed envelope: nothing imported)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from sqlalchemy import func, select
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from sakimori.packages import stix
from sakimori.packages.model import Content, Tlp
from sakimori.packages.taxii import BY_ID, MEDIA_TYPE, query
from sakimori.packages.taxii import select as select_in_memory
from sakimori.services import packages, taxii_store
from sakimori.store import models
from sakimori.store.db import open_database
from tests.packages.conftest import Platform, build_platform, content
from tests.serving import sakimori_serve

GREEN_PACKAGES = 7
PER_PAGE = 4


class Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def _publish(platform: Platform, value: dict[str, Any]) -> int:
    view = packages.create_draft(platform.db, Content.from_dict(value), "bunseki")
    packages.submit(platform.db, view.id, "bunseki")
    return packages.approve(platform.db, view.id, "kanri").id


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Platform, dict[str, int]]]:
    home = tmp_path_factory.mktemp("taxii")
    with build_platform("sqlite", home) as platform:
        ids = {
            f"green-{n}": _publish(
                platform,
                content(
                    title=f"Green package {n}",
                    tlp="GREEN",
                    audience={"organisations": ["city-bank"]},
                ),
            )
            for n in range(GREEN_PACKAGES)
        }
        ids["amber-river"] = _publish(
            platform, content(tlp="AMBER", audience={"organisations": ["river-power"]})
        )
        packages.revise(
            platform.db,
            ids["green-0"],
            Content.from_dict(
                content(
                    title="Green package 0, revised",
                    tlp="GREEN",
                    audience={"organisations": ["city-bank"]},
                )
            ),
            "kanri",
            "Second revision.",
        )
        packages.submit(platform.db, ids["green-0"], "kanri")
        packages.approve(platform.db, ids["green-0"], "bunseki")
        env = {
            **os.environ,
            "SAKIMORI_HOME": str(home),
            "SAKIMORI_DATABASE_URL": f"sqlite:///{home / 'sakimori.db'}",
        }
        with sakimori_serve(env) as server:
            yield server.base, platform, ids


def _collection(base: str, platform: Platform, user: str, alias: str) -> Collection:
    root = ApiRoot(f"{base}/taxii2/api/", auth=Bearer(platform.tokens[user]))
    for found in root.collections:
        if found.alias == alias:  # type: ignore[attr-defined]
            return found
    raise AssertionError(f"{user} does not see collection {alias}")


def test_discovery_and_collections(served: tuple[str, Platform, dict[str, int]]) -> None:
    base, platform, _ = served
    server = Server(f"{base}/taxii2/", auth=Bearer(platform.tokens["bank-user"]))
    assert server.title == "Sakimori TAXII 2.1"
    (root,) = server.api_roots
    assert root.url == server.default.url
    assert MEDIA_TYPE in root.versions
    aliases = {c.alias: (c.can_read, c.can_write) for c in root.collections}  # type: ignore[attr-defined]
    assert aliases["packages-green"] == (True, False)
    assert "coordination-partners" not in aliases
    partner = ApiRoot(f"{base}/taxii2/api/", auth=Bearer(platform.tokens["allied"]))
    assert {c.alias for c in partner.collections} >= {"coordination-partners"}  # type: ignore[attr-defined]


def test_paging_through_objects_with_next(served: tuple[str, Platform, dict[str, int]]) -> None:
    base, platform, ids = served
    collection = _collection(base, platform, "bank-user", "packages-green")
    pages = list(as_pages(collection.get_objects, per_request=PER_PAGE))
    assert len(pages) > 1
    assert all(p["more"] for p in pages[:-1])
    assert not pages[-1]["more"]
    objects = [o for p in pages for o in p.get("objects", [])]
    assert len({o["id"] for o in objects}) == len(objects), "an object came twice"
    reports = {o["name"] for o in objects if o["type"] == "report"}
    assert reports == {f"Green package {n}" for n in range(1, GREEN_PACKAGES)} | {
        "Green package 0, revised"
    }
    # the last version by default; both with match[version]=all
    report_0 = f"report--{stix._id('report', ids['green-0'], 'report').split('--')[1]}"
    versions = collection.object_versions(report_0)["versions"]
    assert len(versions) == 2
    both = collection.get_object(report_0, version="all")["objects"]
    assert [o["name"] for o in both] == ["Green package 0", "Green package 0, revised"]
    first = collection.get_objects(type="indicator", version="first")["objects"]
    assert {o["pattern_type"] for o in first} == {"sigma"}
    later = collection.get_objects(added_after=versions[0])
    assert {o["id"] for o in later["objects"]} >= {report_0}
    assert all(o["modified"] > versions[0] for o in later["objects"] if "modified" in o)
    manifest = list(as_pages(collection.get_manifest, per_request=PER_PAGE))
    assert sum(len(p.get("objects", [])) for p in manifest) == len(objects)


def test_a_package_for_another_organisation_is_not_served(
    served: tuple[str, Platform, dict[str, int]],
) -> None:
    base, platform, _ = served
    amber = _collection(base, platform, "bank-user", "packages-amber")
    assert amber.get_objects().get("objects", []) == []
    theirs = _collection(base, platform, "power-user", "packages-amber")
    names = {o.get("name") for o in theirs.get_objects()["objects"]}
    assert content()["title"] in names
    green = _collection(base, platform, "power-user", "packages-green")
    assert green.get_objects().get("objects", []) == []


def test_a_collection_the_caller_may_not_read_is_refused(
    served: tuple[str, Platform, dict[str, int]],
) -> None:
    base, platform, _ = served
    partners = next(c for c in BY_ID.values() if c.tlp is None)
    url = f"{base}/taxii2/api/collections/{partners.id}/"
    refused = Collection(url, auth=Bearer(platform.tokens["bank-user"]))
    with pytest.raises(requests.HTTPError) as raised:
        refused.get_objects()
    assert raised.value.response.status_code == 403
    body = raised.value.response.json()
    assert body["http_status"] == "403"
    assert "may not read" in body["description"]
    assert raised.value.response.headers["content-type"] == MEDIA_TYPE
    anonymous = httpx.get(f"{url}objects/", headers={"Accept": MEDIA_TYPE})
    assert anonymous.status_code == 401
    assert anonymous.json()["http_status"] == "401"


def _indicator(n: int, **changes: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--6c4b3d1e-0000-4000-8000-{n:012d}",
        "created": "2026-11-01T00:00:00.000Z",
        "modified": "2026-11-01T00:00:00.000Z",
        "name": f"scanner {n}",
        "pattern": f"[ipv4-addr:value = '198.51.100.{n % 250}']",
        "pattern_type": "stix",
        "valid_from": "2026-11-01T00:00:00Z",
        **changes,
    }


def _stored(platform: Platform) -> int:
    with platform.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(models.TaxiiObjectRow)) or 0


def test_adding_objects(served: tuple[str, Platform, dict[str, int]]) -> None:
    base, platform, _ = served
    collection = _collection(base, platform, "allied", "coordination-partners")
    red = _indicator(3, object_marking_refs=[stix.TLP2_MARKING_IDS[Tlp.RED]])
    envelope = {"objects": [_indicator(1), _indicator(2), red, {"type": "indicator"}]}
    status = collection.add_objects(envelope)
    assert status.status == "complete"
    assert (status.success_count, status.failure_count) == (2, 2)
    messages = " ".join(f["message"] for f in status.failures)
    assert "TLP:RED" in messages
    assert "spec_version" in messages
    again = collection.add_objects({"objects": [_indicator(1)]})
    assert again.failure_count == 1
    seen = collection.get_objects(id=_indicator(2)["id"])["objects"]
    assert [o["name"] for o in seen] == ["scanner 2"]
    staff = _collection(base, platform, "kanri", "coordination-partners")
    assert {o["id"] for o in staff.get_objects()["objects"]} >= {_indicator(1)["id"]}
    with httpx.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {platform.tokens['allied']}", "Accept": MEDIA_TYPE},
    ) as http:
        answer = http.get(f"/taxii2/api/status/{status.id}/")
        assert answer.status_code == 200
        assert answer.json()["success_count"] == 2
    other = httpx.get(
        f"{base}/taxii2/api/status/{status.id}/",
        headers={"Authorization": f"Bearer {platform.tokens['bank-user']}"},
    )
    assert other.status_code == 404


def test_members_may_not_add(served: tuple[str, Platform, dict[str, int]]) -> None:
    base, platform, _ = served
    green = _collection(base, platform, "bank-user", "packages-green")
    before = _stored(platform)
    answer = httpx.post(
        f"{green.url}objects/",
        content=json.dumps({"objects": [_indicator(20)]}),
        headers={
            "Authorization": f"Bearer {platform.tokens['bank-user']}",
            "Content-Type": MEDIA_TYPE,
            "Accept": MEDIA_TYPE,
        },
    )
    assert answer.status_code == 403
    assert _stored(platform) == before


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (json.dumps({"objects": [_indicator(n) for n in range(30, 3000)]}).encode(), 413, "limit"),
        (b"{not json", 400, "not JSON"),
        (json.dumps({"bundle": []}).encode(), 400, "envelope"),
        (json.dumps({"objects": [_indicator(40)] * 1001}).encode(), 413, "1000"),
    ],
    ids=["oversized", "not-json", "no-envelope", "too-many"],
)
def test_bad_envelopes_are_refused_and_nothing_is_imported(
    served: tuple[str, Platform, dict[str, int]], body: bytes, status: int, reason: str
) -> None:
    base, platform, _ = served
    partners = next(c for c in BY_ID.values() if c.tlp is None)
    before = _stored(platform)
    if reason == "1000":
        body = json.dumps({"objects": [{"type": "x"}] * 1001}).encode()
    answer = httpx.post(
        f"{base}/taxii2/api/collections/{partners.id}/objects/",
        content=body,
        headers={
            "Authorization": f"Bearer {platform.tokens['allied']}",
            "Content-Type": MEDIA_TYPE,
            "Accept": MEDIA_TYPE,
        },
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == MEDIA_TYPE
    assert reason in answer.json()["description"]
    assert _stored(platform) == before


def test_wrong_media_types_are_refused(served: tuple[str, Platform, dict[str, int]]) -> None:
    base, platform, _ = served
    auth = {"Authorization": f"Bearer {platform.tokens['kanri']}"}
    assert httpx.get(f"{base}/taxii2/", headers={**auth, "Accept": "text/html"}).status_code == 406
    partners = next(c for c in BY_ID.values() if c.tlp is None)
    answer = httpx.post(
        f"{base}/taxii2/api/collections/{partners.id}/objects/",
        json={"objects": [_indicator(50)]},
        headers=auth,
    )
    assert answer.status_code == 415


def _page_all(db: Any, collection: str, **filters: Any) -> list[tuple[str, str]]:
    """Every record of a stored collection through ``stored_page``, two at a time."""
    got: list[tuple[str, str]] = []
    following = None
    added: list[Any] = []
    while True:
        q = query(**{**filters, "limit": 2, "next_": following})
        page = taxii_store.stored_page(db, collection, q)
        got.extend((r.id, r.version) for r in page.records)
        added.extend(r.added for r in page.records)
        if not page.more:
            assert added == sorted(added), "not ordered by date added"
            return got
        assert len(page.records) == 2
        following = page.next


def test_stored_collections_are_paged_in_sql_as_the_rendered_ones_in_memory(
    tmp_path: Any,
) -> None:
    """``stored_page`` (keyset, SQL) gives the records ``taxii.select`` (in memory) gives."""

    db = open_database(f"sqlite:///{tmp_path / 'stored.db'}")
    partners = next(c for c in BY_ID.values() if c.tlp is None).id
    try:
        for round_ in range(3):  # three POSTs: three dates added, later versions of some
            objects = [
                _indicator(n, modified=f"2026-11-0{round_ + 1}T00:00:00.000Z")
                for n in range(round_ * 2, 7)
            ]
            objects.append({**_indicator(90 + round_), "type": "indicator"})
            status = taxii_store.add_objects(db, partners, objects, "allied")
            assert status["failure_count"] == 0
        records = taxii_store.stored_records(db, partners)
        last = max(r.added for r in records)
        cases: list[dict[str, Any]] = [
            {},
            {"versions": "all"},
            {"versions": "first"},
            {"versions": "first,last"},
            {"versions": "2026-11-02T00:00:00.000Z"},
            {"ids": f"{_indicator(5)['id']},{_indicator(1)['id']}", "versions": "all"},
            {"types": "indicator,sighting"},
            {"types": "sighting"},
            {"spec_versions": "2.1"},
            {"added_after": min(r.added for r in records).isoformat()},
            {"added_after": last.isoformat()},
        ]
        for case in cases:
            filters = {
                "added_after": None,
                "ids": None,
                "types": None,
                "versions": None,
                "spec_versions": None,
                **case,
            }
            q = query(**filters, limit=None, next_=None)
            expected = sorted((r.id, r.version) for r in select_in_memory(records, q).records)
            got = _page_all(db, partners, **filters)
            assert sorted(got) == expected, case
            assert len(got) == len(set(got)), case
        assert _page_all(db, partners, added_after=None, ids=None, types=None,
                         versions=None, spec_versions=None)  # fmt: skip
    finally:
        db.dispose()


@pytest.mark.parametrize("position", ["999999999999999999.1", "1.2.3", "-1", "12.x"])
def test_a_next_this_server_did_not_give_is_refused(
    served: tuple[str, Platform, dict[str, int]], position: str
) -> None:
    base, platform, _ = served
    partners = next(c for c in BY_ID.values() if c.tlp is None)
    answer = httpx.get(
        f"{base}/taxii2/api/collections/{partners.id}/objects/",
        params={"next": position},
        headers={"Authorization": f"Bearer {platform.tokens['kanri']}", "Accept": MEDIA_TYPE},
    )
    assert answer.status_code == 400, answer.text
    assert "not a value this server gave" in answer.json()["description"]
