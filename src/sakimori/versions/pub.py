"""Pub (Dart) versions, ordered as ``pub_semver``'s ``Version.compareTo``.

Hand-written (no Python library implements it). Pub is SemVer 2.0 with one difference: build
metadata takes part in the order. A version without build metadata sorts before the same version
with it (``1.0.0 < 1.0.0+1``), and build identifiers compare like pre-release identifiers
(numbers numerically and below text, text in ASCII order, a longer list wins a tie).
The lenient parts of the ``semver`` family apply here too, because the test vectors use them:
an optional leading ``v``, partial versions padded with zeros, leading zeros accepted, and
numeric components after the patch compared as further release numbers.

Key layout: ``(major, minor, patch, extra, pre, build)``; ``pre`` is ``(1,)`` or
``(0, identifiers)`` and ``build`` is ``(0,)`` or ``(1, identifiers)``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from sakimori.versions._common import FAST_PATH_MISS, NUMBERS, check, fail, identifiers, to_int

_ECOSYSTEM: Final = "Pub"
_RELEASE: Final = (1,)
_NO_BUILD: Final = (0,)
_IDENT = r"[0-9A-Za-z-]+"
_PUB: Final = re.compile(
    rf"v?([0-9]+(?:\.[0-9]+)*)(?:-({_IDENT}(?:\.{_IDENT})*))?(?:\+({_IDENT}(?:\.{_IDENT})*))?"
)


def sort_key(version: str) -> tuple[Any, ...]:
    """Sort key of a Pub version; raises ``InvalidVersion`` for unusable strings."""
    try:
        if "-" not in version and "+" not in version:
            major, minor, patch = version.split(".")
            return (NUMBERS[major], NUMBERS[minor], NUMBERS[patch], (), _RELEASE, _NO_BUILD)
    except FAST_PATH_MISS:
        pass
    return _parse(version)


def _parse(version: str) -> tuple[Any, ...]:
    check(version, _ECOSYSTEM)
    match = _PUB.fullmatch(version)
    if match is None:
        fail(version, _ECOSYSTEM, "not a Pub (SemVer) version")
    numbers, pre, build = match.groups()
    parts = [to_int(n) for n in numbers.split(".")]
    parts.extend([0] * (3 - len(parts)))
    extra = parts[3:]
    while extra and extra[-1] == 0:
        extra.pop()
    return (
        parts[0],
        parts[1],
        parts[2],
        tuple(extra),
        _RELEASE if pre is None else (0, identifiers(pre)),
        _NO_BUILD if build is None else (1, identifiers(build)),
    )
