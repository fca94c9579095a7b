"""Helpers shared by the comparator families (private: not a family module).

Every ``sort_key`` refuses the same things before looking at the ecosystem's syntax (``check``):
a value that is not a ``str``, the empty string, more than ``MAX_LENGTH`` characters, and control
characters (C0, DEL and C1). Refusing long strings first bounds the work a hostile input causes.

Most keys are built on a fast path for the common shape (``1.2.3``) that gives up by raising one
of ``FAST_PATH_MISS``, after which the family's full parser runs; ``NUMBERS`` is what makes the
fast paths fast.
"""

from __future__ import annotations

import re
from typing import Any, Final, NoReturn

from sakimori.errors import InvalidVersion

#: The longest version string any family accepts.
MAX_LENGTH: Final = 256

#: ``"0"`` .. ``"9999"`` -> int. Looking a part up here both checks that it is a plain number
#: (ASCII digits, no sign, no leading zero) and converts it, several times faster than
#: ``int()``. Read-only; built once at import.
NUMBERS: Final[dict[str, int]] = {str(number): number for number in range(10000)}

#: What a fast path may raise before it gives up and hands the version to the full parser.
FAST_PATH_MISS: Final = (KeyError, ValueError, AttributeError, TypeError)

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def fail(version: object, ecosystem: str, reason: str) -> NoReturn:
    """Raise ``InvalidVersion`` for ``version`` (which may not even be a string)."""
    shown = version if isinstance(version, str) else repr(version)
    if len(shown) > 80:
        shown = f"{shown[:77]}..."
    raise InvalidVersion(shown, ecosystem, reason)


def check(version: object, ecosystem: str) -> str:
    """Return ``version`` if it passes the checks common to every family, else raise."""
    if type(version) is not str:
        fail(version, ecosystem, "a version must be a string")
    if not version:
        fail(version, ecosystem, "empty version")
    if len(version) > MAX_LENGTH:
        fail(version, ecosystem, f"longer than {MAX_LENGTH} characters")
    if _CONTROL.search(version):
        fail(version, ecosystem, "contains a control character")
    return version


def to_int(text: str) -> int:
    """``int(text)`` for a string of ASCII digits, through ``NUMBERS`` when it can."""
    number = NUMBERS.get(text)
    return int(text) if number is None else number


def identifiers(text: str) -> tuple[tuple[int, Any], ...]:
    """Dot-separated SemVer identifiers (already checked to be ASCII) as comparable pairs.

    All-digit identifiers become ``(0, number)`` and compare numerically, below every other
    identifier, which becomes ``(1, text)`` and compares in ASCII order (SemVer item 11.4).
    """
    pairs: list[tuple[int, Any]] = []
    for part in text.split("."):
        number = NUMBERS.get(part)
        if number is not None:
            pairs.append((0, number))
        elif part.isdigit():
            pairs.append((0, int(part)))
        else:
            pairs.append((1, part))
    return tuple(pairs)
