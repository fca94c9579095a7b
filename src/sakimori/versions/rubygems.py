"""RubyGems versions, ordered as ``Gem::Version#<=>``.

Hand-written: ``univers.versions.RubygemsVersion`` ports ``Gem::Version`` faithfully but compares
segment lists in Python on every comparison and sorts about 30 times slower than one flat tuple
per version (``benchmarks/bench_versions.py``).

A version matches ``Gem::Version``'s pattern (digits first, then dot-separated alphanumeric
segments, and an optional ``-`` suffix that Ruby rewrites to ``.pre.``), loosened in one place
the test vectors need: letters may follow the leading digits without a dot (``1beta``, which
Ruby refuses; it is ordered as Ruby would order ``1.beta``). Ruby splits it into
numbers and letter runs, drops the trailing zeros of the numeric part and of the part from the
first letter run on, then compares segment by segment with missing segments read as ``0``: a
letter segment sorts before any number (``1.0.b1 < 1.0``), letters compare as strings and
numbers by value.

Because a missing segment is a ``0`` and a ``0`` sorts above letters, the end of a version is
not simply "smaller": ``1.a`` > ``1.a.0.b`` but ``1.a`` < ``1.a.0.1``. The key therefore folds
each run of zeros into the segment that follows it: a letter segment after ``k`` zeros becomes
``(0, k, text)`` (more zeros first = larger), a number after ``k`` zeros becomes ``(2, -k, n)``,
and the end of the version is ``(1, 0, 0)``, flattened into one tuple.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from sakimori.versions._common import FAST_PATH_MISS, NUMBERS, check, fail

_ECOSYSTEM: Final = "RubyGems"
_GEM: Final = re.compile(
    r" *([0-9][0-9A-Za-z]*(?:\.[0-9A-Za-z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?) *"
)
_SEGMENT: Final = re.compile(r"[0-9]+|[A-Za-z]+")
_END: Final = (1, 0, 0)


def sort_key(version: str) -> tuple[Any, ...]:
    """Sort key of a RubyGems version; raises ``InvalidVersion`` for unusable strings."""
    try:
        if len(version) <= 64:
            return _folded([NUMBERS[part] for part in version.split(".")])
    except FAST_PATH_MISS:
        pass
    return _parse(version)


def _parse(version: str) -> tuple[Any, ...]:
    check(version, _ECOSYSTEM)
    match = _GEM.fullmatch(version)
    if match is None:
        fail(version, _ECOSYSTEM, "not a RubyGems version")
    text = match.group(1).replace("-", ".pre.")
    segments: list[int | str] = [int(s) if s[0] <= "9" else s for s in _SEGMENT.findall(text)]
    first_text = next((i for i, s in enumerate(segments) if type(s) is str), len(segments))
    numbers, rest = segments[:first_text], segments[first_text:]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    while rest and rest[-1] == 0:
        rest.pop()
    return _folded(numbers + rest)


def _folded(segments: Sequence[int | str]) -> tuple[Any, ...]:
    """Fold each run of zeros into the segment after it; trailing zeros are dropped."""
    key: list[Any] = []
    zeros = 0
    for segment in segments:
        if segment == 0:
            zeros += 1
        elif type(segment) is str:
            key += (0, zeros, segment)
            zeros = 0
        else:
            key += (2, -zeros, segment)
            zeros = 0
    key += _END
    return tuple(key)
