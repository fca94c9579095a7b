"""OpenSSH authentication events from syslog / auth.log and from ``journalctl`` text exports.

Line shapes read (the message part is the same in all of them)::

    Mar  1 12:00:00 host sshd[1234]: Failed password for invalid user x from 1.2.3.4 port 22 ssh2
    2024-03-01T12:00:00+01:00 host sshd[1234]: Invalid user x from 1.2.3.4 port 40000
    2024-03-01T12:00:00.123456+0100 host sshd-session[99]: Accepted publickey for y from …

The first is classic syslog and ``journalctl -o short``; the second and third are
``journalctl -o short-iso`` / ``short-iso-precise`` and rsyslog's high-precision format.
OpenSSH 9.8 and later log as ``sshd-session``; both names are read.

Classic syslog timestamps carry no year and no offset: the parser takes a ``year`` (default: the
current year when the parser is made) and a ``zone`` (default UTC), and moves to the next year
when the month goes from December back to January. ``journalctl``'s ``-- Boot … --`` and
``-- Logs begin … --`` markers, other programs' lines and sshd messages that are not
authentication events are skipped with a counted reason, never errors.

Messages read, and their ``outcome``: ``Failed <method> for [invalid user] U from A`` (failed),
``Invalid user U from A`` (invalid user), ``Accepted <method> for U from A`` (accepted),
``Connection closed by authenticating user U A port P [preauth]`` (closed preauth),
``maximum authentication attempts exceeded for [invalid user] U from A`` (too many failures).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

from sakimori.monitoring.parsers import _time
from sakimori.monitoring.parsers.interface import LineParser, ParseResult, blank_or_none
from sakimori.monitoring.record import (
    SSH,
    SSH_ACCEPTED,
    SSH_FAILED,
    SSH_INVALID_USER,
    SSH_PREAUTH_CLOSED,
    SSH_TOO_MANY,
    Record,
)

_SYSLOG = re.compile(
    r"([A-Z][a-z]{2}) +(\d{1,2}) (\d\d:\d\d:\d\d) (\S+) ([\w./-]+)(?:\[(\d+)\])?: ?(.*)"
)
_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\S+) (\S+) ([\w./-]+)(?:\[(\d+)\])?: ?(.*)")
#: The skip reason of an sshd line that is not an authentication event.
SSHD_OTHER = "sshd: not an authentication event"
_PROGRAMS = frozenset({"sshd", "sshd-session"})
_ADDR = r"([0-9A-Fa-f:.]+|\S+?)"
_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"Failed \S+ for (?:invalid user )?(.*?) from " + _ADDR + r"(?: port \d+|$| )"),
        SSH_FAILED,
    ),
    (re.compile(r"Invalid user (.*?) from " + _ADDR + r"(?: port \d+|$| )"), SSH_INVALID_USER),
    (re.compile(r"Accepted \S+ for (.*?) from " + _ADDR + r"(?: port \d+|$| )"), SSH_ACCEPTED),
    (
        re.compile(r"Connection closed by authenticating user (.*?) " + _ADDR + r" port \d+"),
        SSH_PREAUTH_CLOSED,
    ),
    (
        re.compile(
            r"(?:error: )?maximum authentication attempts exceeded for "
            r"(?:invalid user )?(.*?) from " + _ADDR + r"(?: port \d+|$| )"
        ),
        SSH_TOO_MANY,
    ),
)


class SshParser(LineParser):
    """sshd authentication lines (see the module docstring)."""

    name = "ssh"

    def __init__(self, year: int | None = None, zone: tzinfo = UTC) -> None:
        self.year = year if year is not None else datetime.now(zone).year
        self.zone = zone
        self._last_month = 0

    def parse(self, line: str, number: int) -> ParseResult:
        match = _SYSLOG.match(line)
        if match is not None:
            month, day, clock, _host, program, _pid, message = match.groups()
            if program not in _PROGRAMS:
                return "not sshd"
            month_number = _time.MONTHS.get(month, 0)
            if month_number == 1 and self._last_month == 12:
                self.year += 1
            if month_number:
                self._last_month = month_number
            moment = _time.syslog(month, int(day), clock, self.year, self.zone)
        else:
            iso = _ISO.match(line)
            if iso is None:
                if line.startswith("-- "):
                    return "journal marker"
                return blank_or_none(line)
            stamp, _host, program, _pid, message = iso.groups()
            if program not in _PROGRAMS:
                return "not sshd"
            moment = _time.iso(stamp, self.zone)
        if moment is None:
            return None
        message = message.rstrip("\r\n")
        for pattern, outcome in _MESSAGES:
            event = pattern.search(message)
            if event is not None:
                user, address = event.groups()
                return Record(
                    SSH, moment[0], moment[1], address, user=user, outcome=outcome, line=number
                )
        return SSHD_OTHER
