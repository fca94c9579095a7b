"""CycloneDX JSON and XML: hand-written samples, the real SBOMs (counted with jq), bad input."""

from __future__ import annotations

import shutil
import subprocess
import tracemalloc
from pathlib import Path

import orjson
import pytest

from sakimori.errors import LimitExceeded, MalformedDocument, UnsupportedFormat
from sakimori.formats import cyclonedx
from sakimori.formats.limits import Limits
from sakimori.model.inventory import Component, Inventory
from tests.conftest import require_data

ASSETS = Path(__file__).parent / "assets" / "sbom"
VALID_JSON = ASSETS / "valid" / "nested-1.5.cdx.json"
VALID_XML = ASSETS / "valid" / "nested-1.5.cdx.xml"

# Independent count: every component at any depth below ``components`` and below
# ``metadata.component.components``; ``metadata.component`` itself is the product, not counted.
JQ_COUNT = (
    "[(.components[]?, .metadata.component.components[]?) | recurse(.components[]?)] | length"
)


def by_ref(inventory: Inventory) -> dict[str | None, Component]:
    return {component.bom_ref: component for component in inventory.components}


# --- the hand-written sample, in both serialisations --------------------------------------------


@pytest.mark.parametrize(
    ("path", "parse", "fmt"),
    [
        (VALID_JSON, cyclonedx.parse_json, cyclonedx.FORMAT_JSON),
        (VALID_XML, cyclonedx.parse_xml, cyclonedx.FORMAT_XML),
    ],
    ids=["json", "xml"],
)
class TestSample:
    def test_components_in_document_order_nested_ones_included(self, path, parse, fmt) -> None:
        inventory = parse(path.read_bytes())
        assert inventory.format == fmt
        assert [c.bom_ref for c in inventory.components] == [
            "lodash",
            "log4j",
            "requests",
            "garbage",
            "generic",
            "no-purl",
            "libssl3",
            "express",
            "left-pad",
            "module-auth",
        ]

    def test_the_product_is_reported_not_matched(self, path, parse, fmt) -> None:
        inventory = parse(path.read_bytes())
        assert "product" not in by_ref(inventory)
        assert len(inventory.skipped) == 1
        assert "pkg:npm/acme-portal@2.0.0" in inventory.skipped[0]
        assert "not matched" in inventory.skipped[0]
        # Modules nested in the product are its parts, and are matched.
        auth = by_ref(inventory)["module-auth"]
        assert (auth.ecosystem, auth.name, auth.version) == ("npm", "@acme/auth", "1.1.0")

    def test_purl_gives_ecosystem_and_name(self, path, parse, fmt) -> None:
        found = by_ref(parse(path.read_bytes()))
        log4j = found["log4j"]
        assert (log4j.ecosystem, log4j.name, log4j.version) == (
            "Maven",
            "org.apache.logging.log4j:log4j-core",
            "2.14.1",
        )
        assert log4j.cpe == "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*"
        assert log4j.note is None
        assert (found["requests"].ecosystem, found["requests"].scope) == ("PyPI", "optional")
        assert found["lodash"].scope == "required"
        debian = found["libssl3"]
        assert (debian.ecosystem, debian.release) == ("Debian", "12")

    def test_garbage_purl_keeps_the_component_and_says_why(self, path, parse, fmt) -> None:
        found = by_ref(parse(path.read_bytes()))
        mystery = found["garbage"]
        assert (mystery.name, mystery.version, mystery.ecosystem) == ("mystery", "1.0", None)
        assert mystery.purl == "not a purl at all"
        assert mystery.note is not None
        assert "purl not understood" in mystery.note

    def test_components_without_an_ecosystem(self, path, parse, fmt) -> None:
        found = by_ref(parse(path.read_bytes()))
        assert found["generic"].ecosystem is None
        assert "'generic' has no OSV ecosystem" in (found["generic"].note or "")
        widget = found["no-purl"]
        assert (widget.name, widget.ecosystem, widget.purl) == ("acme/widget", None, None)
        assert widget.note == "no purl, so no ecosystem"

    def test_version_from_the_purl_and_disagreement_noted(self, path, parse, fmt) -> None:
        found = by_ref(parse(path.read_bytes()))
        assert found["left-pad"].version == "1.3.0"
        express = found["express"]
        assert express.version == "4.17.1"
        assert express.note == "version '4.17.1' is used; the purl says '4.17.3'"


def test_json_and_xml_samples_agree() -> None:
    assert (
        cyclonedx.parse_json(VALID_JSON.read_bytes()).components
        == cyclonedx.parse_xml(VALID_XML.read_bytes()).components
    )


def test_sniffers() -> None:
    json_bytes, xml_bytes = VALID_JSON.read_bytes(), VALID_XML.read_bytes()
    assert cyclonedx.sniff_json(json_bytes)
    assert not cyclonedx.sniff_xml(json_bytes)
    assert cyclonedx.sniff_xml(xml_bytes)
    assert not cyclonedx.sniff_json(xml_bytes)
    assert cyclonedx.sniff_json(b"\xef\xbb\xbf\n  " + json_bytes)
    assert not cyclonedx.sniff_json(b'{"spdxVersion": "SPDX-2.3"}')
    assert not cyclonedx.sniff_xml(b"<bom><components/></bom>")
    assert [fmt for fmt, _, _ in cyclonedx.READERS] == ["cyclonedx-json", "cyclonedx-xml"]


