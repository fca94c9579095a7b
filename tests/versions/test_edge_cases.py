"""Hand-written cases: the registry, what every family refuses, and behaviour worth pinning."""

from __future__ import annotations

from itertools import pairwise

import pytest

from sakimori.errors import InvalidInput, InvalidVersion
from sakimori.model.ecosystem import COMPARATOR_FAMILY
from sakimori.versions import compare, family_key, key_function

FAMILIES = sorted(set(COMPARATOR_FAMILY.values()))


def ordered(family: str, *versions: str) -> bool:
    """True if the versions are in strictly increasing order."""
    keys = [family_key(family)(v) for v in versions]
    return all(a < b for a, b in pairwise(keys))


def same(family: str, *versions: str) -> bool:
    keys = [family_key(family)(v) for v in versions]
    return all(k == keys[0] for k in keys)


# --- registry -----------------------------------------------------------------------------


@pytest.mark.parametrize("ecosystem", sorted(COMPARATOR_FAMILY))
def test_every_ecosystem_has_a_comparator(ecosystem: str) -> None:
    key = key_function(ecosystem)
    assert key is not None
    assert isinstance(key("1"), tuple)


def test_registry_uses_the_base_ecosystem() -> None:
    assert key_function("Debian:12") is family_key("debian")
    assert key_function("Alpine:v3.18") is family_key("alpine")
    assert key_function("Ubuntu:22.04:LTS") is family_key("debian")
    assert key_function("NoSuchEcosystem") is None
    assert compare("PyPI", "1.0", "1.0.0") == 0
    assert compare("npm", "1.0.0-rc.1", "1.0.0") == -1
    assert compare("Red Hat", "1:1.0", "2.0") == 1
    with pytest.raises(InvalidVersion):
        compare("NoSuchEcosystem", "1", "2")


# --- what every family refuses ----------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(
    "version",
    ["", "1" * 257, "1." * 130 + "1", "1.0\n", "1.0\x00", "\t1.0", "1.0\x7f", "1.0\x85"],
    ids=["empty", "257-digits", "261-chars", "newline", "nul", "tab", "del", "c1-control"],
)
def test_refused_everywhere(family: str, version: str) -> None:
    with pytest.raises(InvalidVersion) as caught:
        family_key(family)(version)
    assert isinstance(caught.value, InvalidInput)
    assert "version" in caught.value.diagnostics()


@pytest.mark.parametrize("family", FAMILIES)
def test_longest_accepted_length(family: str) -> None:
    version = "1." * 127 + "1"  # 255 characters
    if family in {"go", "nuget"}:
        version = "1.2.3-" + "a" * 249
    family_key(family)(version)


@pytest.mark.parametrize("family", FAMILIES)
def test_huge_numbers_order_by_value(family: str) -> None:
    small, big = "99999999999999999998", "99999999999999999999"
    if family == "pub" or family == "semver" or family == "go" or family == "nuget":
        small, big = small + ".0.0", big + ".0.0"
    assert ordered(family, small, big)


# --- PyPI ---------------------------------------------------------------------------------


def test_pypi() -> None:
    assert same("pypi", "1.0", "1.0.0", "1", "v1.0", " 1.0 ", "1.0.0.0")
    assert same("pypi", "1.0a1", "1.0alpha1", "1.0-a1", "1.0.A.1")
    assert same("pypi", "1.0.post1", "1.0-1", "1.0r1", "1.0.rev1")
    assert ordered("pypi", "1.0.dev1", "1.0a1.dev1", "1.0a1", "1.0b1", "1.0rc1", "1.0")
    assert ordered("pypi", "1.0", "1.0+local", "1.0+local.1", "1.0.post1.dev1", "1.0.post1")
    assert ordered("pypi", "1.0+abc", "1.0+1")  # strings sort before numbers in local segments
    assert ordered("pypi", "2.0", "1!0.1")
    # legacy (pre-PEP 440) versions sort before every PEP 440 version
    assert ordered("pypi", "0.3m1", "0.3m2", "0.0.1")
    assert ordered("pypi", "-class.-jw.util.version.version-pre", "0")


# --- SemVer and Go ------------------------------------------------------------------------


