"""Property tests (Hypothesis) for every comparator family.

For each family: keys are deterministic and totally ordered (comparing any two keys never
raises, trichotomy, antisymmetry, transitivity on triples, sorting is consistent); arbitrary
strings give a key or ``InvalidVersion`` and nothing else; the fast paths build exactly the key
of the full parser; and the order of keys agrees with a reference that compares the strings
the way the native tool does (``packaging`` for PyPI, ports of dpkg, rpmvercmp, Gem::Version,
apk-tools, PHP ``version_compare``, SemVer and the Maven specification in ``reference.py``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import InvalidVersion as PackagingInvalidVersion
from packaging.version import Version

from sakimori.errors import InvalidVersion
from sakimori.versions import family_key
from tests.versions import reference

FAMILIES = [
    "alpine",
    "cran",
    "debian",
    "go",
    "hackage",
    "maven",
    "nuget",
    "packagist",
    "pub",
    "pypi",
    "rpm",
    "rubygems",
    "semver",
]
PROFILE = settings(
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
QUICK = settings(PROFILE, max_examples=120)


def sign(value: int) -> int:
    return (value > 0) - (value < 0)


def key_order(key: Callable[[str], Any], a: str, b: str) -> int:
    ka, kb = key(a), key(b)
    return int(ka > kb) - int(ka < kb)


# --- strategies ---------------------------------------------------------------------------

small = st.integers(min_value=0, max_value=12)
number = st.one_of(small, st.integers(min_value=0, max_value=10**20))
number_text = st.one_of(number.map(str), st.sampled_from(["0", "00", "01", "007", "10", "9999"]))


def dotted(count: st.SearchStrategy[int], part: st.SearchStrategy[str] | None = None) -> Any:
    part = number.map(str) if part is None else part
    return count.flatmap(lambda n: st.lists(part, min_size=n, max_size=n).map(".".join))


plain = dotted(st.integers(1, 5))
ident = st.one_of(
    number.map(str),
    st.text("abcxyzABCXYZ-", min_size=1, max_size=5),
    st.sampled_from(["alpha", "beta", "rc", "0", "1", "2", "10", "x-1", "pre"]),
)
semver_text = st.builds(
    lambda v, core, pre, build: (
        v + core + (f"-{pre}" if pre else "") + (f"+{build}" if build else "")
    ),
    st.sampled_from(["", "v"]),
    dotted(st.integers(1, 4)),
    st.one_of(st.none(), st.lists(ident, min_size=1, max_size=4).map(".".join)),
    st.one_of(st.none(), st.lists(ident, min_size=1, max_size=3).map(".".join)),
)
go_number = st.one_of(small, st.integers(0, 10**12)).map(str)
go_ident = st.one_of(go_number, st.text("abcxyz-", min_size=1, max_size=5), st.just("0"))
go_text = st.one_of(
    st.builds(
        lambda v, a, b, c, pre, build: (
            f"{v}{a}.{b}.{c}" + (f"-{pre}" if pre else "") + (f"+{build}" if build else "")
        ),
        st.sampled_from(["", "v"]),
        go_number,
        go_number,
        go_number,
        st.one_of(st.none(), st.lists(go_ident, min_size=1, max_size=4).map(".".join)),
        st.one_of(st.none(), st.sampled_from(["incompatible", "build.1"])),
    ),
    st.builds(lambda v, a: v + a, st.sampled_from(["", "v"]), dotted(st.integers(1, 2), go_number)),
)
pep440_text = st.builds(
    lambda v, epoch, rel, pre, post, dev, local: v + epoch + rel + pre + post + dev + local,
    st.sampled_from(["", "", "v", "V"]),
    st.one_of(st.just(""), small.map(lambda n: f"{n}!")),
    dotted(st.integers(1, 4), st.one_of(small.map(str), number_text)),
    st.one_of(
        st.just(""),
        st.builds(
            lambda sep, word, n: f"{sep}{word}{n}",
            st.sampled_from(["", ".", "-", "_"]),
            st.sampled_from(["a", "b", "rc", "c", "alpha", "beta", "pre", "preview", "RC", "A"]),
            st.one_of(st.just(""), small.map(str)),
        ),
    ),
    st.one_of(
        st.just(""),
        small.map(lambda n: f".post{n}"),
        small.map(lambda n: f"-{n}"),
        st.sampled_from([".post", "post1", "-r2", ".rev3", "_post4"]),
    ),
    st.one_of(st.just(""), small.map(lambda n: f".dev{n}"), st.sampled_from(["dev", "-dev2"])),
    st.one_of(
        st.just(""),
        st.lists(
            st.one_of(small.map(str), st.text("abcz", min_size=1, max_size=3)),
            min_size=1,
            max_size=3,
        ).map(lambda parts: "+" + ".".join(parts)),
    ),
)
canonical_pep440 = st.builds(
    lambda rel, pre, post, dev: rel + pre + post + dev,
    dotted(st.integers(1, 4), small.map(str)),
    st.one_of(
        st.just(""), st.builds(lambda w, n: f"{w}{n}", st.sampled_from(["a", "b", "rc"]), small)
    ),
    st.one_of(st.just(""), small.map(lambda n: f".post{n}")),
    st.one_of(st.just(""), small.map(lambda n: f".dev{n}")),
)


def joined(pool: list[str], min_size: int = 1, max_size: int = 6) -> st.SearchStrategy[str]:
    """Concatenations of a few pieces from a small pool, so that versions share prefixes."""
    return st.lists(st.sampled_from(pool), min_size=min_size, max_size=max_size).map("".join)


debian_text = st.builds(
    lambda epoch, upstream, revision: epoch + upstream + revision,
    st.one_of(st.just(""), st.sampled_from(["0:", "1:", "2:", "10:"])),
    st.builds(
        lambda head, rest: head + rest,
        st.sampled_from(["0", "1", "2", "10", "01"]),
        joined([".", "0", "1", "2", "10", "~", "~rc", "+", "a", "b", "Z", "+dfsg", "~~", "00"], 0),
    ),
    st.one_of(
        st.just(""),
        joined(["0", "1", "2", "~", ".", "+", "deb", "u1", "ubuntu", "~bpo", "a", "00"]).map(
            lambda s: "-" + s
        ),
    ),
)
rpm_text = st.builds(
    lambda epoch, version, release: epoch + version + release,
    st.one_of(st.just(""), st.sampled_from(["0:", "1:", "01:", "2:"])),
    joined(["1", "0", "2", "10", "01", ".", "~", "^", "_", "+", "a", "b", "rc", "git", "Z", "α"]),
    st.one_of(
        st.just(""),
        joined(["1", "0", "2", ".", "el", "el8", "~", "^", "a"], 0).map(lambda s: "-" + s),
    ),
)
gem_text = st.builds(
    lambda head, rest, pre: head + rest + pre,
    st.sampled_from(["0", "1", "2", "10", "01"]),
    st.lists(
        st.sampled_from(["0", "1", "2", "00", "10", "a", "b", "beta", "rc", "A", "a1", "pre"]),
        max_size=5,
    ).map(lambda parts: "".join("." + p for p in parts)),
    st.one_of(st.just(""), st.sampled_from(["-1", "-a", "-rc.1", "-0"])),
)
apk_text = st.builds(
    lambda rel, letter, suffixes, revision: rel + letter + suffixes + revision,
    dotted(st.integers(1, 4), st.one_of(small.map(str), st.sampled_from(["0", "00", "01", "010"]))),
    st.sampled_from(["", "", "a", "z"]),
    st.lists(
        st.builds(
            lambda s, n: f"_{s}{n}",
            st.sampled_from(["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"]),
            st.one_of(st.just(""), small.map(str)),
        ),
        max_size=2,
    ).map("".join),
    st.one_of(st.just(""), small.map(lambda n: f"-r{n}")),
)
apk_noise = st.builds(
    lambda head, rest: head + rest,
    st.sampled_from(["0", "1", "2", "10", "01", ".", "a"]),
    joined(
        [
            "0",
            "1",
            "2",
            ".",
            "_",
            "-",
            "r",
            "a",
            "b",
            "p",
            "z",
            "_rc",
            "_p",
            "-r",
            "..",
            "-r-",
            "A",
        ],
        0,
    ),
)
packagist_text = st.builds(
    lambda parts, seps: "".join(p + s for p, s in zip(parts, seps, strict=False)).rstrip("._-+"),
    st.lists(
        st.one_of(
            small.map(str),
            st.sampled_from(["dev", "alpha", "a", "b", "beta", "RC", "rc", "pl", "p", "x"]),
        ),
        min_size=1,
        max_size=5,
    ),
    st.lists(st.sampled_from([".", "-", "_", "+", ""]), min_size=5, max_size=5),
)
maven_text = st.builds(
    lambda rel, quals: rel + quals,
    st.one_of(
        st.sampled_from(["0", "1", "1.0", "1.0.0", "1.1", "2", "1.0.1", "0.9"]),
        dotted(st.integers(1, 4), small.map(str)),
    ),
    joined(
        [
            *("-1", "-0", "-2", ".1", ".0", "-alpha", "-beta", "-milestone", "-rc", "-cr"),
            *("-snapshot", "-ga", "-final", "-sp", "-foo", "-xyz", "-alpha1", "-rc2", "-SP"),
        ],
        0,
        3,
    ),
)
nuget_text = st.builds(
    lambda core, pre, meta: core + (f"-{pre}" if pre else "") + (f"+{meta}" if meta else ""),
    dotted(st.integers(1, 4)),
    st.one_of(st.none(), st.lists(ident, min_size=1, max_size=3).map(".".join)),
    st.one_of(st.none(), st.just("meta")),
)
cran_text = st.lists(number.map(str), min_size=1, max_size=5).flatmap(
    lambda parts: st.lists(
        st.sampled_from([".", "-"]), min_size=len(parts), max_size=len(parts)
    ).map(lambda seps: "".join(s + p for s, p in zip(seps, parts, strict=True))[1:])
)
hackage_text = dotted(st.integers(1, 5))
pub_text = semver_text

VALID: dict[str, st.SearchStrategy[str]] = {
    "alpine": st.one_of(apk_text, apk_noise),
    "cran": cran_text,
    "debian": debian_text,
    "go": go_text,
    "hackage": hackage_text,
    "maven": st.one_of(maven_text, st.text("0123456789.-abcrsz", min_size=1, max_size=12)),
    "nuget": nuget_text,
    "packagist": st.one_of(
        packagist_text, st.text("0123456789.-_#vVabdeprlcRC", min_size=1, max_size=12)
    ),
    "pub": pub_text,
    "pypi": st.one_of(
        pep440_text,
        canonical_pep440,
        plain,
        st.text("0123456789.-abcdeprv!+_", min_size=1, max_size=12),
    ),
    "rpm": rpm_text,
    "rubygems": gem_text,
    "semver": semver_text,
}
GARBAGE = st.one_of(
    st.text(max_size=40),
    st.text(min_size=250, max_size=300),
    st.text(st.characters(codec="ascii"), max_size=40),
    st.builds(
        lambda a, b: a + b,
        st.sampled_from(["1.0", "v1", "1:", "0.1-", "1.2.3"]),
        st.text(max_size=8),
    ),
)

SHORT_GARBAGE = st.one_of(
    st.text(st.characters(codec="ascii"), max_size=12),
    st.builds(
        lambda a, b: a + b, st.sampled_from(["1.0", "v1", "1:", "0.1-"]), st.text(max_size=4)
    ),
)


def accepted_versions(family: str) -> st.SearchStrategy[str]:
    """Generated versions that the family accepts (others are filtered out)."""
    key = family_key(family)

    def ok(version: str) -> bool:
        try:
            key(version)
        except InvalidVersion:
            return False
        return True

    valid = VALID[family]
    return st.one_of(valid, valid, valid, SHORT_GARBAGE).filter(ok)


# --- total order, for every family ----------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@QUICK
@given(data=st.data())
def test_keys_are_a_total_order(family: str, data: st.DataObject) -> None:
    key = family_key(family)
    a, b, c = (data.draw(accepted_versions(family)) for _ in range(3))
    ka, kb, kc = key(a), key(b), key(c)
    assert key(a) == ka  # deterministic
    assert hash(ka) == hash(key(a))  # and hashable
    assert (ka < kb) + (ka == kb) + (ka > kb) == 1  # trichotomy; comparing never raises
    assert (ka < kb) == (kb > ka)  # antisymmetry
    assert (ka <= kb) == (kb >= ka)
    if ka <= kb and kb <= kc:
        assert ka <= kc  # transitivity
    if ka == kb:
        assert (ka < kc) == (kb < kc)


@pytest.mark.parametrize("family", FAMILIES)
@QUICK
@given(data=st.data())
def test_sorting_is_consistent(family: str, data: st.DataObject) -> None:
    key = family_key(family)
    versions = data.draw(st.lists(accepted_versions(family), min_size=2, max_size=12))
    once = [key(v) for v in sorted(versions, key=key)]
    assert all(x <= y for x, y in pairwise(once))
    shuffled = data.draw(st.permutations(versions))
    assert [key(v) for v in sorted(shuffled, key=key)] == once


@pytest.mark.parametrize("family", FAMILIES)
@QUICK
@given(text=st.one_of(GARBAGE, st.binary(max_size=20).map(lambda b: b.decode("latin-1"))))
def test_garbage_gives_a_key_or_invalid_version(family: str, text: str) -> None:
    try:
        result: object = family_key(family)(text)
    except InvalidVersion as exc:
        result = exc
    assert isinstance(result, tuple | InvalidVersion)
    if isinstance(result, InvalidVersion):
        assert result.diagnostics()


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("value", [None, 1, 1.5, b"1.0", ["1.0"], {"1": 0}])
def test_non_strings_raise_invalid_version(family: str, value: Any) -> None:
    with pytest.raises(InvalidVersion):
        family_key(family)(value)


# --- fast paths build the full parser's key -------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@QUICK
@given(version=st.one_of(plain, dotted(st.integers(1, 4), small.map(str))))
def test_fast_path_equals_full_parser(family: str, version: str) -> None:
    module = importlib.import_module(f"sakimori.versions.{family}")
    try:
        expected = module._parse(version)
    except InvalidVersion:
        with pytest.raises(InvalidVersion):
            module.sort_key(version)
        return
    assert module.sort_key(version) == expected


@pytest.mark.parametrize("version", ["1.2.3-r4", "1.0-r0", "1.0.0", "0", "1.0.1-r10", "3.0.0.0"])
def test_alpine_fast_path_examples(version: str) -> None:
    module = importlib.import_module("sakimori.versions.alpine")
    assert module._plain_key(version) == module._parse(version)


# --- agreement with the native comparison rules ---------------------------------------------


@PROFILE
@given(a=pep440_text, b=pep440_text)
def test_pypi_agrees_with_packaging(a: str, b: str) -> None:
    key = family_key("pypi")
    try:
        va, vb = Version(a), Version(b)
    except PackagingInvalidVersion:  # a legacy version: covered elsewhere
        return
    assert key_order(key, a, b) == sign((va > vb) - (va < vb))
    assert (key(a) == key(b)) == (va == vb)


@PROFILE
@given(a=st.one_of(plain, canonical_pep440), b=st.one_of(plain, canonical_pep440, pep440_text))
def test_pypi_fast_paths_agree_with_packaging(a: str, b: str) -> None:
    """The plain and normal-form fast paths (``a``) against packaging, also across paths."""
    module = importlib.import_module("sakimori.versions.pypi")
    try:
        vb = Version(b)
    except PackagingInvalidVersion:
        return
    va = Version(a)
    assert module.sort_key(a) == module._parse(a)
    assert key_order(module.sort_key, a, b) == (va > vb) - (va < vb)


@PROFILE
@given(a=st.text("0123456789.-abcdefprv_", min_size=1, max_size=10), b=pep440_text)
def test_pypi_legacy_versions_sort_before_pep440(a: str, b: str) -> None:
    key = family_key("pypi")
    try:
        Version(a)
    except PackagingInvalidVersion:
        try:
            Version(b)
        except PackagingInvalidVersion:
            return
        if any(c.isalnum() for c in a):
            assert key(a) < key(b)


REFERENCES: dict[str, tuple[st.SearchStrategy[str], Callable[[str, str], int]]] = {
    "debian": (debian_text, reference.dpkg_compare),
    "rpm": (rpm_text, reference.rpm_compare),
    "rubygems": (gem_text, reference.gem_compare),
    "semver": (semver_text, reference.semver_compare),
    "go": (go_text, reference.semver_compare),
    "packagist": (packagist_text, reference.php_compare),
    "maven": (maven_text, reference.maven_compare),
}


@pytest.mark.parametrize("family", sorted(REFERENCES))
@PROFILE
@given(data=st.data())
def test_agrees_with_reference_comparator(family: str, data: st.DataObject) -> None:
    strategy, compare = REFERENCES[family]
    key = family_key(family)
    a, b = data.draw(strategy), data.draw(strategy)
    try:
        key(a), key(b)
    except InvalidVersion:
        return
    assert key_order(key, a, b) == compare(a, b), (a, b)


@PROFILE
@given(a=st.one_of(apk_text, apk_noise), b=st.one_of(apk_text, apk_noise))
def test_alpine_agrees_with_apk_tools_2_on_valid_versions(a: str, b: str) -> None:
    """apk-tools 2.x order for every version it accepts (``.`` + letter aside, see module)."""
    for version in (a, b):
        if not reference.apk_valid(version) or any(
            version[i] == "." and version[i + 1 : i + 2].isalpha() for i in range(len(version))
        ):
            return
    assert key_order(family_key("alpine"), a, b) == reference.apk_compare(a, b), (a, b)


@PROFILE
@given(a=cran_text, b=cran_text)
def test_cran_and_hackage_compare_number_lists(a: str, b: str) -> None:
    numbers = [int(n) for n in a.replace("-", ".").split(".")]
    others = [int(n) for n in b.replace("-", ".").split(".")]
    expected = (numbers > others) - (numbers < others)
    assert key_order(family_key("cran"), a, b) == expected
    a_dots, b_dots = a.replace("-", "."), b.replace("-", ".")
    assert key_order(family_key("hackage"), a_dots, b_dots) == expected
