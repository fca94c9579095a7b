"""The Combined/Common Log Format parser on hand-written lines of every variant it claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sakimori.monitoring.parsers.clf import CombinedParser, split_request
from sakimori.monitoring.record import HTTP, Record

PARSER = CombinedParser()


def parse(line: str) -> Record:
    record = PARSER.parse(line, 7)
    assert isinstance(record, Record), record
    return record


def test_combined_line_every_field() -> None:
    record = parse(
        '203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /a/b.php?x=1&y=%27 HTTP/1.1" '
        '404 2326 "https://example.org/" "Mozilla/5.0 (X11)"\n'
    )
    assert record.kind == HTTP
    assert record.client == "203.0.113.9"
    assert record.user == "frank"
    assert record.time == datetime(2000, 10, 10, 13, 55, 36, tzinfo=timezone(timedelta(hours=-7)))
    assert record.ts == record.time.timestamp()
    assert (record.method, record.path, record.query) == ("GET", "/a/b.php", "x=1&y=%27")
    assert (record.status, record.bytes) == (404, 2326)
    assert record.referrer == "https://example.org/"
    assert record.agent == "Mozilla/5.0 (X11)"
    assert record.line == 7


def test_common_line_has_no_referrer_or_agent() -> None:
    record = parse('127.0.0.1 - - [29/Sep/2021:12:37:05 +0000] "GET /x HTTP/1.0" 200 -')
    assert (record.referrer, record.agent, record.bytes, record.user) == ("", "", 0, "")
    assert record.time.tzinfo is UTC


def test_dashes_become_empty() -> None:
    record = parse('10.0.0.1 - - [01/Apr/2026:10:00:00 +0000] "GET / HTTP/1.1" - - "-" "-"')
    assert (record.status, record.bytes, record.referrer, record.agent) == (0, 0, "", "")


@pytest.mark.parametrize(
    ("line", "client", "host"),
    [
        (
            'memze.ro 23.94.26.138 - - [08/Oct/2021:17:09:03 +0200] "GET /x HTTP/1.1" 400 1 '
            '"-" "-" "-"',
            "23.94.26.138",
            "memze.ro",
        ),
        (
            'example.com 192.168.1.10 - req001 - [29/Jul/2023:10:26:06 -0700] "GET / HTTP/1.1" '
            '400 157 "-" "-"',
            "192.168.1.10",
            "example.com",
        ),
        (
            "Sep 15 16:13:46 ip-172-31-43-28 nginx[2869]: 81.150.104.130 - - "
            '[15/Sep/2021:16:13:46 +0000] "POST /wp-login.php HTTP/1.1" 200 5364 "-" "UA"',
            "81.150.104.130",
            "",
        ),
        (
            '2001:db8::1 - [08/Jun/2020:08:04:43 +0000] "GET / HTTP/1.1" 200 1 "-" "c"',
            "2001:db8::1",
            "",
        ),
    ],
)
def test_variants(line: str, client: str, host: str) -> None:
    record = parse(line)
    assert (record.client, record.host) == (client, host)


def test_escaped_quotes_keep_the_agent() -> None:
    record = parse(
        '1.2.3.4 - - [08/Oct/2021:17:09:03 +0200] "GET /q?a=\\"x HTTP/1.1" 400 1 '
        '"ref \\"q\\"" "agent \\"z\\""'
    )
    assert record.agent == 'agent \\"z\\"'
    assert record.query == 'a=\\"x'


@pytest.mark.parametrize(
    "request_text", ["\\x16\\x03\\x01\\x01 \\x02", "-", "lv|'|'|MARK", "GET", "get / HTTP/1.1"]
)
def test_request_that_is_not_http_is_kept_raw(request_text: str) -> None:
    record = parse(f'1.2.3.4 - - [17/Oct/2023:05:57:49 +1100] "{request_text}" 400 226 "-" "-"')
    assert record.method == ""
    assert record.path == request_text


def test_split_request() -> None:
    assert split_request("GET /a?b=1?c HTTP/1.1") == ("GET", "/a", "b=1?c")
    assert split_request("CONNECT foo.com:25 HTTP/1.1") == ("CONNECT", "foo.com:25", "")
    assert split_request("GET /") == ("GET", "/", "")


@pytest.mark.parametrize(
    "line",
    [
        "not a log line",
        '1.2.3.4 - - [32/Oct/2023:05:57:49 +1100] "GET / HTTP/1.1" 200 1',  # no 32 October
        '1.2.3.4 - - [17/Foo/2023:05:57:49 +1100] "GET / HTTP/1.1" 200 1',
        '1.2.3.4 - - [17/Oct/2023:05:57:49 +11] "GET / HTTP/1.1" 200 1',
        "[Fri Oct 08 17:08:41.203277 2021] [core:error] [pid 7005] [client 1.2.3.4:1] AH00126",
    ],
)
def test_bad_lines_are_errors(line: str) -> None:
    assert PARSER.parse(line, 1) is None


def test_blank_line_is_skipped() -> None:
    assert PARSER.parse("  \n", 1) == "blank line"


@given(st.text(alphabet="GETPOS /?a b-_%\\", max_size=24))
def test_fast_path_splits_the_request_as_split_request(request_line: str) -> None:
    """The common-shape regex splits the request line itself; it must agree with
    ``split_request`` (the variant path's splitter) on every request text."""
    line = f'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "{request_line}" 200 1 "-" "x"'
    record = CombinedParser().parse(line, 1)
    assert isinstance(record, Record)
    assert (record.method, record.path, record.query) == split_request(request_line)
