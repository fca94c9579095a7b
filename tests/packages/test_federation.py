"""Federation: two real ``sakimori serve`` instances on 127.0.0.1, each with its own database,
exchanging packages and sightings through TAXII 2.1 and CSAF 2.0 under TLP.

A is the national office; B an allied CERT, which holds a partner account on A (``allied``,
organisation ``allied-cert``) and a read-only one (``allied-reader``). A publishes a GREEN
package to allied-cert, an AMBER one to a bank and a RED one to a named person, and shares a
member's sighting (TLP:AMBER) in its partners' collection. B pulls A's collections with the
partner's token (``services.taxii_pull``): the GREEN package's objects, the sighting where the
source's TLP allows it, nothing of the AMBER and RED packages; B's staff read what was pulled
through B's own TAXII server, B's members do not; B fetches A's GREEN CSAF advisory. The other
way, B adds its own sightings to A's partners' collection with ``taxii2-client`` and A's staff
read them; the read-only account is refused. Refused, with nothing imported: an oversized
envelope, a collection B may not read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from sqlalchemy import func, select
from taxii2client.v21 import ApiRoot, Collection, as_pages

from sakimori.config import Settings
from sakimori.errors import LimitExceeded, SourceUnavailable
from sakimori.formats.limits import Limits
from sakimori.packages import taxii
from sakimori.packages.model import Content
from sakimori.services import csaf_fetch, csaf_signing, identity, taxii_pull
from sakimori.services import packages as package_service
from sakimori.services.organisations import create_organisation
from sakimori.store import models
from sakimori.store.db import Database, open_database
from tests.packages.conftest import content
from tests.serving import sakimori_serve

PARTNERS = next(c for c in taxii.COLLECTIONS if c.alias == "coordination-partners")
COLLECTION = {c.alias: c for c in taxii.COLLECTIONS}
#: organisation -> (kind, [(user, role, scopes)])
PEOPLE: dict[str, tuple[str, list[tuple[str, str, list[str]]]]] = {
    "coordination": (
        "coordinator",
        [("kanri", "coordinator_admin", ["read", "write"]), ("bunseki", "analyst", ["read"])],
    ),
    "allied-cert": (
        "partner",
        [("allied", "partner", ["read", "write"]), ("allied-reader", "partner", ["read"])],
    ),
    "city-bank": ("operator", [("bank-user", "member_user", ["read", "write"])]),
}


class Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


@dataclass
class Instance:
    name: str
    home: Path
    db: Database
    key: bytes
    tokens: dict[str, str]
    base: str = ""

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SAKIMORI_HOME": str(self.home),
            "SAKIMORI_DATABASE_URL": f"sqlite:///{self.home / 'sakimori.db'}",
        }

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}", "Accept": taxii.MEDIA_TYPE}

    def collection_url(self, collection_id: str) -> str:
        return f"{self.base}/taxii2/api/collections/{collection_id}/"

    def settings(self, limits: Limits | None = None) -> Settings:
        url = f"sqlite:///{self.home / 'sakimori.db'}"
        return Settings(home=self.home, database_url=url, limits=limits or Limits(), http_retries=0)


def _instance(name: str, home: Path) -> Instance:
    db = open_database(f"sqlite:///{home / 'sakimori.db'}")
    key = identity.TokenKey.load(home / "token.key")
    tokens: dict[str, str] = {}
    for slug, (kind, people) in PEOPLE.items():
        create_organisation(db, slug, slug.title(), kind, [])
        for user, role, scopes in people:
            identity.create_user(db, user, organisation=slug, role=role)
            tokens[user] = identity.create_token(db, key, user, "t", scopes)[1]
    return Instance(name, home, db, key.secret, tokens)


def _publish(db: Database, title: str, tlp: str, audience: dict[str, Any]) -> int:
    value = content(title=title, tlp=tlp, audience=audience)
    view = package_service.create_draft(db, Content.from_dict(value), "bunseki")
    package_service.submit(db, view.id, "bunseki")
    return package_service.approve(db, view.id, "kanri").id


def _sighting(vulnerability: str, client: str) -> dict[str, Any]:
    seen = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    return {
        "client": client,
        "detector": "sigma",
        "rule": "r-1",
        "version": "1",
        "title": f"Exploitation attempt of {vulnerability}",
        "source": "local",
        "vulnerabilities": [vulnerability],
        "first_seen": seen.isoformat(),
        "last_seen": (seen + timedelta(minutes=5)).isoformat(),
        "count": 4,
    }


def _report_and_export(instance: Instance, vulnerability: str, client: str) -> list[Any]:
    """A member reports a sighting; staff export the sightings as STIX (TLP:AMBER)."""
    reported = httpx.post(
        f"{instance.base}/v1/sightings",
        json={"privacy": "truncate", "sightings": [_sighting(vulnerability, client)]},
        headers={"Authorization": f"Bearer {instance.tokens['bank-user']}"},
    )
    assert reported.status_code == 201, reported.text
    bundle = httpx.get(
        f"{instance.base}/v1/sightings/stix",
        params={"tlp": "AMBER"},
        headers={"Authorization": f"Bearer {instance.tokens['kanri']}"},
    ).json()
    objects: list[Any] = bundle["objects"]
    assert any(o["type"] == "sighting" for o in objects)
    return objects


def _serve_both(stack: ExitStack, *instances: Instance) -> list[str]:
    """Start the servers side by side (each takes seconds to come up), stopped with ``stack``."""
    inner = [stack.enter_context(ExitStack()) for _ in instances]
    with ThreadPoolExecutor(len(instances)) as pool:
        served = pool.map(
            lambda pair: pair[0].enter_context(sakimori_serve(pair[1].env())).base,
            zip(inner, instances, strict=True),
        )
        return list(served)


@dataclass
class Federation:
    a: Instance
    b: Instance
    ids: dict[str, int]
    a_sighting: list[Any]


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    a = _instance("a", tmp_path_factory.mktemp("a"))
    b = _instance("b", tmp_path_factory.mktemp("b"))
    keygen = subprocess.Popen(  # meanwhile: A's CSAF signing key
        [sys.executable, "-m", "sakimori", "csaf", "keygen", "--algorithm", "ed25519"],
        env=a.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    ids = {
        "green": _publish(
            a.db, "For the allies (GREEN)", "GREEN", {"organisations": ["allied-cert"]}
        ),
        "amber": _publish(a.db, "For the bank (AMBER)", "AMBER", {"organisations": ["city-bank"]}),
        "red": _publish(a.db, "For one person (RED)", "RED", {"people": ["bank-user"]}),
    }
    with ExitStack() as stack:
        stack.callback(a.db.dispose)
        stack.callback(b.db.dispose)
        stack.callback(csaf_signing.stop_agent, a.home / "csaf" / "gnupg")
        _, error = keygen.communicate(timeout=120)
        assert keygen.returncode == 0, error
        a.base, b.base = _serve_both(stack, a, b)
        shared = _report_and_export(a, "CVE-2021-35042", "203.0.113.0/24")
        status = Collection(
            a.collection_url(PARTNERS.id), auth=Bearer(a.tokens["kanri"])
        ).add_objects({"objects": shared})
        assert status.failure_count == 0, status.failures
        yield Federation(a, b, ids, shared)


def _pulled(instance: Instance, name: str) -> list[dict[str, Any]]:
    collection = taxii.pulled_collection(name).id
    with instance.db.transaction() as session:
        return list(
            session.scalars(
                select(models.TaxiiObjectRow.data).where(
                    models.TaxiiObjectRow.collection == collection
                )
            )
        )


def _stored(instance: Instance) -> int:
    with instance.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(models.TaxiiObjectRow)) or 0


def _add(f: Federation, name: str, alias: str, max_tlp: str, user: str = "allied") -> None:
    taxii_pull.add_source(
        f.b.db,
        f.b.key,
        name,
        f.a.collection_url(COLLECTION[alias].id),
        actor="kanri",
        secret=f.a.tokens[user],
        max_tlp=max_tlp,
    )


def _pull(f: Federation, name: str, limits: Limits | None = None) -> taxii_pull.PullReport:
    return taxii_pull.pull(f.b.db, f.b.settings(limits), name, server_key=f.b.key)


# -- A to B ----------------------------------------------------------------------------------------


def test_b_pulls_what_the_allies_may_read_and_no_more(federation: Federation) -> None:
    f = federation
    _add(f, "a-green", "packages-green", "GREEN")
    _add(f, "a-amber", "packages-amber", "AMBER")
    _add(f, "a-red", "packages-red", "AMBER+STRICT")
    green = _pull(f, "a-green")
    assert (_pull(f, "a-amber").received, _pull(f, "a-red").received) == (0, 0)
    objects = _pulled(f.b, "a-green")
    reports = [o["name"] for o in objects if o["type"] == "report"]
    assert reports == ["For the allies (GREEN)"]
    assert {o["type"] for o in objects} >= {"report", "vulnerability", "course-of-action"}
    held = json.dumps(objects)
    assert "For the bank (AMBER)" not in held
    assert "For one person (RED)" not in held
    # A's coordinator identity carries no marking: taken as AMBER, above this source's GREEN
    assert green.refused == {"unmarked (taken as TLP:AMBER), above this source's TLP:GREEN": 1}
    assert _pulled(f.b, "a-amber") == _pulled(f.b, "a-red") == []


def test_the_sighting_comes_as_far_as_tlp_allows(federation: Federation) -> None:
    f = federation
    _add(f, "a-partners", "coordination-partners", "AMBER")
    _add(f, "a-partners-green", "coordination-partners", "GREEN")
    wide = _pull(f, "a-partners")
    narrow = _pull(f, "a-partners-green")
    assert wide.refused == {}
    assert _pull(f, "a-partners").stored == 0  # observables (no version) are not stored twice
    assert {o["type"] for o in _pulled(f.b, "a-partners")} >= {
        "sighting", "observed-data", "ipv4-addr", "vulnerability"
    }  # fmt: skip
    sightings = [o for o in _pulled(f.b, "a-partners") if o["type"] == "sighting"]
    shared = [o for o in f.a_sighting if o["type"] == "sighting"]
    assert {s["id"] for s in sightings} == {s["id"] for s in shared}
    assert sightings[0]["count"] == 4
    assert [o for o in _pulled(f.b, "a-partners-green") if o["type"] == "sighting"] == []
    assert narrow.refused.get("TLP:AMBER, above this source's TLP:GREEN", 0) >= 1


def test_b_staff_read_what_was_pulled_through_b_taxii_and_members_do_not(
    federation: Federation,
) -> None:
    f = federation
    _add(f, "a-green-2", "packages-green", "GREEN")
    _pull(f, "a-green-2")
    pulled = taxii.pulled_collection("a-green-2")
    root = ApiRoot(f"{f.b.base}/taxii2/api/", auth=Bearer(f.b.tokens["kanri"]))
    found = next(c for c in root.collections if c.id == pulled.id)
    assert (found.can_read, found.can_write) == (True, False)
    pages = list(as_pages(found.get_objects, per_request=3))
    assert len(pages) > 1
    served = sorted(o["id"] for p in pages for o in p.get("objects", []))
    assert served == sorted(o["id"] for o in _pulled(f.b, "a-green-2"))
    member = ApiRoot(f"{f.b.base}/taxii2/api/", auth=Bearer(f.b.tokens["bank-user"]))
    assert pulled.id not in {c.id for c in member.collections}
    answer = httpx.get(f"{f.b.collection_url(pulled.id)}objects/", headers=f.b.headers("bank-user"))
    assert answer.status_code == 404
    assert answer.json()["http_status"] == "404"
    added = httpx.post(
        f"{f.b.collection_url(pulled.id)}objects/",
        content=json.dumps({"objects": [f.a_sighting[-1]]}),
        headers={**f.b.headers("kanri"), "Content-Type": taxii.MEDIA_TYPE},
    )
    assert added.status_code == 403
    assert "nobody adds objects" in added.json()["description"]


def test_b_fetches_the_green_advisory_over_csaf(federation: Federation) -> None:
    f = federation
    report = csaf_fetch.fetch_provider(
        f.b.db,
        f.a.base,
        f.b.settings(),
        labels=csaf_fetch.labels_of("CLEAR,GREEN"),
        token=f.a.tokens["allied"],
    )
    assert report.changes.added == 1
    with f.b.db.transaction() as session:
        summaries = session.scalars(
            select(models.Advisory.summary).where(models.Advisory.source == report.source)
        ).all()
    assert summaries == ["For the allies (GREEN)"]


# -- B to A ----------------------------------------------------------------------------------------


def test_b_adds_its_sightings_to_a_and_a_reads_them(federation: Federation) -> None:
    f = federation
    mine = _report_and_export(f.b, "CVE-2024-3400", "198.51.100.0/24")
    sighting = next(o for o in mine if o["type"] == "sighting")
    before = _stored(f.a)
    readonly = Collection(f.a.collection_url(PARTNERS.id), auth=Bearer(f.a.tokens["allied-reader"]))
    with pytest.raises(requests.HTTPError) as raised:
        readonly.add_objects({"objects": mine})
    assert raised.value.response.status_code == 403
    assert "'write' scope" in raised.value.response.json()["description"]
    assert _stored(f.a) == before

    partner = Collection(f.a.collection_url(PARTNERS.id), auth=Bearer(f.a.tokens["allied"]))
    status = partner.add_objects({"objects": mine})
    assert status.status == "complete"
    assert sighting["id"] in {s["id"] for s in status.successes}
    staff = Collection(f.a.collection_url(PARTNERS.id), auth=Bearer(f.a.tokens["kanri"]))
    seen = staff.get_objects(type="sighting")["objects"]
    assert sighting["id"] in {o["id"] for o in seen}


def test_refused_with_a_reason_and_nothing_imported(federation: Federation) -> None:
    f = federation
    # an envelope larger than A accepts
    before = _stored(f.a)
    one = dict(f.a_sighting[-1], description="x" * 400)
    body = json.dumps({"objects": [one] * (700_000 // len(json.dumps(one)))})
    assert taxii.MAX_CONTENT_LENGTH < len(body) < 1024 * 1024  # above TAXII's, below the API's
    answer = httpx.post(
        f"{f.a.collection_url(PARTNERS.id)}objects/",
        content=body,
        headers={**f.a.headers("allied"), "Content-Type": taxii.MEDIA_TYPE},
    )
    assert answer.status_code == 413
    assert "larger than the limit" in answer.json()["description"]
    assert _stored(f.a) == before
    # a page larger than B accepts
    _add(f, "a-big", "coordination-partners", "AMBER")
    with pytest.raises(LimitExceeded) as too_big:
        _pull(f, "a-big", Limits(max_bytes=2_000))
    assert "more than the limit of 2,000" in too_big.value.diagnostics()
    assert _pulled(f.b, "a-big") == []
    # a collection B may not read: one A pulls for its own staff (404: it does not exist for B)
    taxii_pull.add_source(f.a.db, f.a.key, "b-feed", f.b.collection_url(PARTNERS.id), actor="kanri")
    hidden = taxii.pulled_collection("b-feed")
    taxii_pull.add_source(
        f.b.db, f.b.key, "a-hidden", f.a.collection_url(hidden.id), actor="kanri",
        secret=f.a.tokens["allied"],
    )  # fmt: skip
    with pytest.raises(SourceUnavailable) as refused:
        _pull(f, "a-hidden")
    assert f"no collection {hidden.id}" in refused.value.diagnostics()
    assert _pulled(f.b, "a-hidden") == []
    view = next(v for v in taxii_pull.list_sources(f.b.db) if v.name == "a-hidden")
    assert view.added_after is None
    assert "404" in (view.last_error or "")
