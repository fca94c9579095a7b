"""Whatever the bytes, the VEX parsers return a document or raise one of our ``InvalidInput``
errors; and a document they accept is written back and read again with its statements kept."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sakimori.errors import InvalidInput, LimitExceeded, MalformedDocument, UnsupportedFormat
from sakimori.formats import vex
from sakimori.formats.limits import Limits
from sakimori.formats.vex import csaf_vex, cyclonedx_vex, openvex
from sakimori.model.vex import VexDocument
from tests.conftest import DATA
from tests.formats.vex.conftest import INVALID, VALID

Parse = Callable[[bytes], VexDocument]
Render = Callable[[VexDocument], bytes]
FORMATS: dict[str, tuple[Parse, Render]] = {
    "cyclonedx": (cyclonedx_vex.parse, cyclonedx_vex.render),
    "openvex": (openvex.parse, openvex.render),
    "csaf": (
        csaf_vex.parse,
        lambda d: csaf_vex.render(d, tlp="WHITE", publisher_namespace="https://x.example"),
    ),
}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def seeds() -> tuple[tuple[str, bytes], ...]:
    found = [
        ("cyclonedx", (VALID / "acme-1.6.cdx.json").read_bytes()),
        ("cyclonedx", (VALID / "product-abc-1.4.cdx.json").read_bytes()),
        ("openvex", (VALID / "wolfi-git.openvex.json").read_bytes()),
        ("csaf", (VALID / "relationships.csaf.json").read_bytes()),
    ]
    examples = DATA / "csaf" / "csaf_2.0" / "examples" / "csaf" / "csaf_vex"
    for name in ("2022-evd-uc-08-001.json", "sec-vex-2022-0001.json"):
        if (examples / name).exists():
            found.append(("csaf", (examples / name).read_bytes()))
    return tuple(found)


def only_our_errors(data: bytes) -> None:
    for parse in (*(parse for parse, _ in FORMATS.values()), vex.parse):
        with contextlib.suppress(InvalidInput):
            assert isinstance(parse(data), VexDocument)


def essence(document: VexDocument) -> list[tuple[Any, ...]]:
    """Everything a statement says except product names, which a writer may fill in."""

    def product(p: Any) -> tuple[Any, ...]:
        return (p.purl, p.cpe, p.ref, tuple((s.purl, s.cpe, s.ref) for s in p.subcomponents))

    return [
        (
            s.vulnerability,
            s.aliases,
            product(s.products[0]),
            s.status,
            s.justification,
            s.impact_statement,
            s.action_statement,
            s.timestamp,
            s.author,
            s.source_status,
            s.source_justification,
        )
        for s in document.split()
    ]


def round_trip(fmt: str, data: bytes) -> None:
    """Accepted input is rendered (or refused with InvalidInput) and read back unchanged."""
    parse, render = FORMATS[fmt]
    try:
        first = parse(data)
        written = render(first)
    except InvalidInput:
        return
    second = parse(written)
    assert essence(second) == essence(first)
    assert parse(render(second)) == second  # once written, stable


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    only_our_errors(data)


@FUZZ
@given(
    prefix=st.sampled_from(
        [
            b"{",
            b'{"bomFormat": "CycloneDX", "specVersion": "1.6", ',
            b'{"@context": "https://openvex.dev/ns/v0.2.0", ',
            b'{"document": {"csaf_version": "2.0", "category": "csaf_vex"}, ',
        ]
    ),
    body=st.binary(max_size=1024),
)
def test_random_bytes_behind_a_format_marker(prefix: bytes, body: bytes) -> None:
    only_our_errors(prefix + body)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "not_affected",
            "affected",
            "fixed",
            "exploitable",
            "resolved",
            "false_positive",
            "known_affected",
            "code_not_reachable",
            "component_not_present",
            "vendor_fix",
            "impact",
            "pkg:npm/a@1",
            "cpe:2.3:a:x:y:1:*:*:*:*:*:*:*",
            "urn:cdx:1/1#x",
            "CVE-2024-0001",
            "CSAFPID-0001",
            "APP-240",
            "acme-app",
            "2024-01-01T00:00:00Z",
            "",
        ]
    )
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def paths(value: Any) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        node, where = stack.pop()
        children = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else []
        )
        for key, child in children:
            found.append((*where, key))
            stack.append((child, (*where, key)))
    return sorted(found, key=repr)


@st.composite
def mutated_documents(draw: st.DrawFn) -> tuple[str, bytes]:
    fmt, data = draw(st.sampled_from(seeds()))
    document = json.loads(data)
    for _ in range(draw(st.integers(1, 3))):
        every = paths(document)
        if not every:
            break
        path = draw(st.sampled_from(every))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            parent[path[-1]] = draw(JSON_VALUES)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    return fmt, orjson.dumps(document)


@FUZZ
@given(mutated_documents())
def test_mutated_documents(case: tuple[str, bytes]) -> None:
    fmt, data = case
    only_our_errors(data)
    round_trip(fmt, data)


@pytest.mark.parametrize(("fmt", "data"), list(seeds()))
def test_seeds_round_trip(fmt: str, data: bytes) -> None:
    round_trip(fmt, data)


def test_limits_apply() -> None:
    for _, data in seeds():
        with pytest.raises(LimitExceeded):
            vex.parse(data, Limits(max_bytes=64))


INVALID_FILES = {
    "not-json.json": (MalformedDocument, "invalid JSON"),
    "spdx.json": (UnsupportedFormat, "not a VEX document"),
    "openvex-no-products.json": (MalformedDocument, r"statements\[0\] names no product"),
    "openvex-bad-status.json": (MalformedDocument, r"statements\[0\].status 'exploitable'"),
    "cyclonedx-unknown-ref.cdx.json": (MalformedDocument, r"affects\[0\].ref 'log4j'"),
    "cyclonedx-no-state.cdx.json": (MalformedDocument, "analysis.state is missing"),
    "csaf-undefined-product.json": (MalformedDocument, "'CSAFPID-0002'"),
}


def test_every_invalid_sample_is_covered() -> None:
    assert sorted(p.name for p in INVALID.iterdir()) == sorted(INVALID_FILES)


@pytest.mark.parametrize("name", sorted(INVALID_FILES))
def test_invalid_samples_are_refused_with_the_reason(name: str) -> None:
    error, message = INVALID_FILES[name]
    with pytest.raises(error, match=message):
        vex.parse((INVALID / name).read_bytes())


def test_detect_refuses_what_is_not_vex() -> None:
    with pytest.raises(UnsupportedFormat, match="not a VEX document"):
        vex.detect(b'{"spdxVersion": "SPDX-2.3"}')
    with pytest.raises(MalformedDocument):
        vex.detect(b"\xff")
