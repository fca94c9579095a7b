"""Hypothesis: whatever bytes the OSV, KEV and EPSS parsers get, only InvalidInput escapes.

Inputs are random bytes, and real records mutated at the byte level and at the structure level.
The EPSS fast path is also checked against the line-by-line reference it stands in for.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import zipfile
from collections.abc import Callable
from functools import cache
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sakimori.errors import InvalidInput
from sakimori.formats import epss, kev, osv
from sakimori.formats.limits import Limits
from tests.conftest import require_data

SMALL = Limits(max_bytes=1 << 20, max_depth=50, max_nodes=100_000, max_archive_members=50)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PARSERS: dict[str, Callable[[bytes], object]] = {
    "osv": lambda data: osv.parse(data, SMALL),
    "osv-zip": lambda data: list(osv.iter_zip(data, SMALL)),
    "kev": lambda data: kev.parse(data, SMALL),
    "epss": lambda data: epss.parse(data, SMALL),
}
SNIFFERS = (osv.sniff, kev.sniff, epss.sniff)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@cache
def _samples() -> dict[str, list[bytes]]:
    osv_root = require_data("osv")
    records = [
        next((osv_root / sub).rglob(f"*.{ext}")).read_bytes()
        for sub, ext in [("pypi", "yaml"), ("go", "json"), ("ghsa", "json"), ("rustsec", "json")]
    ]
    catalog = orjson.loads(require_data("kev", "known_exploited_vulnerabilities.json").read_bytes())
    catalog["vulnerabilities"] = catalog["vulnerabilities"][:3]
    catalog["count"] = 3
    epss_path = require_data("epss", "EPSS_CVE_data", "CVE_2021_EPSS.csv")
    epss_rows = b"".join(epss_path.read_bytes().splitlines(keepends=True)[:5])
    official = b"#model_version:v2025.03.14,score_date:2025-03-15T12:55:00Z\ncve,epss,percentile\n"
    return {
        "osv": records,
        "osv-zip": [_zip(records[1:])],
        "kev": [orjson.dumps(catalog)],
        "epss": [epss_rows, gzip.compress(official + epss_rows.replace(b";", b","))],
    }


def _zip(members: list[bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index, content in enumerate(members):
            archive.writestr(f"R{index}.json", content)
    return buffer.getvalue()


def _only_invalid_input(parse: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        parse(data)
    for sniff in SNIFFERS:
        assert isinstance(sniff(data), bool)


@pytest.mark.parametrize("kind", sorted(PARSERS))
@FUZZ
@given(data=st.binary(max_size=2048))
@example(data=b"\x1f\x8b")
@example(data=b"PK\x05\x06" + b"\x00" * 18)
@example(data=b"[{}]")
def test_random_bytes(kind: str, data: bytes) -> None:
    _only_invalid_input(PARSERS[kind], data)


@st.composite
def _byte_mutations(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if action == "flip":
            data[position] = draw(st.integers(0, 255))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 16))]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[position:]
    return bytes(data)


@pytest.mark.parametrize("kind", sorted(PARSERS))
@FUZZ
@given(data=st.data())
def test_byte_mutated_real_inputs(kind: str, data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(_samples()[kind]))
    _only_invalid_input(PARSERS[kind], data.draw(_byte_mutations(original)))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += _paths(child, (*prefix, index))
    return paths


@st.composite
def _tree_mutations(draw: st.DrawFn, original: Any) -> Any:
    document = orjson.loads(orjson.dumps(original))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(document) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            parent[path[-1]] = draw(json_values)
        else:
            del parent[path[-1]]
    return document


@pytest.mark.parametrize("kind", ["osv", "kev"])
@FUZZ
@given(data=st.data())
def test_structurally_mutated_real_records(kind: str, data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(_samples()[kind]))
    document = yaml.load(original, Loader=yaml.CSafeLoader) if kind == "osv" else None
    document = orjson.loads(original) if document is None else document
    mutated = data.draw(_tree_mutations(orjson.loads(orjson.dumps(document, default=str))))
    as_yaml = data.draw(st.booleans()) and kind == "osv"
    encoded = yaml.safe_dump(mutated).encode() if as_yaml else orjson.dumps(mutated)
    _only_invalid_input(PARSERS[kind], encoded)


# EPSS: the column-wise fast path must agree with the line-by-line reader whenever it answers.
epss_fields = st.one_of(
    st.from_regex(r"CVE-[0-9]{4}-[0-9]{4,6}", fullmatch=True),
    st.sampled_from(["0", "1", "0.5", "1.0", "0.000100000", "1e-3", "nan", "inf", "-0.0", ""]),
    st.sampled_from(["CVE-", "cve-2021-0001", " CVE-2021-0001", "x", "2", "1_0", " 0.1 "]),
    st.floats(min_value=0, max_value=1).map(repr),
)
epss_lines = st.lists(epss_fields, min_size=0, max_size=5).map(";".join)


@FUZZ
@given(lines=st.lists(epss_lines, max_size=12), trailing=st.sampled_from(["", "\n", "\n\n"]))
@example(lines=["CVE-2021-0001;0.1;0.2;CVE-2021-0002", "0.3;0.4"], trailing="\n")
def test_epss_fast_path_agrees_with_line_reader(lines: list[str], trailing: str) -> None:
    body = "\n".join(lines) + trailing
    fast = epss._fast_columns(body)
    try:
        reference = epss._checked_columns(body, 0)
    except InvalidInput:
        assert fast is None
        return
    if fast is not None:
        assert fast == reference
