"""Sigma's matching semantics, one construct at a time, on small rules written here."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from sakimori.monitoring.record import HTTP, Record
from sakimori.monitoring.sigma import RuleSet, RuleSource, load_rule_sources

WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def request(
    target: str = "/",
    *,
    method: str = "GET",
    status: int = 200,
    agent: str = "Mozilla/5.0",
    client: str = "198.51.100.7",
    referrer: str = "",
    host: str = "",
) -> Record:
    path, _, query = target.partition("?")
    return Record(
        HTTP, WHEN, WHEN.timestamp(), client, method, path, query, status, 10, referrer, agent,
        host,
    )  # fmt: skip


def rule(detection: str) -> RuleSet:
    text = (
        "title: test rule\nid: 5b0f5a52-0d7e-4c1b-9d2a-1f3e5c7a9b11\nlevel: high\n"
        "logsource:\n    category: webserver\ndetection:\n" + detection
    )
    load = load_rule_sources([RuleSource("test", text)])
    assert not load.problems, load.problems
    return RuleSet(load.rules)


def matches(rules: RuleSet, record: Record) -> bool:
    return bool(rules.match(record))


def test_plain_value_is_the_whole_field_case_insensitively() -> None:
    rules = rule("    sel:\n        cs-uri-stem: '/Admin/Login.php'\n    condition: sel\n")
    assert matches(rules, request("/admin/LOGIN.php"))
    assert matches(rules, request("/admin/login.php?x=1"))  # the stem is the path alone
    assert not matches(rules, request("/admin/login.php5"))
    assert not matches(rules, request("/x/admin/login.php"))


def test_contains_startswith_endswith() -> None:
    rules = rule(
        "    a:\n        cs-uri-query|contains: 'UNION SELECT'\n"
        "    b:\n        cs-user-agent|startswith: 'sqlmap/'\n"
        "    c:\n        cs-uri-stem|endswith: '.BAK'\n"
        "    condition: 1 of them\n"
    )
    assert matches(rules, request("/p?id=1 union select 2"))
    assert matches(rules, request("/", agent="SQLMap/1.7"))
    assert not matches(rules, request("/", agent="x sqlmap/1.7"))
    assert matches(rules, request("/site.bak"))
    assert not matches(rules, request("/site.bak.txt"))
    assert not matches(rules, request("/p?id=1 union  select 2"))


def test_wildcards_and_their_escapes() -> None:
    rules = rule("    sel:\n        cs-uri-stem: '/a*/b?.php'\n    condition: sel\n")
    assert matches(rules, request("/a/b1.php"))
    assert matches(rules, request("/aXYZ/bz.php"))
    assert not matches(rules, request("/a/b.php"))  # ? is exactly one character
    assert not matches(rules, request("/a/b12.php"))
    escaped = rule("    sel:\n        cs-user-agent: 'a\\*b\\?c'\n    condition: sel\n")
    assert matches(escaped, request(agent="A*B?C"))
    assert not matches(escaped, request(agent="aXbYc"))


def test_all_links_values_with_and() -> None:
    rules = rule(
        "    sel:\n        cs-uri-query|contains|all:\n            - 'cmd='\n"
        "            - 'whoami'\n    condition: sel\n"
    )
    assert matches(rules, request("/x?cmd=whoami"))
    assert not matches(rules, request("/x?cmd=id"))
    any_rule = rule(
        "    sel:\n        cs-uri-query|contains:\n            - 'cmd='\n"
        "            - 'whoami'\n    condition: sel\n"
    )
    assert matches(any_rule, request("/x?cmd=id"))


def test_re_is_searched_case_sensitively_unless_i() -> None:
    rules = rule("    sel:\n        cs-user-agent|re: 'python-requests/\\d+'\n    condition: sel\n")
    assert matches(rules, request(agent="x python-requests/2.31"))
    assert not matches(rules, request(agent="Python-Requests/2.31"))
    insensitive = rule(
        "    sel:\n        cs-user-agent|re|i: 'python-requests/\\d+'\n    condition: sel\n"
    )
    assert matches(insensitive, request(agent="Python-Requests/2.31"))


def test_cased_is_exact() -> None:
    rules = rule("    sel:\n        cs-uri-stem|cased|contains: 'WEB-INF'\n    condition: sel\n")
    assert matches(rules, request("/app/WEB-INF/web.xml"))
    assert not matches(rules, request("/app/web-inf/web.xml"))


def test_cidr() -> None:
    rules = rule("    sel:\n        c-ip|cidr: '10.0.0.0/8'\n    condition: sel\n")
    assert matches(rules, request(client="10.200.3.4"))
    assert not matches(rules, request(client="11.0.0.1"))
    assert not matches(rules, request(client="not-an-address"))
    six = rule("    sel:\n        c-ip|cidr: '2001:db8::/32'\n    condition: sel\n")
    assert matches(six, request(client="2001:db8::1"))
    assert not matches(six, request(client="2001:db9::1"))


def test_base64_and_base64offset() -> None:
    encoded = base64.b64encode(b"/bin/bash").decode()
    rules = rule(
        "    sel:\n        cs-uri-query|base64|contains: '/bin/bash'\n    condition: sel\n"
    )
    assert matches(rules, request(f"/x?p={encoded}"))
    assert not matches(rules, request("/x?p=/bin/bash"))
    offset = rule(
        "    sel:\n        cs-uri-query|base64offset|contains: '/bin/bash'\n    condition: sel\n"
    )
    for prefix in (b"", b"a", b"ab"):  # the value at each offset in an encoded string
        text = base64.b64encode(prefix + b"/bin/bash -i").decode()
        assert matches(offset, request(f"/x?p={text}")), prefix
    assert not matches(offset, request("/x?p=" + base64.b64encode(b"/bin/dash -i").decode()))


def test_keywords_match_anywhere_in_the_request() -> None:
    rules = rule("    keywords:\n        - '.git/'\n        - 'sqlmap'\n    condition: keywords\n")
    assert matches(rules, request("/repo/.GIT/config"))
    assert matches(rules, request("/", agent="sqlmap/1.7"))
    assert matches(rules, request("/", referrer="https://e.org/.git/"))
    assert not matches(rules, request("/repo/.gitignore"))


def test_one_of_and_all_of_and_not() -> None:
    one = rule(
        "    selection_a:\n        cs-uri-stem: '/a'\n    selection_b:\n        cs-uri-stem: '/b'\n"
        "    filter:\n        sc-status: 404\n"
        "    condition: 1 of selection_* and not filter\n"
    )
    assert matches(one, request("/a"))
    assert matches(one, request("/b"))
    assert not matches(one, request("/b", status=404))
    assert not matches(one, request("/c"))
    every = rule(
        "    sel_method:\n        cs-method: POST\n    sel_path:\n        cs-uri-stem: '/up'\n"
        "    condition: all of them\n"
    )
    assert matches(every, request("/up", method="POST"))
    assert not matches(every, request("/up", method="GET"))


def test_null_and_numbers() -> None:
    rules = rule(
        "    sel:\n        cs-uri-stem|startswith: '/wp-content/plugins/x'\n"
        "    filter:\n        cs-uri-query: null\n    condition: sel and not filter\n"
    )
    assert matches(rules, request("/wp-content/plugins/x/a.php"))  # the target is never empty
    referrer = rule("    sel:\n        cs-referer: null\n    condition: sel\n")
    assert matches(referrer, request("/"))
    assert not matches(referrer, request("/", referrer="https://e.org/"))
    status = rule(
        "    sel:\n        sc-status:\n            - 200\n            - 302\n"
        "    big:\n        sc-status|gte: 500\n    condition: sel or big\n"
    )
    assert matches(status, request(status=302))
    assert matches(status, request(status=503))
    assert not matches(status, request(status=404))


@pytest.mark.parametrize(
    ("detection", "reason"),
    [
        ("    sel:\n        cs-cookie|contains: 'x'\n    condition: sel\n", "field 'cs-cookie'"),
        ("    sel:\n        cs-uri-stem|fieldref: cs-host\n    condition: sel\n", "fieldref"),
        ("    sel:\n        cs-uri-stem|expand: '%p%'\n    condition: sel\n", "placeholders"),
        ("    sel:\n        cs-uri-stem|nosuch: x\n    condition: sel\n", "nosuch"),
        ("    sel:\n        cs-uri-stem: x\n    condition: sel | count() > 5\n", "condition"),
    ],
)
def test_what_cannot_run_is_reported_with_the_reason(detection: str, reason: str) -> None:
    text = (
        "title: odd rule\nid: 0e7b0a42-6c7d-4d55-9a6b-3f9a2f1c2d10\nlogsource:\n"
        "    category: webserver\ndetection:\n" + detection
    )
    load = load_rule_sources([RuleSource("odd.yml", text)])
    assert load.rules == []
    assert len(load.problems) == 1
    problem = load.problems[0]
    assert (problem.origin, problem.title) == ("odd.yml", "odd rule")
    assert reason in problem.reason


def test_other_log_sources_and_broken_documents_are_reported() -> None:
    proxy = (
        "title: proxy rule\nlogsource:\n    category: proxy\ndetection:\n"
        "    sel:\n        c-uri|contains: x\n    condition: sel\n"
    )
    load = load_rule_sources([RuleSource("p.yml", proxy), RuleSource("b.yml", "title: [")])
    assert load.rules == []
    assert [p.origin for p in load.problems] == ["p.yml", "b.yml"]
    assert "category proxy" in load.problems[0].reason
    assert "2 not loaded" in load.summary()


def test_windash_exists_and_comparisons() -> None:
    dash = rule("    sel:\n        cs-uri-query|windash|contains: ' -enc '\n    condition: sel\n")
    assert matches(dash, request("/x?a= -enc b"))
    assert matches(dash, request("/x?a= /enc b"))
    assert not matches(dash, request("/x?a= enc b"))
    exists = rule(
        "    sel:\n        cs-referer|exists: true\n    other:\n        cs-host|exists: false\n"
        "    condition: sel and other\n"
    )
    assert matches(exists, request(referrer="https://e.org/"))
    assert not matches(exists, request(referrer="https://e.org/", host="example.org"))
    assert not matches(exists, request())
    small = rule("    sel:\n        sc-status|lt: 300\n    condition: sel\n")
    assert matches(small, request(status=204))
    assert not matches(small, request(status=301))
