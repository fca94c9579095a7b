"""A generic ordering for vendor product versions (the versions in CPE names and NVD bounds).

NVD does not publish the comparator behind ``versionStartIncluding`` … ``versionEndExcluding``;
the versions it bounds are vendor strings (``12.1-55.300``, ``10.2.0.5-d-29sv``, ``8.6.2j-398``,
``2021-12-13``, ``7.0u3o``) that no ecosystem comparator in :mod:`sakimori.versions` accepts
(SemVer reads ``12.1-55.300`` as a pre-release of ``12.1.0``, which is the wrong way round). So
this key is deliberately simple and total:

* the text is split into runs of digits and runs of letters; every other character (``.``,
  ``-``, ``_``, ``+``, ``~``, space…) only separates runs;
* a digit run compares numerically, a letter run case-insensitively as text, and a letter run
  sorts **after** a digit run in the same position (``1.0.1 < 1.0.a``, ``8.6.2 < 8.6.2j``);
* a version that is a prefix of another sorts first (``1.2 < 1.2.1``), and trailing zero runs
  do not count (``1.2 == 1.2.0``).

Limits, on purpose: pre-release words sort after the release (``1.0-beta > 1.0``), separators
carry no meaning (``12.1-55.300 == 12.1.55.300``), and ``1.0a`` equals ``1.0.a``. The key never
refuses a non-empty version, so an NVD bound always evaluates; callers that know an ecosystem
should use that ecosystem's comparator instead.

(``versions/`` would be the natural home of this family; it lives here until that package
takes it, because this step owns ``cpe/`` only.)
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from sakimori.errors import InvalidVersion

GenericKey = tuple[tuple[int, int | str], ...]

_RUNS: Final = re.compile(r"[0-9]+|[A-Za-z]+")
_MAX_LENGTH: Final = 256


@lru_cache(maxsize=65536)
def generic_key(version: str) -> GenericKey:
    """The sort key of ``version`` under the generic ordering; raises ``InvalidVersion`` for an
    empty or over-long string, or one with no letter or digit at all."""
    if not version or len(version) > _MAX_LENGTH:
        raise InvalidVersion(version[:80], "generic", "empty or longer than 256 characters")
    parts: list[tuple[int, int | str]] = [
        (0, int(run)) if run.isdigit() else (1, run.lower()) for run in _RUNS.findall(version)
    ]
    if not parts:
        raise InvalidVersion(version[:80], "generic", "no digit or letter in it")
    while parts and parts[-1] == (0, 0):
        parts.pop()
    return tuple(parts)


def compare_generic(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` sorts before, equal to, or after ``b``."""
    ka, kb = generic_key(a), generic_key(b)
    return (ka > kb) - (ka < kb)
