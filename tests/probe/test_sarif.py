"""SARIF 2.1.0 output: valid against the official schema, with what code-scanning services read."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from sakimori.probe import sarif
from sakimori.probe.scan import decode, probe_tree
from tests.probe.conftest import FIXTURES

SCHEMA = Path(__file__).parent / "data" / "sarif-2.1.0-rtm.5.json"


@pytest.fixture(scope="module")
def log() -> dict[str, object]:
    root = FIXTURES / "positive"
    report = probe_tree(root)

    def read(relative: str) -> list[str]:
        return decode((root / relative).read_bytes()).splitlines()

    document: dict[str, object] = json.loads(sarif.render(report, read))
    return document


def test_valid_against_the_sarif_schema(log: dict[str, object]) -> None:
    schema = json.loads(SCHEMA.read_bytes())
    jsonschema.Draft4Validator.check_schema(schema)
    errors = list(jsonschema.Draft4Validator(schema).iter_errors(log))
    assert errors == []


def test_required_fields(log: dict) -> None:  # type: ignore[type-arg]
    assert log["$schema"]
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert run["columnKind"] == "utf16CodeUnits"
    rules = run["tool"]["driver"]["rules"]
    assert len(rules) == 15
    for rule in rules:
        assert rule["id"]
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"]
        assert float(rule["properties"]["security-severity"]) > 0
        assert any(t.startswith("external/cwe/cwe-") for t in rule["properties"]["tags"])
    results = run["results"]
    assert {r["ruleId"] for r in results} >= {rule["id"] for rule in rules} - {"SECRET"}
    for result in results:
        location = result["locations"][0]["physicalLocation"]
        assert not location["artifactLocation"]["uri"].startswith("/")
        region = location["region"]
        assert region["startLine"] >= 1
        assert region["startColumn"] >= 1
        digest, occurrence = result["partialFingerprints"]["primaryLocationLineHash"].split(":")
        assert len(digest) == 16
        assert int(occurrence) >= 1
    flows = [r for r in results if "codeFlows" in r]
    assert flows
    steps = flows[0]["codeFlows"][0]["threadFlows"][0]["locations"]
    assert steps[0]["location"]["message"]["text"].startswith("source")
    assert steps[-1]["location"]["message"]["text"].startswith("sink")


def test_columns_are_utf16_code_units() -> None:
    line = "x = '😀é' + y"
    byte_offset = line.encode("utf-8").index(b"y")
    assert sarif.utf16_column(line, byte_offset) == line.index("y") + 1 + 1  # 😀 is two units


def test_line_hash_counts_repeated_lines() -> None:
    lines = ["a = 1", "  a  =  1", "b = 2"]
    first, second = sarif.line_hash(lines, 1), sarif.line_hash(lines, 2)
    assert first.split(":")[0] == second.split(":")[0]
    assert (first.split(":")[1], second.split(":")[1]) == ("1", "2")
