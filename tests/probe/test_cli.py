"""``sakimori probe`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.probe.conftest import FIXTURES


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path / "home", capsys)


def test_table_json_sarif_and_fail_on(run: Cli, tmp_path: Path) -> None:
    target = str(FIXTURES / "positive")
    table = run("probe", target)
    assert table.code == 0
    assert "CWE-89" in table.out
    assert "PY-SQLI" in table.out
    as_json = run("probe", target, "--format", "json")
    document = json.loads(as_json.out)
    assert {f["cwe"] for f in document["findings"]} >= {"CWE-78", "CWE-89", "CWE-614"}
    out = tmp_path / "probe.sarif"
    written = run("probe", target, "-f", "sarif", "-o", str(out), "--fail-on", "high")
    assert written.code == 1
    assert json.loads(out.read_bytes())["version"] == "2.1.0"
    clean = run("probe", str(FIXTURES / "negative" / "cwe89.py"), "--fail-on", "low")
    assert clean.code == 0


def test_missing_path_is_a_one_line_error(run: Cli, tmp_path: Path) -> None:
    result = run("probe", str(tmp_path / "nowhere"))
    assert result.code == 2
    assert "no such file" in result.err
    assert "Traceback" not in result.err
