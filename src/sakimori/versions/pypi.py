"""PyPI versions: PEP 440, with the pre-PEP 440 "legacy" ordering for everything else.

Library choice, measured with ``benchmarks/bench_versions.py``: ``packaging.version.Version`` is
the reference and parses every PEP 440 version, but building a ``Version`` and reading its parts
costs a few microseconds, so two fast paths build the same key directly: plain releases
(``1``, ``1.2.3``; 60% of the versions in the PyPI advisories) and versions already in normal
form (``1.2.3rc1``, ``1.2.3.post1``, ``1.2.3.dev4``; most of the rest). Everything else goes to
``packaging``. ``tests/versions/test_properties.py`` proves with Hypothesis that all three paths
order exactly as ``packaging`` does.

Strings that are not PEP 440 still appear in advisories (``0.3m1``, ``0.9-doduo``); they are
ordered as ``packaging`` < 22 ordered its ``LegacyVersion``: before every PEP 440 version, by
the legacy component rules. ``packaging`` no longer ships that class, so it is re-implemented
here from its documented rules.

Key layout: ``(1, epoch, release, suffix, local)`` for PEP 440 and ``(0, parts)`` for legacy.
``release`` has its trailing zeros removed (``1.0 == 1``); ``suffix`` is
``(pre_rank, pre_n, post_rank, post_n, dev_rank, dev_n)`` with pre_rank dev-only=-1, a=0, b=1,
rc=2, none=3, post_rank none=0 / post=1, dev_rank dev=0 / none=1; ``local`` is ``()`` or a tuple
of ``(n, "")`` for numbers and ``(-1, s)`` for strings.
"""

from __future__ import annotations

import re
from typing import Any, Final

from packaging.version import InvalidVersion as _PackagingInvalid
from packaging.version import Version

from sakimori.versions._common import FAST_PATH_MISS, NUMBERS, check, fail, to_int

_ECOSYSTEM: Final = "PyPI"
_CANONICAL: Final = re.compile(
    r"([0-9]+(?:\.[0-9]+)*)(?:(a|b|rc)([0-9]+))?(?:\.post([0-9]+))?(?:\.dev([0-9]+))?"
)
_STABLE: Final = (3, 0, 0, 0, 1, 0)
_PRE_RANK: Final = {"a": 0, "b": 1, "rc": 2}
_LEGACY_PARTS: Final = re.compile(r"(\d+|[a-z]+|\.|-)")
_LEGACY_REPLACE: Final = {"pre": "c", "preview": "c", "-": "final-", "rc": "c", "dev": "@"}
_LEGACY_OK: Final = re.compile(r"[\x21-\x7e]*[A-Za-z0-9][\x21-\x7e]*")


def sort_key(version: str) -> tuple[Any, ...]:
    """Sort key of a PyPI version; raises ``InvalidVersion`` for unusable strings."""
    try:
        if len(version) <= 64:
            release = [NUMBERS[part] for part in version.split(".")]
            while release and release[-1] == 0:
                release.pop()
            return (1, 0, tuple(release), _STABLE, ())
    except FAST_PATH_MISS:
        pass
    match = _CANONICAL.fullmatch(version) if type(version) is str and len(version) <= 64 else None
    if match is not None:
        return _canonical_key(*match.groups())
    return _parse(version)


def _canonical_key(
    release_text: str, letter: str | None, pre: str | None, post: str | None, dev: str | None
) -> tuple[Any, ...]:
    """Second fast path: a version already in PEP 440 normal form (``1.2rc1``, ``1.0.post2``)."""
    release = [to_int(part) for part in release_text.split(".")]
    while release and release[-1] == 0:
        release.pop()
    if letter is not None:
        pre_rank, pre_n = _PRE_RANK[letter], to_int(pre or "0")
    elif post is None and dev is not None:
        pre_rank, pre_n = -1, 0
    else:
        pre_rank, pre_n = 3, 0
    suffix = (
        pre_rank,
        pre_n,
        0 if post is None else 1,
        0 if post is None else to_int(post),
        1 if dev is None else 0,
        0 if dev is None else to_int(dev),
    )
    return (1, 0, tuple(release), suffix, ())


def _parse(version: str) -> tuple[Any, ...]:
    check(version, _ECOSYSTEM)
    try:
        parsed = Version(version)
    except _PackagingInvalid:
        return _legacy_key(version)
    return _pep440_key(parsed)


def _pep440_key(v: Version) -> tuple[Any, ...]:
    release = list(v.release)
    while release and release[-1] == 0:
        release.pop()
    pre, post, dev = v.pre, v.post, v.dev
    if pre is None and post is None and dev is not None:
        pre_rank, pre_n = -1, 0
    elif pre is None:
        pre_rank, pre_n = 3, 0
    else:
        pre_rank, pre_n = _PRE_RANK[pre[0]], pre[1]
    suffix = (
        pre_rank,
        pre_n,
        0 if post is None else 1,
        0 if post is None else post,
        1 if dev is None else 0,
        0 if dev is None else dev,
    )
    local: tuple[tuple[int, str], ...] = ()
    if v.local is not None:
        local = tuple((int(p), "") if p.isdigit() else (-1, p) for p in v.local.split("."))
    return (1, v.epoch, tuple(release), suffix, local)


def _legacy_key(version: str) -> tuple[Any, ...]:
    # The rules of packaging's LegacyVersion (packaging < 22), which setuptools and pip used for
    # every version that PEP 440 does not describe.
    if not _LEGACY_OK.fullmatch(version):
        fail(version, _ECOSYSTEM, "neither PEP 440 nor a usable legacy version")
    parts: list[str] = []
    for piece in _legacy_pieces(version.lower()):
        if piece.startswith("*"):
            if piece < "*final":
                while parts and parts[-1] == "*final-":
                    parts.pop()
            while parts and parts[-1] == "00000000":
                parts.pop()
        parts.append(piece)
    return (0, tuple(parts))


def _legacy_pieces(text: str) -> list[str]:
    pieces = []
    for raw in _LEGACY_PARTS.split(text):
        part = _LEGACY_REPLACE.get(raw, raw)
        if not part or part == ".":
            continue
        pieces.append(part.zfill(8) if part[:1] in "0123456789" else "*" + part)
    pieces.append("*final")
    return pieces
