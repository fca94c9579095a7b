"""The MyJVN API client against the MyJVN stand-in on 127.0.0.1 (``myjvn_server.py``), which
serves the real HND examples."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date

import httpx
import pytest

from sakimori.errors import (
    ConfigurationError,
    InvalidInput,
    LimitExceeded,
    MalformedDocument,
    SakimoriError,
    SourceUnavailable,
)
from sakimori.intel.myjvn_api import Checkpoint, MyJvnApi, OverviewPage, SyncStep
from tests.intel.conftest import LocalServer
from tests.intel.myjvn_server import (
    AIRBAG,
    AIRBAG_TITLE,
    ALL_TIME,
    DETAIL_ITEMS,
    EVERY_ITEM,
    SUNSHINE,
    SUNSHINE_TITLE,
    VULDEF,
    FakeTime,
    MyJvn,
    Override,
    detail_document,
    error_document,
    example,
    make_api,
    overview_document,
)


@pytest.fixture
def myjvn(server: LocalServer) -> MyJvn:
    stand_in = MyJvn(server)
    server.routes["/myjvn"] = stand_in.handle
    return stand_in


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake_time: FakeTime) -> Iterator[httpx.Client]:
    hooks = {"request": [fake_time.on_request], "response": [fake_time.on_response]}
    with httpx.Client(timeout=10, trust_env=False, event_hooks=hooks) as instance:
        yield instance


@pytest.fixture
def api(client: httpx.Client, myjvn: MyJvn, fake_time: FakeTime) -> MyJvnApi:
    return make_api(client, myjvn, fake_time)


def where(error: SakimoriError) -> str:
    assert error.where is not None
    return error.where


def fail_when(
    predicate: Callable[[dict[str, str]], bool], status: int = 500, times: int | None = None
) -> Override:
    """An override answering ``status`` to matching requests (the first ``times`` of them)."""
    count = 0

    def override(params: dict[str, str]) -> tuple[int, bytes, dict[str, str]] | None:
        nonlocal count
        if predicate(params) and (times is None or count < times):
            count += 1
            return status, b"unavailable", {}
        return None

    return override


# --------------------------------------------------------------------------------------------
# Overview: paging, window, checkpoints


def test_paging_collects_every_id_exactly_once(
    client: httpx.Client, myjvn: MyJvn, fake_time: FakeTime
) -> None:
    api = make_api(client, myjvn, fake_time, page_size=5)
    pages = list(api.overview(*ALL_TIME))
    ids = [identifier for page in pages for identifier in page.ids]
    assert len(EVERY_ITEM) == 13
    assert sorted(ids) == sorted(e.id for e in EVERY_ITEM)
    assert len(set(ids)) == len(ids)
    asked = [(r["startItem"], r["maxCountItem"]) for r in myjvn.overview_requests()]
    assert asked == [("1", "5"), ("6", "5"), ("11", "5")]
    assert [page.first_item for page in pages] == [1, 6, 11]
    assert [page.checkpoint.next_item for page in pages] == [6, 11, 14]
    assert [page.checkpoint.done for page in pages] == [False, False, True]
    assert {page.total for page in pages} == {13}
    records = {record.id: record for page in pages for record in page.records}
    assert records[SUNSHINE].title("ja") == SUNSHINE_TITLE
    assert records[SUNSHINE].modified == "2025-04-04T14:45:58+09:00"
    assert records[AIRBAG].title("ja") == AIRBAG_TITLE


def test_the_window_is_sent_as_last_update_dates(api: MyJvnApi, myjvn: MyJvn) -> None:
    pages = list(api.overview(date(2025, 4, 3), date(2025, 4, 11)))
    ids = [identifier for page in pages for identifier in page.ids]
    expected = [e.id for e in EVERY_ITEM if date(2025, 4, 3) <= e.updated <= date(2025, 4, 11)]
    assert sorted(ids) == sorted(expected)
    assert SUNSHINE in ids
    assert "JVNDB-2025-002884" in ids
    assert "JVNDB-2017-009608" not in ids  # updated in 2017
    (request,) = myjvn.overview_requests()
    assert request["lang"] == "ja"
    assert {k: request[k] for k in request if k.startswith("range")} == {
        "rangeDatePublic": "n",
        "rangeDatePublished": "n",
        "rangeDateFirstPublished": "n",
    }
    window = {k: v for k, v in request.items() if k.startswith("datePublished")}
    assert window == {
        "datePublishedStartY": "2025",
        "datePublishedStartM": "04",
        "datePublishedStartD": "03",
        "datePublishedEndY": "2025",
        "datePublishedEndM": "04",
        "datePublishedEndD": "11",
    }


def test_a_window_with_no_entry_gives_one_empty_finished_page(api: MyJvnApi, myjvn: MyJvn) -> None:
    (page,) = api.overview(date(2010, 1, 1), date(2010, 12, 31))
    assert page.records == ()
    assert page.total == 0
    assert page.checkpoint.done
    (step,) = api.sync(date(2010, 1, 1), date(2010, 12, 31))
    assert step.records == ()
    assert myjvn.detail_requests() == []


def test_checkpoint_round_trips_through_json(
    client: httpx.Client, myjvn: MyJvn, fake_time: FakeTime
) -> None:
    api = make_api(client, myjvn, fake_time, page_size=4)
    first = next(iter(api.overview(*ALL_TIME)))
    stored = json.dumps(first.checkpoint.to_dict())
    restored = Checkpoint.from_dict(json.loads(stored))
    assert restored == first.checkpoint
    assert restored == Checkpoint(*ALL_TIME, "ja", next_item=5, total=13)
    rest = list(api.overview(*ALL_TIME, restored))
    assert [r["startItem"] for r in myjvn.overview_requests()] == ["1", "5", "9", "13"]
    ids = [*first.ids, *(i for page in rest for i in page.ids)]
    assert sorted(ids) == sorted(e.id for e in EVERY_ITEM)


GOOD_CHECKPOINT = Checkpoint(*ALL_TIME, "ja", next_item=5, total=13).to_dict()


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        "checkpoint",
        {},
        {**GOOD_CHECKPOINT, "source": "nvd"},
        {**GOOD_CHECKPOINT, "updated_since": "2025-13-01"},
        {**GOOD_CHECKPOINT, "updated_until": 20250101},
        {**GOOD_CHECKPOINT, "lang": "fr"},
        {**GOOD_CHECKPOINT, "next_item": "5"},
        {**GOOD_CHECKPOINT, "next_item": True},
        {**GOOD_CHECKPOINT, "next_item": 0},
        {**GOOD_CHECKPOINT, "total": -1},
        {**GOOD_CHECKPOINT, "total": 1.5},
        {**GOOD_CHECKPOINT, "updated_since": "2031-01-01"},
    ],
)
def test_a_bad_checkpoint_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInput, match="checkpoint"):
        Checkpoint.from_dict(bad)


def test_a_checkpoint_for_another_window_is_refused(api: MyJvnApi, myjvn: MyJvn) -> None:
    checkpoint = Checkpoint(date(2025, 4, 1), date(2025, 4, 30), "ja", 3, 10)
    with pytest.raises(InvalidInput, match=r"checkpoint is for 2025-04-01\.\.2025-04-30"):
        next(iter(api.overview(date(2025, 4, 1), date(2025, 5, 31), checkpoint)))
    with pytest.raises(InvalidInput, match="checkpoint is for"):
        next(
            iter(api.overview(date(2025, 4, 1), date(2025, 4, 30), replace(checkpoint, lang="en")))
        )
    assert myjvn.requests == []


def test_a_finished_checkpoint_asks_for_nothing(api: MyJvnApi, myjvn: MyJvn) -> None:
    done = Checkpoint(*ALL_TIME, "ja", next_item=14, total=13)
    assert list(api.overview(*ALL_TIME, done)) == []
    assert myjvn.requests == []


# --------------------------------------------------------------------------------------------
# Details


def test_details_go_ten_ids_at_most_per_request_and_missing_ids_are_named(
    api: MyJvnApi, myjvn: MyJvn
) -> None:
    real = list(VULDEF)
    assert len(real) == 7
    unknown = [f"JVNDB-2099-00000{n}" for n in range(1, 6)]
    wanted = [*unknown[:2], *real, *unknown[2:], real[0]]  # 12 distinct ids, one twice
    batches = list(api.details(wanted))
    asked = myjvn.detail_requests()
    assert [len(ids) for ids in asked] == [10, 2]
    assert [i for ids in asked for i in ids] == list(dict.fromkeys(wanted))
    assert all("vulnId=JVNDB-" in q and "+JVNDB-" in q for q in myjvn.raw)  # literal "+"
    records = [record for batch in batches for record in batch.records]
    assert [record.id for record in records] == real
    assert all(record.source == "vuldef" for record in records)
    assert [m for batch in batches for m in batch.missing] == unknown
    assert {r.id: r for r in records}[AIRBAG].title("ja") == AIRBAG_TITLE


def test_a_missing_id_is_reported_with_the_records_that_came(api: MyJvnApi) -> None:
    (batch,) = api.details([AIRBAG, "JVNDB-2099-000001", "JVNDB-2022-000097"])
    assert batch.requested == (AIRBAG, "JVNDB-2099-000001", "JVNDB-2022-000097")
    assert [record.id for record in batch.records] == [AIRBAG, "JVNDB-2022-000097"]
    assert batch.missing == ("JVNDB-2099-000001",)
    (batch,) = api.details(["JVNDB-2099-000002"])  # no hit: MyJVN answers a bare Result
    assert batch.records == ()
    assert batch.missing == ("JVNDB-2099-000002",)


def test_an_id_that_was_not_asked_for_is_refused(api: MyJvnApi, myjvn: MyJvn) -> None:
    myjvn.override = lambda params: (
        (200, detail_document([AIRBAG, "JVNDB-2022-000097"]), {})
        if params.get("method") == "getVulnDetailInfo"
        else None
    )
    with pytest.raises(SourceUnavailable, match="JVNDB-2022-000097, which was not asked for"):
        list(api.details([AIRBAG]))


@pytest.mark.parametrize("bad", ["JVNDB-2025-0001", "JVNDB-2025-000001+JVNDB-2025-000002", ""])
def test_ids_that_are_not_jvndb_ids_are_refused_before_any_request(
    api: MyJvnApi, myjvn: MyJvn, bad: str
) -> None:
    with pytest.raises(InvalidInput, match="not a JVNDB-YYYY-NNNNNN id"):
        list(api.details([AIRBAG, bad]))
    assert myjvn.requests == []


# --------------------------------------------------------------------------------------------
# Sync and resume


def _ids(steps: list[SyncStep]) -> list[str]:
    return [record.id for step in steps for record in step.records]


def test_sync_gives_each_page_with_the_details_of_its_entries(
    client: httpx.Client, myjvn: MyJvn, fake_time: FakeTime
) -> None:
    myjvn.entries = list(DETAIL_ITEMS)
    api = make_api(client, myjvn, fake_time, page_size=3)
    steps = list(api.sync(*ALL_TIME))
    assert [len(step.page.ids) for step in steps] == [3, 3, 1]
    for step in steps:
        assert [record.id for record in step.records] == list(step.page.ids)
        assert all(record.source == "vuldef" for record in step.records)
        assert step.missing == ()
    assert sorted(_ids(steps)) == sorted(VULDEF)
    assert steps[-1].checkpoint.done


@pytest.mark.parametrize("failing", ["overview", "details"])
def test_failure_midway_then_resume_loses_and_repeats_nothing(
    client: httpx.Client, myjvn: MyJvn, fake_time: FakeTime, failing: str
) -> None:
    myjvn.entries = list(DETAIL_ITEMS)
    api = make_api(client, myjvn, fake_time, page_size=3)
    third_page = min(DETAIL_ITEMS, key=lambda e: (e.updated, e.id)).id  # the oldest

    def broken(params: dict[str, str]) -> bool:
        if failing == "overview":
            return params.get("startItem") == "7"
        return third_page in params.get("vulnId", "")

    myjvn.override = fail_when(broken, 503)
    done: list[SyncStep] = []
    with pytest.raises(SourceUnavailable, match="HTTP 503") as failure:
        done.extend(api.sync(*ALL_TIME))  # the caller stores each step's records, then checkpoint
    assert where(failure.value).startswith(myjvn.url)
    assert len(done) == 2
    stored = json.dumps(done[-1].checkpoint.to_dict())

    myjvn.override = None
    before = len(myjvn.overview_requests())
    resumed = list(api.sync(*ALL_TIME, Checkpoint.from_dict(json.loads(stored))))
    assert [r["startItem"] for r in myjvn.overview_requests()[before:]] == ["7"]
    assert len(resumed) == 1
    ids = _ids(done) + _ids(resumed)
    assert sorted(ids) == sorted(VULDEF)
    assert len(set(ids)) == len(ids)


def test_a_change_in_the_number_of_entries_restarts_paging(
    client: httpx.Client, myjvn: MyJvn, fake_time: FakeTime
) -> None:
    """An entry updated after the window leaves it while it is paged: the order shifts, so
    paging starts again rather than skip an entry; a count that never settles is an error."""
    api = make_api(client, myjvn, fake_time, page_size=5)
    pages = iter(api.overview(*ALL_TIME))
    first = next(pages)
    leaving = first.ids[0]
    myjvn.entries = [e for e in myjvn.entries if e.id != leaving]
    rest = list(pages)
    starts = [r["startItem"] for r in myjvn.overview_requests()]
    assert starts == ["1", "6", "1", "6", "11"]
    ids = {i for page in [first, *rest] for i in page.ids}
    assert ids == {e.id for e in EVERY_ITEM}
    assert rest[-1].checkpoint.total == 12

    myjvn.entries = list(EVERY_ITEM)
    growing = make_api(client, myjvn, fake_time, page_size=5, max_restarts=1)

    def grow(params: dict[str, str]) -> None:  # answers normally, with one entry more
        myjvn.entries.append(replace(EVERY_ITEM[0], id=f"JVNDB-2099-{len(myjvn.entries):06d}"))

    myjvn.override = grow
    with pytest.raises(SourceUnavailable, match="number of entries keeps changing"):
        list(growing.overview(*ALL_TIME))


def test_an_empty_page_while_more_are_counted_does_not_loop(
    client: httpx.Client, myjvn: MyJvn, fake_time: FakeTime
) -> None:
    def empty_after_first_page(params: dict[str, str]) -> tuple[int, bytes, dict[str, str]] | None:
        if len(myjvn.requests) > 5:  # a client that loops ends here, with another error
            return 500, b"looping", {}
        if params.get("startItem") == "1":
            return None
        return 200, overview_document([], 13, int(params["startItem"])), {}

    myjvn.override = empty_after_first_page
    api = make_api(client, myjvn, fake_time, page_size=5, retries=0)
    pages: list[OverviewPage] = []
    with pytest.raises(SourceUnavailable, match="no entries from 6 although it counts 13"):
        pages.extend(api.overview(*ALL_TIME))
    assert len(pages) == 1
    assert len(myjvn.overview_requests()) == 2


def test_an_answer_from_another_position_is_refused(
    client: httpx.Client, myjvn: MyJvn, fake_time: FakeTime
) -> None:
    myjvn.override = lambda params: (200, overview_document(EVERY_ITEM[:5], 13, 1), {})
    api = make_api(client, myjvn, fake_time, page_size=5)
    with pytest.raises(SourceUnavailable, match="from entry 1, not the 6 asked for"):
        list(api.overview(*ALL_TIME))


# --------------------------------------------------------------------------------------------
# Request rate and retries


def test_requests_keep_the_minimum_interval(
    client: httpx.Client, myjvn: MyJvn, fake_time: FakeTime
) -> None:
    myjvn.entries = list(DETAIL_ITEMS)
    fake_time.latency = 0.25
    api = make_api(client, myjvn, fake_time, page_size=3, min_interval=1.5)
    list(api.sync(*ALL_TIME))
    assert len(fake_time.sent) == 6  # 3 overview pages, 3 detail requests
    gaps = [b - a for a, b in zip(fake_time.sent, fake_time.sent[1:], strict=False)]
    assert gaps == pytest.approx([1.5] * 5)
    assert fake_time.sleeps == pytest.approx([1.25] * 5)  # no sleep before the first


def test_a_slow_answer_needs_no_extra_wait(
    client: httpx.Client, myjvn: MyJvn, fake_time: FakeTime
) -> None:
    fake_time.latency = 3.0
    api = make_api(client, myjvn, fake_time, page_size=5, min_interval=1.0)
    list(api.overview(*ALL_TIME))
    assert len(fake_time.sent) == 3
    assert fake_time.sleeps == []


def test_a_503_then_success_is_retried(api: MyJvnApi, myjvn: MyJvn, fake_time: FakeTime) -> None:
    myjvn.override = fail_when(lambda params: True, 503, times=1)
    pages = list(api.overview(*ALL_TIME))
    assert sorted(i for page in pages for i in page.ids) == sorted(e.id for e in EVERY_ITEM)
    assert [r["startItem"] for r in myjvn.overview_requests()] == ["1", "1"]
    # The backoff (0.5 s), then the rest of the 1 s interval before the retry.
    assert fake_time.sleeps[:2] == [0.5, 0.5]
    assert fake_time.sent[1] - fake_time.sent[0] == pytest.approx(1.0)


def test_a_retry_also_keeps_the_minimum_interval(
    client: httpx.Client, myjvn: MyJvn, fake_time: FakeTime
) -> None:
    myjvn.override = fail_when(lambda params: True, 503, times=2)
    api = make_api(client, myjvn, fake_time, backoff=0.25, min_interval=2.0)
    list(api.overview(*ALL_TIME))
    assert len(fake_time.sent) == 3
    gaps = [b - a for a, b in zip(fake_time.sent, fake_time.sent[1:], strict=False)]
    assert gaps == pytest.approx([2.0, 2.0])


def test_retry_after_is_honoured(api: MyJvnApi, myjvn: MyJvn, fake_time: FakeTime) -> None:
    myjvn.override = lambda params: (
        (429, b"slow down", {"Retry-After": "7"}) if len(myjvn.requests) == 1 else None
    )
    list(api.overview(*ALL_TIME))
    assert fake_time.sleeps[0] == 7


def test_a_lasting_5xx_gives_up_after_the_retries(
    api: MyJvnApi, myjvn: MyJvn, fake_time: FakeTime
) -> None:
    myjvn.override = fail_when(lambda params: True, 502)
    with pytest.raises(SourceUnavailable) as failure:
        list(api.overview(*ALL_TIME))
    assert "HTTP 502" in failure.value.message
    assert "after 3 attempts" in failure.value.message
    assert where(failure.value).startswith(myjvn.url + "?method=getVulnOverviewList")
    assert failure.value.hint
    assert len(myjvn.requests) == 3
    # Backoff 0.5 s topped up to the 1 s interval, then backoff 1 s (the interval is covered).
    assert fake_time.sleeps == [0.5, 0.5, 1.0]


def test_a_client_error_is_not_retried(api: MyJvnApi, myjvn: MyJvn) -> None:
    myjvn.override = fail_when(lambda params: True, 404)
    with pytest.raises(SourceUnavailable, match="HTTP 404"):
        list(api.details([AIRBAG]))
    assert len(myjvn.requests) == 1


def test_an_unreachable_server_is_retried_then_reported(
    client: httpx.Client, fake_time: FakeTime
) -> None:
    with socket.socket() as probe:  # a port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = MyJvnApi(
        client,
        base_url=f"http://127.0.0.1:{port}/myjvn",
        retries=2,
        backoff=0.5,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )
    with pytest.raises(SourceUnavailable, match="after 3 attempts"):
        list(api.details([AIRBAG]))
    assert len(fake_time.sent) == 3


# --------------------------------------------------------------------------------------------
# Hostile and broken answers


def test_an_error_document_is_refused_with_its_message(api: MyJvnApi, myjvn: MyJvn) -> None:
    message = "指定されたパラメタが不正です"
    myjvn.override = lambda params: (
        200,
        error_document("getVulnOverviewList", "E0101", message),
        {},
    )
    with pytest.raises(SourceUnavailable) as failure:
        list(api.overview(*ALL_TIME))
    assert failure.value.message == f"MyJVN answered with an error: E0101 {message}"
    assert where(failure.value).startswith(myjvn.url)
    assert len(myjvn.requests) == 1  # an answer, not an outage: not retried


def test_an_error_status_in_a_detail_answer_is_refused(api: MyJvnApi, myjvn: MyJvn) -> None:
    document = (
        detail_document([AIRBAG])
        .replace(b'retCd="0"', b'retCd="1"')
        .replace(b'errMsg=""', 'errMsg="サーバが混雑しています"'.encode())
    )
    myjvn.override = lambda params: (200, document, {})
    with pytest.raises(SourceUnavailable, match="サーバが混雑しています"):
        list(api.details([AIRBAG]))


def _with_doctype(document: bytes) -> bytes:
    prolog, _, rest = document.partition(b"\n")
    doctype = b'<!DOCTYPE rdf:RDF [<!ENTITY x "JVNDB-2025-002953">]>\n'
    return prolog + b"\n" + doctype + rest.replace(b"<title>WordPress", b"<title>&x;WordPress", 1)


def test_an_answer_with_a_dtd_or_entity_is_refused(api: MyJvnApi, myjvn: MyJvn) -> None:
    real = example("getVulnOverviewList_hnd.xml")
    myjvn.override = lambda params: (200, _with_doctype(real), {})
    with pytest.raises(MalformedDocument, match="DTD or entity") as failure:
        list(api.overview(*ALL_TIME))
    assert where(failure.value).startswith(myjvn.url)
    assert "MyJVN never sends this" in (failure.value.hint or "")


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>maintenance</body></html",
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>',
        overview_document(EVERY_ITEM[:2], 13, 1).replace(b'totalRes="13"', b'totalRes="many"'),
    ],
    ids=["not-xml", "no-status", "bad-count"],
)
def test_a_broken_answer_is_refused(api: MyJvnApi, myjvn: MyJvn, body: bytes) -> None:
    myjvn.override = lambda params: (200, body, {})
    with pytest.raises(MalformedDocument) as failure:
        list(api.overview(*ALL_TIME))
    assert where(failure.value).startswith(myjvn.url)


def test_an_oversized_answer_is_refused(
    client: httpx.Client, myjvn: MyJvn, fake_time: FakeTime
) -> None:
    api = make_api(client, myjvn, fake_time, max_response_bytes=4096)
    with pytest.raises(LimitExceeded, match="larger than 4,096 bytes"):
        list(api.details([AIRBAG]))


@pytest.mark.parametrize(
    "options",
    [
        {"base_url": "ftp://jvndb.jvn.jp/myjvn"},
        {"base_url": "https://jvndb.jvn.jp/myjvn?method=x"},
        {"lang": "fr"},
        {"page_size": 51},
        {"page_size": 0},
        {"min_interval": -1},
    ],
)
def test_bad_settings_are_refused(client: httpx.Client, options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        MyJvnApi(client, **options)  # type: ignore[arg-type]


def test_a_reversed_window_is_refused(api: MyJvnApi, myjvn: MyJvn) -> None:
    with pytest.raises(InvalidInput, match="after it ends"):
        list(api.overview(date(2025, 5, 1), date(2025, 4, 1)))
    assert myjvn.requests == []
