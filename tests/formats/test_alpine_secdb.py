"""Alpine's native secdb on the real files (v3.8 – v3.11): every file parses into OSV-shaped
advisories, known fixes are where Alpine put them, apk packages are matched through their
origin package for their own release only, and ``intel load`` + ``scan`` of an image work end
to end."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sakimori.errors import InvalidInput, MalformedDocument
from sakimori.formats import alpine_secdb
from sakimori.formats.limits import Limits
from sakimori.formats.lockfiles import apk_installed
from sakimori.matching import AdvisoryIndex, match_components
from sakimori.model.advisory import EventKind
from sakimori.services.findings import Filters, list_findings
from sakimori.services.intel import Parsed, load_paths, parse_intel
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.services.scan import scan_paths
from sakimori.services.tracking import upload_inventory
from sakimori.store.db import Database, open_database
from tests.conftest import require_data
from tests.formats.test_image import docker_save, layer, oci_layout, pack

#: (release, repository) -> (advisories, affected entries), counted on the files.
COUNTS = {
    ("v3.8", "main"): (1084, 1124),
    ("v3.8", "community"): (462, 476),
    ("v3.9", "main"): (1059, 1101),
    ("v3.9", "community"): (575, 593),
    ("v3.10", "main"): (1110, 1158),
    ("v3.10", "community"): (692, 712),
    ("v3.11", "main"): (1123, 1179),
    ("v3.11", "community"): (829, 886),
}

INSTALLED = b"""C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=
P:libssl1.1
V:1.1.1d-r0
A:x86_64
o:openssl

C:Q1BBBBBBBBBBBBBBBBBBBBBBBBBBBB=
P:libcrypto1.1
V:1.1.1d-r0
A:x86_64
o:openssl

