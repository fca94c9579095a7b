"""Pulling a partner's TAXII 2.1 collection (``sakimori.services.taxii_pull``) from a real
``sakimori serve`` (partner A, on PostgreSQL) into this instance (B: a database of its own):
paging with ``limit`` and ``next``, the cursor, resuming an interrupted pull without duplicates
or loss, the TLP rule for pulled objects, failures that leave everything as it was, the
schedule (``taxii.pull`` run by a real worker), and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from sakimori.config import Settings
from sakimori.errors import Conflict, InvalidInput, LimitExceeded, SakimoriError, SourceUnavailable
from sakimori.formats.limits import Limits
from sakimori.packages import stix, taxii
from sakimori.packages.model import Tlp
from sakimori.services import identity, taxii_pull
from sakimori.services.identity import TokenKey
from sakimori.services.organisations import create_organisation
from sakimori.store import models
from sakimori.store.db import Database, open_database
from tests.conftest import postgres_database
from tests.packages.conftest import Platform
from tests.serving import free_port, sakimori_serve

PARTNERS = next(c for c in taxii.COLLECTIONS if c.alias == "coordination-partners")
GREEN = stix.TLP2_MARKING_IDS[Tlp.GREEN]
AMBER = stix.TLP2_MARKING_IDS[Tlp.AMBER]
#: What A's partners collection holds: three envelopes (three dates added).
ENVELOPES: list[list[int]] = [
    list(range(400)),
    [*range(400, 800), 900, 901, 902, 910, 911],
    list(range(1000, 1400)),
]
AMBER_IDS = [900, 901, 902]
UNMARKED_IDS = [910, 911]
GREEN_IDS = [n for batch in ENVELOPES for n in batch if n not in {*AMBER_IDS, *UNMARKED_IDS}]


def indicator(n: int) -> dict[str, Any]:
    marking = [] if n in UNMARKED_IDS else [AMBER if n in AMBER_IDS else GREEN]
    made: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--0b7e5a52-0000-4000-8000-{n:012d}",
        "created": "2026-11-01T00:00:00.000Z",
        "modified": "2026-11-01T00:00:00.000Z",
        "name": f"scanner {n}",
        "pattern": f"[ipv4-addr:value = '198.51.100.{n % 250}']",
        "pattern_type": "stix",
        "valid_from": "2026-11-01T00:00:00Z",
    }
    if marking:
        made["object_marking_refs"] = marking
    return made


@contextmanager
def light_platform(home: Path) -> Iterator[Platform]:
    """A on PostgreSQL with only what TAXII needs: the coordinator, a partner, a member."""
    with postgres_database() as url:
        db = open_database(url)
        try:
            key = identity.TokenKey.load(home / "token.key")
            platform = Platform(db, home, key)
            for slug, kind, user, role in (
                ("coordination", "coordinator", "kanri", "coordinator_admin"),
                ("allied-cert", "partner", "allied", "partner"),
                ("city-bank", "operator", "bank-user", "member_user"),
            ):
                create_organisation(db, slug, slug.title(), kind, [])
                identity.create_user(db, user, organisation=slug, role=role)
                platform.tokens[user] = identity.create_token(
                    db, key, user, "t", ["read", "write"]
                )[1]
            yield platform
        finally:
            db.dispose()


@dataclass
class PartnerA:
    base: str
    platform: Platform
    #: A's own X-TAXII-Date-Added-Last of its partners collection, read by hand.
    last_added: str

    @property
    def url(self) -> str:
        return f"{self.base}/taxii2/api/collections/{PARTNERS.id}/"


def _post(base: str, token: str, objects: list[dict[str, Any]]) -> None:
    answer = httpx.post(
        f"{base}/taxii2/api/collections/{PARTNERS.id}/objects/",
        content=json.dumps({"objects": objects}),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": taxii.MEDIA_TYPE,
            "Accept": taxii.MEDIA_TYPE,
        },
        timeout=60,
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["failure_count"] == 0


@pytest.fixture(scope="module")
def partner_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PartnerA]:
    home = tmp_path_factory.mktemp("a")
    with light_platform(home) as platform:
        env = {
            **os.environ,
            "SAKIMORI_HOME": str(home),
            "SAKIMORI_DATABASE_URL": platform.db.engine.url.render_as_string(hide_password=False),
        }
        with sakimori_serve(env) as server:
            for batch in ENVELOPES:
                _post(server.base, platform.tokens["allied"], [indicator(n) for n in batch])
            manifest = httpx.get(
                f"{server.base}/taxii2/api/collections/{PARTNERS.id}/manifest/",
                params={"added_after": "2026-01-01T00:00:00Z", "match[id]": indicator(1399)["id"]},
                headers={"Authorization": f"Bearer {platform.tokens['kanri']}"},
            )
            last = manifest.headers["X-TAXII-Date-Added-Last"]
            yield PartnerA(server.base, platform, last)


@dataclass
class InstanceB:
    db: Database
    settings: Settings
    key: bytes


def _instance_b(home: Path, url: str, limits: Limits | None = None) -> InstanceB:
    db = open_database(url)
    settings = Settings(home=home, database_url=url, limits=limits or Limits(), http_retries=0)
    return InstanceB(db, settings, TokenKey.load(home / "token.key").secret)


@pytest.fixture
def b(tmp_path: Path) -> Iterator[InstanceB]:
    made = _instance_b(tmp_path, f"sqlite:///{tmp_path / 'b.db'}")
    yield made
    made.db.dispose()


def _pulled(db: Database, name: str) -> list[tuple[str, str, dict[str, Any]]]:
    collection = taxii.pulled_collection(name).id
    with db.transaction() as session:
        rows = session.scalars(
            select(models.TaxiiObjectRow).where(models.TaxiiObjectRow.collection == collection)
        ).all()
        return [(r.object_id, r.version, r.data) for r in rows]


def _source(db: Database, name: str) -> taxii_pull.SourceView:
    return next(v for v in taxii_pull.list_sources(db) if v.name == name)


def _add(b: InstanceB, a: PartnerA, name: str, user: str = "allied", **more: Any) -> None:
    taxii_pull.add_source(
        b.db, b.key, name, a.url, actor="kanri-b", secret=a.platform.tokens[user], **more
    )


# -- sources ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "url", "more", "said"),
    [
        ("Bad Name", "https://cert.example/taxii2/api/collections/x/", {}, "short name"),
        ("plain", "http://cert.example/taxii2/api/collections/x/", {}, "plain http"),
        ("nocoll", "https://cert.example/taxii2/api/", {}, "not a TAXII collection"),
        ("red", "https://cert.example/taxii2/api/collections/x/", {"max_tlp": "RED"}, "RED"),
        ("tlp", "https://cert.example/taxii2/api/collections/x/", {"max_tlp": "PINK"}, "PINK"),
        ("often", "https://cert.example/taxii2/api/collections/x/", {"every": 1}, "interval"),
        ("user", "https://cert.example/taxii2/api/collections/x/", {"user": "u"}, "password"),
        ("inurl", "https://u:p@cert.example/taxii2/api/collections/x/", {}, "not in the URL"),
    ],
)
def test_bad_sources_are_refused_and_nothing_is_written(
    b: InstanceB, name: str, url: str, more: dict[str, Any], said: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        taxii_pull.add_source(b.db, b.key, name, url, actor="kanri-b", **more)
    assert said in raised.value.diagnostics()
    assert taxii_pull.list_sources(b.db) == []


def test_a_source_is_stored_with_its_secret_sealed(b: InstanceB, partner_a: PartnerA) -> None:
    _add(b, partner_a, "a-partners")
    with pytest.raises(Conflict):
        _add(b, partner_a, "a-partners")
    view = _source(b.db, "a-partners")
    assert (view.max_tlp, view.interval_minutes, view.has_secret) == ("GREEN", 60, True)
    assert view.collection_alias == "partner-a-partners"
    with b.db.transaction() as session:
        sealed = session.scalar(select(models.TaxiiSourceRow.sealed_secret))
    token = partner_a.platform.tokens["allied"]
    assert sealed is not None
    assert token.encode() not in sealed
    assert token.split("_")[-1].encode() not in sealed


# -- the pull --------------------------------------------------------------------------------------


def test_an_interrupted_pull_resumes_without_duplicates_or_loss(
    partner_a: PartnerA, tmp_path: Path
) -> None:
    with postgres_database() as url:
        b = _instance_b(tmp_path, url)
        try:
            _add(b, partner_a, "a-partners")
            first = taxii_pull.pull(b.db, b.settings, "a-partners", server_key=b.key, max_pages=1)
            assert first.pages == 1
            assert first.received == taxii.MAX_LIMIT  # Sakimori gives 500 of the 1,000 asked
            held_after_one = _pulled(b.db, "a-partners")
            assert 0 < len(held_after_one) <= taxii.MAX_LIMIT
            cursor = _source(b.db, "a-partners").added_after
            assert cursor is not None
            assert cursor < partner_a.last_added

            rest = taxii_pull.pull(b.db, b.settings, "a-partners", server_key=b.key)
            held = _pulled(b.db, "a-partners")
            ids = [ident for ident, _, _ in held]
            assert len(ids) == len(set(ids)), "an object was stored twice"
            assert sorted(ids) == sorted(indicator(n)["id"] for n in GREEN_IDS)
            served = httpx.get(
                f"{partner_a.url}objects/{indicator(7)['id']}/",
                headers={"Authorization": f"Bearer {partner_a.platform.tokens['kanri']}"},
            ).json()["objects"]
            assert [{ident: data for ident, _, data in held}[indicator(7)["id"]]] == served
            assert rest.refused == {
                "TLP:AMBER, above this source's TLP:GREEN": len(AMBER_IDS),
                "unmarked (taken as TLP:AMBER), above this source's TLP:GREEN": 2,
            }
            view = _source(b.db, "a-partners")
            assert view.added_after == partner_a.last_added
            assert (view.last_error, view.last_count) == (None, rest.stored)

            again = taxii_pull.pull(b.db, b.settings, "a-partners", server_key=b.key)
            assert again.stored == 0
            assert len(_pulled(b.db, "a-partners")) == len(GREEN_IDS)
        finally:
            b.db.dispose()


def test_a_source_allowing_amber_takes_amber_and_unmarked_objects(
    b: InstanceB, partner_a: PartnerA
) -> None:
    _add(b, partner_a, "a-amber", max_tlp="AMBER")
    report = taxii_pull.pull(b.db, b.settings, "a-amber", server_key=b.key)
    assert report.refused == {}
    assert report.pages == 3
    assert len(_pulled(b.db, "a-amber")) == sum(len(batch) for batch in ENVELOPES)


@pytest.mark.parametrize(
    ("how", "error", "said"),
    [
        ("bad-token", SourceUnavailable, "401"),
        ("member", SourceUnavailable, "may not read coordination-partners"),
        ("oversized", LimitExceeded, "more than the limit of 50,000"),
        ("unreachable", SourceUnavailable, "ConnectionError"),
    ],
)
def test_a_failing_partner_leaves_everything_as_it_was(
    partner_a: PartnerA, tmp_path: Path, how: str, error: type[Exception], said: str
) -> None:
    limits = Limits(max_bytes=50_000) if how == "oversized" else None
    b = _instance_b(tmp_path, f"sqlite:///{tmp_path / 'b.db'}", limits)
    try:
        url = partner_a.url
        secret = partner_a.platform.tokens["allied"]
        if how == "bad-token":
            secret = secret[:-4] + "AAAA"
        elif how == "member":
            secret = partner_a.platform.tokens["bank-user"]
        elif how == "unreachable":
            url = f"http://127.0.0.1:{free_port()}/taxii2/api/collections/{PARTNERS.id}/"
        taxii_pull.add_source(b.db, b.key, "a", url, actor="kanri-b", secret=secret)
        with pytest.raises(error) as raised:
            taxii_pull.pull(b.db, b.settings, "a", server_key=b.key)
        message = raised.value.diagnostics()  # type: ignore[attr-defined]
        assert said in message
        assert "Traceback" not in message
        view = _source(b.db, "a")
        assert view.added_after is None
        assert view.last_error == message
        assert view.last_pulled_at is not None
        assert _pulled(b.db, "a") == []
    finally:
        b.db.dispose()


def test_due_sources_are_pulled_and_a_failing_one_does_not_stop_the_others(
    b: InstanceB, partner_a: PartnerA
) -> None:
    _add(b, partner_a, "a-ok", every=5)
    taxii_pull.add_source(
        b.db,
        b.key,
        "a-down",
        f"http://127.0.0.1:{free_port()}/taxii2/api/collections/x/",
        actor="kanri-b",
    )
    assert taxii_pull.due(b.db) == ["a-down", "a-ok"]
    reports = {r.source: r for r in taxii_pull.pull_due(b.db, b.settings, server_key=b.key)}
    assert reports["a-ok"].error is None
    assert reports["a-ok"].stored == len(GREEN_IDS)
    assert "ConnectionError" in (reports["a-down"].error or "")
    assert taxii_pull.due(b.db) == []  # both were tried just now
    later = _source(b.db, "a-ok").last_pulled_at
    assert later is not None
    from datetime import timedelta

    assert taxii_pull.due(b.db, later + timedelta(minutes=5)) == ["a-ok"]
    assert taxii_pull.due(b.db, later + timedelta(minutes=60)) == ["a-down", "a-ok"]


# -- the CLI and the worker -----------------------------------------------------------------------


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sakimori", *args],
        env={
            **os.environ,
            "SAKIMORI_HOME": str(home),
            "SAKIMORI_DATABASE_URL": f"sqlite:///{home / 'b.db'}",
            "SAKIMORI_HTTP_RETRIES": "0",
        },
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_cli_and_the_scheduled_job(partner_a: PartnerA, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(partner_a.platform.tokens["allied"] + "\n")
    added = _cli(
        tmp_path, "taxii", "source", "add", "a-partners", partner_a.url,
        "--token-file", str(token_file), "--max-tlp", "amber", "--every", "30",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "into collection partner-a-partners" in added.stdout
    refused = _cli(tmp_path, "taxii", "source", "add", "x", "http://cert.example/c/collections/1/")
    assert refused.returncode == 2
    assert "plain http" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    # the worker runs a queued taxii.pull job: every due source is pulled
    from sakimori.jobs.handlers import TAXII_PULL
    from sakimori.jobs.interface import enqueue

    db = open_database(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        with db.transaction() as session:
            enqueue(session, TAXII_PULL, {}, "taxii.pull@test", max_attempts=1)
        worked = _cli(tmp_path, "worker", "--once")
        assert worked.returncode == 0, worked.stderr
        assert len(_pulled(db, "a-partners")) == sum(len(batch) for batch in ENVELOPES)
        with db.transaction() as session:
            state = session.scalar(
                select(models.JobRow.state).where(models.JobRow.name == TAXII_PULL)
            )
        assert state == "done"
    finally:
        db.dispose()

    pulled = _cli(tmp_path, "taxii", "pull", "a-partners")
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.startswith("a-partners: 1 pages, ")
    assert " 0 stored, " in pulled.stdout
    listed = _cli(tmp_path, "taxii", "source", "list")
    assert "a-partners\t" in listed.stdout
    assert "TLP:AMBER\tevery 30 min\tactive" in listed.stdout
    assert f"after {partner_a.last_added}" in listed.stdout
    removed = _cli(tmp_path, "taxii", "source", "remove", "a-partners")
    assert removed.returncode == 0, removed.stderr
    assert f"with the {sum(len(batch) for batch in ENVELOPES)} objects" in removed.stdout
    with open_database(f"sqlite:///{tmp_path / 'b.db'}").transaction() as session:
        assert session.scalar(select(func.count()).select_from(models.TaxiiObjectRow)) == 0


def test_a_scheduling_worker_enqueues_the_pull_once_per_period(tmp_path: Path) -> None:
    import threading
    import time

    from sakimori.cli.worker import _schedule
    from sakimori.jobs.handlers import TAXII_PULL

    url = f"sqlite:///{tmp_path / 'schedule.db'}"
    db = open_database(url)
    done = threading.Event()

    def keys() -> list[str]:
        with db.transaction() as session:
            found = session.scalars(
                select(models.JobRow.key).where(models.JobRow.name == TAXII_PULL)
            )
            return list(found)

    try:
        config = Settings(home=tmp_path, database_url=url)
        threads = [threading.Thread(target=_schedule, args=(db, config, 5, done)) for _ in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20  # a bound on waiting, not an assertion on speed
        while time.monotonic() < deadline and not keys():
            time.sleep(0.05)
        time.sleep(0.5)
        done.set()
        for thread in threads:
            thread.join(timeout=20)
        (key,) = keys()  # two scheduling workers: one job for the period
        assert key.startswith(f"{TAXII_PULL}@")
    finally:
        db.dispose()


# -- another server than Sakimori: HTTP Basic, no ``next``, and answers that are not TAXII ---------


@dataclass
class Scripted:
    """What a small loopback server answers, and what it was asked."""

    answers: list[tuple[int, str, bytes, dict[str, str]]]
    asked: list[tuple[str, str | None]]


@pytest.fixture
def scripted() -> Iterator[tuple[str, Scripted]]:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state = Scripted([], [])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.asked.append((self.path, self.headers.get("Authorization")))
            status, kind, body, headers = state.answers.pop(0)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api1/collections/c1/", state
    finally:
        server.shutdown()
        server.server_close()


def test_basic_credentials_a_server_without_next_and_answers_that_are_not_taxii(
    b: InstanceB, scripted: tuple[str, Scripted]
) -> None:
    import base64

    url, state = scripted
    taxii_pull.add_source(
        b.db, b.key, "other", url, actor="kanri-b", user="cert-b", secret="s3cret", max_tlp="AMBER"
    )
    first = {"more": True, "objects": [indicator(1), indicator(2)]}
    second = {"more": False, "objects": [indicator(3)]}
    stamps = ("2026-11-02T00:00:00.000000Z", "2026-11-03T00:00:00.000000Z")
    state.answers = [
        (200, taxii.MEDIA_TYPE, json.dumps(page).encode(), {"X-TAXII-Date-Added-Last": stamp})
        for page, stamp in zip((first, second), stamps, strict=True)
    ]
    report = taxii_pull.pull(b.db, b.settings, "other", server_key=b.key)
    assert (report.pages, report.stored) == (2, 3)
    expected = "Basic " + base64.b64encode(b"cert-b:s3cret").decode()
    assert [auth for _, auth in state.asked] == [expected, expected]
    # no next: the second request continues after the first page's last date added
    assert "added_after=2026-11-02T00" in state.asked[1][0]
    assert "next=" not in state.asked[1][0]
    assert _source(b.db, "other").added_after == stamps[1]

    before = len(_pulled(b.db, "other"))
    for answer, said in [
        ((200, "text/html", b"<html>hello</html>", {}), "Content-Type"),
        ((200, taxii.MEDIA_TYPE, b'{"more": "yes", "objects": {}}', {}), "not a TAXII envelope"),
        ((503, "text/plain", b"down", {}), "503"),
    ]:
        state.answers = [answer]
        with pytest.raises(SakimoriError) as raised:
            taxii_pull.pull(b.db, b.settings, "other", server_key=b.key)
        assert said in raised.value.diagnostics()
        assert _source(b.db, "other").added_after == stamps[1]
        assert len(_pulled(b.db, "other")) == before
