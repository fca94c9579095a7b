"""The NVD CVE API 2.0 sync client against an NVD-shaped API on 127.0.0.1.

The server (``tests/intel/nvd_server.py``) holds the 60 real records of ../shared/data/nvd and
behaves as NVD does: it filters by lastModStartDate/lastModEndDate (both inclusive, at most 120
days apart), pages by startIndex/resultsPerPage, answers 404 with a ``message`` header to a bad
parameter or key, and can be told to fail, to go empty or to change its record set between
requests. Time is a fake clock that only the client's sleeps advance; the server stamps each
request with it, so rate limits are checked in the client's time, not the wall clock's.
"""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sakimori.errors import (
    ConfigurationError,
    InvalidInput,
    LimitExceeded,
    MalformedDocument,
    SakimoriError,
    SourceUnavailable,
)
from sakimori.formats.limits import Limits
from sakimori.intel.nvd_api import (
    MAX_WINDOW,
    Checkpoint,
    NvdApi,
    Page,
    RateLimiter,
    parse_envelope,
    plan_windows,
)
from tests.conftest import require_data
from tests.intel.conftest import LocalServer, send
from tests.intel.nvd_server import (
    PATH,
    FakeClock,
    FakeNvd,
    Reply,
    Request,
    envelope,
    load_records,
    modified,
)

MS = timedelta(milliseconds=1)
KEY = "5e1f-secret-key-0042"
SINCE = datetime(2023, 1, 1, tzinfo=UTC)
UNTIL = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return load_records()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def nvd_server(server: LocalServer, records: list[dict[str, Any]], clock: FakeClock) -> FakeNvd:
    fake = FakeNvd(list(records), clock)
    server.routes[PATH] = fake
    return fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as instance:
        yield instance


@pytest.fixture
def make_api(server: LocalServer, client: httpx.Client, clock: FakeClock) -> Callable[..., NvdApi]:
    def make(**options: Any) -> NvdApi:
        options.setdefault("results_per_page", 7)
        return NvdApi(client, base_url=server.url(PATH), clock=clock, sleep=clock.sleep, **options)

    return make


def ids(pages: list[Page]) -> list[str]:
    return [record["id"] for page in pages for record in page.records]


def in_range(records: list[dict[str, Any]], since: datetime, until: datetime) -> list[str]:
    return [r["id"] for r in records if since <= modified(r) <= until]


# ----------------------------------------------------------------------------------------------
# A whole sync


def test_every_record_arrives_exactly_once(
    nvd_server: FakeNvd, make_api: Callable[..., NvdApi], records: list[dict[str, Any]]
) -> None:
    pages = list(make_api().pages(SINCE, UNTIL))
    received = ids(pages)
    assert sorted(received) == sorted(r["id"] for r in records)
    assert len(received) == len(set(received)) == 60
    windows = plan_windows(SINCE, UNTIL)
    assert len(windows) == 13
    # One request per page, every window asked for, paging went past the first page.
    assert len(nvd_server.requests) == len(pages)
    assert {(q.start, q.end) for q in nvd_server.requests} == set(windows)
    assert max(q.index for q in nvd_server.requests) >= 14
    assert all(
        q.per_page == 7 and len(p.records) <= 7
        for q, p in zip(nvd_server.requests, pages, strict=True)
    )
    for request in nvd_server.requests:
        assert request.end - request.start <= timedelta(days=120)
        assert request.api_key is None
    # Each page's checkpoint names the next request; the last one says "done".
    for page, following in zip(pages[:-1], nvd_server.requests[1:], strict=True):
        assert page.checkpoint is not None
        cp = page.checkpoint
        assert (cp.window_start, cp.window_end, cp.next_index) == (
            following.start,
            following.end,
            following.index,
        )
        assert cp.sync_until == UNTIL
    assert pages[-1].checkpoint is None


