"""Hackage (Haskell, GHC) versions, ordered as Cabal's ``Distribution.Version``.

Hand-written (no Python library implements it; it is a one-liner). A version is a non-empty list
of numbers separated by dots, and versions compare as lists: element by element, and a version
that is a prefix of another sorts first, so ``1.0 < 1.0.0`` (unlike SemVer, trailing zeros
count). The deprecated version tags (``1.0-beta``) are refused.

Key layout: the tuple of numbers.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.versions._common import FAST_PATH_MISS, NUMBERS, check, fail

_ECOSYSTEM: Final = "Hackage"
_HACKAGE: Final = re.compile(r"[0-9]+(?:\.[0-9]+)*")


def sort_key(version: str) -> tuple[int, ...]:
    """Sort key of a Hackage version; raises ``InvalidVersion`` for unusable strings."""
    try:
        if len(version) <= 64:
            return tuple([NUMBERS[part] for part in version.split(".")])
    except FAST_PATH_MISS:
        pass
    return _parse(version)


def _parse(version: str) -> tuple[int, ...]:
    check(version, _ECOSYSTEM)
    if not _HACKAGE.fullmatch(version):
        fail(version, _ECOSYSTEM, "not a Hackage version (numbers separated by dots)")
    return tuple([int(part) for part in version.split(".")])
