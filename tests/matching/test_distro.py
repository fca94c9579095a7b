"""Distribution-aware matching: OS packages are matched through their source (origin)
package and its version, only against their own release's advisories when the release is
known, with the distribution's version ordering.

There are no Debian or Ubuntu OSV records in ../shared/data, so the records are written here
in OSV's own shape (as Debian's and Ubuntu's OSV feeds publish them: keyed by source package,
ecosystem with the release suffix) and read through the OSV parser; the installed side is a
dpkg status database written here too (the one real status file holds a single package)."""

from __future__ import annotations

from dataclasses import replace

import orjson

from sakimori.formats import osv
from sakimori.formats.lockfiles import dpkg_status
from sakimori.matching import AdvisoryIndex, match_components, package_version_of
from sakimori.model.advisory import Advisory
from sakimori.model.ecosystem import normalize_release, parse_purl, release_of
from sakimori.model.inventory import Component


def record(identifier: str, ecosystem: str, name: str, fixed: str, cve: str) -> Advisory:
    document = {
        "id": identifier,
        "modified": "2024-01-31T00:00:00Z",
        "aliases": [cve],
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }
    (advisory,) = osv.parse(orjson.dumps(document))
    return advisory


ADVISORIES = [
    record("DSA-5514-1", "Debian:12", "glibc", "2.36-9+deb12u3", "CVE-2023-4911"),
    record("DSA-5514-2", "Debian:11", "glibc", "2.31-13+deb11u7", "CVE-2023-4911"),
    record("DSA-9999-1", "Debian:12", "zlib", "1:1.2.13.dfsg-2", "CVE-2099-0001"),
    record("USN-6409-1", "Ubuntu:22.04:LTS", "glibc", "2.35-0ubuntu3.4", "CVE-2023-4911"),
]

STATUS = b"""Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u1

Package: libc-bin
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u1

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib (1:1.2.13.dfsg-1)
Version: 1:1.2.13.dfsg-1+b1

Package: libfixed
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u3
"""


def hits(components: list[Component]) -> dict[str, set[str]]:
    index = AdvisoryIndex.from_advisories(ADVISORIES)
    found: dict[str, set[str]] = {}
    for result in match_components(components, index):
        for hit in result.result.hits:
            found.setdefault(result.component.name, set()).add(hit.entry.advisory_id)
    return found


def test_a_binary_package_is_affected_through_its_source_package() -> None:
    components = list(dpkg_status.parse(STATUS).components)
    twelve = [replace(c, release="12") for c in components]
    assert hits(twelve) == {
        "libc6": {"DSA-5514-1"},
        "libc-bin": {"DSA-5514-1"},
        # binNMU: the binary is 1:1.2.13.dfsg-1+b1, the advisory speaks of the source version
        "zlib1g": {"DSA-9999-1"},
    }  # libfixed is at the fixed source version: not affected


def test_a_known_release_matches_only_its_own_advisories() -> None:
    eleven = [replace(c, release="11") for c in dpkg_status.parse(STATUS).components]
    # 2.36 is above Debian 11's fix 2.31-13+deb11u7: not affected; Debian 12's record ignored
    assert hits(eleven) == {}


def test_without_a_release_every_release_is_checked_conservatively() -> None:
    """A bare dpkg status does not say its release: the Debian 11 record (fixed in 2.31) does
    not affect 2.36, but the Debian 12 one does, so the answer equals the release-12 one here;
    an older glibc is affected under both releases' records (may over-report)."""
    components = list(dpkg_status.parse(STATUS).components)
    assert hits(components)["libc6"] == {"DSA-5514-1"}
    old = Component(
        "libc6", "2.28-10", "Debian", purl="pkg:deb/debian/libc6@2.28-10?upstream=glibc"
    )
    assert hits([old]) == {"libc6": {"DSA-5514-1", "DSA-5514-2"}}


def test_sbom_purls_give_source_package_and_release() -> None:
    purl = "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12.4&upstream=glibc"
    component = Component("libc6", "2.36-9", "Debian", purl=purl)
    package = package_version_of(component)
    assert not isinstance(package, str)
    assert (package.ecosystem, package.name, package.version, package.release) == (
        "Debian",
        "glibc",
        "2.36-9",
        "12",
    )
    assert hits([component]) == {"libc6": {"DSA-5514-1"}}
    # syft writes the source version after an @ when it differs from the binary's
    ref = parse_purl("pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1%2Bb1?upstream=zlib%401:1.2.13.dfsg-1")
    assert (ref.source_name, ref.source_version) == ("zlib", "1:1.2.13.dfsg-1")


def test_ubuntu_releases_and_labels() -> None:
    jammy = "pkg:deb/ubuntu/libc6@2.35-0ubuntu3.1?distro=ubuntu-22.04&upstream=glibc"
    focal = "pkg:deb/ubuntu/libc6@2.35-0ubuntu3.1?distro=ubuntu-20.04&upstream=glibc"
    assert hits([Component("libc6", "2.35-0ubuntu3.1", "Ubuntu", purl=jammy)]) == {
        "libc6": {"USN-6409-1"}
    }
    assert hits([Component("libc6", "2.35-0ubuntu3.1", "Ubuntu", purl=focal)]) == {}
    assert release_of("Ubuntu:22.04:LTS") == "22.04"
    assert release_of("Ubuntu:Pro:18.04:LTS") == "18.04"


def test_release_spellings_are_normalised() -> None:
    assert normalize_release("Debian", "bookworm") == "12"
    assert normalize_release("Debian", "12.4") == "12"
    assert normalize_release("Alpine", "3.18.4") == "3.18"
    assert normalize_release("Alpine", "v3.18") == "3.18"
    assert normalize_release("Debian", None) is None


def test_other_ecosystems_ignore_the_upstream_qualifier() -> None:
    component = Component("requests", "2.0", "PyPI", purl="pkg:pypi/requests@2.0?upstream=x")
    package = package_version_of(component)
    assert not isinstance(package, str)
    assert package.name == "requests"


def test_a_broken_purl_falls_back_to_the_component_name() -> None:
    component = Component("libc6", "2.36-9", "Debian", purl="not a purl", release="12")
    package = package_version_of(component)
    assert not isinstance(package, str)
    assert (package.name, package.release) == ("libc6", "12")