def test_window_edges_are_inclusive_and_never_overlap(
    nvd_server: FakeNvd, make_api: Callable[..., NvdApi], records: list[dict[str, Any]]
) -> None:
    """since and until on records, and a record exactly at the end of the first window."""
    first, boundary, last = records[5], records[20], records[40]
    since = modified(first)
    until = modified(last)
    # Move since back so that the first window ends exactly on ``boundary``.
    since_for_boundary = modified(boundary) - MAX_WINDOW
    received = ids(list(make_api().pages(since_for_boundary, until)))
    assert received.count(boundary["id"]) == 1
    assert received.count(last["id"]) == 1
    assert sorted(received) == sorted(in_range(records, since_for_boundary, until))
    assert nvd_server.requests[0].end == modified(boundary)
    received = ids(list(make_api().pages(since, until)))
    assert sorted(received) == sorted(in_range(records, since, until))
    assert first["id"] in received
    assert last["id"] in received


def test_api_key_is_sent_as_a_header(
    nvd_server: FakeNvd, make_api: Callable[..., NvdApi], records: list[dict[str, Any]]
) -> None:
    nvd_server.api_key = KEY
    pages = list(make_api(api_key=KEY).pages(SINCE, UNTIL))
    assert len(ids(pages)) == 60
    assert {q.api_key for q in nvd_server.requests} == {KEY}
    assert KEY not in repr(make_api(api_key=KEY))


def test_an_empty_range_yields_one_empty_page(
    nvd_server: FakeNvd, make_api: Callable[..., NvdApi]
) -> None:
    since = datetime(2020, 1, 1, tzinfo=UTC)
    pages = list(make_api().pages(since, since + timedelta(days=3)))
    assert pages == [Page([], 0, None)]


# ----------------------------------------------------------------------------------------------
# Windows and the checkpoint


@given(
    since=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2000)),
)
def test_windows_cover_the_range_without_gaps_or_overlaps(
    since: datetime, length: timedelta
) -> None:
    windows = plan_windows(since, since + length)
    floor = since.replace(microsecond=since.microsecond // 1000 * 1000)
    assert windows[0][0] == floor
    assert windows[-1][1] == (since + length).replace(
        microsecond=(since + length).microsecond // 1000 * 1000
    )
    for start, end in windows:
        assert start <= end
        assert end - start <= timedelta(days=120)
        assert start.tzinfo == UTC
    for (_, end), (start, _) in itertools.pairwise(windows):
        assert start == end + MS
    assert all(end - start == MAX_WINDOW for start, end in windows[:-1])


def test_windows_refuse_bad_ranges() -> None:
    with pytest.raises(InvalidInput, match="no time zone"):
        plan_windows(datetime(2024, 1, 1), datetime(2024, 2, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput, match=r"starts .* after it ends"):
        plan_windows(datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))
    tokyo = timezone(timedelta(hours=9))
    assert plan_windows(
        datetime(2024, 1, 1, 9, tzinfo=tokyo), datetime(2024, 1, 1, 9, tzinfo=tokyo)
    ) == [(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))]