def test_semver() -> None:
    assert same("semver", "1.2.3", "v1.2.3", "1.2.3+build.5", "1.2.3.0", "01.2.3")
    assert same("semver", "0", "0.0", "0.0.0")
    assert ordered("semver", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta")
    assert ordered("semver", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0")
    assert ordered("semver", "1.2.3", "1.2.3.1", "1.2.4")


@pytest.mark.parametrize(
    "version", ["1.2.3-", "1..2", "a.b.c", "1.2.3-a..b", "7.0.36, 8.2.13", "=1.2.3", "V1.2.3"]
)
def test_semver_refuses(version: str) -> None:
    with pytest.raises(InvalidVersion):
        family_key("semver")(version)


def test_go_pseudo_versions_and_incompatible() -> None:
    assert same("go", "v2.0.0+incompatible", "2.0.0", "v2", "v2.0")
    assert ordered(
        "go",
        "v0.0.0-20191109021931-daa7c04131f5",
        "v0.0.0-20200101000000-000000000000",
        "v0.0.1",
    )
    assert ordered(
        "go",
        "v1.2.3-pre",
        "v1.2.3-pre.0.20191109021931-daa7c04131f5",
        "v1.2.3",
        "v1.2.4-0.20191109021931-daa7c04131f5",
        "v1.2.4",
    )


@pytest.mark.parametrize("version", ["01.2.3", "v1.02.3", "1.2.3-01", "v1.2-pre", "1.2.3.4", "vv1"])
def test_go_refuses_what_x_mod_semver_refuses(version: str) -> None:
    with pytest.raises(InvalidVersion):
        family_key("go")(version)


# --- Maven --------------------------------------------------------------------------------


def test_maven() -> None:
    assert same("maven", "1", "1.0", "1.0.0", "1-ga", "1.final", "1.RELEASE", "1-0")
    assert same("maven", "1.0.0rc1", "1-cr-1", "1.0-RC1", "1-rc1", "1.0.0-rc-1")
    # ".RC1" stays a dot-qualifier (as in Maven 3.8 and the specification), still a pre-release
    assert ordered("maven", "1.0.0.RC1", "1.0.0.RC2", "1.0.0")
    assert ordered(
        "maven",
        "1.0-alpha-1",
        "1.0-beta-1",
        "1.0-milestone-1",
        "1.0-rc-1",
        "1.0-SNAPSHOT",
        "1.0",
        "1.0-sp",
        "1.0-foo",
        "1.0-1",
        "1.0.1",
    )
    assert ordered("maven", "4.1.68.Final", "4.1.69.Final", "4.1.100.Final")


def test_maven_intransitive_case_follows_padding_rule() -> None:
    # ComparableVersion says RC1 < 2.9.0 < 2.9.0-1 but RC1 > 2.9.0-1; the key keeps the first two
    assert ordered("maven", "2.9.0.RC1", "2.9.0", "2.9.0-1")


# --- NuGet, Packagist, RubyGems --------------------------------------------------------


def test_nuget() -> None:
    assert same("nuget", "1.0.0-BETA", "1.0.0-beta", "1.0.0-beta+meta")
    assert same("nuget", "1.0", "1.0.0.0", "1.00.0")
    assert ordered("nuget", "1.0.0-alpha", "1.0.0-beta", "1.0.0-beta.2", "1.0.0", "1.0.0.1")
    for bad in ("1.2.3.4.5", "v1.0.0", "1.0.0-", "1.0.0-a..b"):
        with pytest.raises(InvalidVersion):
            family_key("nuget")(bad)


def test_packagist() -> None:
    assert same("packagist", "v1.0.0", "V1.0.0", "1.0.0")
    assert ordered("packagist", "1.0-dev", "1.0alpha1", "1.0beta1", "1.0RC1", "1.0", "1.0pl1")
    assert ordered("packagist", "dev-master", "0.1")
    assert ordered("packagist", "1.0", "1.0.0")  # version_compare: a trailing number is newer
    assert same("packagist", "1.0a1", "1.0alpha1", "1.0-a.1")
    assert same("packagist", "1.2.3.#", "1.2.3")  # '#' separates (PHP: equal to any number)


def test_rubygems() -> None:
    assert same("rubygems", "1.0", "1", "1.0.0", " 1.0 ")
    assert same("rubygems", "1.0-rc1", "1.0.pre.rc1", "1.0.pre.rc.1")
    assert ordered("rubygems", "1.0.a", "1.0.b1", "1.0")
    # a missing segment is 0, and 0 sorts above letters but below other numbers
    assert ordered("rubygems", "1.a.0.b", "1.a", "1.a.0.1")
    for bad in ("a1", "1..0", "1.0 beta", "-1"):
        with pytest.raises(InvalidVersion):
            family_key("rubygems")(bad)


# --- Debian, RPM, Alpine -------------------------------------------------------------------


def test_debian() -> None:
    assert same("debian", "1.0", "0:1.0", "1.0-0", "1.0-00")
    assert ordered("debian", "1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a", "1.0+", "1.0.1")
    assert ordered("debian", "1.0~rc1-1", "1.0-1", "1.0-1+deb10u1", "1.0-2", "1:0.1-1")
    assert ordered("debian", "2.7.4+reloaded2-13ubuntu1", "2.7.4+reloaded2-13+deb9u1")


@pytest.mark.parametrize(
    "version", ["1.0-", ":1.0", "a:1.0", "1.0 1", "1.2.3-not-a-debian:version!@#$", "1:"]
)
def test_debian_refuses(version: str) -> None:
    with pytest.raises(InvalidVersion):
        family_key("debian")(version)


def test_rpm() -> None:
    assert ordered("rpm", "1.0~rc1", "1.0", "1.0^git1", "1.0.1")
    assert ordered("rpm", "1", "1-", "1-0", "1-1.el8", "1-1.el9", "1-2")
    assert ordered("rpm", "2.0", "1:1.0")
    assert same("rpm", "1.0", "1_0", "1..0", "01.00", "0:1.0")
    assert ordered("rpm", "a:2", "a:10")  # no epoch there: "a:2" is a version


def test_alpine() -> None:
    assert ordered("alpine", "1.2_alpha1", "1.2_rc1", "1.2", "1.2-r1", "1.2_p1", "1.2a", "1.2.1")
    assert ordered("alpine", "1.01", "1.1")
    assert ordered("alpine", "1.2.0A", "1.2.0d")  # malformed sorts first


# --- CRAN, Hackage, Pub --------------------------------------------------------------------


def test_cran_hackage_pub() -> None:
    assert same("cran", "1.0-1", "1.0.1", "1.00.01")
    assert ordered("cran", "1.0", "1.0.0", "1.0-1")
    assert ordered("hackage", "1.0", "1.0.0", "1.0.1", "1.1")
    assert ordered("pub", "1.0.0-pre", "1.0.0-pre+1", "1.0.0", "1.0.0+1", "1.0.0+1.1", "1.0.0+a")
    for family, bad in (("cran", "1.0a"), ("hackage", "1.0-beta"), ("pub", "1.0.0+")):
        with pytest.raises(InvalidVersion):
            family_key(family)(bad)
