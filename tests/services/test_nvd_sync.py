"""``intel sync-nvd`` (``services/nvd_sync.py``) against an NVD-shaped API on 127.0.0.1 serving
the 60 real records (``tests/intel/nvd_server.py``), on SQLite and PostgreSQL: a first sync, the
findings it brings, a failure midway and its resumption, an incremental run, a record changed
upstream, a bad record, and an API key that is sent but never kept or shown; then the command.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, select

from sakimori.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    MalformedDocument,
    SourceUnavailable,
)
from sakimori.formats.limits import Limits
from sakimori.intel.nvd_api import Checkpoint, NvdApi, plan_windows
from sakimori.services.nvd_sync import OVERLAP, NvdSyncReport, PageReport, read_api_key, sync_nvd
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.services.tracking import upload_inventory
from sakimori.store import models
from sakimori.store.db import Database, open_database
from tests.cli.conftest import Cli
from tests.intel.nvd_server import FakeClock, FakeNvd, load_records, modified, serve_nvd

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
SINCE = datetime(2023, 1, 1, tzinfo=UTC)
KEY = "c0ffee42-5e1f-4d1a-9b7e-nvd-test-key"  # the fake key the server accepts
WRONG = "deadbeef-0000-4000-8000-wrong-key"  # a key it refuses (and echoes, as NVD does)
ASSET = "river-power/vpn-gateway"
FORTIOS = "cpe:2.3:o:fortinet:fortios:7.0.1:*:*:*:*:*:*:*"
CVE = "CVE-2024-21762"
WANTED = f"pkg:CPE/o:fortinet:fortios@7.0.1#{CVE}"


class Wall:
    """The sync's clock (what "now" is), moved by the tests."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return load_records()


@pytest.fixture
def fake(records: list[dict[str, Any]]) -> FakeNvd:
    return FakeNvd(copy.deepcopy(records), FakeClock())


@pytest.fixture
def url(fake: FakeNvd) -> Iterator[str]:
    with serve_nvd(fake) as address:
        yield address


@pytest.fixture
def make_api(url: str, fake: FakeNvd) -> Iterator[Callable[..., NvdApi]]:
    with httpx.Client(timeout=5.0, trust_env=False) as client:

        def make(**options: Any) -> NvdApi:
            options.setdefault("results_per_page", 7)
            clock = fake.clock
            return NvdApi(client, base_url=url, clock=clock, sleep=clock.sleep, **options)

        yield make


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def wall() -> Wall:
    return Wall()


def stored_ids(db: Database) -> list[str]:
    with db.transaction() as session:
        return sorted(session.scalars(select(models.NvdRecordRow.cve_id)))


def source(db: Database) -> models.IntelSource | None:
    with db.transaction() as session:
        return session.get(models.IntelSource, "nvd-api")


def the_source(db: Database) -> models.IntelSource:
    row = source(db)
    assert row is not None
    return row


