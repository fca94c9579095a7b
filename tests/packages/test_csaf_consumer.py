"""The pure CSAF consumer: the origin rule, provider metadata, ROLIE feeds and directory
listings, hash files, the structural check (compared with the CSAF 2.0 JSON schema), and CSAF
documents turned into advisories (a Sakimori package's document and the real examples)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from sakimori.errors import InvalidInput, SakimoriError
from sakimori.model.advisory import Event, EventKind, Range
from sakimori.packages import csaf
from sakimori.packages import csaf_consumer as consumer
from sakimori.packages import csaf_provider as layout
from sakimori.packages.model import Content
from tests.conftest import require_data
from tests.packages.conftest import content, errors

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
EXAMPLES = ("csaf", "csaf_2.0", "examples", "csaf")


def package_document(**changes: Any) -> dict[str, Any]:
    value = content(
        tlp="CLEAR",
        products=[
            {"purl": "pkg:pypi/django@1.11.29"},
            {"purl": "pkg:pypi/Django@2.2.24"},
            {"cpe": "cpe:2.3:a:djangoproject:django:1.11.29:*:*:*:*:*:*:*"},
            {"vendor": "Acme", "product": "Portal", "version": "4"},
        ],
        vulnerabilities=["CVE-2021-35042", "GHSA-xpfp-f569-q3p2"],
        deadlines=[],
    )
    value.update(changes)
    document = csaf.render(12, Content.from_dict(value), [csaf.Release(1, T0, "")])
    # A package cannot name a generic purl (no ecosystem); a vendor's document can.
    generic = {
        "name": "acme-portal 4",
        "product_id": "CSAFPID-GENERIC",
        "product_identification_helper": {"purl": "pkg:generic/acme-portal@4"},
    }
    document["product_tree"]["full_product_names"].append(generic)
    for vulnerability in document["vulnerabilities"]:
        vulnerability["product_status"]["known_affected"].append("CSAFPID-GENERIC")
    return document


def examples() -> list[Path]:
    return sorted(require_data(*EXAMPLES).rglob("*.json"))


# -- the origin rule ------------------------------------------------------------------------------


def test_the_origin_rule() -> None:
    assert consumer.metadata_url("csaf.example") == (
        "https://csaf.example/.well-known/csaf/provider-metadata.json"
    )
    assert consumer.metadata_url("https://csaf.example/base/") == (
        "https://csaf.example/base/.well-known/csaf/provider-metadata.json"
    )
    direct = "https://csaf.example/x/provider-metadata.json"
    assert consumer.metadata_url(direct) == direct
    https = consumer.UrlRule.of_provider("https://csaf.example/.well-known/csaf/p.json")
    assert https.check("https://elsewhere.example/feed.json", "a feed")
    with pytest.raises(InvalidInput, match="neither https nor the provider's own origin"):
        https.check("http://csaf.example/feed.json", "a feed")  # same host, plain http
    loopback = consumer.UrlRule.of_provider("http://127.0.0.1:8080/p.json")
    assert loopback.check("http://127.0.0.1:8080/white/a.json", "a document")
    assert loopback.check("https://other.example/a.json", "a document")
    for refused in ("http://127.0.0.1:8081/a.json", "http://other.example/a.json", "file:///x"):
        with pytest.raises(InvalidInput, match="refused"):
            loopback.check(refused, "a document")
    assert consumer.UrlRule.of_provider("http://[::1]:9/p.json").origin == ("http", "::1", 9)
    assert consumer.UrlRule.of_provider("http://localhost/p.json").origin[2] == 80
    with pytest.raises(InvalidInput, match="plain http"):
        consumer.UrlRule.of_provider("http://csaf.example/.well-known/csaf/p.json")
    with pytest.raises(InvalidInput, match="not an https"):
        consumer.UrlRule.of_provider("ftp://csaf.example/p.json")


# -- metadata, feeds, listings, hash files --------------------------------------------------------


def test_provider_metadata_and_rolie_feeds_are_read() -> None:
    key = layout.Key("ab" * 20, "-----BEGIN PGP PUBLIC KEY BLOCK-----")
    written = layout.provider_metadata(
        "https://cert.example", publisher=csaf.Publisher(), key=key, last_updated=T0
    )
    written["distributions"].append({"directory_url": "https://cert.example/csaf/"})
    url = "https://cert.example/.well-known/csaf/provider-metadata.json"
    metadata = consumer.read_metadata(json.dumps(written).encode(), url)
    assert metadata.canonical_url == url
    assert metadata.role == "csaf_trusted_provider"
    assert metadata.namespace == "https://sakimori.example"
    assert [(f.label, f.url.rsplit("/", 1)[1]) for f in metadata.feeds] == [
        ("WHITE", "feed-tlp-white.json"),
        ("GREEN", "feed-tlp-green.json"),
        ("AMBER", "feed-tlp-amber.json"),
        ("RED", "feed-tlp-red.json"),
    ]
    assert metadata.directories == (  # Sakimori's public folder, then the one added
        "https://cert.example/.well-known/csaf/white/",
        "https://cert.example/csaf/",
    )
    assert metadata.keys == (
        consumer.KeyRef(
            f"https://cert.example/.well-known/csaf/openpgp/{'AB' * 20}.asc", "AB" * 20
        ),
    )
    published = layout.Published.of(package_document())
    feed = layout.rolie_feed("https://cert.example", "WHITE", [published], signed=True, updated=T0)
    (entry,) = consumer.read_rolie_feed(json.dumps(feed).encode(), metadata.feeds[0].url)
    document = "https://cert.example" + published.path
    assert entry == consumer.Entry(
        url=document,
        updated=published.updated,
        hashes=(("sha512", document + ".sha512"),),
        signature=document + ".asc",
        listed_by=metadata.feeds[0].url,
    )
    unsigned = layout.rolie_feed(
        "https://cert.example", "WHITE", [published], signed=False, updated=T0
    )
    (bare,) = consumer.read_rolie_feed(json.dumps(unsigned).encode(), metadata.feeds[0].url)
    assert bare.signature == document + ".asc"  # requirement 19: next to the document
    broken = copy.deepcopy(written)
    broken["metadata_version"] = "1.2"
    with pytest.raises(SakimoriError, match="metadata_version"):
        consumer.read_metadata(json.dumps(broken).encode(), url)


def test_directory_listings_and_hash_files_are_read() -> None:
    directory = "https://cert.example/csaf/"
    index = consumer.read_index(b"2022/bsi-2022-0001.json\n\n2021/rhsa-2021_5186.json\n", directory)
    assert [e.url for e in index] == [
        "https://cert.example/csaf/2022/bsi-2022-0001.json",
        "https://cert.example/csaf/2021/rhsa-2021_5186.json",
    ]
    assert index[0].updated is None
    assert index[0].hashes[0] == ("sha512", index[0].url + ".sha512")
    assert index[0].signature == index[0].url + ".asc"
    changes = consumer.read_changes(
        b'"2022/bsi-2022-0001.json","2022-03-17T13:03:42.105Z"\n', directory.rstrip("/")
    )
    assert [(e.url, e.updated) for e in changes] == [
        ("https://cert.example/csaf/2022/bsi-2022-0001.json", "2022-03-17T13:03:42.105Z")
    ]
    for bad in (b"../secret.json\n", b"/etc/passwd\n", b"https://other.example/x.json\n"):
        with pytest.raises(SakimoriError, match="not a path below the directory"):
            consumer.read_index(bad, directory)
    digest = "a" * 128
    assert consumer.read_hash_file(f"{digest.upper()}  x.json\n".encode(), "sha512", "x") == digest
    with pytest.raises(SakimoriError, match="not a sha256 hash file"):
        consumer.read_hash_file(b"<html>not found</html>", "sha256", "x")


# -- documents to advisories ----------------------------------------------------------------------


def test_a_package_document_becomes_one_advisory_per_vulnerability() -> None:
    document = package_document()
    url = "https://cert.example/.well-known/csaf/white/2026/sakimori-pkg-000012.json"
    result = consumer.parse_document(layout.serialise(document), url)
    assert (result.tracking_id, result.version, result.label) == (
        "SAKIMORI-PKG-000012",
        "1",
        "WHITE",
    )
    assert [a.id for a in result.advisories] == [
        "CSAF-sakimori.example-SAKIMORI-PKG-000012-CVE-2021-35042",
        "CSAF-sakimori.example-SAKIMORI-PKG-000012-1",
    ]
    cve, ghsa = result.advisories
    assert cve.aliases == ("CVE-2021-35042",)
    assert ghsa.aliases == ("GHSA-xpfp-f569-q3p2",)
    assert cve.summary == document["document"]["title"]
    assert cve.modified == document["document"]["tracking"]["current_release_date"]
    assert cve.references[0] == url
    (django,) = cve.affected
    assert (django.ecosystem, django.name) == ("PyPI", "django")
    assert sorted(django.versions) == ["1.11.29", "2.2.24"]
    assert django.ranges == ()
    # Per vulnerability: two purls imported; the CPE, the name and the generic purl are not.
    assert result.products == 4
    reasons = sorted((n.vulnerability, n.reason) for n in result.not_imported)
    assert reasons == sorted(
        [(v, consumer.NO_PURL) for v in ("CVE-2021-35042", "GHSA-xpfp-f569-q3p2") for _ in (1, 2)]
        + [
            (v, "purl type 'generic' has no OSV ecosystem")
            for v in ("CVE-2021-35042", "GHSA-xpfp-f569-q3p2")
        ]
    )
    kept = cve.database_specific["csaf"]
    assert isinstance(kept, dict)
    assert [r["category"] for r in kept["remediations"]] == ["vendor_fix", "workaround"]
    assert {p["status"] for p in kept["products"]} == {"known_affected"}
    again = consumer.parse_document(layout.serialise(document), url)
    assert [a.content_hash for a in again.advisories] == [a.content_hash for a in result.advisories]
    document["vulnerabilities"][0]["remediations"][0]["details"] = "Upgrade to 3.2.6."
    changed = consumer.parse_document(layout.serialise(document), url)
    assert changed.advisories[0].content_hash != cve.content_hash
    assert changed.advisories[1].content_hash == ghsa.content_hash


def _statuses(document: dict[str, Any], **groups: list[str]) -> dict[str, Any]:
    document["vulnerabilities"] = document["vulnerabilities"][:1]
    document["vulnerabilities"][0]["product_status"] = groups
    return document


def test_fixed_products_and_versionless_purls() -> None:
    document = package_document(
        products=[
            {"purl": "pkg:pypi/django"},
            {"purl": "pkg:pypi/django@3.2.5"},
            {"purl": "pkg:npm/lodash@4.17.20"},
            {"purl": "pkg:npm/lodash@4.17.21"},
            {"purl": "pkg:deb/debian/openssl@1.1.1n-0%2Bdeb11u3?distro=debian-11"},
        ]
    )
    pids = [p["product_id"] for p in document["product_tree"]["full_product_names"]]
    _statuses(
        document,
        known_affected=[pids[0], pids[2], pids[4]],
        fixed=[pids[1], pids[3]],
    )
    (advisory,) = consumer.advisories_of(document, "https://x.example/a.json").advisories
    found = {(a.ecosystem, a.name): a for a in advisory.affected}
    # Every version before the one fixed version given.
    assert found["PyPI", "django"].ranges == (
        Range("ECOSYSTEM", (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, "3.2.5"))),
    )
    assert found["PyPI", "django"].versions == ()
    assert found["npm", "lodash"].versions == ("4.17.20",)  # the fixed version is kept aside
    assert found["Debian:11", "openssl"].versions == ("1.1.1n-0+deb11u3",)
    only_fixed = _statuses(package_document(), fixed=[pids[0]])
    assert consumer.advisories_of(only_fixed, "https://x.example/a.json").advisories == ()


# -- the structural check and the schema ----------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _drop(*path: str) -> Mutation:
    def apply(document: dict[str, Any]) -> None:
        node = document
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return apply


def _set(value: object, *path: str) -> Mutation:
    def apply(document: dict[str, Any]) -> None:
        node = document
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return apply


def _no_revision_date(document: dict[str, Any]) -> None:
    del document["document"]["tracking"]["revision_history"][0]["date"]


#: Documents the CSAF 2.0 schema refuses; the structural check must refuse each of them too.
SCHEMA_INVALID: dict[str, Mutation] = {
    "no document": _drop("document"),
    "no title": _drop("document", "title"),
    "no publisher": _drop("document", "publisher"),
    "publisher category": _set("boss", "document", "publisher", "category"),
    "no namespace": _drop("document", "publisher", "namespace"),
    "csaf_version": _set("1.2", "document", "csaf_version"),
    "no tracking id": _drop("document", "tracking", "id"),
    "no current_release_date": _drop("document", "tracking", "current_release_date"),
    "bad initial_release_date": _set("yesterday", "document", "tracking", "initial_release_date"),
    "no revision_history": _drop("document", "tracking", "revision_history"),
    "empty revision_history": _set([], "document", "tracking", "revision_history"),
    "revision without date": _no_revision_date,
    "tracking status": _set("done", "document", "tracking", "status"),
    "no version": _drop("document", "tracking", "version"),
    "vulnerabilities not a list": _set({}, "vulnerabilities"),
    "product_tree not an object": _set([], "product_tree"),
}
#: Documents the schema accepts but the structural check refuses, and why.
BEYOND_SCHEMA: dict[str, Mutation] = {
    "informational advisory (another profile)": _set(
        "csaf_informational_advisory", "document", "category"
    ),
    "no product_tree (the profiles require it)": _drop("product_tree"),
    "no vulnerabilities (the profiles require it)": _drop("vulnerabilities"),
    "a status naming an undefined product (mandatory test 6.1.1)": lambda d: d["vulnerabilities"][
        0
    ]["product_status"]["known_affected"].append("CSAFPID-9999"),
}


def _refused(document: dict[str, Any]) -> bool:
    try:
        consumer.parse_document(json.dumps(document).encode(), "https://x.example/d.json")
    except SakimoriError:
        return True
    return False


@pytest.mark.parametrize("mutation", sorted(SCHEMA_INVALID))
def test_what_the_schema_refuses_the_structural_check_refuses(
    mutation: str, csaf_validator: Draft202012Validator
) -> None:
    bases = [package_document()] + [
        json.loads(p.read_text())
        for p in examples()
        if json.loads(p.read_text())["document"]["category"] in consumer.PROFILES
    ]
    for base in bases:
        assert errors(csaf_validator, base) == []
        assert not _refused(base)
        broken = copy.deepcopy(base)
        SCHEMA_INVALID[mutation](broken)
        assert errors(csaf_validator, broken), f"{mutation}: the schema accepts it"
        assert _refused(broken), f"{mutation}: {base['document']['tracking']['id']} accepted"


@pytest.mark.parametrize("mutation", sorted(BEYOND_SCHEMA))
def test_what_the_structural_check_adds_to_the_schema(
    mutation: str, csaf_validator: Draft202012Validator
) -> None:
    broken = package_document()
    BEYOND_SCHEMA[mutation](broken)
    assert errors(csaf_validator, broken) == []
    assert _refused(broken)


def test_the_real_examples(csaf_validator: Draft202012Validator) -> None:
    """Every CSAF 2.0 example: the advisory and VEX profiles are read, their products counted;
    the others (an informational advisory, Cisco's own category) are refused, said why."""
    read: dict[str, consumer.Imported] = {}
    refused: dict[str, str] = {}
    for path in examples():
        document = json.loads(path.read_text())
        assert errors(csaf_validator, document) == [], path.name
        try:
            read[path.name] = consumer.parse_document(path.read_bytes(), f"https://x/{path.name}")
        except SakimoriError as exc:
            refused[path.name] = exc.message
    assert sorted(refused) == ["cisco-sa-20180328-smi2.json", "rhsa-2019_1862.json"]
    assert all("is not csaf_security_advisory or csaf_vex" in m for m in refused.values())
    advisories = sorted(n for n, r in read.items() if r.category == "csaf_security_advisory")
    assert advisories == [
        "bsi-2022-0001.json",
        "rhsa-2021_5186.json",
        "rhsa-2021_5217.json",
        "rhsa-2022_0011.json",
    ]
    assert len(read) == 4 + 13  # and the 13 VEX examples
    # None of the examples identifies a product by package URL (CPEs and names only).
    assert sum(len(r.advisories) for r in read.values()) == 0
    assert {n.reason for r in read.values() for n in r.not_imported} == {consumer.NO_PURL}
    # Counted here without the importer: per vulnerability, the distinct products with an
    # affected or fixed status.
    groups = (*consumer.AFFECTED_GROUPS, *consumer.FIXED_GROUPS)
    paths = {p.name: p for p in examples()}
    for name, result in read.items():
        document = json.loads(paths[name].read_text())
        expected = sum(
            len({pid for g in groups for pid in v["product_status"].get(g, [])})
            for v in document["vulnerabilities"]
        )
        assert len(result.not_imported) == expected, name
    print(
        "examples read:",
        {n: len(r.not_imported) for n, r in sorted(read.items())},
        "refused:",
        refused,
    )


def test_a_vulnerability_without_product_status() -> None:
    """Allowed in a security advisory (nothing to import from it); required by VEX."""
    document = package_document()
    del document["vulnerabilities"][1]["product_status"]
    result = consumer.advisories_of(consumer.check_document(document), "https://x.example/a.json")
    assert [a.aliases for a in result.advisories] == [("CVE-2021-35042",)]
    document["document"]["category"] = "csaf_vex"
    with pytest.raises(SakimoriError, match=r"vulnerabilities\[1\].product_status"):
        consumer.check_document(document)
    with pytest.raises(SakimoriError, match="longer than 200 characters"):
        consumer.advisory_id("https://x.example", "T" * 200, "CVE-2021-35042")