# --- real SBOMs ---------------------------------------------------------------------------------


def cyclonedx_files(suffix: str) -> list[Path]:
    return sorted(require_data("sbom", "cyclonedx").rglob(f"*{suffix}"))


def jq_count(path: Path) -> int:
    jq = shutil.which("jq")
    if jq is None:  # the Makefile installs it; without it the evidence is missing
        pytest.fail("jq is not installed (make system-packages)")
    result = subprocess.run([jq, JQ_COUNT, str(path)], capture_output=True, check=True, text=True)
    return int(result.stdout)


@pytest.mark.slow
def test_every_json_file_matches_jq_count() -> None:
    files = cyclonedx_files(".json")
    assert len(files) == 11
    for path in files:
        inventory = cyclonedx.parse_json(path.read_bytes())
        assert len(inventory.components) == jq_count(path), path
        assert all(c.ecosystem is not None for c in inventory.components), path


@pytest.mark.slow
def test_every_xml_file_matches_its_json_twin() -> None:
    files = cyclonedx_files(".xml")
    assert len(files) == 11
    for path in files:
        twin = path.with_suffix(".json")
        xml_inventory = cyclonedx.parse_xml(path.read_bytes())
        json_inventory = cyclonedx.parse_json(twin.read_bytes())
        assert len(xml_inventory.components) == len(json_inventory.components), path
        assert {(c.ecosystem, c.name, c.version, c.purl) for c in xml_inventory.components} == {
            (c.ecosystem, c.name, c.version, c.purl) for c in json_inventory.components
        }, path


def test_juice_shop_flat_and_bare() -> None:
    folder = require_data("sbom", "cyclonedx", "juice-shop", "via_npm")
    flat = cyclonedx.parse_json((folder / "flat" / "bom.1.4.json").read_bytes())
    bare = cyclonedx.parse_json((folder / "bare" / "bom.1.4.json").read_bytes())
    assert len(flat.components) == len(bare.components) == 1115
    purls = {c.purl: c for c in flat.components}
    jwt = purls["pkg:npm/express-jwt@0.1.3"]
    assert (jwt.ecosystem, jwt.name, jwt.version) == ("npm", "express-jwt", "0.1.3")
    scoped = next(c for c in flat.components if c.name == "@babel/parser")
    assert scoped.version == "7.21.2"
    assert "juice-shop@14.1.1" in flat.skipped[0]
    # "bare" nests dependencies under their dependents: the nested ones are read as well.
    nested = [c for c in bare.components if c.bom_ref and "|" in c.bom_ref]
    assert nested
    assert {"pkg:npm/lodash@4.17.21", "pkg:npm/lodash@2.4.2"} <= {c.purl for c in bare.components}


def test_proton_bridge_go_modules() -> None:
    path = require_data("sbom", "cyclonedx", "proton-bridge", "proton-bridge-v1.6.3.bom.json")
    inventory = cyclonedx.parse_json(path.read_bytes())
    imap = next(c for c in inventory.components if c.name == "github.com/ProtonMail/go-imap")
    assert (imap.ecosystem, imap.version, imap.scope) == (
        "Go",
        "v0.0.0-20201228133358-4db68cea0cac",
        "required",
    )
    assert "github.com/ProtonMail/proton-bridge@v1.6.3" in inventory.skipped[0]