def utc(moment: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes (stored in UTC); PostgreSQL aware ones."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def checkpoint_of(row: models.IntelSource) -> tuple[datetime, datetime, int]:
    checkpoint = Checkpoint.from_dict(row.detail["checkpoint"])
    return checkpoint.window_start, checkpoint.window_end, checkpoint.next_index


def with_product(db: Database, tmp_path: Path) -> None:
    """An asset whose inventory is a products CSV naming FortiOS 7.0.1."""
    create_organisation(db, "river-power", "River Power", "operator", ["electric_power"])
    create_asset(db, ASSET, "Remote access", "critical", internet_facing=True)
    products = tmp_path / "products.csv"
    products.write_text(f"cpe\n{FORTIOS}\n")
    upload_inventory(db, ASSET, products, "ops", Limits())


def fortios_findings(db: Database) -> dict[str, models.Finding]:
    with db.transaction() as session:
        rows = session.scalars(select(models.Finding).where(models.Finding.kind == "package"))
        return {row.key: row for row in rows if row.key.startswith("pkg:CPE/o:fortinet:fortios@")}


def transitions(db: Database) -> int:
    with db.transaction() as session:
        return len(session.scalars(select(models.FindingTransition.id)).all())


def everything_stored(db: Database, database_url: str) -> str:
    """Every row of every table of the database (as it is, reflected), as text; for SQLite
    also the raw bytes of its files."""
    tables = MetaData()
    tables.reflect(bind=db.engine)
    parts = []
    with db.engine.connect() as connection:
        for table in tables.sorted_tables:
            parts.append(repr(connection.execute(select(table)).all()))
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        for file in path.parent.glob(path.name + "*"):
            parts.append(file.read_bytes().decode("latin-1"))
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------------
# A first sync


def test_a_first_sync_stores_every_record_and_records_the_source(
    db: Database,
    make_api: Callable[..., NvdApi],
    fake: FakeNvd,
    wall: Wall,
    url: str,
    records: list[dict[str, Any]],
) -> None:
    told: list[PageReport | None] = []

    def progress(report: NvdSyncReport, page: PageReport | None) -> None:
        told.append(page)

    report = sync_nvd(db, make_api(), since=SINCE, clock=wall, progress=progress)
    assert stored_ids(db) == sorted(r["id"] for r in records)
    assert (report.received, report.added, report.updated, report.records) == (60, 60, 0, 60)
    assert (report.since, report.until, report.resumed) == (SINCE, NOW, None)
    # Every page asked for once; the progress says which page each one was.
    asked = [q.position for q in fake.requests]
    assert len(asked) == len(set(asked)) == report.pages
    assert {(q.start, q.end) for q in fake.requests} == set(plan_windows(SINCE, NOW))
    assert told[0] is None
    pages = [p for p in told[1:] if p is not None]
    assert [(p.window_start, p.window_end, p.start_index) for p in pages] == asked
    assert sum(p.records for p in pages) == 60
    row = the_source(db)
    assert (row.kind, row.location, row.record_count) == ("nvd", url, 60)
    assert utc(row.checked_at) == utc(row.changed_at) == NOW
    assert row.detail == {
        "checkpoint": None,
        "since": "2023-01-01T00:00:00.000Z",
        "synced_until": "2026-11-30T12:00:00.000Z",
        "last_error": None,
        "failed_at": None,
    }


def test_without_since_and_without_records_it_asks_for_since(
    db: Database, make_api: Callable[..., NvdApi], fake: FakeNvd, wall: Wall
) -> None:
    with pytest.raises(InvalidInput) as caught:
        sync_nvd(db, make_api(), clock=wall)
    message = caught.value.diagnostics()
    assert "--since" in message
    assert "300,000 records" in message
    assert "sakimori intel load" in message
    assert fake.requests == []
    assert source(db) is None


def test_findings_appear_when_the_sync_brings_the_records(
    db: Database, make_api: Callable[..., NvdApi], wall: Wall, tmp_path: Path
) -> None:
    with_product(db, tmp_path)
    assert fortios_findings(db) == {}
    report = sync_nvd(db, make_api(), since=SINCE, clock=wall)
    found = fortios_findings(db)
    assert WANTED in found
    assert found[WANTED].state == "open"
    assert found[WANTED].records == [f"NVD:{CVE}"]
    assert {row.state for row in found.values()} == {"open"}
    assert report.findings.opened == len(found)
    assert (report.findings.closed, report.findings.reopened) == (0, 0)


# ----------------------------------------------------------------------------------------------
# Interrupted, resumed


def test_a_failure_midway_is_resumed_where_it_stopped(
    db: Database,
    make_api: Callable[..., NvdApi],
    fake: FakeNvd,
    wall: Wall,
    records: list[dict[str, Any]],
) -> None:
    failing: list[tuple[datetime, datetime, int]] = []

    def fault(server: FakeNvd, request: Any) -> tuple[int, bytes, dict[str, str]] | None:
        if request.index == 14 or failing:  # the third page of the big window, and all after
            failing.append(request.position)
            return 500, b"oops", {}
        return None

    fake.hook = fault
    with pytest.raises(SourceUnavailable, match="HTTP 500") as caught:
        sync_nvd(db, make_api(retries=2), since=SINCE, clock=wall)
    assert len(failing) == 3  # the request and its two retries
    first_run = list(fake.answered)
    stored = sorted(cve_id for _, ids in first_run for cve_id in ids)
    assert 14 < len(stored) < 60
    assert stored_ids(db) == stored
    row = the_source(db)
    assert row.record_count == len(stored)
    assert checkpoint_of(row) == failing[0]
    assert row.detail["last_error"] == caught.value.diagnostics()
    assert row.detail["failed_at"] == "2026-11-30T12:00:00.000Z"
    assert row.detail["synced_until"] is None  # no run has completed

    fake.hook = None  # NVD is well again; the next run comes later and resumes
    wall.now = NOW + timedelta(hours=3)
    before = len(fake.requests)
    report = sync_nvd(db, make_api(), clock=wall)
    second_run = fake.requests[before:]
    assert report.resumed is not None
    assert (report.resumed.window_start, report.resumed.window_end, report.resumed.next_index) == (
        failing[0]
    )
    assert second_run[0].position == failing[0]
    assert not {q.position for q in second_run} & {q.position for q, _ in first_run}
    assert all(q.end <= NOW for q in second_run)  # the interrupted run's range
    # None lost, none stored twice.
    assert report.received == report.added == 60 - len(stored)
    assert report.updated == 0
    assert stored_ids(db) == sorted(r["id"] for r in records)
    row = the_source(db)
    assert row.record_count == 60
    assert row.detail["checkpoint"] is None
    assert row.detail["last_error"] is None
    assert row.detail["synced_until"] == "2026-11-30T12:00:00.000Z"


def test_a_checkpoint_is_resumed_only_with_its_own_range(
    db: Database, make_api: Callable[..., NvdApi], fake: FakeNvd, wall: Wall
) -> None:
    fake.hook = lambda server, request: (503, b"", {}) if request.index == 7 else None
    with pytest.raises(SourceUnavailable):
        sync_nvd(db, make_api(retries=0), since=SINCE, clock=wall)
    kept = checkpoint_of(the_source(db))
    fake.hook = None
    before = len(fake.requests)
    with pytest.raises(Conflict, match="interrupted NVD sync of 2023-01-01"):
        sync_nvd(db, make_api(), since=SINCE + timedelta(days=1), clock=wall)
    assert len(fake.requests) == before
    assert checkpoint_of(the_source(db)) == kept
    # The same --since resumes; --restart starts the asked-for range afresh.
    report = sync_nvd(db, make_api(), since=SINCE, clock=wall)
    assert report.resumed is not None
    assert fake.requests[before].position == kept
    report = sync_nvd(db, make_api(), since=SINCE, restart=True, clock=wall)
    assert report.resumed is None
    assert (report.received, report.added, report.updated) == (60, 0, 0)


def test_an_incremental_run_asks_only_for_the_new_window(
    db: Database,
    make_api: Callable[..., NvdApi],
    fake: FakeNvd,
    wall: Wall,
    records: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    with_product(db, tmp_path)
    sync_nvd(db, make_api(), since=SINCE, clock=wall)
    found, moves = fortios_findings(db), transitions(db)
    before = len(fake.requests)
    wall.now = NOW + timedelta(hours=2)
    report = sync_nvd(db, make_api(), clock=wall)
    newest = max(modified(r) for r in records)
    assert [q.position for q in fake.requests[before:]] == [(newest - OVERLAP, wall.now, 0)]
    assert (report.since, report.until) == (newest - OVERLAP, wall.now)
    assert report.received == 1  # the newest record itself, asked for again and unchanged
    assert (report.added, report.updated, report.records) == (0, 0, 60)
    assert fortios_findings(db).keys() == found.keys()
    assert transitions(db) == moves
    row = the_source(db)
    assert utc(row.changed_at) == NOW
    assert utc(row.checked_at) == wall.now
    assert row.detail["synced_until"] == "2026-11-30T14:00:00.000Z"


def test_a_record_changed_upstream_closes_its_finding(
    db: Database,
    make_api: Callable[..., NvdApi],
    fake: FakeNvd,
    wall: Wall,
    tmp_path: Path,
) -> None:
    with_product(db, tmp_path)
    sync_nvd(db, make_api(), since=SINCE, clock=wall)
    before = fortios_findings(db)
    assert before[WANTED].state == "open"
    others = {k for k in before if k != WANTED}
    assert others
    # NVD narrows FortiOS 7.0.x to start at 7.0.2 (7.0.1 is no longer affected).
    index = next(i for i, r in enumerate(fake.records) if r["id"] == CVE)
    changed = copy.deepcopy(fake.records[index])
    narrowed = 0
    for configuration in changed["configurations"]:
        for node in configuration["nodes"]:
            for match in node["cpeMatch"]:
                fortios = match["criteria"].startswith("cpe:2.3:o:fortinet:fortios:")
                if fortios and match.get("versionStartIncluding") == "7.0.0":
                    match["versionStartIncluding"] = "7.0.2"
                    narrowed += 1
    assert narrowed == 1
    changed["lastModified"] = "2026-11-30T13:15:00.000"
    fake.records[index] = changed
    wall.now = NOW + timedelta(hours=2)
    report = sync_nvd(db, make_api(), clock=wall)
    assert (report.received, report.added, report.updated) == (2, 0, 1)
    assert (report.findings.opened, report.findings.closed) == (0, 1)
    after = fortios_findings(db)
    assert after[WANTED].state == "fixed"
    assert {after[k].state for k in others} == {"open"}
    assert utc(the_source(db).changed_at) == wall.now


# ----------------------------------------------------------------------------------------------
# Bad records, the key


def test_a_bad_record_refuses_its_whole_page(
    db: Database,
    make_api: Callable[..., NvdApi],
    fake: FakeNvd,
    wall: Wall,
    records: list[dict[str, Any]],
) -> None:
    # A record with configurations, on a page that is not the first of its window.
    windows = plan_windows(SINCE, NOW)
    for record in records:
        start, end = next((s, e) for s, e in windows if s <= modified(record) <= e)
        in_window = fake.in_window(start, end)
        offset = [r["id"] for r in in_window].index(record["id"])
        if offset >= 7 and record.get("configurations"):
            break
    else:
        pytest.fail("no record past the first page of its window")
    bad_id = record["id"]
    first = offset // 7 * 7
    page = [r["id"] for r in in_window[first : first + 7]]
    index = next(i for i, r in enumerate(fake.records) if r["id"] == bad_id)
    original = fake.records[index]
    broken = copy.deepcopy(original)
    broken["configurations"][0]["nodes"][0]["operator"] = "XOR"
    fake.records[index] = broken

    with pytest.raises(MalformedDocument) as caught:
        sync_nvd(db, make_api(), since=SINCE, clock=wall)
    message = caught.value.diagnostics()
    assert f"NVD record {bad_id}" in message
    assert "refused" in message
    assert f"NVD records {first}..{first + 6} of {len(in_window)}" in message
    request, served = fake.answered[-1]
    assert served == page
    stored = stored_ids(db)
    assert not set(stored) & set(page)  # nothing of that page, not even its good records
    assert stored == sorted(cve_id for _, ids in fake.answered[:-1] for cve_id in ids)
    row = the_source(db)
    assert checkpoint_of(row) == request.position
    assert bad_id in row.detail["last_error"]

    fake.records[index] = original  # corrected upstream
    report = sync_nvd(db, make_api(), clock=wall)
    assert report.resumed is not None
    assert stored_ids(db) == sorted(r["id"] for r in records)


def test_the_api_key_is_sent_but_never_stored(
    db: Database,
    make_api: Callable[..., NvdApi],
    fake: FakeNvd,
    wall: Wall,
    database_url: str,
) -> None:
    fake.api_key = KEY
    with pytest.raises(ConfigurationError) as caught:
        sync_nvd(db, make_api(api_key=WRONG), since=SINCE, clock=wall)
    error = caught.value
    assert "Invalid apiKey ***" in error.diagnostics()
    assert WRONG not in f"{error.diagnostics()} {error!r}"
    assert the_source(db).detail["last_error"] == error.diagnostics()
    report = sync_nvd(db, make_api(api_key=KEY), clock=wall)  # resumes the refused run
    assert report.resumed is not None
    assert report.added == 60
    assert [q.api_key for q in fake.requests] == [WRONG] + [KEY] * report.pages
    stored = everything_stored(db, database_url)
    assert "nvd-api" in stored  # the dump does hold the source row
    assert KEY not in stored
    assert WRONG not in stored


def test_a_key_file_holds_one_key(tmp_path: Path) -> None:
    good = tmp_path / "good.key"
    good.write_text(f"  {KEY}\n")
    assert read_api_key(good) == KEY
    for name, content in [("two", f"{KEY} {WRONG}\n"), ("empty", "\n"), ("binary", "k\x00y")]:
        path = tmp_path / name
        path.write_text(content)
        with pytest.raises(ConfigurationError, match="does not hold one key") as caught:
            read_api_key(path)
        assert KEY not in caught.value.diagnostics()
    with pytest.raises(ConfigurationError, match="cannot read"):
        read_api_key(tmp_path / "missing.key")


# ----------------------------------------------------------------------------------------------
# The command


def test_the_command_syncs_resumes_and_never_shows_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake: FakeNvd, url: str
) -> None:
    cli = Cli(tmp_path / "home", capsys)
    fake.api_key = KEY
    key_file, wrong_file = tmp_path / "nvd.key", tmp_path / "wrong.key"
    key_file.write_text(KEY + "\n")
    wrong_file.write_text(WRONG + "\n")
    env = {"SAKIMORI_NVD_API_KEY_FILE": str(key_file)}

    first = cli("intel", "sync-nvd", "--base-url", url, env=env)
    assert first.code == 2
    assert first.err.startswith("sakimori: error: no NVD records are loaded")
    assert "--since" in first.err
    assert "sakimori intel load" in first.err
    assert fake.requests == []

    until = "2026-10-31T00:00:00Z"  # after the newest record, before the machine's now
    refused = cli(
        "intel",
        "sync-nvd",
        "--since",
        "2023-01-01",
        "--until",
        until,
        "--api-key-file",
        str(wrong_file),
        "--base-url",
        url,
        env=env,
    )
    assert refused.code == 2
    assert "Invalid apiKey ***" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert len(fake.requests) == 1

    done = cli("intel", "sync-nvd", env={**env, "SAKIMORI_NVD_BASE_URL": url})
    assert done.code == 0, done.err
    assert f"{url}: resuming the interrupted sync of 2023-01-01T00:00:00.000Z" in done.out
    assert "45 new" in done.out  # the big window, one page of 2,000
    assert "60 records received in 12 pages: 60 new, 0 changed; 60 NVD records stored" in done.out
    assert {q.api_key for q in fake.requests[1:]} == {KEY}

    status = cli("intel", "status")
    assert status.code == 0
    assert "nvd-api" in status.out
    database = (tmp_path / "home" / "sakimori.db").read_bytes()
    for secret in (KEY, WRONG):
        for run in (first, refused, done, status):
            assert secret not in run.out + run.err
        assert secret.encode() not in database
