"""Every log of the CrowdSec hub tests: the format detected, every line accounted for.

A log we read must parse without a single error, except for lines of another program's format
mixed into it (an Apache or nginx *error* log line in an access-log test, nginx-proxy-manager's
own format), recognised by their shape below. Logs in formats we do not read are listed with the
reason, and detection must refuse them (no claim we cannot keep).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sakimori.monitoring.parsers import detect_format, make_parser
from sakimori.monitoring.record import Record
from tests.monitoring.hub import cases, hub_tests

#: Lines of other formats inside access-log tests: Apache error log, nginx error log,
#: nginx-proxy-manager's proxy-host format.
FOREIGN = re.compile(r"\[\w{3} \w{3} \d\d |\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[|\[\d\d/\w{3}/\d{4}:")

#: log file stem -> why we do not read it (detection must return None).
UNSUPPORTED = {
    "apache-guacamole-logs": "Apache Guacamole application log",
    "apache-guacamole_bf": "Apache Guacamole application log behind a docker-compose prefix",
    "apache-guacamole_user_enum": "Apache Guacamole application log behind a docker-compose prefix",
    "aws-alb-http-bad-user-agent": "AWS Application Load Balancer log format",
    "base-upsun-httplog-logs": "Upsun's nested JSON envelope (no address or time at a known path)",
    "http-magento-bf": "Magento extension event log",
    "modsecurity-logs-nginx": "ModSecurity audit messages in the nginx error log",
    "modsecurity-nginx": "ModSecurity audit messages in the nginx error log",
    "nginx-mail-bf": "nginx mail proxy error log",
    "nginx_http-catch-npm": "a custom nginx log_format (time first, unquoted user agent)",
    "nginx_req_limit_exceeded": "nginx error log (limit_req messages)",
    "pfsense-rfc5424-nginx": "nginx error log inside RFC 5424 syslog",
    "sympa_ww-logs": "Sympa web interface log",
    "zoraxy": "Zoraxy proxy log format",
}


def hub_logs() -> list[Path]:
    return [log for case in cases() for log in case.logs]


def test_the_data_is_there() -> None:
    assert len(hub_logs()) >= 50


@pytest.mark.parametrize("log", hub_logs(), ids=lambda p: p.parent.name)
def test_hub_log(log: Path) -> None:
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    detected = detect_format(lines[:50])
    if log.stem in UNSUPPORTED:
        assert detected is None, f"{log} is listed as unsupported but reads as {detected}"
        return
    assert detected is not None, f"{log}: no format detected"
    parser = make_parser(detected, year=2021)
    records = errors = 0
    for number, line in enumerate(lines, 1):
        result = parser.parse(line, number)
        if isinstance(result, Record):
            records += 1
        elif result is None:
            assert FOREIGN.match(line), f"{log.name}:{number} is not parsed: {line[:120]}"
            errors += 1
        else:
            assert result == "blank line", (number, result)
    blank = sum(1 for line in lines if not line.strip())
    assert records + errors + blank == len(lines)
    assert records > 0


def test_line_counts_per_format() -> None:
    """How many lines each parser reads across the hub logs (printed with -s; sanity floor)."""
    counts: dict[str, int] = {}
    for log in hub_logs():
        if log.stem in UNSUPPORTED:
            continue
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        name = detect_format(lines[:50]) or "none"
        parser = make_parser(name, year=2021)
        counts[name] = counts.get(name, 0) + sum(
            isinstance(parser.parse(line, n), Record) for n, line in enumerate(lines, 1)
        )
    print(counts)
    assert counts["combined"] >= 700
    assert counts["json"] >= 100
    assert hub_tests().exists()
