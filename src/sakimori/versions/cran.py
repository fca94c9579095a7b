"""CRAN (R) package versions, ordered as R's ``package_version`` / ``compareVersion``.

Hand-written (no Python library implements it). A version is a list of numbers separated by
``.`` or ``-`` (the two separators are equivalent: ``0.1-0 == 0.1.0``); numbers compare by value
(``0.01 == 0.1``, ``0.9 < 0.75``) and a version that is a prefix of another sorts first, so
``1.0 < 1.0.0``.

Key layout: the tuple of numbers.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.versions._common import FAST_PATH_MISS, NUMBERS, check, fail

_ECOSYSTEM: Final = "CRAN"
_CRAN: Final = re.compile(r"[0-9]+(?:[.-][0-9]+)*")
_SEPARATOR: Final = re.compile(r"[.-]")


def sort_key(version: str) -> tuple[int, ...]:
    """Sort key of a CRAN version; raises ``InvalidVersion`` for unusable strings."""
    try:
        if len(version) <= 64:
            return tuple([NUMBERS[part] for part in version.replace("-", ".").split(".")])
    except FAST_PATH_MISS:
        pass
    return _parse(version)


def _parse(version: str) -> tuple[int, ...]:
    check(version, _ECOSYSTEM)
    if not _CRAN.fullmatch(version):
        fail(version, _ECOSYSTEM, "not a CRAN version (numbers separated by '.' or '-')")
    return tuple([int(part) for part in _SEPARATOR.split(version)])