def test_dropwizard_maven_group_and_artifact() -> None:
    path = require_data("sbom", "cyclonedx", "dropwizard-1.3.15", "bom.xml")
    inventory = cyclonedx.parse_xml(path.read_bytes())
    assert len(inventory.components) == 167
    databind = next(
        c for c in inventory.components if c.name == "com.fasterxml.jackson.core:jackson-databind"
    )
    assert (databind.ecosystem, databind.version) == ("Maven", "2.9.10")
    assert databind.purl == "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.10?type=jar"


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "parse", "message"),
    [
        ("components-string.cdx.json", cyclonedx.parse_json, "$.components is a string"),
        (
            "version-number.cdx.json",
            cyclonedx.parse_json,
            "$.components[1].version is a number, expected a string",
        ),
        ("no-name.cdx.xml", cyclonedx.parse_xml, "bom.components[0] has no <name>"),
        ("billion-laughs.cdx.xml", cyclonedx.parse_xml, "DTD or entity declarations"),
        ("external-entity.cdx.xml", cyclonedx.parse_xml, "DTD or entity declarations"),
    ],
)
def test_invalid_samples(name: str, parse, message: str) -> None:
    with pytest.raises(MalformedDocument) as caught:
        parse((ASSETS / "invalid" / name).read_bytes())
    assert message in caught.value.diagnostics()


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    data = (ASSETS / "invalid" / "billion-laughs.cdx.xml").read_bytes()
    assert cyclonedx.sniff_xml(data)
    tracemalloc.start()
    try:
        with pytest.raises(MalformedDocument):
            cyclonedx.parse_xml(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # expanded, &lol9; alone would be 3 GB of "lol"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "is an object, not an array"),
        ({"bomFormat": "SPDX", "specVersion": "1.4"}, '"bomFormat": "CycloneDX"'),
        ({"bomFormat": "CycloneDX", "specVersion": 1.4}, "$.specVersion is a number"),
        ({"bomFormat": "CycloneDX", "specVersion": "1.4", "metadata": []}, "$.metadata is an"),
        (
            {"bomFormat": "CycloneDX", "specVersion": "1.4", "components": [["lodash"]]},
            "$.components[0] is an array, expected an object",
        ),
        (
            {"bomFormat": "CycloneDX", "specVersion": "1.4", "components": [{"name": 7}]},
            "$.components[0].name is a number",
        ),
        (
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.4",
                "components": [{"name": "a", "purl": ["pkg:npm/a@1"]}],
            },
            "$.components[0].purl is an array",
        ),
        (
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.4",
                "components": [{"name": "a", "components": {"name": "b"}}],
            },
            "$.components[0].components is an object, expected an array",
        ),
        (
            {"bomFormat": "CycloneDX", "specVersion": "1.4", "metadata": {"component": "app"}},
            "$.metadata.component is a string",
        ),
    ],
)
def test_wrong_types_name_the_path(document: object, message: str) -> None:
    with pytest.raises(MalformedDocument) as caught:
        cyclonedx.parse_json(orjson.dumps(document))
    assert message in caught.value.diagnostics()


def test_unknown_spec_version_is_unsupported() -> None:
    with pytest.raises(UnsupportedFormat, match=r"specVersion '2\.0'"):
        cyclonedx.parse_json(b'{"bomFormat": "CycloneDX", "specVersion": "2.0"}')


@pytest.mark.parametrize("encoding", ["TF-8", "rot13", "utf-32", "idna", "undefined", "punycode"])
def test_xml_declaring_an_unusable_encoding_is_malformed(encoding: str) -> None:
    # Found by test_sbom_fuzz: expat raised LookupError / ValueError / UnicodeError here.
    data = VALID_XML.read_bytes().replace(b'encoding="UTF-8"', f'encoding="{encoding}"'.encode())
    assert data != VALID_XML.read_bytes()
    with pytest.raises(MalformedDocument):
        cyclonedx.parse_xml(data)


def test_xml_root_must_be_a_cyclonedx_bom() -> None:
    with pytest.raises(MalformedDocument, match=r"not a CycloneDX 1\.x <bom>"):
        cyclonedx.parse_xml(b'<bom xmlns="http://example.com/bom/1.4"/>')


@pytest.mark.parametrize("path", [VALID_JSON, VALID_XML], ids=["json", "xml"])
def test_truncated_documents_are_malformed(path: Path) -> None:
    data = path.read_bytes()
    parse = cyclonedx.parse_json if path.suffix == ".json" else cyclonedx.parse_xml
    for cut in range(1, len(data) - 2, 97):
        with pytest.raises(MalformedDocument):
            parse(data[:cut])


def test_oversized_input_and_too_many_components() -> None:
    for path, parse in ((VALID_JSON, cyclonedx.parse_json), (VALID_XML, cyclonedx.parse_xml)):
        with pytest.raises(LimitExceeded, match="bytes"):
            parse(path.read_bytes(), Limits(max_bytes=1000))
        with pytest.raises(LimitExceeded, match="more than the limit of 5"):
            parse(path.read_bytes(), Limits(max_components=5))


def nested_json(levels: int) -> bytes:
    text = '{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": ['
    text += '{"name": "c", "components": [' * levels + "]}" * levels
    return (text + "]}").encode()


def nested_xml(levels: int) -> bytes:
    head = '<bom xmlns="http://cyclonedx.org/schema/bom/1.6"><components>'
    level = "<component><name>c</name><components>"
    return (head + level * levels + "</components></component>" * levels).encode() + (
        b"</components></bom>"
    )


def test_deep_nesting_is_refused_by_the_depth_limit() -> None:
    with pytest.raises(LimitExceeded, match="nested deeper"):
        cyclonedx.parse_xml(nested_xml(10_000))
    # JSON: orjson refuses more than 1,024 levels; below that the walk is iterative anyway.
    with pytest.raises(LimitExceeded, match="nested deeper than 1,024"):
        cyclonedx.parse_json(nested_json(10_000))
    assert len(cyclonedx.parse_json(nested_json(150)).components) == 150


def test_deep_nesting_within_raised_limits_is_walked_without_recursion() -> None:
    deep = Limits(max_depth=100_000)
    assert len(cyclonedx.parse_xml(nested_xml(10_000), deep).components) == 10_000
    assert len(cyclonedx.parse_json(nested_json(500), deep).components) == 500
