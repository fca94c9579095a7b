"""SemVer 2.0 precedence (npm, crates.io, Hex, SwiftURL, Bitnami, GitHub Actions).

Hand-written, measured with ``benchmarks/bench_versions.py``: ``univers.versions.SemverVersion``
gets 83 of the 86 vector lines (its ``==`` disagrees with its ``<``/``>`` on build metadata)
and sorts about 20 times slower than these keys; the ``semver`` package refuses the partial and
``v``-prefixed versions that the vectors and advisories contain.

Precedence follows https://semver.org/#spec-item-11: numeric major.minor.patch, then a release
sorts after all its pre-releases, pre-release identifiers compare numerically when all digits
(and below alphanumeric ones), lexically in ASCII otherwise, and a longer identifier list wins a
tie. Build metadata (``+...``) is ignored. Decisions taken from the test vectors and advisory
data, which are looser than the specification:

* a leading ``v`` is accepted and ignored (``v1.2.3 == 1.2.3``);
* partial versions are padded with zeros (``1.2 == 1.2.0``, ``0 == 0.0.0``), since OSV ranges
  use ``introduced: "0"``;
* numbers with leading zeros are accepted and compared by value;
* further numeric components after the patch are compared as more release numbers
  (``1.2.3 < 1.2.3.1 < 1.2.4``; ``1.2.3.0 == 1.2.3``) rather than rejected.

Key layout: ``(major, minor, patch, extra, pre)`` where ``extra`` is the tuple of further
release numbers without trailing zeros, and ``pre`` is ``(1,)`` for a release or
``(0, identifiers)`` with each identifier ``(0, number)`` or ``(1, text)``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from sakimori.versions._common import FAST_PATH_MISS, NUMBERS, check, fail, identifiers, to_int

_ECOSYSTEM: Final = "SemVer"
_RELEASE: Final = (1,)
_IDENT = r"[0-9A-Za-z-]+"
_SEMVER: Final = re.compile(
    rf"v?([0-9]+(?:\.[0-9]+)*)(?:-({_IDENT}(?:\.{_IDENT})*))?(?:\+{_IDENT}(?:\.{_IDENT})*)?"
)


def sort_key(version: str) -> tuple[Any, ...]:
    """Sort key of a SemVer version; raises ``InvalidVersion`` for unusable strings."""
    try:
        if "-" not in version and "+" not in version:
            major, minor, patch = version.split(".")
            return (NUMBERS[major], NUMBERS[minor], NUMBERS[patch], (), _RELEASE)
    except FAST_PATH_MISS:
        pass
    return _parse(version)


def _parse(version: str) -> tuple[Any, ...]:
    check(version, _ECOSYSTEM)
    match = _SEMVER.fullmatch(version)
    if match is None:
        fail(version, _ECOSYSTEM, "not a SemVer version")
    numbers, pre = match.groups()
    parts = [to_int(n) for n in numbers.split(".")]
    count = len(parts)
    if count == 3:
        head: tuple[Any, ...] = (parts[0], parts[1], parts[2], ())
    elif count < 3:
        head = (*parts, *((0,) * (3 - count)), ())
    else:
        extra = parts[3:]
        while extra and extra[-1] == 0:
            extra.pop()
        head = (parts[0], parts[1], parts[2], tuple(extra))
    if pre is None:
        return (*head, _RELEASE)
    return (*head, (0, identifiers(pre)))