def test_checkpoint_json_round_trip() -> None:
    checkpoint = Checkpoint(
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 4, 29, 23, 59, 59, 999000, tzinfo=UTC),
        14,
        datetime(2025, 1, 1, tzinfo=UTC),
        23,
    )
    stored = json.loads(json.dumps(checkpoint.to_dict()))
    assert stored["window_end"] == "2024-04-29T23:59:59.999+00:00"
    assert Checkpoint.from_dict(stored) == checkpoint
    fresh = Checkpoint(checkpoint.window_start, checkpoint.window_end, 0, checkpoint.sync_until)
    assert Checkpoint.from_dict(json.loads(json.dumps(fresh.to_dict()))) == fresh


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (None, "must be a JSON object"),
        ({"next_index": ...}, "lacks next_index"),
        ({"next_index": -1}, "next_index -1"),
        ({"next_index": True}, "next_index True"),
        ({"next_index": "3"}, "next_index '3'"),
        ({"window_start": "2024-01-01T00:00:00"}, "no time zone"),
        ({"window_start": "yesterday"}, "'yesterday' is not an ISO-8601"),
        ({"window_end": 20240101}, "not an ISO-8601"),
        ({"window_start": "2024-03-01T00:00:00+00:00"}, "not in order"),
        ({"sync_until": "2024-01-15T00:00:00+00:00"}, "not in order"),
        ({"window_end": "2024-06-01T00:00:00+00:00", "sync_until": "2025-01-01T00:00:00Z"}, "120"),
        ({"window_total": 1}, "window_total 1"),
    ],
)
def test_checkpoint_from_bad_data(change: dict[str, Any] | None, message: str) -> None:
    data: Any = None
    if change is not None:
        data = {
            "window_start": "2024-01-01T00:00:00.000+00:00",
            "window_end": "2024-02-01T00:00:00.000+00:00",
            "next_index": 7,
            "sync_until": "2024-03-01T00:00:00.000+00:00",
            "window_total": 20,
        }
        data.update(change)
        data = {k: v for k, v in data.items() if v is not ...}
    with pytest.raises(InvalidInput, match=message) as caught:
        Checkpoint.from_dict(data)
    assert "not a valid NVD sync checkpoint" in caught.value.diagnostics()


def test_checkpoint_of_another_range_is_refused(
    nvd_server: FakeNvd, make_api: Callable[..., NvdApi]
) -> None:
    checkpoint = Checkpoint(SINCE, SINCE + timedelta(days=10), 0, UNTIL - timedelta(days=1))
    with pytest.raises(InvalidInput, match="belongs to a sync until"):
        next(make_api().pages(SINCE, UNTIL, checkpoint))
    assert nvd_server.requests == []


# ----------------------------------------------------------------------------------------------
# Rate limits


def _max_in_any_window(times: list[float], period: float) -> int:
    return max(sum(1 for t in times if start <= t < start + period) for start in times)


def test_rate_limiter_keeps_a_rolling_window(clock: FakeClock) -> None:
    limiter = RateLimiter(5, 30.0, clock=clock, sleep=clock.sleep)
    times = []
    gaps = [0, 0, 1, 0, 2, 0, 0, 13, 0, 0, 29, 0, 0, 0, 0, 31, 0, 0, 5, 0, 0, 0, 0, 0]
    for gap in gaps:
        clock.now += gap
        limiter.acquire()
        times.append(clock.now)
    assert _max_in_any_window(times, 30.0) == 5
    assert clock.sleeps[0] > 0
    assert len(clock.sleeps) < len(gaps)
    # The first five go at once; the sixth waits for the first to leave the window.
    assert times[:5] == [1000.0, 1000.0, 1001.0, 1001.0, 1003.0]
    assert times[5] == 1030.0


@pytest.mark.parametrize(("key", "limit", "per_page"), [(None, 5, 7), (KEY, 50, 1)])
def test_default_limits_hold_against_the_server(
    nvd_server: FakeNvd,
    make_api: Callable[..., NvdApi],
    clock: FakeClock,
    key: str | None,
    limit: int,
    per_page: int,
) -> None:
    nvd_server.api_key = key
    received = ids(list(make_api(api_key=key, results_per_page=per_page).pages(SINCE, UNTIL)))
    assert len(received) == 60
    times = [q.at for q in nvd_server.requests]
    assert len(times) > limit
    assert _max_in_any_window(times, 30.0) <= limit
    assert clock.sleeps  # it had to wait


# ----------------------------------------------------------------------------------------------
# Retries and failures


