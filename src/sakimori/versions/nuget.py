"""NuGet versions, ordered as ``NuGet.Versioning.VersionComparer.Default``.

Hand-written: ``univers.versions.NugetVersion`` gets the vectors right but sorts about 20 times
slower (``benchmarks/bench_versions.py``). A NuGet version has one to four numeric parts
(``Major.Minor.Patch.Revision``, missing parts are 0, leading zeros allowed: ``1.0.01 ==
1.0.1.0``), optional dot-separated release labels after ``-`` and optional metadata after ``+``.
Release labels compare case-insensitively; all-digit labels compare numerically and below text
labels; a version without labels sorts after the same version with labels; a longer label list
wins a tie. Metadata is ignored. NuGet limits each number to Int32; the test vectors require
larger numbers to order by value, so no limit is applied.

Key layout: ``(major, minor, patch, revision, pre)`` with ``pre`` ``(1,)`` for a release or
``(0, labels)``, each label ``(0, number)`` or ``(1, lower-case text)``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from sakimori.versions._common import FAST_PATH_MISS, NUMBERS, check, fail, identifiers, to_int

_ECOSYSTEM: Final = "NuGet"
_RELEASE: Final = (1,)
_IDENT = r"[0-9A-Za-z-]+"
_NUGET: Final = re.compile(
    rf"([0-9]+(?:\.[0-9]+){{0,3}})(?:-({_IDENT}(?:\.{_IDENT})*))?(?:\+{_IDENT}(?:\.{_IDENT})*)?"
)


def sort_key(version: str) -> tuple[Any, ...]:
    """Sort key of a NuGet version; raises ``InvalidVersion`` for unusable strings."""
    try:
        if "-" not in version and "+" not in version:
            major, minor, patch = version.split(".")
            return (NUMBERS[major], NUMBERS[minor], NUMBERS[patch], 0, _RELEASE)
    except FAST_PATH_MISS:
        pass
    return _parse(version)


def _parse(version: str) -> tuple[Any, ...]:
    check(version, _ECOSYSTEM)
    match = _NUGET.fullmatch(version)
    if match is None:
        fail(version, _ECOSYSTEM, "not a NuGet version (1 to 4 numbers, -labels, +metadata)")
    numbers, pre = match.groups()
    parts = [to_int(n) for n in numbers.split(".")]
    parts.extend([0] * (4 - len(parts)))
    if pre is None:
        return (*parts, _RELEASE)
    return (*parts, (0, identifiers(pre.lower())))
