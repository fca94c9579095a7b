"""Packagist (Composer) versions, ordered as PHP's ``version_compare``.

Hand-written: ``univers.versions.ComposerVersion`` orders by SemVer rules, which is not what
Composer does: it gets about 760 of the 10,725 vector lines wrong (``benchmarks/``). Composer
compares versions with PHP's ``version_compare`` after dropping a leading ``v``; so does this
module.

``version_compare`` splits a version into runs of digits and runs of letters (every other
character separates). Numbers compare by value. Letter runs compare by the first special form
they start with (case-sensitive): ``dev`` < ``alpha``/``a`` < ``beta``/``b`` < ``RC``/``rc`` <
``pl``/``p``; a run that starts with none of them sorts below ``dev``, and runs of the same form
are equal (``1.0a1 == 1.0alpha1``). A number meets a letter run as if it were the form ``#``,
which sits between ``RC`` and ``p``. When one version runs out, the other's next part decides: a
number makes it larger, a letter run is compared with ``#`` (``1.0 < 1.0.0``, ``1.0rc1 < 1.0 <
1.0pl1``).

Deliberate differences from PHP, where PHP is not an order or loses information: numbers are
not capped at the C ``long`` range; ``#`` is treated as a separator (PHP makes ``1.2.3.#`` equal
to both ``1.2.3`` and ``1.2.3.1``); separators at the ends or repeated have no effect.

Key layout: flat pairs ``(4, number)`` or ``(form, 0)`` with dev=0, alpha=1, beta=2, rc=3,
patch=5 and unknown=-1, closed by ``(4, -1)``, which sits just below every number and above
every form except ``p``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from sakimori.versions._common import FAST_PATH_MISS, NUMBERS, check, fail

_ECOSYSTEM: Final = "Packagist"
_PARTS: Final = re.compile(r"([0-9]+)|([A-Za-z]+)")
_VALID: Final = re.compile(r"[\x20-\x7e]*[A-Za-z0-9][\x20-\x7e]*")
_FORMS: Final = (
    ("dev", 0),
    ("alpha", 1),
    ("a", 1),
    ("beta", 2),
    ("b", 2),
    ("RC", 3),
    ("rc", 3),
    ("pl", 5),
    ("p", 5),
)
_END: Final = (4, -1)


def sort_key(version: str) -> tuple[Any, ...]:
    """Sort key of a Packagist version; raises ``InvalidVersion`` for unusable strings."""
    try:
        if len(version) <= 64:
            key: list[Any] = []
            for part in version.split("."):
                key += (4, NUMBERS[part])
            key += _END
            return tuple(key)
    except FAST_PATH_MISS:
        pass
    return _parse(version)


def _parse(version: str) -> tuple[Any, ...]:
    check(version, _ECOSYSTEM)
    if not _VALID.fullmatch(version):
        fail(version, _ECOSYSTEM, "needs a letter or digit and printable ASCII only")
    if version[0] in "vV":
        version = version[1:]
    key: list[Any] = []
    for digits, letters in _PARTS.findall(version):
        if digits:
            key += (4, int(digits))
        else:
            key += (_form(letters), 0)
    key += _END
    return tuple(key)


def _form(text: str) -> int:
    for prefix, order in _FORMS:
        if text.startswith(prefix):
            return order
    return -1
