"""The OpenSSH parser: syslog and journalctl lines, every outcome, years, skips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sakimori.monitoring.parsers.ssh import SSHD_OTHER, SshParser
from sakimori.monitoring.record import (
    SSH,
    SSH_ACCEPTED,
    SSH_FAILED,
    SSH_INVALID_USER,
    SSH_PREAUTH_CLOSED,
    SSH_TOO_MANY,
    Record,
)


@pytest.mark.parametrize(
    ("message", "outcome", "user", "client"),
    [
        (
            "Failed password for invalid user x from 1.2.3.4 port 22 ssh2",
            SSH_FAILED,
            "x",
            "1.2.3.4",
        ),
        (
            "Failed password for root from 2001:db8::7 port 5 ssh2",
            SSH_FAILED,
            "root",
            "2001:db8::7",
        ),
        (
            "Failed publickey for git from 10.0.0.1 port 5 ssh2: RSA SHA256:abc",
            SSH_FAILED,
            "git",
            "10.0.0.1",
        ),
        ("Invalid user admin from 5.6.7.8 port 40000", SSH_INVALID_USER, "admin", "5.6.7.8"),
        ("Invalid user oracle from 5.6.7.8", SSH_INVALID_USER, "oracle", "5.6.7.8"),
        (
            "Accepted publickey for alice from 9.9.9.9 port 1 ssh2: ED25519 SHA256:x",
            SSH_ACCEPTED,
            "alice",
            "9.9.9.9",
        ),
        (
            "Connection closed by authenticating user root 1.2.3.4 port 60000 [preauth]",
            SSH_PREAUTH_CLOSED,
            "root",
            "1.2.3.4",
        ),
        (
            "error: maximum authentication attempts exceeded for invalid user pi from 1.2.3.4 "
            "port 2 ssh2 [preauth]",
            SSH_TOO_MANY,
            "pi",
            "1.2.3.4",
        ),
    ],
)
def test_outcomes(message: str, outcome: str, user: str, client: str) -> None:
    record = SshParser(year=2024).parse(f"Mar  1 12:00:00 host sshd[1234]: {message}\n", 3)
    assert isinstance(record, Record)
    assert (record.kind, record.outcome, record.user, record.client) == (SSH, outcome, user, client)
    assert record.time == datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert record.line == 3


def test_journalctl_short_iso_and_sshd_session() -> None:
    parser = SshParser()
    record = parser.parse(
        "2024-03-01T12:00:00+0100 host sshd-session[99]: Invalid user x from 1.2.3.4 port 2", 1
    )
    assert isinstance(record, Record)
    assert record.time == datetime(2024, 3, 1, 12, tzinfo=timezone(timedelta(hours=1)))
    precise = parser.parse(
        "2024-03-01T12:00:00.123456+01:00 host sshd[9]: Failed none for x from 1.2.3.4 port 2", 2
    )
    assert isinstance(precise, Record)
    assert precise.time.microsecond == 123456


def test_year_and_zone_parameters_and_rollover() -> None:
    zone = timezone(timedelta(hours=9))
    parser = SshParser(year=2023, zone=zone)
    december = parser.parse("Dec 31 23:59:59 h sshd[1]: Invalid user a from 1.1.1.1", 1)
    january = parser.parse("Jan  1 00:00:01 h sshd[1]: Invalid user a from 1.1.1.1", 2)
    assert isinstance(december, Record)
    assert isinstance(january, Record)
    assert december.time == datetime(2023, 12, 31, 23, 59, 59, tzinfo=zone)
    assert january.time.year == 2024
    assert january.ts - december.ts == 2


def test_default_year_is_current() -> None:
    record = SshParser().parse("Mar  1 12:00:00 h sshd[1]: Invalid user a from 1.1.1.1", 1)
    assert isinstance(record, Record)
    assert record.time.year == datetime.now(UTC).year


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("Mar  1 12:00:00 host CRON[5]: pam_unix(cron:session): session opened", "not sshd"),
        ("Mar  1 12:00:00 host sshd[5]: Server listening on 0.0.0.0 port 22.", SSHD_OTHER),
        ("-- Boot 0123456789abcdef --", "journal marker"),
        ("", "blank line"),
    ],
)
def test_skips(line: str, reason: str) -> None:
    assert SshParser(year=2024).parse(line, 1) == reason


def test_not_syslog_is_an_error() -> None:
    assert SshParser(year=2024).parse("1.2.3.4 - - [x] GET", 1) is None
    assert (
        SshParser(year=2024).parse("Feb 30 12:00:00 h sshd[1]: Invalid user a from 1.1.1.1", 1)
        is None
    )
