"""Reference comparators, written as the native tools compare: two strings in, -1/0/1 out.

They walk the two strings side by side the way each tool's C/Ruby/Java code does, with none of
the key encodings of ``sakimori.versions``, so that property tests can check that comparing
sort keys gives the same answers as comparing the strings directly. They are only used on
versions that the tool itself accepts (the property tests generate those).
"""

from __future__ import annotations

import re


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


# --- dpkg (lib/dpkg/version.c: parseversion + verrevcmp) ------------------------------------


def _dpkg_order(char: str) -> int:
    if char.isdigit():
        return 0
    if char.isalpha():
        return ord(char)
    if char == "~":
        return -1
    if char:
        return ord(char) + 256
    return 0


def _verrevcmp(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _dpkg_order(a[i] if i < len(a) else "")
            bc = _dpkg_order(b[j] if j < len(b) else "")
            if ac != bc:
                return _sign(ac - bc)
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return _sign(first_diff)
    return 0


def _dpkg_split(version: str) -> tuple[int, str, str]:
    epoch = 0
    if ":" in version:
        head, version = version.split(":", 1)
        epoch = int(head)
    upstream, _, revision = version.rpartition("-") if "-" in version else (version, "", "")
    return epoch, upstream, revision


def dpkg_compare(a: str, b: str) -> int:
    ea, ua, ra = _dpkg_split(a)
    eb, ub, rb = _dpkg_split(b)
    if ea != eb:
        return _sign(ea - eb)
    return _verrevcmp(ua, ub) or _verrevcmp(ra, rb)


# --- rpm (rpmio/rpmvercmp.c) -------------------------------------------------------------


def _rpm_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def rpmvercmp(a: str, b: str) -> int:
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not _rpm_alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < len(b) and not _rpm_alnum(b[j]) and b[j] not in "~^":
            j += 1
        ca = a[i] if i < len(a) else ""
        cb = b[j] if j < len(b) else ""
        if ca == "~" or cb == "~":
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i += 1
            j += 1
            continue
        if ca == "^" or cb == "^":
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i += 1
            j += 1
            continue
        if not (ca and cb):
            break
        numeric = ca.isdigit()
        kind = str.isdigit if numeric else str.isalpha
        si, sj = i, j
        while i < len(a) and a[i].isascii() and kind(a[i]):
            i += 1
        while j < len(b) and b[j].isascii() and kind(b[j]):
            j += 1
        seg_a, seg_b = a[si:i], b[sj:j]
        if not seg_b:
            return 1 if numeric else -1
        if numeric:
            seg_a, seg_b = seg_a.lstrip("0"), seg_b.lstrip("0")
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
        if seg_a != seg_b:
            return 1 if seg_a > seg_b else -1
    rest_a, rest_b = i < len(a), j < len(b)
    if not rest_a and not rest_b:
        return 0
    return -1 if not rest_a else 1


def rpm_compare(a: str, b: str) -> int:
    """EVR comparison; a missing release sorts first (the sakimori and test-vector rule)."""

    def split(evr: str) -> tuple[str, str, str | None]:
        epoch = "0"
        match = re.match(r"([0-9]*):", evr)
        if match:
            epoch, evr = match.group(1) or "0", evr[match.end() :]
        if "-" in evr:
            version, release = evr.rsplit("-", 1)
            return epoch, version, release
        return epoch, evr, None

    ea, va, ra = split(a)
    eb, vb, rb = split(b)
    result = rpmvercmp(ea, eb) or rpmvercmp(va, vb)
    if result:
        return result
    if ra is None or rb is None:
        return (ra is not None) - (rb is not None)
    return rpmvercmp(ra, rb)


# --- RubyGems (Gem::Version#<=>) ------------------------------------------------------------


def _gem_canonical(version: str) -> list[int | str]:
    text = version.strip().replace("-", ".pre.")
    segments: list[int | str] = [
        int(s) if s.isdigit() else s for s in re.findall(r"[0-9]+|[a-z]+", text, re.IGNORECASE)
    ]
    cut = next((i for i, s in enumerate(segments) if isinstance(s, str)), len(segments))
    numeric, strings = segments[:cut], segments[cut:]
    while numeric and numeric[-1] == 0:
        numeric.pop()
    while strings and strings[-1] == 0:
        strings.pop()
    return numeric + strings


def gem_compare(a: str, b: str) -> int:
    left, right = _gem_canonical(a), _gem_canonical(b)
    for i in range(max(len(left), len(right))):
        lhs = left[i] if i < len(left) else 0
        rhs = right[i] if i < len(right) else 0
        if lhs == rhs:
            continue
        if isinstance(lhs, str) and isinstance(rhs, int):
            return -1
        if isinstance(lhs, int) and isinstance(rhs, str):
            return 1
        return -1 if lhs < rhs else 1  # type: ignore[operator]
    return 0


# --- apk-tools 2.x (src/version.c, apk_version_compare) -----------------------------------

_APK_INVALID, _APK_DOT, _APK_DIGIT, _APK_LETTER, _APK_SUFFIX = -1, 0, 1, 2, 3
_APK_SUFFIX_NO, _APK_REVISION, _APK_END = 4, 5, 6


def _apk_next(kind: int, s: str) -> tuple[int, str]:
    if not s:
        new = _APK_END
    elif kind in (_APK_DIGIT, _APK_DOT) and "a" <= s[0] <= "z":
        new = _APK_LETTER
    elif kind == _APK_LETTER and s[0] in "0123456789":
        new = _APK_DIGIT
    elif kind == _APK_SUFFIX and s[0] in "0123456789":
        new = _APK_SUFFIX_NO
    else:
        new = _APK_INVALID
        if s[0] == ".":
            new = _APK_DOT
        elif s[0] == "_":
            new = _APK_SUFFIX
        elif s[0] == "-" and s[1:2] == "r":
            new = _APK_REVISION
            s = s[1:]
        s = s[1:]
    allowed = ((_APK_DOT, _APK_DIGIT), (_APK_SUFFIX, _APK_SUFFIX_NO), (_APK_DIGIT, _APK_LETTER))
    if new < kind and (new, kind) not in allowed:
        new = _APK_INVALID
    return new, s


def _apk_get(kind: int, s: str) -> tuple[int, int, str]:
    if not s:
        return 0, _APK_END, s
    value, i, forced = 0, 0, None
    if kind == _APK_DOT and s[0] == "0":
        while i < len(s) and s[i] == "0":
            i += 1
        value, forced = -i, _APK_DIGIT
    elif kind in (_APK_DOT, _APK_DIGIT, _APK_SUFFIX_NO, _APK_REVISION):
        while i < len(s) and s[i] in "0123456789":
            value = value * 10 + int(s[i])
            i += 1
    elif kind == _APK_LETTER:
        value, i = ord(s[0]), 1
    elif kind == _APK_SUFFIX:
        for index, name in enumerate(("alpha", "beta", "pre", "rc")):
            if s.startswith(name):
                value, i = index - 4, len(name)
                break
        else:
            for index, name in enumerate(("cvs", "svn", "git", "hg", "p")):
                if s.startswith(name):
                    value, i = index, len(name)
                    break
            else:
                return -1, _APK_INVALID, s
    else:
        return -1, _APK_INVALID, s
    s = s[i:]
    if not s:
        return value, _APK_END, s
    if forced is not None:
        return value, forced, s
    kind, s = _apk_next(kind, s)
    return value, kind, s


def apk_valid(version: str) -> bool:
    kind, s = _APK_DIGIT, version
    while kind not in (_APK_END, _APK_INVALID):
        _, kind, s = _apk_get(kind, s)
    return kind == _APK_END


def apk_compare(a: str, b: str) -> int:
    at = bt = _APK_DIGIT
    av = bv = 0
    while at == bt and at not in (_APK_END, _APK_INVALID) and av == bv:
        av, at, a = _apk_get(at, a)
        bv, bt, b = _apk_get(bt, b)
    if av != bv:
        return -1 if av < bv else 1
    if at == bt:
        return 0
    if at == _APK_SUFFIX and _apk_get(at, a)[0] < 0:
        return -1
    if bt == _APK_SUFFIX and _apk_get(bt, b)[0] < 0:
        return 1
    return -1 if at > bt else 1 if bt > at else 0


# --- PHP version_compare (ext/standard/versioning.c), on canonical input ------------------

_PHP_FORMS = (("dev", 0), ("alpha", 1), ("a", 1), ("beta", 2), ("b", 2), ("RC", 3), ("rc", 3))
_PHP_FORMS_2 = (("#", 4), ("pl", 5), ("p", 5))


def _php_form(text: str) -> int:
    for name, order in _PHP_FORMS + _PHP_FORMS_2:
        if text.startswith(name):
            return order
    return -1


def _php_canonical(version: str) -> list[str]:
    return re.findall(r"[0-9]+|[A-Za-z]+", version)


def php_compare(a: str, b: str) -> int:
    """``version_compare`` for versions made of letters, digits and single separators."""
    left, right = _php_canonical(a), _php_canonical(b)
    for p1, p2 in zip(left, right, strict=False):
        if p1.isdigit() and p2.isdigit():
            result = _sign(int(p1) - int(p2))
        elif not p1.isdigit() and not p2.isdigit():
            result = _sign(_php_form(p1) - _php_form(p2))
        elif p1.isdigit():
            result = _sign(_php_form("#N#") - _php_form(p2))
        else:
            result = _sign(_php_form(p1) - _php_form("#N#"))
        if result:
            return result
    if len(left) > len(right):
        nxt = left[len(right)]
        return 1 if nxt.isdigit() else _sign(_php_form(nxt) - _php_form("#N#"))
    if len(right) > len(left):
        nxt = right[len(left)]
        return -1 if nxt.isdigit() else _sign(_php_form("#N#") - _php_form(nxt))
    return 0


# --- SemVer 2.0 precedence (semver.org item 11) -------------------------------------------


def semver_compare(a: str, b: str) -> int:
    def split(v: str) -> tuple[list[int], list[str] | None]:
        v = v.removeprefix("v").split("+", 1)[0]
        core, _, pre = v.partition("-")
        numbers = [int(n) for n in core.split(".")]
        numbers += [0] * (3 - len(numbers))
        return numbers, (pre.split(".") if pre else None)

    (na, pa), (nb, pb) = split(a), split(b)
    for x, y in zip(na + [0] * len(nb), nb + [0] * len(na), strict=False):
        if x != y:
            return -1 if x < y else 1
    if pa is None or pb is None:
        return (pa is None) - (pb is None)
    for ia, ib in zip(pa, pb, strict=False):
        if ia == ib:
            continue
        if ia.isdigit() and ib.isdigit():
            return -1 if int(ia) < int(ib) else 1
        if ia.isdigit() != ib.isdigit():
            return -1 if ia.isdigit() else 1
        return -1 if ia < ib else 1
    return _sign(len(pa) - len(pb))


# --- Maven Version Order Specification (tokens, trimming, padding) -------------------------

_MAVEN_ORDER = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"]


def _maven_tokens(version: str) -> list[tuple[str, int | str]]:
    tokens: list[tuple[str, int | str]] = []
    for separator, text in re.findall(r"([.-]?)([0-9]+|[a-z]+)", version.lower()):
        prefix = separator or ("-" if tokens else ".")
        if text.isdigit():
            tokens.append((prefix, int(text)))
        else:
            tokens.append(
                (prefix, {"ga": "", "final": "", "release": "", "cr": "rc"}.get(text, text))
            )
    i = len(tokens) - 1
    while i > 0:
        if tokens[i][1] in (0, ""):
            del tokens[i]
            i -= 1
            continue
        while i >= 0 and tokens[i][0] != "-":
            i -= 1
        i -= 1
    return tokens


def _maven_qualifier(q: str) -> tuple[int, str]:
    return (_MAVEN_ORDER.index(q), "") if q in _MAVEN_ORDER else (len(_MAVEN_ORDER), q)


def _maven_vs_null(token: tuple[str, int | str]) -> int:
    value = token[1]
    if isinstance(value, int):
        return 1 if value else 0
    return _sign(_maven_qualifier(value)[0] - _MAVEN_ORDER.index(""))


def _maven_rank(token: tuple[str, int | str]) -> tuple[int, tuple[int, str] | int]:
    prefix, value = token
    if isinstance(value, int):
        return (3 if prefix == "." else 2, value)
    return (0 if prefix == "." else 1, _maven_qualifier(value))


def maven_compare(a: str, b: str) -> int:
    """The specification, for versions of digits, letters, dots and hyphens only."""
    left, right = _maven_tokens(a), _maven_tokens(b)
    for i in range(max(len(left), len(right))):
        if i >= len(left):
            result = -_maven_vs_null(right[i])
        elif i >= len(right):
            result = _maven_vs_null(left[i])
        else:
            x, y = _maven_rank(left[i]), _maven_rank(right[i])
            result = 0 if x == y else (-1 if x < y else 1)
        if result:
            return result
    return 0
