"""RPM versions (Red Hat, Rocky, Alma, SUSE, openSUSE, Mageia, Photon), as ``rpmvercmp``.

Hand-written: ``univers.versions.RpmVersion`` refuses versions the vectors use (``a:1``, 26 lines
wrong) and walks both strings in Python on every comparison, sorting about 15 times slower
(``benchmarks/bench_versions.py``).

A version is ``[epoch:]version[-release]``: the epoch is the leading digits before a colon
(``a:1`` has none; ``:1`` has epoch 0), the release follows the last hyphen. Epochs compare by
value (missing = 0); version and release compare with rpmvercmp, which skips every character
that is not an ASCII letter, digit, ``~`` or ``^`` and then compares the remaining tokens in
turn: a tilde sorts before anything, even the end of the string (``1.0~rc1 < 1.0``); a caret
sorts after the end but before anything else (``1.0 < 1.0^git1 < 1.0.1``); letters sort before
digits; runs of letters compare as strings, runs of digits by value.

rpm itself skips the release when either side lacks one, which is not an order (``1 = 1-1`` and
``1 = 1-2``); here a missing release sorts before every release, even an empty one
(``1 < 1- < 1-0``), as the test vectors require.

Key layout: ``(epoch, version tokens, release)``; tokens are flat pairs with ranks ``~``=0,
end=1, ``^``=2, letters=3, digits=4, closed by the end pair ``(1, 0)``; ``release`` is ``()``
when missing, else ``(1, *tokens)``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from sakimori.versions._common import FAST_PATH_MISS, NUMBERS, check, to_int

_ECOSYSTEM: Final = "RPM"
_TOKEN: Final = re.compile(r"([A-Za-z]+)|([0-9]+)|(~)|\^")
_EPOCH: Final = re.compile(r"([0-9]*):")
_TILDE: Final = (0, 0)
_CARET: Final = (2, 0)
_END: Final = (1, 0)


def sort_key(version: str) -> tuple[Any, ...]:
    """Sort key of an RPM version; raises ``InvalidVersion`` for unusable strings."""
    try:
        if len(version) <= 64:
            ver, hyphen, release = version.partition("-")
            if not hyphen:
                return (0, _dotted(ver), ())
            if "-" not in release:
                return (0, _dotted(ver), (1, *_dotted(release)))
    except FAST_PATH_MISS:
        pass
    return _parse(version)


def _dotted(text: str) -> tuple[Any, ...]:
    """Fast path for plain numbers and dots (``1.2.3``)."""
    key: list[Any] = []
    for part in text.split("."):
        key += (4, NUMBERS[part])
    key += _END
    return tuple(key)


def _parse(version: str) -> tuple[Any, ...]:
    check(version, _ECOSYSTEM)
    epoch = 0
    rest = version
    match = _EPOCH.match(version)
    if match is not None:
        epoch = to_int(match.group(1) or "0")
        rest = version[match.end() :]
    if "-" in rest:
        ver, release = rest.rsplit("-", 1)
        return (epoch, _tokens(ver), (1, *_tokens(release)))
    return (epoch, _tokens(rest), ())


def _tokens(text: str) -> tuple[Any, ...]:
    key: list[Any] = []
    for letters, digits, tilde in _TOKEN.findall(text):
        if letters:
            key += (3, letters)
        elif digits:
            key += (4, to_int(digits))
        else:
            key += _TILDE if tilde else _CARET
    key += _END
    return tuple(key)