@pytest.mark.parametrize(
    ("status", "headers", "wait"),
    [(503, {}, 6.0), (429, {"Retry-After": "11"}, 11.0), (403, {}, 6.0)],
)
def test_slow_down_answers_are_retried(
    nvd_server: FakeNvd,
    make_api: Callable[..., NvdApi],
    clock: FakeClock,
    status: int,
    headers: dict[str, str],
    wait: float,
) -> None:
    def once(fake: FakeNvd, request: Request) -> Reply | None:
        return (status, b"busy", headers) if len(fake.requests) == 2 else None

    nvd_server.hook = once
    limiter = RateLimiter(1000, 30.0, clock=clock, sleep=clock.sleep)
    pages = list(make_api(limiter=limiter).pages(SINCE, UNTIL))
    assert sorted(ids(pages)) == sorted(r["id"] for r in nvd_server.records)
    assert len(ids(pages)) == 60
    second, third = nvd_server.requests[1:3]
    assert (second.start, second.index) == (third.start, third.index)
    assert clock.sleeps == [wait]


@pytest.mark.parametrize(
    ("reply", "error", "text"),
    [
        (
            (500, b"oops", {}),
            SourceUnavailable,
            "HTTP 500 Internal Server Error (after 3 attempts)",
        ),
        ((200, b'{"resultsPerPage": 7, "startIn', {}), MalformedDocument, "invalid JSON"),
    ],
)
@pytest.mark.parametrize("where", ["mid-window", "window start"])
def test_failure_midway_then_resume_loses_nothing(
    nvd_server: FakeNvd,
    make_api: Callable[..., NvdApi],
    records: list[dict[str, Any]],
    reply: Reply,
    error: type[SakimoriError],
    text: str,
    where: str,
) -> None:
    failing: list[tuple[datetime, int]] = []

    def fault(fake: FakeNvd, request: Request) -> Reply | None:
        if not failing:
            trigger = request.index == 7 if where == "mid-window" else len(fake.requests) == 3
            if trigger:
                failing.append((request.start, request.index))
        return reply if (request.start, request.index) in failing else None

    nvd_server.hook = fault
    done: list[Page] = []
    with pytest.raises(error) as caught:
        done.extend(make_api(retries=2).pages(SINCE, UNTIL))
    assert failing
    received = ids(done)
    last = done[-1].checkpoint
    assert last is not None
    stored = json.loads(json.dumps(last.to_dict()))  # as the database would keep it
    message = caught.value.diagnostics()
    assert text in message
    start, index = failing[0]
    asked = httpx.QueryParams({"lastModStartDate": start.isoformat(timespec="milliseconds")})
    assert f"{PATH}?{asked}&" in message
    assert f"&startIndex={index}&resultsPerPage=7" in message
    assert 0 < len(received) < 60
    checkpoint = Checkpoint.from_dict(stored)
    assert (checkpoint.window_start, checkpoint.next_index) == failing[0]
    # The next run: NVD is well again.
    nvd_server.hook = None
    before = len(nvd_server.requests)
    rest = ids(list(make_api().pages(SINCE, UNTIL, checkpoint)))
    assert sorted(received + rest) == sorted(r["id"] for r in records)
    assert len(received + rest) == 60
    resumed = nvd_server.requests[before]
    assert (resumed.start, resumed.index) == failing[0]


def test_invalid_key_is_fatal_and_never_shown(
    nvd_server: FakeNvd,
    make_api: Callable[..., NvdApi],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    nvd_server.api_key = "the-right-key"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigurationError) as caught:
        list(make_api(api_key=KEY).pages(SINCE, UNTIL))
    error = caught.value
    assert len(nvd_server.requests) == 1
    assert clock.sleeps == []
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("sakimori")]
    text = f"{error.diagnostics()} {error} {error.where} {error.hint} {ours}"
    assert KEY not in text
    assert "HTTP 404 Not Found: Invalid apiKey ***." in error.message
    assert "API key" in (error.hint or "")
    assert error.where is not None
    assert error.where.startswith("http://127.0.0.1:")
    assert "startIndex=0" in error.where


def test_other_client_errors_are_fatal(
    server: LocalServer, make_api: Callable[..., NvdApi], clock: FakeClock
) -> None:
    server.routes[PATH] = lambda handler: send(handler, 404, b"", {"message": "Invalid parameter"})
    with pytest.raises(ConfigurationError, match="HTTP 404 Not Found: Invalid parameter") as caught:
        next(make_api().pages(SINCE, UNTIL))
    assert server.hits[PATH] == 1
    assert "NVD API URL" in (caught.value.hint or "")
    assert clock.sleeps == []


