"""Every SBOM reader against every SBOM we hold, and against random and mutated input.

Two properties: (1) each real SBOM is claimed by exactly one sniffer, the right one, and then
parses or is refused with ``UnsupportedFormat``; (2) whatever the bytes, ``sniff`` returns a bool
and ``parse`` returns an ``Inventory`` or raises an ``InvalidInput`` subclass, nothing else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sakimori.errors import InvalidInput, LimitExceeded, UnsupportedFormat
from sakimori.formats import cyclonedx, spdx, spdx3, spdx_tagvalue
from sakimori.formats.limits import Limits
from sakimori.model.inventory import Inventory
from tests.conftest import DATA, require_data

Reader = tuple[str, Callable[[bytes], bool], Callable[[bytes, Limits], Inventory]]
READERS: list[Reader] = [
    reader for module in (cyclonedx, spdx, spdx_tagvalue, spdx3) for reader in module.READERS
]
ASSETS = Path(__file__).parent / "assets" / "sbom"
NOT_SBOM = {"LICENSE", "README.md", "README.upstream.md", "SOURCES.md"}
#: Real documents refused on purpose, with the reason the refusal must give.
REFUSED = {"SPDXRdfExample-v2.3.spdx.rdf.xml": "SPDX RDF/XML is not supported"}


def expected_format(path: Path) -> str:
    """The format a file is in, from where it is and what it is called (the tests may look)."""
    name, parts = path.name, path.parts
    if "cyclonedx" in parts:
        return cyclonedx.FORMAT_XML if name.endswith(".xml") else cyclonedx.FORMAT_JSON
    if name.endswith(".rdf.xml"):
        return spdx.FORMAT_RDF
    if name.endswith(".xml"):
        return spdx.FORMAT_XML
    if name.endswith(".yaml"):
        return spdx.FORMAT_YAML
    if name.endswith(".spdx"):
        return spdx_tagvalue.FORMAT
    if "spdx3.0" in parts or name.endswith(".spdx3.json"):
        return spdx3.FORMAT
    return spdx.FORMAT_JSON


def claimed_by(data: bytes) -> list[str]:
    return [name for name, sniff, _ in READERS if sniff(data)]


def reader(fmt: str) -> Reader:
    return next(r for r in READERS if r[0] == fmt)


@pytest.mark.slow
def test_every_real_sbom_has_exactly_its_own_reader() -> None:
    root = require_data("sbom")
    seen: dict[str, int] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name in NOT_SBOM:
            assert claimed_by(data) == [], path
            continue
        fmt = expected_format(path)
        assert claimed_by(data) == [fmt], path
        seen[fmt] = seen.get(fmt, 0) + 1
        if path.name in REFUSED:
            with pytest.raises(UnsupportedFormat, match=REFUSED[path.name]):
                reader(fmt)[2](data, Limits())
            continue
        inventory = reader(fmt)[2](data, Limits())
        assert inventory.format == fmt, path
    assert seen == {
        "cyclonedx-json": 11,
        "cyclonedx-xml": 11,
        "spdx-json": 19,
        "spdx-yaml": 1,
        "spdx-xml": 1,
        "spdx-rdf": 1,
        "spdx-tag-value": 13,
        "spdx3-jsonld": 26,
    }


def test_every_valid_sample_has_exactly_one_reader() -> None:
    for path in sorted((ASSETS / "valid").iterdir()):
        (fmt,) = claimed_by(path.read_bytes())
        assert reader(fmt)[2](path.read_bytes(), Limits()).components, path


def test_every_reader_refuses_oversized_input() -> None:
    for path in sorted((ASSETS / "valid").iterdir()):
        for _, _, parse in READERS:
            with pytest.raises(LimitExceeded):
                parse(path.read_bytes(), Limits(max_bytes=64))


# --- properties ---------------------------------------------------------------------------------


def only_our_errors(data: bytes) -> None:
    """The property: sniff gives a bool; parse gives an Inventory or one of our errors."""
    for _, sniff, parse in READERS:
        assert isinstance(sniff(data), bool)
        try:
            result = parse(data, Limits())
        except InvalidInput:
            continue
        assert isinstance(result, Inventory)


@functools.cache
def seeds() -> tuple[bytes, ...]:
    """Valid samples, plus small real documents of each format when the data set is present."""
    found = [path.read_bytes() for path in sorted((ASSETS / "valid").iterdir())]
    real = [
        "sbom/cyclonedx/cern-lhc-vdm-editor-e564943/bom.json",
        "sbom/cyclonedx/cern-lhc-vdm-editor-e564943/bom.xml",
        "sbom/spdx/spdx-spec/examples/SPDXJSONExample-v2.3.spdx.json",
        "sbom/spdx/spdx-spec/examples/SPDXYAMLExample-2.3.spdx.yaml",
        "sbom/spdx/spdx-spec/examples/SPDXXMLExample-v2.3.spdx.xml",
        "sbom/spdx/spdx-spec/examples/SPDXTagExample-v2.3.spdx",
        "sbom/spdx/spdx-examples/software/example9/spdx3.0/appbomination.spdx3.json",
    ]
    found += [(DATA / name).read_bytes() for name in real if (DATA / name).exists()]
    return tuple(found)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    only_our_errors(data)


@FUZZ
@given(
    prefix=st.sampled_from(
        [b"", b"{", b"<", b'{"bomFormat": "CycloneDX", "specVersion": "1.5", ', b"SPDXVersion: "]
    ),
    body=st.binary(max_size=2048),
)
def test_random_bytes_behind_a_format_marker(prefix: bytes, body: bytes) -> None:
    only_our_errors(prefix + body)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["truncate", "replace", "insert", "delete"]))
        if action == "truncate":
            del data[at:]
        elif action == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(
                st.sampled_from([b"{", b"}", b"[", b'"', b"<", b">", b"</a>", b":", b"\n", b"\xff"])
            )
        else:
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_real_documents(data: bytes) -> None:
    only_our_errors(data)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def paths(value: Any) -> list[tuple[Any, ...]]:
    """Every key path below ``value`` (not the empty path of the root itself)."""
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            children = list(node.items())
        elif isinstance(node, list):
            children = list(enumerate(node))
        else:
            continue
        for key, child in children:
            found.append((*where, key))
            stack.append((child, (*where, key)))
    return found


JSON_SEEDS = ["nested-1.5.cdx.json", "packages-2.3.spdx.json", "packages.spdx3.json"]


@FUZZ
@given(st.sampled_from(JSON_SEEDS), st.data())
def test_json_documents_with_a_value_of_the_wrong_type(name: str, data: st.DataObject) -> None:
    document = orjson.loads((ASSETS / "valid" / name).read_bytes())
    where = data.draw(st.sampled_from(paths(document)))
    replacement = data.draw(JSON_VALUES)
    node = document
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = replacement
    only_our_errors(orjson.dumps(document))


TAGS = ["SPDXVersion", "PackageName", "SPDXID", "PackageVersion", "ExternalRef", "FileName"]


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(TAGS),
            st.sampled_from(["SPDX-2.3", "pkg:npm/a@1", "PACKAGE-MANAGER purl pkg:", "<text>", ""])
            | st.text(max_size=30),
        ),
        max_size=20,
    )
)
def test_tag_value_lines(lines: list[tuple[str, str]]) -> None:
    text = "SPDXVersion: SPDX-2.3\n" + "".join(f"{tag}: {value}\n" for tag, value in lines)
    only_our_errors(text.encode())
