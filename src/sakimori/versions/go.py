"""Go module versions, ordered as ``golang.org/x/mod/semver.Compare`` orders them.

Hand-written: ``univers.versions.GolangVersion`` gets 82 of the 85 applicable vector lines and
sorts about 20 times slower (``benchmarks/bench_versions.py``); the rules are short. A version is
``vMAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]]`` where the ``v`` is optional here because OSV
writes Go versions without it; ``v1`` and ``v1.2`` are Go's shorthands for ``v1.0.0`` and
``v1.2.0`` and cannot carry a pre-release. Numbers and numeric pre-release identifiers may not
have leading zeros. Build metadata is ignored, which is what makes ``v2.0.0+incompatible`` equal
to ``v2.0.0``. Pseudo-versions (``v0.0.0-20191109021931-daa7c04131f5``,
``v1.2.4-0.20191109021931-daa7c04131f5``) are ordinary pre-releases and are designed to sort
correctly under these rules, so they need no special case.

Key layout: ``(major, minor, patch, pre)`` with ``pre`` ``(1,)`` for a release or
``(0, identifiers)``, each identifier ``(0, number)`` or ``(1, text)``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from sakimori.versions._common import FAST_PATH_MISS, NUMBERS, check, fail, identifiers, to_int

_ECOSYSTEM: Final = "Go"
_RELEASE: Final = (1,)
_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
_GO: Final = re.compile(
    rf"v?({_NUM})(?:\.({_NUM})(?:\.({_NUM})"
    rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))?(?:\+{_BUILD_ID}(?:\.{_BUILD_ID})*)?)?)?"
)


def sort_key(version: str) -> tuple[Any, ...]:
    """Sort key of a Go module version; raises ``InvalidVersion`` for unusable strings."""
    try:
        if "-" not in version and "+" not in version:
            major, minor, patch = (version[1:] if version[:1] == "v" else version).split(".")
            return (NUMBERS[major], NUMBERS[minor], NUMBERS[patch], _RELEASE)
    except FAST_PATH_MISS:
        pass
    return _parse(version)


def _parse(version: str) -> tuple[Any, ...]:
    check(version, _ECOSYSTEM)
    match = _GO.fullmatch(version)
    if match is None:
        fail(version, _ECOSYSTEM, "not a Go module version (vMAJOR.MINOR.PATCH)")
    major, minor, patch, pre = match.groups()
    head = (to_int(major), to_int(minor or "0"), to_int(patch or "0"))
    if pre is None:
        return (*head, _RELEASE)
    return (*head, (0, identifiers(pre)))
