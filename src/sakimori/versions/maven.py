"""Maven versions, ordered by Maven's Version Order Specification (``ComparableVersion``).

Hand-written: ``univers.versions.MavenVersion`` (a port of an older ``ComparableVersion``) misses
the ``release`` alias and 9 vector lines, and sorts about 5 times slower, comparing object
trees in Python (``benchmarks/bench_versions.py``).

Rules (https://maven.apache.org/pom.html#Version_Order_Specification, which
``ComparableVersion`` 3.8 implements and which produced the test vectors from real Maven
versions): the lower-cased version is split into tokens at ``.``, at ``-`` and at every switch
between digits and non-digits (which counts as ``-``); each token remembers its separator; an
empty token is ``0``. ``a``, ``b``, ``m`` directly followed by digits mean alpha, beta,
milestone; ``cr`` is ``rc``; ``ga``, ``final`` and ``release`` are the empty qualifier. Null
tokens (``0`` and the empty qualifier) are trimmed from the end and before every hyphen.
Tokens compare ``.qualifier < -qualifier < -number < .number``; numbers by value; qualifiers
alpha < beta < milestone < rc < snapshot < "" < sp < any other, alphabetically. When one
version runs out, each remaining token of the other is compared with "nothing": a number is
larger unless 0, a qualifier by its place relative to "".

That last rule makes ``ComparableVersion`` intransitive on real versions: ``2.9.0.RC1 <
2.9.0`` and ``2.9.0 < 2.9.0-1`` (padding rule) yet ``2.9.0.RC1 > 2.9.0-1`` (``.0`` beats a
hyphen). A sort key must be transitive, so here the padding rule wins: each token that is not
null is grouped with the null tokens before it, and a group whose token is below "nothing"
sorts below every group whose token is above it; inside each of the two classes the
specification's token order applies. Three generated vector lines record the other choice
(see ``tests/versions/test_ordering_vectors.py``).

Key layout: a tuple of groups closed by ``(0,)``; a group is ``(sign, token, ...)`` with sign
-1 or 1; a token is ``(0, qualifier)`` for ``.q``, ``(1, qualifier)`` for ``-q``, ``(2, n)`` for
``-n``, ``(3, n)`` for ``.n``; a qualifier is ``(index, "")`` for the seven known ones and
``(7, text)`` for others.
"""

from __future__ import annotations

import re
from typing import Any, Final

from sakimori.versions._common import FAST_PATH_MISS, NUMBERS, check, fail

_ECOSYSTEM: Final = "Maven"
_KNOWN: Final = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_QUALIFIER: Final = {name: (index, "") for index, name in enumerate(_KNOWN)}
_SIGN: Final = {name: (index > 5) - (index < 5) for index, name in enumerate(_KNOWN)}
_ALIASES: Final = {"ga": "", "final": "", "release": "", "cr": "rc"}
_SHORT: Final = {"a": "alpha", "b": "beta", "m": "milestone"}
_VALID: Final = re.compile(r"[\x21-\x7e]+")
_PLAIN: Final = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_PIECES: Final = re.compile(r"[.-]|[0-9]+|[^0-9.-]+")
_END: Final = (0,)


def sort_key(version: str) -> tuple[Any, ...]:
    """Sort key of a Maven version; raises ``InvalidVersion`` for unusable strings."""
    try:
        if len(version) <= 64:
            return _plain_key([NUMBERS[part] for part in version.split(".")])
    except FAST_PATH_MISS:
        pass
    return _parse(version)


def _parse(version: str) -> tuple[Any, ...]:
    check(version, _ECOSYSTEM)
    if _PLAIN.fullmatch(version):
        return _plain_key([int(part) for part in version.split(".")])
    if not _VALID.fullmatch(version):
        fail(version, _ECOSYSTEM, "must be printable ASCII without spaces")
    return _key(_trim(_tokens(version.lower())))


def _plain_key(numbers: list[int]) -> tuple[Any, ...]:
    groups: list[tuple[Any, ...]] = []
    zeros = 0
    for number in numbers:
        if number:
            groups.append((1, *((3, 0),) * zeros, (3, number)))
            zeros = 0
        else:
            zeros += 1
    groups.append(_END)
    return tuple(groups)


def _tokens(text: str) -> list[tuple[bool, int | str]]:
    """``(hyphen, value)`` tokens; ``value`` is an int or an alias-resolved qualifier."""
    pieces = _PIECES.findall(text)
    tokens: list[tuple[bool, int | str]] = []
    hyphen = False
    after_token = False
    for index, piece in enumerate(pieces):
        if piece in (".", "-"):
            if not after_token:
                tokens.append((hyphen, 0))
            hyphen = piece == "-"
            after_token = False
            continue
        if after_token:
            hyphen = True  # a digit/letter switch separates like a hyphen
        if "0" <= piece[0] <= "9":
            tokens.append((hyphen, int(piece)))
        else:
            following = pieces[index + 1] if index + 1 < len(pieces) else ""
            if following[:1].isdigit():
                piece = _SHORT.get(piece, piece)
            tokens.append((hyphen, _ALIASES.get(piece, piece)))
        after_token = True
    if not after_token:
        tokens.append((hyphen, 0))
    return tokens


def _trim(tokens: list[tuple[bool, int | str]]) -> list[tuple[bool, int | str]]:
    """Drop null tokens at the end and before each hyphen, as the specification says."""
    i = len(tokens) - 1
    while i > 0:
        if tokens[i][1] == 0 or tokens[i][1] == "":
            del tokens[i]
            i -= 1
            continue
        while i >= 0 and not tokens[i][0]:
            i -= 1
        i -= 1
    return tokens


def _key(tokens: list[tuple[bool, int | str]]) -> tuple[Any, ...]:
    groups: list[tuple[Any, ...]] = []
    pending: list[tuple[int, Any]] = []
    for hyphen, value in tokens:
        if isinstance(value, int):
            pending.append((2 if hyphen else 3, value))
            sign = 1 if value else 0
        else:
            pending.append((1 if hyphen else 0, _QUALIFIER.get(value) or (7, value)))
            sign = _SIGN.get(value, 1)
        if sign:
            groups.append((sign, *pending))
            pending = []
    groups.append(_END)
    return tuple(groups)
