"""Package URLs: the fast splitter agrees with packageurl-python wherever it answers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packageurl import PackageURL

from sakimori.errors import InvalidInput
from sakimori.model.ecosystem import (
    normalize_name,
    parse_purl,
    release_of,
    split_simple_purl,
    to_purl,
)
from tests.conftest import require_data


def library(purl: str) -> tuple[str, str | None, str, str | None, dict[str, str]]:
    parsed = PackageURL.from_string(purl)
    qualifiers = parsed.qualifiers if isinstance(parsed.qualifiers, dict) else {}
    return parsed.type, parsed.namespace or None, parsed.name, parsed.version or None, qualifiers


def same(split: tuple[str, str | None, str, str | None, dict[str, str]], purl: str) -> bool:
    """Equal to the library's answer, except that npm names keep their case (see ecosystem.py)."""
    expected = library(purl)
    if split[0] == "npm":
        return (*split[:2], split[2].lower(), *split[3:]) == expected
    return split == expected


def real_purls() -> list[str]:
    root = require_data("sbom")
    pattern = re.compile(rb'"?(pkg:[^"<\s]+)')
    found: set[str] = set()
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".xml", ".spdx", ".yaml"}:
            found.update(m.decode() for m in pattern.findall(path.read_bytes()))
    return sorted(found)


def test_fast_split_agrees_with_the_library_on_every_real_purl() -> None:
    purls = real_purls()
    assert len(purls) > 1_500
    fast = 0
    for purl in purls:
        split = split_simple_purl(purl)
        if split is not None:
            fast += 1
            assert same(split, purl), purl
    assert fast > len(purls) * 0.9, "the fast path should handle nearly every real purl"


segment = st.text(alphabet=st.sampled_from("abcXYZ019._-~%@:+!/=&?"), min_size=1, max_size=12)
generated = st.builds(
    lambda t, ns, name, version, query: (
        f"pkg:{t}/{ns + '/' if ns else ''}{name}"
        + (f"@{version}" if version else "")
        + (f"?{query}" if query else "")
    ),
    st.sampled_from(["npm", "maven", "golang", "cargo", "gem", "nuget", "deb", "rpm", "pypi"]),
    st.one_of(st.none(), segment),
    segment,
    st.one_of(st.none(), segment),
    st.one_of(st.none(), segment, st.just("arch=amd64&distro=debian-12")),
)


@settings(max_examples=3_000, deadline=None)
@given(purl=generated)
def test_fast_split_agrees_with_the_library_on_generated_purls(purl: str) -> None:
    split = split_simple_purl(purl)
    if split is None:
        return
    try:
        library(purl)
    except ValueError:
        pytest.fail(f"the fast path accepted {purl!r}, which the library refuses")
    assert same(split, purl), purl


@pytest.mark.parametrize(
    ("purl", "ecosystem", "name", "version"),
    [
        ("pkg:pypi/Django_Rest@3.1", "PyPI", "django-rest", "3.1"),
        ("pkg:npm/%40babel/parser@7.21.2", "npm", "@babel/parser", "7.21.2"),
        ("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", "Maven",
         "org.apache.logging.log4j:log4j-core", "2.14.1"),
        ("pkg:golang/github.com/gin-gonic/gin@v1.6.0", "Go", "github.com/gin-gonic/gin", "v1.6.0"),
        ("pkg:composer/League/Flysystem@1.0.8", "Packagist", "league/flysystem", "1.0.8"),
        ("pkg:cargo/smallvec@1.6.0#src/lib.rs", "crates.io", "smallvec", "1.6.0"),
        ("pkg:githubactions/actions/checkout@v2", "GitHub Actions", "actions/checkout", "v2"),
    ],
)  # fmt: skip
def test_purl_to_osv_package(purl: str, ecosystem: str, name: str, version: str) -> None:
    ref = parse_purl(purl)
    assert ref.ecosystem == ecosystem
    assert normalize_name(ecosystem, ref.name) == normalize_name(ecosystem, name)
    assert ref.version == version


def test_distribution_release_comes_from_the_distro_qualifier() -> None:
    ref = parse_purl("pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12")
    assert (ref.ecosystem, ref.name, ref.release) == ("Debian", "openssl", "12")
    assert parse_purl("pkg:apk/alpine/curl@8.5.0-r0?distro=3.19.1").release == "3.19.1"
    assert release_of("Alpine:v3.18") == "3.18"


def test_types_without_a_vulnerability_database_have_no_ecosystem() -> None:
    assert parse_purl("pkg:generic/openssl@1.1.1").ecosystem is None
    assert parse_purl("pkg:github/spdx/tools-java@1.1").ecosystem is None


@pytest.mark.parametrize("purl", ["", "pkg:", "npm/left-pad@1", "pkg:/x@1", "pkg:npm"])
def test_garbage_is_refused_with_our_error(purl: str) -> None:
    with pytest.raises(InvalidInput, match="not valid"):
        parse_purl(purl)


def test_round_trip_through_to_purl() -> None:
    for ecosystem, name in [("npm", "@types/node"), ("Maven", "g.roup:art"), ("Go", "a.b/c/d")]:
        purl = to_purl(ecosystem, name, "1.0.0")
        assert purl is not None
        ref = parse_purl(purl)
        assert (ref.ecosystem, ref.name, ref.version) == (ecosystem, name, "1.0.0")
