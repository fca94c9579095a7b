"""SSVC decision tables: every real table valid against the SSVC schema and complete; the checks
that refuse incomplete, repeated or broken tables; look-ups; and Hypothesis fuzzing."""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sakimori.errors import InvalidInput, MalformedDocument
from sakimori.formats import ssvc
from sakimori.formats.limits import Limits
from tests.conftest import DATA, require_data

SMALL = Limits(max_bytes=1 << 20)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
COORDINATOR = ("cisa", "cisa_coordinator_2_0_3.json")
DEPLOYER = ("ssvc", "deployer_patch_application_priority_1_0_0.json")
BOD = ("cisa", "cisa_bod_26_04_1_0_0.json")


def tables_dir() -> Path:
    return require_data("ssvc", "data", "json", "decision_tables")


def table_paths() -> list[Path]:
    return sorted(tables_dir().glob("*/*.json"))


@cache
def schema_validator() -> jsonschema.Draft202012Validator:
    path = require_data("ssvc", "data", "schema", "v2", "DecisionTable_2_0_0.schema.json")
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def document(*parts: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(tables_dir().joinpath(*parts).read_text())
    return data


def test_all_sixteen_tables_are_present() -> None:
    assert len(table_paths()) == 16


# Named at collection time without require_data (which may skip or fail only inside a test).
TABLE_NAMES = sorted(p.name for p in DATA.glob("ssvc/data/json/decision_tables/*/*.json"))


@pytest.mark.parametrize("name", TABLE_NAMES or ["(data missing)"])
def test_real_table_is_schema_valid_and_complete(name: str) -> None:
    path = next(p for p in table_paths() if p.name == name)
    raw = json.loads(path.read_text())
    schema_validator().validate(raw)  # the SSVC JSON Schema (tests only; never read at run time)
    table = ssvc.parse(path.read_bytes())
    # Completeness, computed independently of the parser: every combination of input values
    # occurs in exactly one row of the document.
    inputs = [pid for pid in raw["decision_points"] if pid != raw["outcome"]]
    values = [[v["key"] for v in raw["decision_points"][pid]["values"]] for pid in inputs]
    seen = [tuple(row[pid] for pid in inputs) for row in raw["mapping"]]
    assert len(seen) == len(set(seen))
    assert set(seen) == set(itertools.product(*values))
    assert len(table.rows) == len(raw["mapping"])
    assert table.id == f"{raw['namespace']}:{raw['key']}:{raw['version']}"
    assert [p.id for p in table.inputs] == inputs
    assert table.outcome_point.id == raw["outcome"]
    for row in raw["mapping"]:
        found = table.outcome({pid: row[pid] for pid in inputs})
        assert found.key == row[raw["outcome"]]
    assert ssvc.sniff(path.read_bytes())


def test_the_three_triage_tables() -> None:
    coordinator = ssvc.table_from_dict(document(*COORDINATOR))
    assert coordinator.id == "cisa:DT_CO:2.0.3"
    assert [p.key for p in coordinator.inputs] == ["E", "A", "TI", "MWI"]
    assert [v.name for v in coordinator.outcome_point.values] == [
        "Track",
        "Track*",
        "Attend",
        "Act",
    ]
    assert coordinator.outcome({"E": "A", "A": "Y", "TI": "T", "MWI": "H"}).name == "Act"
    assert coordinator.outcome({"E": "N", "A": "N", "TI": "P", "MWI": "L"}).name == "Track"
    deployer = ssvc.table_from_dict(document(*DEPLOYER))
    assert [p.key for p in deployer.inputs] == ["E", "EXP", "A", "HI"]
    assert deployer.outcome({"E": "A", "EXP": "O", "A": "Y", "HI": "VH"}).name == "Immediate"
    bod = ssvc.table_from_dict(document(*BOD))
    assert [v.key for v in bod.outcome_point.values] == ["FSU", "60D", "14D", "3D", "3DF"]
    keys = {"cisa:KEV:1.0.0": "Y", "PE": "Y", "ssvc:A:2.0.0": "Y", "TI": "T"}
    assert bod.outcome(keys).name == "3 days & forensic investigation"
    assert bod.point("PE").name == "Publicly Exposed"
    assert bod.point("cisa:PE:1.0.0").value("Y").name == "Yes"


def test_lookup_errors_name_the_problem() -> None:
    table = ssvc.table_from_dict(document(*COORDINATOR))
    with pytest.raises(InvalidInput, match="no input point 'X'"):
        table.outcome({"X": "N"})
    with pytest.raises(InvalidInput, match=r"needs a value for ssvc:MWI:1\.0\.0"):
        table.outcome({"E": "N", "A": "N", "TI": "P"})
    with pytest.raises(InvalidInput, match="no value 'Q'"):
        table.outcome({"E": "Q", "A": "N", "TI": "P", "MWI": "L"})
    with pytest.raises(InvalidInput, match="given twice"):
        table.outcome({"E": "N", "ssvc:E:1.1.0": "N", "A": "N", "TI": "P", "MWI": "L"})
    with pytest.raises(InvalidInput, match="takes 4 values"):
        table.outcome_of(("N", "N"))


def test_ambiguous_short_keys_need_the_id() -> None:
    raw = document(*COORDINATOR)
    twin = copy.deepcopy(raw["decision_points"]["ssvc:A:2.0.0"])
    twin["namespace"] = "x_example.test#twin"
    twin["values"] = twin["values"][:1]
    raw["decision_points"] = {"x_example.test#twin:A:2.0.0": twin, **raw["decision_points"]}
    for row in raw["mapping"]:
        row["x_example.test#twin:A:2.0.0"] = "N"
    table = ssvc.table_from_dict(raw)
    with pytest.raises(InvalidInput, match="no input point 'A'"):
        table.position("A")
    assert table.point("ssvc:A:2.0.0").key == "A"


def _broken(mutate: Any) -> dict[str, Any]:
    raw = document(*COORDINATOR)
    mutate(raw)
    return raw


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["mapping"].pop(5), r"mapping has no row for E=N, A=N, TI=T, MWI=H"),
        (lambda d: d["mapping"].append(dict(d["mapping"][3])), r"mapping\[36\] repeats .*\[3\]"),
        (lambda d: d["mapping"][0].update({"ssvc:E:1.1.0": "X"}), r"mapping\[0\]: ssvc:E.*'X'"),
        (lambda d: d["mapping"][2].pop("ssvc:A:2.0.0"), r"mapping\[2\]: no value for ssvc:A"),
        (lambda d: d["mapping"][1].update({"extra": "N"}), r"mapping\[1\]: unknown points extra"),
        (lambda d: d["mapping"][0].update({"cisa:CISA:1.1.0": 3}), r"mapping\[0\]: cisa:CISA"),
        (lambda d: d.update(mapping={}), "mapping must be a list"),
        (lambda d: d.pop("mapping"), "mapping must be a list"),
        (lambda d: d.update(outcome="ssvc:Z:1.0.0"), "outcome 'ssvc:Z:1.0.0' is not one"),
        (lambda d: d.update(schemaVersion="1.0.0"), "schemaVersion"),
        (lambda d: d.update(decision_points={}), "decision_points must be a non-empty"),
        (lambda d: d.update(decision_points=[]), "decision_points must be a non-empty"),
        (lambda d: d.update(key=7), "key must be a non-empty string"),
        (lambda d: d["decision_points"]["ssvc:E:1.1.0"].update(values=[]), "values must be"),
        (
            lambda d: d["decision_points"]["ssvc:E:1.1.0"]["values"].append(
                {"key": "N", "name": "x"}
            ),
            "repeats the key 'N'",
        ),
        (lambda d: d["decision_points"]["ssvc:E:1.1.0"]["values"][0].pop("name"), "name must be"),
        (lambda d: d["decision_points"].update({"ssvc:E:1.1.0": "E"}), "must be an object"),
        (
            lambda d: d.update(
                decision_points={"cisa:CISA:1.1.0": d["decision_points"]["cisa:CISA:1.1.0"]}
            ),
            "no input decision points",
        ),
    ],
)
def test_broken_tables_are_refused(mutate: Any, message: str) -> None:
    with pytest.raises(MalformedDocument, match=message):
        ssvc.parse(orjson.dumps(_broken(mutate)))


