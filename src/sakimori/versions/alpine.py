"""Alpine, Wolfi and Chainguard package versions, ordered as ``apk version -t``.

Hand-written: ``univers.versions.AlpineLinuxVersion`` uses Gentoo rules and refuses what apk
accepts (about 100 vector lines wrong, about 7 times slower to sort; ``benchmarks/``).

This module follows apk-tools 2.x (``src/version.c``), which produced the test vectors made from
real Alpine versions (in an Alpine 3.10 container): a version is read as a stream of typed
tokens (first number, ``.number``, one lower-case letter, ``_suffix``, suffix number, ``-rN``
revision); two versions compare token by token; while the token types agree the values decide
(after a dot, leading zeros make a number smaller: ``1.01 < 1.1``); when the types differ, the
version whose next token is a pre-release suffix (``_alpha``, ``_beta``, ``_pre``, ``_rc``) is
older, and otherwise the one whose next token comes later in the grammar is older, the end of
the version coming last (``1.2_rc1 < 1.2 < 1.2-r1 < 1.2_p1``, ``1.2 < 1.2a < 1.2.1``).

Malformed versions are ordered as the hand-written test vectors expect, which is not any single
apk release: like apk-tools 3, a version that turns malformed sorts below one that goes on or
ends validly (``1.2.0A < 1.2.0d``, ``1-r-0 < 1-r0``) and a dot followed by a letter sorts below
the letter alone (``0.8.21.r2 < 0.8.21r2``, which apk-tools 3 refuses and 2.x orders the other
way); and, to satisfy both ``1-r0-1 == 1-r-2`` (apk-tools 2) and ``1-ruff2 == 1--ruff1``
(apk-tools 3), a zero revision right before the malformed part is disregarded. Versions that
both apk-tools 2 and 3 accept are not affected by any of this.

Key layout: flat ``(rank, value)`` pairs, one per token, where rank is minus twice the apk token
type (so a later type sorts lower), with pre-release suffixes at -100, the dot-before-letter
at -5, and the stream closed by ``(-12, 0)`` (end) or ``(-14, 0)`` (malformed).
"""

from __future__ import annotations

from typing import Any, Final

from sakimori.versions._common import FAST_PATH_MISS, NUMBERS, check

_ECOSYSTEM: Final = "Alpine"
# apk-tools 2.x token types; a larger type sorts lower when two versions disagree on it.
_INVALID, _DOT, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _REVISION, _END = range(-1, 7)
_PRE_SUFFIXES: Final = ("alpha", "beta", "pre", "rc")
_POST_SUFFIXES: Final = ("cvs", "svn", "git", "hg", "p")
_PRE_RANK: Final = -100
_DOT_LETTER_RANK: Final = -5
_END_PAIR: Final = (-12, 0)
_INVALID_PAIR: Final = (-14, 0)
_DIGITS: Final = frozenset("0123456789")


def sort_key(version: str) -> tuple[Any, ...]:
    """Sort key of an apk version; raises ``InvalidVersion`` for unusable strings."""
    try:
        if len(version) <= 64:
            return _plain_key(version)
    except FAST_PATH_MISS:
        pass
    return _parse(version)


def _plain_key(version: str) -> tuple[Any, ...]:
    """Fast path for ``1.2.3`` and ``1.2.3-r4`` with plain numbers (no leading zeros)."""
    upstream, revision_mark, revision = version.partition("-r")
    parts = upstream.split(".")
    key: list[Any] = [-2 * _DIGIT, NUMBERS[parts[0]]]
    last = len(parts) - 1
    for index in range(1, last + 1):
        number = NUMBERS[parts[index]]
        if number:
            key += (-2 * _DOT, number)
        else:
            # apk reads ".0" as one leading zero (value -1), then an empty number if more follows
            key += (-2 * _DOT, -1)
            if index < last or revision_mark:
                key += (-2 * _DIGIT, 0)
    if revision_mark:
        key += (-2 * _REVISION, NUMBERS[revision])
    key += _END_PAIR
    return tuple(key)


def _parse(version: str) -> tuple[Any, ...]:
    check(version, _ECOSYSTEM)
    tokens, valid = _tokens(version)
    if not valid:
        while tokens and tokens[-1][0] == _REVISION and tokens[-1][1] == 0:
            tokens.pop()
    key: list[Any] = []
    for kind, value, dot_letter in tokens:
        if kind == _SUFFIX:
            key += (_PRE_RANK if value < 0 else -2 * _SUFFIX, value)
        elif dot_letter:
            key += (_DOT_LETTER_RANK, 0)
        else:
            key += (-2 * kind, value)
    key += _END_PAIR if valid else _INVALID_PAIR
    return tuple(key)


def _tokens(text: str) -> tuple[list[tuple[int, int, bool]], bool]:
    """apk-tools 2.x tokens as ``(type, value, dot_before_letter)``, and whether it ended well."""
    tokens: list[tuple[int, int, bool]] = []
    kind, pos, size = _DIGIT, 0, len(text)
    while True:
        if pos >= size:
            tokens.append((kind, 0, False))
            return tokens, True
        forced = None
        dot_letter = False
        if kind == _DOT and text[pos] == "0":
            start = pos
            while pos < size and text[pos] == "0":
                pos += 1
            value, forced = start - pos, _DIGIT
        elif kind == _LETTER:
            value = ord(text[pos])
            pos += 1
        elif kind == _SUFFIX:
            suffix, pos = _suffix(text, pos)
            if suffix is None:
                tokens.append((_SUFFIX, -1, False))
                return tokens, False
            value = suffix
        else:  # a number, possibly empty (apk reads it as 0)
            start = pos
            while pos < size and text[pos] in _DIGITS:
                pos += 1
            value = int(text[start:pos] or 0)
            dot_letter = kind == _DOT and start == pos and "a" <= text[pos : pos + 1] <= "z"
        tokens.append((kind, value, dot_letter))
        if pos >= size:
            return tokens, True
        if forced is not None:
            kind = forced
            continue
        kind, pos = _next_type(kind, text, pos)
        if kind == _INVALID:
            return tokens, False


def _suffix(text: str, pos: int) -> tuple[int | None, int]:
    for index, name in enumerate(_PRE_SUFFIXES):
        if text.startswith(name, pos):
            return index - len(_PRE_SUFFIXES), pos + len(name)
    for index, name in enumerate(_POST_SUFFIXES):
        if text.startswith(name, pos):
            return index, pos + len(name)
    return None, pos


def _next_type(kind: int, text: str, pos: int) -> tuple[int, int]:
    char = text[pos]
    if kind in (_DIGIT, _DOT) and "a" <= char <= "z":
        new = _LETTER
    elif kind == _LETTER and char in _DIGITS:
        new = _DIGIT
    elif kind == _SUFFIX and char in _DIGITS:
        new = _SUFFIX_NO
    else:
        if char == ".":
            new = _DOT
        elif char == "_":
            new = _SUFFIX
        elif char == "-" and text[pos + 1 : pos + 2] == "r":
            new = _REVISION
            pos += 1
        else:
            new = _INVALID
        pos += 1
    allowed_back = (new, kind) in ((_DOT, _DIGIT), (_SUFFIX, _SUFFIX_NO), (_DIGIT, _LETTER))
    if new < kind and not allowed_back:
        new = _INVALID
    return new, pos