"""


def secdb(release: str, repository: str = "main") -> bytes:
    return require_data("distro", "alpine-secdb", release, f"{repository}.yaml").read_bytes()


@pytest.mark.parametrize(("release", "repository"), sorted(COUNTS))
def test_every_real_file_parses(release: str, repository: str) -> None:
    data = secdb(release, repository)
    assert alpine_secdb.sniff(data)
    advisories = alpine_secdb.parse(data)
    affected = sum(len(a.affected) for a in advisories)
    assert (len(advisories), affected) == COUNTS[(release, repository)]
    assert {p.ecosystem for a in advisories for p in a.affected} == {f"Alpine:{release}"}
    assert len({a.id for a in advisories}) == len(advisories)


def test_a_known_fix() -> None:
    advisories = {a.id: a for a in alpine_secdb.parse(secdb("v3.11"))}
    record = advisories["ALPINE-SECDB-v3.11-main-CVE-2019-1551"]
    assert record.aliases == ("CVE-2019-1551",)
    (openssl,) = record.affected
    assert openssl.name == "openssl"
    (fixed,) = openssl.ranges
    assert [(e.kind, e.version) for e in fixed.events] == [
        (EventKind.INTRODUCED, "0"),
        (EventKind.FIXED, "1.1.1d-r3"),
    ]
    # "CVE-2017-12122 TALOS-2017-0488": the TALOS id is an alias; typos are read
    talos = [a for a in advisories.values() if any(x.startswith("TALOS-") for x in a.aliases)]
    assert talos
    assert all(a.id.split("-main-")[1].startswith("CVE-") for a in talos)
    community = {a.id for a in alpine_secdb.parse(secdb("v3.11", "community"))}
    assert "ALPINE-SECDB-v3.11-community-CVE-2019-2426" in community  # written CVE_2019-2426


def test_apk_packages_match_through_their_origin_for_their_release() -> None:
    index = AdvisoryIndex.from_advisories(
        [*alpine_secdb.parse(secdb("v3.10")), *alpine_secdb.parse(secdb("v3.11"))]
    )
    components = apk_installed.parse(INSTALLED).components

    def found(release: str) -> dict[str, set[str]]:
        tagged = [c.__class__(**{**_fields(c), "release": release}) for c in components]
        result: dict[str, set[str]] = {}
        for item in match_components(tagged, index):
            for hit in item.result.hits:
                result.setdefault(item.component.name, set()).add(hit.entry.advisory_id)
        return result

    eleven = found("3.11")
    assert set(eleven) == {"libssl1.1", "libcrypto1.1"}
    assert "ALPINE-SECDB-v3.11-main-CVE-2019-1547" in eleven["libssl1.1"]  # fixed in 1.1.1d-r1
    assert all(i.startswith("ALPINE-SECDB-v3.11-") for i in eleven["libssl1.1"])
    ten = found("3.10")  # v3.10 fixed CVE-2019-1547 in 1.1.1d-r0: not affected there
    assert not any(i.endswith("CVE-2019-1547") for i in ten.get("libssl1.1", set()))


def _fields(component: object) -> dict[str, object]:
    return {name: getattr(component, name) for name in component.__slots__}  # type: ignore[attr-defined]


def test_intel_load_recognises_secdb_by_content() -> None:
    parsed = Parsed()
    assert parse_intel(secdb("v3.9", "community"), Limits(), parsed) == "osv"
    assert len(parsed.advisories) == COUNTS[("v3.9", "community")][0]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"distroversion: '3.11'\nreponame: main\npackages: []\n", "is not vX.Y"),
        (b"distroversion: v3.11\nreponame: main\npackages:\n  - pkg: {}\n", "name must be"),
        (
            b"distroversion: v3.11\nreponame: main\npackages:\n"
            b"  - pkg: {name: a, secfixes: {1.0-r0: CVE-2020-1}}\n",
            "must be a list",
        ),
    ],
)
def test_broken_documents_are_refused(document: bytes, message: str) -> None:
    assert alpine_secdb.sniff(document)
    with pytest.raises(MalformedDocument, match=message):
        alpine_secdb.parse(document)


def test_load_then_scan_an_alpine_image(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        loaded = load_paths(
            db, [require_data("distro", "alpine-secdb", "v3.11", "main.yaml")], Limits()
        )
        assert not loaded.failed
        os_release = b"ID=alpine\nVERSION_ID=3.11.6\n"
        base = layer({"etc/os-release": os_release, "lib/apk/db/installed": INSTALLED})
        archive = tmp_path / "alpine.tar"
        archive.write_bytes(pack(dict(oci_layout([base]))))
        report = scan_paths(db, [archive])
        assert report.inventories[0].format == "container-image"
        vulnerabilities = {f.vulnerability for f in report.findings}
        assert {"CVE-2019-1547", "CVE-2019-1551"} <= vulnerabilities
        assert {f.ecosystem for f in report.findings} == {"Alpine"}
    finally:
        db.dispose()


@given(st.data())
@settings(max_examples=60, deadline=None)
def test_mutated_documents_raise_only_our_errors(data: st.DataObject) -> None:
    document = bytearray(secdb("v3.8", "community")[:3000])
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(document) - 1))
        document[position] = data.draw(st.sampled_from(b" :-\n\t{}[]0'\"&*!x\xff"))
    with contextlib.suppress(InvalidInput):
        alpine_secdb.parse(bytes(document))


def test_an_uploaded_image_gets_findings_when_the_secdb_arrives(tmp_path: Path) -> None:
    """Upload first, intel second: the stored package-versions (source packages, with their
    release) are what the refresh re-matches, so the findings must be a direct scan's; the
    same packages on Alpine 3.10 get none of the 3.11 records."""
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        create_organisation(db, "city", "", "operator", ["water"])
        archives = {}
        for asset, version in (("pumps", b"3.11.6"), ("valves", b"3.10.5")):
            create_asset(db, f"city/{asset}", "")
            base = layer({"etc/os-release": b"ID=alpine\nVERSION_ID=" + version + b"\n",
                          "lib/apk/db/installed": INSTALLED})  # fmt: skip
            archives[asset] = tmp_path / f"{asset}.tar"
            archives[asset].write_bytes(pack(dict(docker_save([base]))))
            uploaded = upload_inventory(db, f"city/{asset}", archives[asset], "alice", Limits())
            # libssl1.1 and libcrypto1.1 are one package-version: openssl 1.1.1d-r0
            assert (uploaded.format, uploaded.components, uploaded.package_versions) == (
                "container-image",
                2,
                1,
            )
        assert list_findings(db, Filters(organisation="city")) == []
        load_paths(db, [require_data("distro", "alpine-secdb", "v3.11", "main.yaml")], Limits())
        found = {(f.vulnerability, f.package, f.version) for f in list_findings(
            db, Filters(asset="city/pumps"))}  # fmt: skip
        assert ("CVE-2019-1547", "libssl1.1", "1.1.1d-r0") in found
        assert ("CVE-2019-1551", "libssl1.1", "1.1.1d-r0") in found
        assert found == _scanned(db, archives["pumps"])
        assert list_findings(db, Filters(asset="city/valves")) == []
        assert _scanned(db, archives["valves"]) == set()
    finally:
        db.dispose()


def _scanned(db: Database, archive: Path) -> set[tuple[str, str, str]]:
    return {(f.vulnerability, f.package, f.version) for f in scan_paths(db, [archive]).findings}
