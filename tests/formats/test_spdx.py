"""SPDX 2.x JSON, YAML and XML (and the RDF/XML refusal): samples, real documents, bad input."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from sakimori.errors import LimitExceeded, MalformedDocument, UnsupportedFormat
from sakimori.formats import spdx, spdx_tagvalue
from sakimori.formats.limits import Limits
from sakimori.model.inventory import Component, Inventory
from tests.conftest import require_data

ASSETS = Path(__file__).parent / "assets" / "sbom"
SAMPLE = ASSETS / "valid" / "packages-2.3.spdx"
SAMPLES = [
    (SAMPLE.with_suffix(".spdx.json"), spdx.parse_json, spdx.FORMAT_JSON),
    (SAMPLE.with_suffix(".spdx.yaml"), spdx.parse_yaml, spdx.FORMAT_YAML),
    (SAMPLE.with_suffix(".spdx.xml"), spdx.parse_xml, spdx.FORMAT_XML),
]
SERIALISATIONS = [pytest.param(*sample, id=sample[2]) for sample in SAMPLES]


def by_ref(inventory: Inventory) -> dict[str | None, Component]:
    return {component.bom_ref: component for component in inventory.components}


def identities(inventory: Inventory) -> set[tuple[str, str | None, str | None]]:
    return {(c.name, c.version, c.purl) for c in inventory.components}


# --- hand-written sample ------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "parse", "fmt"), SERIALISATIONS)
def test_sample_packages(path: Path, parse, fmt: str) -> None:
    inventory = parse(path.read_bytes())
    assert inventory.format == fmt
    assert [c.bom_ref for c in inventory.components] == [
        "SPDXRef-acme",
        "SPDXRef-jackson",
        "SPDXRef-urllib3",
        "SPDXRef-busybox",
    ]
    found = by_ref(inventory)
    product = found["SPDXRef-acme"]  # the described package is a component too
    assert (product.name, product.version, product.ecosystem) == ("acme-app", "1.0.0", None)
    assert product.note == "no purl, so no ecosystem"
    jackson = found["SPDXRef-jackson"]
    assert (jackson.ecosystem, jackson.name, jackson.version) == (
        "Maven",
        "com.fasterxml.jackson.core:jackson-databind",
        "2.9.10",
    )
    assert jackson.cpe == "cpe:2.3:a:fasterxml:jackson-databind:2.9.10:*:*:*:*:*:*:*"
    urllib3 = found["SPDXRef-urllib3"]  # PACKAGE_MANAGER, a URI referenceType, NOASSERTION
    assert (urllib3.ecosystem, urllib3.name, urllib3.version) == ("PyPI", "urllib3", "1.26.4")
    busybox = found["SPDXRef-busybox"]
    assert (busybox.ecosystem, busybox.version, busybox.purl) == (
        None,
        "1.36.1",
        "pkg:generic/busybox@1.36.1",
    )
    assert inventory.skipped == ("1 file not read as components (only packages are matched)",)


def test_sample_is_the_same_in_every_serialisation() -> None:
    results = [parse(path.read_bytes()).components for path, parse, _ in SAMPLES]
    results.append(spdx_tagvalue.parse(SAMPLE.read_bytes()).components)
    assert all(components == results[0] for components in results)


@pytest.mark.parametrize(("path", "parse", "fmt"), SERIALISATIONS)
def test_only_its_own_sniffer_claims_the_sample(path: Path, parse, fmt: str) -> None:
    data = path.read_bytes()
    claimed = [name for name, sniff, _ in spdx.READERS if sniff(data)]
    assert claimed == [fmt]
    assert not spdx_tagvalue.sniff(data)


def test_sniffers_on_sorted_keys_and_near_misses() -> None:
    # Sorted keys put "files" first; every element still starts with its SPDXID.
    sorted_doc = b'{"files": [{"SPDXID": "SPDXRef-File-1", "fileName": "a"}], "spdxVersion": 1}'
    assert spdx.sniff_json(sorted_doc)
    assert not spdx.sniff_json(b'{"bomFormat": "CycloneDX", "SPDXID": "SPDXRef-x"}')
    assert not spdx.sniff_yaml(b"name: x\nversion: 1.0\n")
    assert not spdx.sniff_yaml(b"SPDXVersion: SPDX-2.3\nSPDXID: SPDXRef-DOCUMENT\n")
    assert spdx.sniff_yaml(b"SPDXID: SPDXRef-DOCUMENT\nspdxVersion: SPDX-2.3\n")
    assert spdx.key_style(b"SPDXID: SPDXRef-DOCUMENT\nDataLicense: CC0-1.0\n") == "tag-value"
    assert spdx.key_style(b"%YAML 1.2\n---\n# c\nSPDXID: x\ndataLicense: CC0-1.0\n") == "yaml"
    assert spdx.key_style(b'"SPDXID": "SPDXRef-DOCUMENT"\n"spdxVersion": "SPDX-2.3"\n') == "yaml"
    assert spdx.key_style(b"{}") is None
    assert not spdx.sniff_xml(b"<Document><name>x</name></Document>")


# --- the SPDX 2.3 specification example, in every serialisation ---------------------------------

SPEC_EXAMPLES = {
    "json": ("SPDXJSONExample-v2.3.spdx.json", spdx.parse_json),
    "yaml": ("SPDXYAMLExample-2.3.spdx.yaml", spdx.parse_yaml),
    "xml": ("SPDXXMLExample-v2.3.spdx.xml", spdx.parse_xml),
    "tag-value": ("SPDXTagExample-v2.3.spdx", spdx_tagvalue.parse),
}


def spec_example(kind: str) -> Inventory:
    name, parse = SPEC_EXAMPLES[kind]
    return parse(require_data("sbom", "spdx", "spdx-spec", "examples", name).read_bytes())


def test_spec_example_is_the_same_in_every_serialisation() -> None:
    expected = {
        ("glibc", "2.11.1", None),
        ("Apache Commons Lang", None, None),
        ("org.apache.jena:apache-jena", "3.12.0", "pkg:maven/org.apache.jena/apache-jena@3.12.0"),
        ("Saxon", "8.8", None),
    }
    for kind in SPEC_EXAMPLES:
        inventory = spec_example(kind)
        assert identities(inventory) == expected, kind
        assert inventory.skipped == (
            "5 files and 1 snippet not read as components (only packages are matched)",
        ), kind
        glibc = by_ref(inventory)["SPDXRef-Package"]
        assert glibc.cpe == "cpe:2.3:a:pivotal_software:spring_framework:4.1.0:*:*:*:*:*:*:*"
        jena = by_ref(inventory)["SPDXRef-fromDoap-0"]
        assert (jena.ecosystem, jena.note) == ("Maven", None)


def test_spec_example_rdf_is_refused_with_a_way_out() -> None:
    path = require_data("sbom", "spdx", "spdx-spec", "examples", "SPDXRdfExample-v2.3.spdx.rdf.xml")
    data = path.read_bytes()
    assert [name for name, sniff, _ in spdx.READERS if sniff(data)] == [spdx.FORMAT_RDF]
    with pytest.raises(UnsupportedFormat) as caught:
        spdx.parse_rdf(data)
    text = caught.value.diagnostics()
    assert "SPDX RDF/XML is not supported" in text
    assert "convert it to SPDX JSON" in text


# --- spdx-examples ------------------------------------------------------------------------------


def spdx2_json_files() -> list[Path]:
    root = require_data("sbom", "spdx", "spdx-examples")
    return sorted(p for p in root.rglob("*.json") if spdx.sniff_json(p.read_bytes()))


@pytest.mark.slow
def test_every_spdx2_json_example_matches_jq_count() -> None:
    jq = shutil.which("jq")
    if jq is None:
        pytest.fail("jq is not installed (make system-packages)")
    files = spdx2_json_files()
    assert len(files) == 18
    for path in files:
        count = subprocess.run(
            [jq, "[.packages[]?] | length", str(path)], capture_output=True, check=True, text=True
        )
        assert len(spdx.parse_json(path.read_bytes()).components) == int(count.stdout), path


def test_examples_spot_checks() -> None:
    root = require_data("sbom", "spdx", "spdx-examples", "software")
    rust = spdx.parse_json((root / "example11/spdx2.3/sbom.spdx.json").read_bytes())
    tokio = next(c for c in rust.components if c.name == "tokio")
    assert (tokio.ecosystem, tokio.version, tokio.purl) == (
        "crates.io",
        "1.19.2",
        "pkg:cargo/tokio@1.19.2",
    )
    selinux = next(c for c in rust.components if c.name == "libselinux1-dev")
    assert (selinux.ecosystem, selinux.version) == ("Debian", "0.1.0")
    assert selinux.note == "version '0.1.0' is used; the purl says '3.1-3'"
    gradle = spdx.parse_json((root / "example9/spdx2.2/appbomination.spdx.json").read_bytes())
    junit = next(c for c in gradle.components if c.name == "junit:junit")
    assert (junit.ecosystem, junit.version) == ("Maven", "4.12")
    go = spdx.parse_json(
        (root / "example7/spdx2.2/example7-third-party-modules.spdx.json").read_bytes()
    )
    assert {c.name for c in go.components} == {
        "golang.org/x/text",
        "rsc.io/quote",
        "rsc.io/sampler",
    }
    assert all(c.ecosystem is None and c.version is None for c in go.components)


# --- bad input ----------------------------------------------------------------------------------


def test_yaml_number_version_is_refused_not_misread() -> None:
    with pytest.raises(MalformedDocument) as caught:
        spdx.parse_yaml((ASSETS / "invalid" / "version-float.spdx.yaml").read_bytes())
    assert "$.packages[0].versionInfo is a number" in caught.value.diagnostics()


def test_packages_must_be_an_array() -> None:
    with pytest.raises(MalformedDocument, match="packages is an object"):
        spdx.parse_json((ASSETS / "invalid" / "packages-object.spdx.json").read_bytes())


def test_xml_entities_are_refused() -> None:
    data = (ASSETS / "invalid" / "billion-laughs.spdx.xml").read_bytes()
    assert spdx.sniff_xml(data)
    with pytest.raises(MalformedDocument, match="DTD"):
        spdx.parse_xml(data)


@pytest.mark.parametrize("encoding", ["TF-8", "hex", "big5", "undefined"])
def test_xml_declaring_an_unusable_encoding_is_malformed(encoding: str) -> None:
    data = SAMPLE.with_suffix(".spdx.xml").read_bytes()
    changed = data.replace(b"encoding='UTF-8'", f"encoding='{encoding}'".encode())
    assert changed != data
    with pytest.raises(MalformedDocument, match="cannot be decoded"):
        spdx.parse_xml(changed)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2], "$ is an array, expected an object"),
        ({"SPDXID": "SPDXRef-DOCUMENT"}, "without spdxVersion"),
        ({"spdxVersion": "SPDX-2.3", "packages": ["a"]}, "$.packages[0] is a string"),
        ({"spdxVersion": "SPDX-2.3", "packages": [{"versionInfo": "1"}]}, "has no name"),
        (
            {"spdxVersion": "SPDX-2.3", "packages": [{"name": "a", "externalRefs": {}}]},
            "$.packages[0].externalRefs is an object",
        ),
        (
            {
                "spdxVersion": "SPDX-2.3",
                "packages": [
                    {
                        "name": "a",
                        "externalRefs": [{"referenceType": "purl", "referenceLocator": 5}],
                    }
                ],
            },
            "$.packages[0].externalRefs[0].referenceLocator is a number",
        ),
        ({"spdxVersion": "SPDX-2.3", "files": "a.c"}, "$.files is a string"),
    ],
)
def test_wrong_types_name_the_path(document: object, message: str) -> None:
    with pytest.raises(MalformedDocument) as caught:
        spdx.parse_json(orjson.dumps(document))
    assert message in caught.value.diagnostics()


def test_other_spdx_versions_are_unsupported() -> None:
    with pytest.raises(UnsupportedFormat, match=r"SPDX-3\.0 is not SPDX 2\.x"):
        spdx.parse_json(b'{"spdxVersion": "SPDX-3.0", "SPDXID": "SPDXRef-DOCUMENT"}')


def test_bad_purls_do_not_abort_the_document() -> None:
    document = {
        "spdxVersion": "SPDX-2.3",
        "packages": [
            {
                "name": "a",
                "versionInfo": "1.0",
                "externalRefs": [
                    {"referenceType": "purl", "referenceLocator": "pkg:"},
                    {"referenceType": "purl", "referenceLocator": "pkg:npm/a@1.0"},
                ],
            },
            {
                "name": "b",
                "externalRefs": [{"referenceType": "purl", "referenceLocator": "nonsense"}],
            },
        ],
    }
    first, second = spdx.parse_json(orjson.dumps(document)).components
    assert (first.ecosystem, first.purl, first.note) == ("npm", "pkg:npm/a@1.0", None)
    assert (second.ecosystem, second.purl) == (None, "nonsense")
    assert (second.note or "").startswith("purl not understood")


@pytest.mark.parametrize(("path", "parse", "fmt"), SERIALISATIONS)
def test_truncated_and_oversized(path: Path, parse, fmt: str) -> None:
    data = path.read_bytes()
    for cut in range(1, len(data) - 2, 89):
        try:
            inventory = parse(data[:cut])
        except (MalformedDocument, UnsupportedFormat):
            continue
        # Cut at a line end, YAML is a shorter valid document (e.g. without the last refs).
        assert fmt == spdx.FORMAT_YAML
        assert len(inventory.components) <= 4
    with pytest.raises(LimitExceeded):
        parse(data, Limits(max_bytes=100))
    with pytest.raises(LimitExceeded):
        parse(data, Limits(max_components=3))
