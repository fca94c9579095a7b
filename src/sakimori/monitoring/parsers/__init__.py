"""Log parsers, one module per format, and the detection of a log's format from its first lines.

==========  ====================================================================
``combined``  nginx/Apache Combined Log Format and its variants (``clf.py``)
``common``    the Common Log Format (the same parser; referrer and agent optional)
``json``      JSON lines with a field mapping (``jsonlog.py``)
``ssh``       OpenSSH authentication events, syslog and journalctl text (``ssh.py``)
==========  ====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, tzinfo

from sakimori.errors import ConfigurationError
from sakimori.monitoring.parsers.clf import CombinedParser, CommonParser
from sakimori.monitoring.parsers.interface import LineParser, ParseStats
from sakimori.monitoring.parsers.jsonlog import JsonParser
from sakimori.monitoring.parsers.ssh import SSHD_OTHER, SshParser
from sakimori.monitoring.record import Record

__all__ = ["FORMATS", "LineParser", "ParseStats", "detect_format", "make_parser"]

FORMATS = ("combined", "common", "json", "ssh")
#: Formats tried by detection, in order of preference when two read the same number of lines.
_DETECTION_ORDER = ("combined", "json", "ssh")


def make_parser(
    name: str,
    *,
    year: int | None = None,
    zone: tzinfo = UTC,
    json_fields: Mapping[str, str] | None = None,
) -> LineParser:
    """A fresh parser for the named format (parsers keep per-stream state: make one per source)."""
    if name == "combined":
        return CombinedParser()
    if name == "common":
        return CommonParser()
    if name == "json":
        return JsonParser(json_fields)
    if name == "ssh":
        return SshParser(year, zone)
    raise ConfigurationError(
        f"unknown log format {name!r}", hint=f"use one of {', '.join(FORMATS)}"
    )


def detect_format(
    lines: Sequence[str], *, json_fields: Mapping[str, str] | None = None
) -> str | None:
    """The format that reads the most of ``lines`` (a sample of a log's first lines).

    For SSH, sshd messages that are not authentication events count too (an auth.log sample may
    hold none), other programs' lines do not. ``None`` when no format
    reads a single line.
    """
    best: str | None = None
    best_score = 0
    for name in _DETECTION_ORDER:
        parser = make_parser(name, json_fields=json_fields)
        score = 0
        for number, line in enumerate(lines, 1):
            result = parser.parse(line, number)
            if isinstance(result, Record) or result == SSHD_OTHER:
                score += 1
        if score > best_score:
            best, best_score = name, score
    return best
