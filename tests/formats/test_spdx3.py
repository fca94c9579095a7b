"""SPDX 3.0 JSON-LD: the sample, every spdx-examples 3.0 document (counted with jq), bad input."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from sakimori.errors import LimitExceeded, MalformedDocument, UnsupportedFormat
from sakimori.formats import spdx, spdx3
from sakimori.formats.limits import Limits
from sakimori.model.inventory import Component, Inventory
from tests.conftest import require_data

ASSETS = Path(__file__).parent / "assets" / "sbom"
SAMPLE = ASSETS / "valid" / "packages.spdx3.json"
CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"

# Independent count: distinct spdxIds of package elements anywhere in the document.
JQ_COUNT = (
    '[.. | objects | select((.type? // "") as $t | $t == "software_Package" '
    'or $t == "ai_AIPackage" or $t == "dataset_DatasetPackage") | .spdxId] | unique | length'
)


def by_ref(inventory: Inventory) -> dict[str | None, Component]:
    return {component.bom_ref: component for component in inventory.components}


def test_sample() -> None:
    inventory = spdx3.parse(SAMPLE.read_bytes())
    assert inventory.format == spdx3.FORMAT == "spdx3-jsonld"
    base = "https://example.com/spdx3/"
    assert [c.bom_ref for c in inventory.components] == [
        base + "acme",
        base + "jackson",
        base + "urllib3",
        base + "model",
        base + "busybox",  # type written as a full IRI
        base + "libz-sys",  # written inline in a relationship; urllib3 there is not repeated
    ]
    found = by_ref(inventory)
    jackson = found[base + "jackson"]
    assert (jackson.ecosystem, jackson.name, jackson.version) == (
        "Maven",
        "com.fasterxml.jackson.core:jackson-databind",
        "2.9.10",
    )
    assert jackson.cpe == "cpe:2.3:a:fasterxml:jackson-databind:2.9.10:*:*:*:*:*:*:*"
    urllib3 = found[base + "urllib3"]  # software_packageUrl, version only in the purl
    assert (urllib3.ecosystem, urllib3.version) == ("PyPI", "1.26.4")
    model = found[base + "model"]  # an AI package is a package
    assert (model.name, model.version, model.ecosystem) == ("acme-model", "3", None)
    assert model.note == "purl type 'huggingface' has no OSV ecosystem"
    busybox = found[base + "busybox"]  # externalIdentifierType as a full IRI
    assert busybox.purl == "pkg:generic/busybox@1.36.1"
    assert found[base + "libz-sys"].ecosystem == "crates.io"
    assert inventory.skipped == ("1 file not read as components (only packages are matched)",)


def test_sniffer() -> None:
    assert spdx3.sniff(SAMPLE.read_bytes())
    assert spdx3.sniff(b'{"@context": ["https://spdx.org/rdf/3.0.1/spdx-context.jsonld"]}')
    assert not spdx3.sniff(b'{"@context": "https://schema.org/"}')
    assert not spdx.sniff_json(SAMPLE.read_bytes())


@pytest.mark.slow
def test_every_spdx3_example_matches_jq_count() -> None:
    jq = shutil.which("jq")
    if jq is None:
        pytest.fail("jq is not installed (make system-packages)")
    root = require_data("sbom", "spdx", "spdx-examples")
    files = sorted(p for p in root.rglob("*.json") if spdx3.sniff(p.read_bytes()))
    assert len(files) == 26
    for path in files:
        count = subprocess.run(
            [jq, JQ_COUNT, str(path)], capture_output=True, check=True, text=True
        )
        assert len(spdx3.parse(path.read_bytes()).components) == int(count.stdout), path


def test_examples_agree_with_their_spdx2_versions() -> None:
    root = require_data("sbom", "spdx", "spdx-examples", "software")
    for folder, two, three in [
        ("example11", "sbom.spdx.json", "sbom.spdx3.json"),
        ("example9", "appbomination.spdx.json", "appbomination.spdx3.json"),
        ("example8", "examplemaven-0.0.1.spdx.json", "examplemaven-0.0.1.spdx3.json"),
    ]:
        spdx2_dir = "spdx2.2" if folder == "example9" else "spdx2.3"
        old = spdx.parse_json((root / folder / spdx2_dir / two).read_bytes())
        new = spdx3.parse((root / folder / "spdx3.0" / three).read_bytes())
        assert {(c.name, c.version, c.purl) for c in old.components} == {
            (c.name, c.version, c.purl) for c in new.components
        }, folder
    rust = spdx3.parse((root / "example11/spdx3.0/sbom.spdx3.json").read_bytes())
    tokio = next(c for c in rust.components if c.name == "tokio")
    assert (tokio.ecosystem, tokio.version) == ("crates.io", "1.19.2")


def test_ai_and_dataset_packages_are_components() -> None:
    path = require_data("sbom", "spdx", "spdx-examples", "ai", "example01", "spdx3.0")
    inventory = spdx3.parse((path / "simplehtr-example.json").read_bytes())
    assert len(inventory.components) == 13  # 10 software, 2 AI and 1 dataset packages


@pytest.mark.parametrize(
    ("document", "error", "message"),
    [
        ({"@graph": []}, UnsupportedFormat, "without the SPDX 3 context"),
        ({"@context": "https://spdx.org/rdf/2.3/x.jsonld"}, UnsupportedFormat, "SPDX 3 context"),
        ({"@context": CONTEXT, "@graph": "x"}, MalformedDocument, "$.@graph is a string"),
        (
            {"@context": CONTEXT, "@graph": [{"type": 7}]},
            MalformedDocument,
            "$.@graph[0].type is a number",
        ),
        (
            {"@context": CONTEXT, "@graph": [{"type": "software_Package", "spdxId": "x"}]},
            MalformedDocument,
            "$.@graph[0] has no name",
        ),
        (
            {
                "@context": CONTEXT,
                "@graph": [{"type": "software_Package", "name": "a", "externalIdentifier": "x"}],
            },
            MalformedDocument,
            "$.@graph[0].externalIdentifier is a string",
        ),
        (
            {
                "@context": CONTEXT,
                "@graph": [{"type": "software_Package", "name": "a", "externalIdentifier": [1]}],
            },
            MalformedDocument,
            "$.@graph[0].externalIdentifier[0] is a number",
        ),
    ],
)
def test_bad_documents(document: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        spdx3.parse(orjson.dumps(document))
    assert message in str(caught.value)


def test_version_number_is_refused() -> None:
    with pytest.raises(MalformedDocument, match="software_packageVersion is a number"):
        spdx3.parse((ASSETS / "invalid" / "version-number.spdx3.json").read_bytes())


def test_truncated_and_limits() -> None:
    data = SAMPLE.read_bytes()
    for cut in range(1, len(data) - 2, 71):
        with pytest.raises(MalformedDocument):
            spdx3.parse(data[:cut])
    with pytest.raises(LimitExceeded, match="bytes"):
        spdx3.parse(data, Limits(max_bytes=100))
    with pytest.raises(LimitExceeded, match="components"):
        spdx3.parse(data, Limits(max_components=3))