def test_missing_row_is_found_however_many_points() -> None:
    # 30 binary points: 2**30 combinations, 2 rows. The check stops at the first missing one.
    points = {
        f"x_example.test#t:P{i}:1.0.0": {
            "namespace": "x_example.test#t",
            "key": f"P{i}",
            "version": "1.0.0",
            "name": f"P{i}",
            "definition": "d",
            "schemaVersion": "2.0.0",
            "values": [{"key": "N", "name": "No"}, {"key": "Y", "name": "Yes"}],
        }
        for i in range(31)
    }
    outcome = "x_example.test#t:P30:1.0.0"
    rows = [dict.fromkeys(points, "N"), {**dict.fromkeys(points, "N"), next(iter(points)): "Y"}]
    raw = {
        "namespace": "x_example.test#t",
        "key": "T",
        "version": "1.0.0",
        "name": "t",
        "definition": "d",
        "schemaVersion": "2.0.0",
        "decision_points": points,
        "outcome": outcome,
        "mapping": rows,
    }
    with pytest.raises(MalformedDocument, match=r"no row for P0=N, P1=N, .*P29=Y"):
        ssvc.table_from_dict(raw)


@pytest.mark.parametrize(
    "data", [b"", b"{", b"[]", b"null", b'{"schemaVersion": "2.0.0"}', b"\xff\xfe", b'"x"']
)
def test_bad_bytes(data: bytes) -> None:
    with pytest.raises(MalformedDocument):
        ssvc.parse(data)
    assert ssvc.sniff(data) is False