def test_unreachable_server_is_retried_then_unavailable(
    client: httpx.Client, clock: FakeClock
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = NvdApi(
        client,
        base_url=f"http://127.0.0.1:{port}{PATH}",
        retries=2,
        backoff=1.0,
        clock=clock,
        sleep=clock.sleep,
    )
    with pytest.raises(SourceUnavailable, match="cannot connect") as caught:
        next(api.pages(SINCE, UNTIL))
    assert "after 3 attempts" in caught.value.message
    assert clock.sleeps == [1.0, 2.0]


def test_empty_pages_while_more_are_promised_stop(
    nvd_server: FakeNvd, make_api: Callable[..., NvdApi]
) -> None:
    """totalResults stays at 500 but the records run out at 60: no endless loop at index 60."""

    def short(fake: FakeNvd, request: Request) -> Reply | None:
        if len(fake.requests) > 50:  # a client that loops would fail with another message
            return 418, b"", {}
        page = fake.records[request.index : request.index + 7]
        return 200, envelope(page, request.index, 500), {}

    nvd_server.hook = short
    done: list[Page] = []
    with pytest.raises(SourceUnavailable, match="no records at startIndex 60 although"):
        done.extend(make_api().pages(SINCE, UNTIL))
    assert len(ids(done)) == 60
    assert len(nvd_server.requests) == 10


def test_a_changing_total_requests_the_window_again(
    nvd_server: FakeNvd, make_api: Callable[..., NvdApi], records: list[dict[str, Any]]
) -> None:
    """A record modified during the sync leaves the window; nothing after it may be skipped."""
    removed: list[dict[str, Any]] = []

    def modify(fake: FakeNvd, request: Request) -> Reply | None:
        if request.index == 7 and not removed:
            removed.append(fake.records.pop(fake.records.index(_in_window(fake, request)[0])))
        return None

    nvd_server.hook = modify
    received = ids(list(make_api().pages(SINCE, UNTIL)))
    assert removed
    assert set(received) >= {r["id"] for r in records} - {removed[0]["id"]}
    # Exactly one window was asked for from startIndex 0 twice.
    firsts = [q.start for q in nvd_server.requests if q.index == 0]
    assert len(firsts) == len(set(firsts)) + 1


def _in_window(fake: FakeNvd, request: Request) -> list[dict[str, Any]]:
    return [r for r in fake.records if request.start <= modified(r) <= request.end]


def test_a_total_that_never_settles_stops(
    nvd_server: FakeNvd, make_api: Callable[..., NvdApi]
) -> None:
    counter = iter(range(100, 1000))

    def drifting(fake: FakeNvd, request: Request) -> Reply | None:
        page = fake.records[request.index : request.index + 7]
        return 200, envelope(page, request.index, next(counter)), {}

    nvd_server.hook = drifting
    with pytest.raises(SourceUnavailable, match="changed 4 times"):
        for _ in make_api(max_restarts=3).pages(SINCE, UNTIL):
            pass
    # (0, 7) four times: each second page sees a new total and starts the window again.
    assert [q.index for q in nvd_server.requests] == [0, 7] * 4


def test_a_body_over_the_limit_is_refused(
    nvd_server: FakeNvd, make_api: Callable[..., NvdApi]
) -> None:
    with pytest.raises(LimitExceeded, match="larger than the limit of 2,000 bytes"):
        list(make_api(limits=Limits(max_bytes=2000)).pages(SINCE, UNTIL))


# ----------------------------------------------------------------------------------------------
# The envelope


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"startIndex": 8}, "startIndex is 8, but page 7 was asked for"),
        ({"vulnerabilities": ...}, "vulnerabilities is missing"),
        ({"vulnerabilities": {"cve": {}}}, "vulnerabilities is missing or not a list"),
        (
            {"vulnerabilities": [{"cve": {"sourceIdentifier": "x"}}]},
            r"vulnerabilities\[0\]\.cve\.id None",
        ),
        ({"vulnerabilities": [{"id": "CVE-2024-0001"}]}, r"vulnerabilities\[0\] has no cve object"),
        ({"vulnerabilities": [{"cve": {"id": "GHSA-xxxx"}}]}, "'GHSA-xxxx' is not a CVE id"),
        ({"format": "NVD_CPE"}, "format is 'NVD_CPE'"),
        ({"version": "1.0"}, "version is '1.0'"),
        ({"totalResults": "60"}, "totalResults is '60'"),
        ({"totalResults": True}, "totalResults is True"),
        ({"totalResults": 8}, "do not fit"),
        ({"timestamp": ...}, "timestamp"),
    ],
)
def test_envelope_violations_are_refused(
    records: list[dict[str, Any]], changes: dict[str, Any], message: str
) -> None:
    body = envelope(records[7:14], 7, 60, **changes)
    with pytest.raises(MalformedDocument, match=message):
        parse_envelope(body, start_index=7, page_size=7)


