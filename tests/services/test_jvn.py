"""JVN iPedia records stored (``store/jvn.py``), loaded by ``intel load`` and synced from MyJVN
(``services/jvn_sync.py``), on SQLite and PostgreSQL, with the real HND examples.

The examples hold Japanese records only (``xml:lang="ja"``; MyJVN/np has no ``lang=en``
answer). The English twin of JVNDB-2022-000097 used for the language merge is therefore the real
Japanese document with ``xml:lang="en"`` and its title and overview replaced by an English text
written here; every other byte (CVE ids, CVSS, products, references) is the real record.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from sakimori.errors import InvalidInput, MalformedDocument, SourceUnavailable, UnsupportedFormat
from sakimori.formats import jvn
from sakimori.formats.limits import Limits
from sakimori.intel.myjvn_api import Checkpoint, MyJvnApi
from sakimori.matching import aliases
from sakimori.model.advisory import AdvisoryInfo
from sakimori.model.jvn import JvnRecord
from sakimori.services.intel import load_paths, status
from sakimori.services.jvn_sync import SOURCE, sync_jvn
from sakimori.store import models
from sakimori.store.db import Database, open_database
from sakimori.store.jvn import (
    count_jvn,
    count_jvn_links,
    jvn_ids_for,
    jvn_records,
    store_jvn_records,
    with_jvn_aliases,
)
from tests.conftest import require_data
from tests.intel.conftest import LocalServer
from tests.intel.conftest import server as server  # the loopback server fixture
from tests.intel.myjvn_server import (
    ALL_TIME,
    EVERY_ITEM,
    EXAMPLES,
    VULDEF,
    FakeTime,
    MyJvn,
    make_api,
)

VULDEF_NS = "{http://jvn.jp/vuldef/}"
FEED = "dataFeed_jvndb_detail_hnd.xml"
DETAILS = [
    "getVulnDetailInfo_hnd_JVNDB-2017-009608.xml",
    "getVulnDetailInfo_hnd_JVNDB-2018-009328.xml",
    "getVulnDetailInfo_hnd_JVNDB-2021-002774.xml",
    "getVulnDetailInfo_hnd_JVNDB-2022-000097.xml",
]
BIDDING = "JVNDB-2022-000097"
BIDDING_TITLE_JA = "電子入札コアシステムにおける複数の脆弱性"
BIDDING_TITLE_EN = "Multiple vulnerabilities in Electronic Bidding Core System"
BIDDING_OVERVIEW_EN = (
    "Electronic Bidding Core System provided by Japan Construction Information Center"
    " contains multiple vulnerabilities."
)
NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def example_path(name: str) -> Path:
    return require_data(*EXAMPLES, name)


def xml_truth(name: str) -> dict[str, tuple[str, set[str]]]:
    """``{JVNDB id: (title, CVE ids)}`` read straight from the example with ElementTree."""
    root = ET.parse(example_path(name)).getroot()
    found = {}
    for vulinfo in root.iter(f"{VULDEF_NS}Vulinfo"):
        identifier = vulinfo.findtext(f"{VULDEF_NS}VulinfoID", "")
        title = vulinfo.findtext(f"{VULDEF_NS}VulinfoData/{VULDEF_NS}Title", "")
        cves = {
            item.findtext(f"{VULDEF_NS}VulinfoID", "")
            for item in vulinfo.iter(f"{VULDEF_NS}RelatedItem")
            if item.get("type") == "advisory"
            and re.fullmatch(r"CVE-\d{4}-\d+", item.findtext(f"{VULDEF_NS}VulinfoID", ""))
        }
        found[identifier] = (title, cves)
    return found


def english_twin(tmp_path: Path) -> Path:
    """The real Japanese detail of JVNDB-2022-000097, with an English title and overview."""
    document = example_path(DETAILS[3]).read_bytes().replace(b'xml:lang="ja"', b'xml:lang="en"')
    document = document.replace(BIDDING_TITLE_JA.encode(), BIDDING_TITLE_EN.encode())
    document = re.sub(
        rb"<Overview>.*?</Overview>",
        b"<Overview>" + BIDDING_OVERVIEW_EN.encode() + b"</Overview>",
        document,
        count=1,
        flags=re.S,
    )
    path = tmp_path / "en" / "JVNDB-2022-000097.en.xml"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(document)
    return path


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.dispose()


def stored(db: Database, *ids: str) -> dict[str, JvnRecord]:
    with db.transaction() as session:
        return dict(jvn_records(session, ids))


def loaded_at(db: Database) -> dict[str, tuple[str, datetime]]:
    with db.transaction() as session:
        rows = session.execute(select(models.JvnRecordRow))
        return {r.jvn_id: (r.source, r.loaded_at) for r in rows.scalars()}


# --------------------------------------------------------------------------------------------
# intel load


def test_loading_the_real_details_stores_them_as_written(db: Database) -> None:
    report = load_paths(db, [example_path(FEED), *map(example_path, DETAILS)], Limits())
    assert [s.kind for s in report.sources] == ["jvn"] * 5
    assert [s.status for s in report.sources] == ["loaded"] + ["unchanged"] * 4
    truth = xml_truth(FEED)
    assert len(truth) == 7
    parsed = {r.id: r for r in jvn.parse(example_path(FEED).read_bytes())}
    with db.transaction() as session:
        records = jvn_records(session, truth)
        # everything read comes back: texts, CVE ids, CVSS, products (CPE 2.2 and 2.3 with
        # JVN's version text), references, CWE ids and dates
        assert records == parsed
        for identifier, (title, cves) in truth.items():
            assert records[identifier].title("ja") == title
            assert set(records[identifier].cve_ids) == cves
        # Japanese is stored as Japanese text, not as \u escapes
        raw = session.execute(
            text("SELECT CAST(titles AS TEXT) FROM jvn_record WHERE jvn_id = :id"),
            {"id": "JVNDB-2017-009608"},
        ).scalar_one()
        assert truth["JVNDB-2017-009608"][0] in raw
        assert "\\u" not in raw
    counts = status(db).counts
    assert counts["jvn_records"] == 7
    (source, *_) = status(db).sources
    assert (source.kind, source.record_count) == ("jvn", 7)


def test_cve_ids_link_to_jvndb_ids(db: Database) -> None:
    load_paths(db, [example_path(FEED), example_path("getVulnOverviewList_hnd.xml")], Limits())
    expected: dict[str, list[str]] = {}
    for identifier, (_title, cves) in xml_truth(FEED).items():
        for cve in cves:
            expected.setdefault(cve, []).append(identifier)
    expected["CVE-2025-31084"] = ["JVNDB-2025-002953"]  # from the RSS overview
    expected["CVE-2025-23120"] = ["JVNDB-2025-002884"]
    with db.transaction() as session:
        assert jvn_ids_for(session, [*expected, "CVE-1999-0001"]) == expected
        assert count_jvn_links(session) == sum(len(v) for v in expected.values())
        assert jvn_ids_for(session, []) == {}


def test_japanese_and_english_readings_merge(db: Database, tmp_path: Path) -> None:
    load_paths(db, [example_path(DETAILS[3])], Limits())
    load_paths(db, [english_twin(tmp_path)], Limits())
    record = stored(db, BIDDING)[BIDDING]
    (japanese,) = jvn.parse(example_path(DETAILS[3]).read_bytes())
    assert dict(record.titles) == {"en": BIDDING_TITLE_EN, "ja": BIDDING_TITLE_JA}
    # the other fields stay those of the Japanese reading (JVN's own words)
    assert record.references == japanese.references
    assert record.description("ja") == japanese.description("ja")
    assert record.description("en") == BIDDING_OVERVIEW_EN
    assert record.cve_ids == japanese.cve_ids
    # the Japanese document again (another copy: not skipped by size and mtime) changes nothing
    again = tmp_path / "again.xml"
    shutil.copy(example_path(DETAILS[3]), again)
    before = loaded_at(db)
    report = load_paths(db, [again], Limits())
    assert report.sources[0].status == "unchanged"
    assert loaded_at(db) == before
    assert stored(db, BIDDING)[BIDDING] == record


def test_both_languages_in_one_load_merge(db: Database, tmp_path: Path) -> None:
    load_paths(db, [english_twin(tmp_path), example_path(DETAILS[3])], Limits())
    record = stored(db, BIDDING)[BIDDING]
    assert record.title("ja") == BIDDING_TITLE_JA
    assert record.title("en") == BIDDING_TITLE_EN


def test_an_unchanged_reload_writes_nothing(db: Database, tmp_path: Path) -> None:
    load_paths(db, [example_path(FEED)], Limits())
    before = loaded_at(db)
    copy = tmp_path / "copy.xml"
    shutil.copy(example_path(FEED), copy)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    with db.transaction() as session:
        records = jvn.parse(copy.read_bytes())
        assert store_jvn_records(session, "elsewhere", records, later) == 0
    report = load_paths(db, [copy], Limits())
    assert report.sources[0].status == "unchanged"
    assert loaded_at(db) == before


def test_a_changed_record_is_rewritten_and_its_links_follow(db: Database) -> None:
    load_paths(db, [example_path(DETAILS[3])], Limits())
    (record,) = jvn.parse(example_path(DETAILS[3]).read_bytes())
    updated = replace(record, cve_ids=record.cve_ids[:1], modified="2026-01-01T00:00:00+09:00")
    with db.transaction() as session:
        assert store_jvn_records(session, "update", [updated], NOW) == 1
    with db.transaction() as session:
        assert jvn_ids_for(session, record.cve_ids) == {record.cve_ids[0]: [BIDDING]}
        assert jvn_records(session, [BIDDING])[BIDDING].modified == "2026-01-01T00:00:00+09:00"


@pytest.mark.parametrize(
    "bad",
    [
        b'<?xml version="1.0"?><!DOCTYPE VULDEF-Document [<!ENTITY a "aaaa">]>'
        b'<VULDEF-Document xmlns="http://jvn.jp/vuldef/" xml:lang="ja">'
        b"<Vulinfo>&a;</Vulinfo></VULDEF-Document>",
        b'<VULDEF-Document xmlns="http://jvn.jp/vuldef/" xml:lang="ja"><Vulinfo>'
        b"<VulinfoID>JVNDB-2022-000097</VulinfoID><VulinfoData><Title>t</Title>",
    ],
    ids=["dtd", "truncated"],
)
def test_a_bad_document_loads_nothing(db: Database, tmp_path: Path, bad: bytes) -> None:
    folder = tmp_path / "intel"
    folder.mkdir()
    shutil.copy(example_path(FEED), folder / "a-good.xml")
    (folder / "b-bad.xml").write_bytes(bad)
    with pytest.raises(MalformedDocument):
        load_paths(db, [folder], Limits())
    assert status(db).counts["jvn_records"] == 0
    assert status(db).sources == []
    with db.transaction() as session:
        assert count_jvn_links(session) == 0


# --------------------------------------------------------------------------------------------
# Parser: MyJVN's answer with no hit (belongs with tests/formats/test_jvn.py)

RESULT_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Result version="3.3"'
    b' xmlns="http://jvndb.jvn.jp/myjvn/Results"'
    b' xmlns:status="http://jvndb.jvn.jp/myjvn/Status">\n'
)


def test_the_no_hit_answer_is_no_record() -> None:
    answer = RESULT_HEAD + b'  <status:Status retCd="0" totalRes="0" totalResRet="0" />\n</Result>'
    assert jvn.parse(answer) == []
    error = answer.replace(b'retCd="0"', b'retCd="1" errCd="E1" errMsg="bad"')
    with pytest.raises(MalformedDocument, match="E1 bad"):
        jvn.parse(error)
    # a Result with content (the vendor dictionary) is still not a JVN record list
    with pytest.raises(UnsupportedFormat):
        jvn.parse(example_path("getVendorList_hnd.xml").read_bytes())


# --------------------------------------------------------------------------------------------
# Aliases for findings


def test_jvndb_ids_join_the_aliases_of_a_cve(db: Database) -> None:
    load_paths(db, [example_path(FEED)], Limits())
    ghsa = AdvisoryInfo("GHSA-aaaa-bbbb-cccc", ("CVE-2021-36745",), "", (), "", None)
    plain = AdvisoryInfo("PYSEC-0000-1", (), "", (), "", None)
    with db.transaction() as session:
        links = jvn_ids_for(session, [i for a in (ghsa, plain) for i in a.ids])
    out = with_jvn_aliases({ghsa.id: ghsa, plain.id: plain}, links)
    assert out[ghsa.id].aliases == ("CVE-2021-36745", "JVNDB-2021-002774")
    assert out[plain.id] is plain
    assert aliases.ordered(out[ghsa.id].ids)[0] == "CVE-2021-36745"  # the CVE stays primary


# --------------------------------------------------------------------------------------------
# MyJVN sync


@pytest.fixture
def myjvn(server: LocalServer) -> MyJvn:
    stand_in = MyJvn(server)
    server.routes["/myjvn"] = stand_in.handle
    return stand_in


@pytest.fixture
def api(myjvn: MyJvn) -> Iterator[MyJvnApi]:
    clock = FakeTime()
    with httpx.Client(timeout=10, trust_env=False) as client:
        yield make_api(client, myjvn, clock, page_size=3, retries=0)


def source_detail(db: Database) -> dict[str, object]:
    with db.transaction() as session:
        row = session.get(models.IntelSource, SOURCE)
        assert row is not None
        return dict(row.detail)


def test_sync_stores_every_entry(db: Database, api: MyJvnApi, myjvn: MyJvn) -> None:
    report = sync_jvn(db, api, since=ALL_TIME[0], until=ALL_TIME[1], now=NOW)
    ids = {e.id for e in EVERY_ITEM}
    assert len(ids) == 13
    assert (report.pages, report.received, report.written) == (5, 13, 13)
    assert sorted(report.missing) == sorted(ids - set(VULDEF))  # listed, but no detail
    with db.transaction() as session:
        records = jvn_records(session, ids)
        assert set(records) == ids
        assert count_jvn(session, SOURCE) == 13
    assert {i for i, r in records.items() if r.source == "vuldef"} == set(VULDEF)
    for identifier, (title, _cves) in xml_truth(FEED).items():
        assert records[identifier].title("ja") == title
    assert source_detail(db) == {"synced_until_ja": ALL_TIME[1].isoformat()}


@pytest.mark.parametrize("failing", ["getVulnOverviewList", "getVulnDetailInfo"])
def test_a_failed_sync_resumes_without_loss_or_repeat(
    db: Database, api: MyJvnApi, myjvn: MyJvn, failing: str
) -> None:
    def fail(params: dict[str, str]) -> tuple[int, bytes, dict[str, str]] | None:
        third_page = params.get("startItem") == "7"
        third_details = params.get("vulnId", "").split("+") == page_three
        if params["method"] == failing and (third_page or third_details):
            return 503, b"busy", {}
        return None

    # the third page's ids, as an undisturbed sync sees them
    everything = sorted(EVERY_ITEM, key=lambda e: (e.updated, e.id), reverse=True)
    page_three = [e.id for e in everything[6:9]]
    assert page_three
    myjvn.override = fail
    with pytest.raises(SourceUnavailable):
        sync_jvn(db, api, since=ALL_TIME[0], until=ALL_TIME[1], now=NOW)
    detail = source_detail(db)
    assert "503" in str(detail["error"])
    checkpoint = Checkpoint.from_dict(detail["checkpoint_ja"])
    assert (checkpoint.next_item, checkpoint.total) == (7, 13)
    with db.transaction() as session:
        assert count_jvn(session) == 6  # two pages, each stored with its checkpoint
    first_run = len(myjvn.requests)

    myjvn.override = None
    report = sync_jvn(db, api, now=NOW)  # no window given: the stored one resumes
    assert report.resumed_from == 7
    assert (report.since, report.until) == ALL_TIME
    resumed = myjvn.requests[first_run:]
    assert resumed[0]["method"] == "getVulnOverviewList"
    assert resumed[0]["startItem"] == "7"  # entries 1-6 are not asked for again
    asked = [i for ids in myjvn.detail_requests() for i in ids]
    if failing == "getVulnOverviewList":
        assert sorted(asked) == sorted({e.id for e in EVERY_ITEM})  # each id asked once
    else:  # only the failed request is repeated
        assert sorted(asked) == sorted([*{e.id for e in EVERY_ITEM}, *page_three])
    with db.transaction() as session:
        assert set(jvn_records(session, [e.id for e in EVERY_ITEM])) == {e.id for e in EVERY_ITEM}
        assert count_jvn(session) == 13
    assert source_detail(db) == {"synced_until_ja": ALL_TIME[1].isoformat()}


def test_the_next_sync_starts_the_day_after_the_last(
    db: Database, api: MyJvnApi, myjvn: MyJvn
) -> None:
    with pytest.raises(InvalidInput, match="first MyJVN sync"):
        sync_jvn(db, api, now=NOW)
    assert myjvn.requests == []
    sync_jvn(db, api, since=date(2025, 4, 1), until=date(2025, 4, 7), now=NOW)
    before = len(myjvn.requests)
    report = sync_jvn(db, api, now=NOW)  # NOW is 2026-11-30 12:00 JST: until yesterday
    assert (report.since, report.until) == (date(2025, 4, 8), date(2026, 11, 29))
    window = myjvn.overview_requests()[-1]
    assert len(myjvn.requests) > before
    assert [window[f"datePublishedStart{p}"] for p in "YMD"] == ["2025", "04", "08"]
    assert [window[f"datePublishedEnd{p}"] for p in "YMD"] == ["2026", "11", "29"]
    assert source_detail(db)["synced_until_ja"] == "2026-11-29"
    up_to_date = sync_jvn(db, api, now=NOW)
    assert up_to_date.status == "up-to-date"
