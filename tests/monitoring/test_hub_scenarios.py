"""On the CrowdSec hub test cases: for every scenario we cover, our detectors fire for every
source address the case's ``scenario.assert`` expects (read from the file, not written here).

Each asserted scenario is either covered (with the alerts that count as catching it) or listed
as not covered with the reason (docs/monitoring.md has the same table). A scenario in neither
list fails the test, so new hub cases get classified, not silently ignored.
"""

from __future__ import annotations

import pytest

from sakimori.errors import UnsupportedFormat
from sakimori.monitoring.watch import WatchOptions, watch
from tests.monitoring.hub import Case, cases

PAYLOAD = {"http-payload"}
PATHS = {"http-sensitive-paths"}
AUTH = {"http-auth-bruteforce", "http-auth-slow-bruteforce", "http-auth-spray"}
#: CrowdSec scenario -> our alerts that count as catching it.
COVERED: dict[str, set[str]] = {
    "http-probing": {"http-breadth"},
    "http-crawl-non_statics": {"http-rate", "http-no-assets"},
    "http-sensitive-files": PATHS,
    "http-backdoors-attempts": PATHS,
    "http-admin-interface-probing": PATHS,
    "http-cve-probing": PATHS,
    "http-wordpress-scan": PATHS,
    "http-wordpress_wpconfig": PATHS,
    "http-w00tw00t": PATHS,
    "http-technology-probing": PATHS | {"http-low-and-slow"},
    "http-bad-user-agent": {"http-tool-agent"},
    "http-path-traversal-probing": PAYLOAD,
    "http-sqli-probbing-detection": PAYLOAD,
    "http-xss-probbing": PAYLOAD,
    "apache_log4j2_cve-2021-44228": PAYLOAD,
    "http-open-proxy": PAYLOAD,
    "http-cve-2021-41773": PAYLOAD | PATHS,
    "http-dos-bypass-cache": {"http-rate"},
    "http-dos-random-uri": {"http-rate", "http-breadth"},
    "http-bf-wordpress_bf": AUTH,
    "http-generic-401-bf": AUTH,
    "http-wordpress_user-enum": {"http-user-enum"},
}
#: CrowdSec scenario -> why this step does not cover it.
NOT_COVERED: dict[str, str] = {
    "http-generic-bf": "HTTP basic-auth failures are in the nginx error log, not read",
    "http-magento-bf": "Magento extension log, not read",
    "apache-guacamole_bf": "Guacamole application log, not read",
    "apache-guacamole_user_enum": "Guacamole application log, not read",
    "http-dos-invalid-http-versions": "the HTTP version is not checked (one request each)",
    "http-dos-swithcing-ua": "user-agent rotation per address is not a detector yet",
    "http-generic-test": "CrowdSec's own self-test URI, not an attack",
    "modsecurity": "ModSecurity audit log, not read",
    "email-user-bf": "nginx mail proxy error log, not read",
    "email-generic-bf": "nginx mail proxy error log, not read",
    "nginx-req-limit-exceeded": "nginx error log, not read",
    "sympa_ww-http-scan": "Sympa log, not read",
}
#: (case, address) expected by a covered scenario that we knowingly miss, with the reason.
MISSED: dict[tuple[str, str], str] = {
    ("apache-cve-2021-41773", "88.168.206.87"): "the line is an Apache error-log line",
    ("aws-alb-http-bad-user-agent", "192.168.1.100"): "AWS ALB log format, not read",
    ("zoraxy-http-bad-user-agent", "192.168.1.1"): "Zoraxy log format, not read",
    ("http-technology-probing", "10.0.0.2"): (
        "one request for one technology path is below the path score by design"
    ),
}

CASES = [case for case in cases() if case.expected]
COVERED_CASES = [case for case in CASES if any(s in COVERED for s, _ in case.expected)]


def test_every_asserted_scenario_is_classified() -> None:
    scenarios = {scenario for case in CASES for scenario, _ in case.expected}
    assert scenarios, "no scenario.assert read"
    unknown = scenarios - set(COVERED) - set(NOT_COVERED)
    assert not unknown, f"classify these hub scenarios as covered or not: {sorted(unknown)}"


@pytest.mark.parametrize("case", COVERED_CASES, ids=lambda c: c.name)
def test_case(case: Case) -> None:
    covered = {(s, a) for s, a in case.expected if s in COVERED}
    try:
        result = watch(case.logs, WatchOptions(year=2021))
        alerts = {(a.client, a.detector) for a in result.alerts}
    except UnsupportedFormat:  # a format we do not read: every address must be in MISSED
        alerts = set()
    for scenario, address in sorted(covered):
        fired = {detector for client, detector in alerts if client == address}
        if (case.name, address) in MISSED:
            assert not fired & COVERED[scenario], f"{case.name} {address} is caught now: unlist it"
            continue
        assert fired & COVERED[scenario], (
            f"{case.name}: {scenario} expected for {address}; we fired {sorted(fired) or 'nothing'}"
        )


def test_coverage_summary() -> None:
    """The share of asserted (scenario, address) pairs of covered scenarios we catch."""
    total = sum(1 for case in CASES for s, _ in case.expected if s in COVERED)
    missed = len(MISSED)
    assert total >= 30
    assert missed / total < 0.15