def test_envelope_with_too_many_records_is_refused(records: list[dict[str, Any]]) -> None:
    with pytest.raises(MalformedDocument, match="8 records at startIndex 0 do not fit"):
        parse_envelope(envelope(records[:8], 0, 60), start_index=0, page_size=7)
    assert parse_envelope(envelope(records[:7], 0, 60), start_index=0, page_size=7) == (
        records[:7],
        60,
    )


def test_server_envelope_violation_names_the_request(
    nvd_server: FakeNvd, make_api: Callable[..., NvdApi]
) -> None:
    def shifted(fake: FakeNvd, request: Request) -> Reply | None:
        return (200, envelope([], request.index + 1, 0), {}) if len(fake.requests) == 2 else None

    nvd_server.hook = shifted
    with pytest.raises(MalformedDocument) as caught:
        list(make_api().pages(SINCE, UNTIL))
    error = caught.value
    assert "startIndex is 1, but page 0 was asked for" in error.message
    assert error.where is not None
    assert PATH + "?lastModStartDate=" in error.where
    assert error.hint is not None


@pytest.mark.parametrize(
    ("path", "start", "count", "total"),
    [
        ("pablotron-nvd-go/nvd-api/testdata/responses/cves-2023.json.gz", 200000, 200, 220499),
        ("pablotron-nvd-go/nvd-api/testdata/responses/cves-CVE-2023-0001.json.gz", 0, 1, 1),
        ("google-osv.dev/vulnfeeds/test_data/nvdcve-2.0/CVE-2023-4863.json", 0, 1, 1),
        ("google-osv.dev/vulnfeeds/test_data/nvdcve-2.0/CVE-2020-13595.json", 0, 1, 1),
    ],
)
def test_real_api_responses_pass_the_validator(
    path: str, start: int, count: int, total: int
) -> None:
    file = require_data("nvd", "api", *path.split("/"))
    data = file.read_bytes()
    if file.suffix == ".gz":
        data = gzip.decompress(data)
    found, found_total = parse_envelope(data, start_index=start)
    assert (len(found), found_total) == (count, total)
    assert all(record["id"].startswith("CVE-") for record in found)
    with pytest.raises(MalformedDocument, match="startIndex"):
        parse_envelope(data, start_index=start + 1)


def test_real_response_served_over_http(
    server: LocalServer, make_api: Callable[..., NvdApi]
) -> None:
    body = require_data("nvd", "api", "google-osv.dev", "vulnfeeds", "test_data", "nvdcve-2.0")
    data = Path(body, "CVE-2023-4863.json").read_bytes()
    server.routes[PATH] = lambda handler: send(handler, 200, data)
    pages = list(make_api(results_per_page=2000).pages(SINCE, SINCE + timedelta(days=1)))
    assert ids(pages) == ["CVE-2023-4863"]
    assert pages[0].total == 1
    assert pages[0].checkpoint is None