def test_truncated_table() -> None:
    data = tables_dir().joinpath(*COORDINATOR).read_bytes()
    for cut in (10, len(data) // 2, len(data) - 2):
        with pytest.raises(MalformedDocument):
            ssvc.parse(data[:cut])


def test_sniff_tells_tables_from_other_json() -> None:
    assert not ssvc.sniff(b'{"decision_points": {}, "schemaVersion": "2.0.0"}')
    point = require_data("ssvc", "data", "json", "decision_points", "ssvc")
    assert not ssvc.sniff(next(point.glob("*.json")).read_bytes())


# --- Hypothesis: whatever the bytes, only InvalidInput escapes ----------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _only_invalid_input(data: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        ssvc.parse(data, SMALL)
    assert isinstance(ssvc.sniff(data), bool)


@FUZZ
@given(data=st.binary(max_size=2048))
@example(data=b'{"schemaVersion": "2.0.0", "decision_points": {"a": {}}}')
def test_fuzz_random_bytes(data: bytes) -> None:
    _only_invalid_input(data)


@FUZZ
@given(data=st.data())
def test_fuzz_byte_mutations(data: st.DataObject) -> None:
    original = bytearray(tables_dir().joinpath(*BOD).read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(original) - 1))
        original[position] = data.draw(st.integers(0, 255))
    _only_invalid_input(bytes(original))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@FUZZ
@given(data=st.data())
def test_fuzz_structure_mutations(data: st.DataObject) -> None:
    raw = document(*BOD)
    for _ in range(data.draw(st.integers(1, 4))):
        paths = [p for p in _paths(raw) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = raw
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()):
            parent[path[-1]] = data.draw(json_values)
        else:
            del parent[path[-1]]
    _only_invalid_input(orjson.dumps(raw))
