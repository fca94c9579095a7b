"""Debian and Ubuntu package versions, ordered as ``dpkg --compare-versions``.

Hand-written: ``univers.versions.DebianVersion`` orders the vectors correctly but compares
character by character in Python and sorts about 7 times slower than these keys
(``benchmarks/bench_versions.py``).

A version is ``[epoch:]upstream[-revision]``: the epoch is the digits before the first colon,
the revision follows the last hyphen (no hyphen means revision ``0``). Each of upstream and
revision is compared by dpkg's ``verrevcmp``: alternately the longest non-digit run, compared
character by character with ``~`` before the end of the run, the end before letters and letters
before every other character, then the longest digit run, compared by value.

Key layout: ``(epoch, upstream, revision)``. Each part is a flat tuple
``(run, number, run, number, ..., "\\x01", 0)``: every non-digit run is translated so that
Python string order is dpkg's character order (``~`` -> ``\\x00``, letters unchanged, other
characters moved above every letter) and ended by ``\\x01``, the "end of run" mark, which sorts
after ``~`` and before everything else; the final ``("\\x01", 0)`` stands for the end of the
part, which dpkg treats as an empty run and a zero.
"""

from __future__ import annotations

import re
from typing import Any, Final

from sakimori.versions._common import FAST_PATH_MISS, NUMBERS, check, fail, to_int

_ECOSYSTEM: Final = "Debian"
_UPSTREAM: Final = re.compile(r"[A-Za-z0-9.+~:-]+")
_REVISION: Final = re.compile(r"[A-Za-z0-9.+~]+")
_DIGIT_RUNS: Final = re.compile(r"([0-9]+)")
_ORDER: Final = {ord("~"): "\x00", **{ord(c): chr(ord(c) + 256) for c in ".+-:"}}
_END: Final = "\x01"
_ZERO_REVISION: Final = ("\x01", 0, "\x01", 0)
_RUNS: Final = {run: run.translate(_ORDER) + _END for run in ("", ".", "+", "~", "-", ":")}
_DOT_RUN: Final = _RUNS["."]


def sort_key(version: str) -> tuple[Any, ...]:
    """Sort key of a Debian version; raises ``InvalidVersion`` for unusable strings."""
    try:
        upstream, hyphen, revision = version.partition("-")
        if "-" not in revision and len(version) <= 64:
            return (0, _dotted(upstream), _dotted(revision) if hyphen else _ZERO_REVISION)
    except FAST_PATH_MISS:
        pass
    return _parse(version)


def _dotted(text: str) -> tuple[Any, ...]:
    """Fast path for a part made of plain numbers and dots (``1.2.3``)."""
    parts = text.split(".")
    key: list[Any] = [_END, NUMBERS[parts[0]]]
    for part in parts[1:]:
        key += (_DOT_RUN, NUMBERS[part])
    key += (_END, 0)
    return tuple(key)


def _parse(version: str) -> tuple[Any, ...]:
    check(version, _ECOSYSTEM)
    epoch = 0
    rest = version
    if ":" in version:
        head, rest = version.split(":", 1)
        if not (head.isascii() and head.isdigit()):
            fail(version, _ECOSYSTEM, "the epoch (before ':') must be a number")
        epoch = int(head)
    revision = None
    upstream = rest
    if "-" in rest:
        upstream, revision = rest.rsplit("-", 1)
        if not _REVISION.fullmatch(revision):
            fail(version, _ECOSYSTEM, "the revision (after the last '-') is empty or invalid")
    if not _UPSTREAM.fullmatch(upstream):
        fail(version, _ECOSYSTEM, "the upstream version is empty or has invalid characters")
    return (epoch, _part(upstream), _ZERO_REVISION if revision is None else _part(revision))


def _part(text: str) -> tuple[Any, ...]:
    pieces = _DIGIT_RUNS.split(text)  # non-digit run, digit run, ..., non-digit run
    key: list[Any] = []
    for index in range(0, len(pieces) - 1, 2):
        key += (_run(pieces[index]), to_int(pieces[index + 1]))
    if pieces[-1]:
        key += (_run(pieces[-1]), 0)
    key += (_END, 0)
    return tuple(key)


def _run(text: str) -> str:
    known = _RUNS.get(text)
    return text.translate(_ORDER) + _END if known is None else known
