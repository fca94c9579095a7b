"""``sakimori probe`` end to end: dependency exposure, Bandit and Semgrep merged, the LLM
reviewer over a real local server, settings from the file, and recording for an asset."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from sakimori.config import Settings
from sakimori.services.intel import load_paths
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.store.db import open_database
from tests.cli.conftest import Cli
from tests.conftest import require_data
from tests.probe import gate_patches
from tests.probe.conftest import FIXTURES
from tests.probe.llm_server import ModelServer, model_server, openai_chat
from tests.probe.test_llm import VERDICT

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0-rtm.5.json").read_bytes())


@pytest.fixture(scope="module")
def intel_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the real OSV advisories of one PyPI package (jinja2) loaded."""
    home = tmp_path_factory.mktemp("home")
    settings = Settings.load({"SAKIMORI_HOME": str(home)})
    db = open_database(settings.database_url)
    try:
        load_paths(db, [require_data("osv", "pypi", "vulns", "jinja2")], settings.limits)
    finally:
        db.dispose()
    return home


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(FIXTURES / "gate", target)
    (target / "requirements.txt").write_text("fastapi==0.115.0\njinja2==2.10\n")
    return target


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with model_server() as running:
        yield running


def cli(home: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(home, capsys)


def test_dependency_exposure_in_json_and_sarif(
    intel_home: Path, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli(intel_home, capsys)
    result = run("probe", str(tree), "-f", "json", "--no-bandit")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    deps = {d["vulnerability"]: d for d in document["dependencies"]}
    assert "CVE-2019-10906" in deps
    assert (deps["CVE-2019-10906"]["path"], deps["CVE-2019-10906"]["line"]) == (
        "requirements.txt",
        2,
    )
    assert deps["CVE-2019-10906"]["fixed"] == ["2.10.1"]
    assert "PYSEC-2019-217" in deps["CVE-2019-10906"]["aliases"]
    sarif = json.loads(run("probe", str(tree), "-f", "sarif", "--no-bandit").out)
    assert list(jsonschema.Draft4Validator(SCHEMA).iter_errors(sarif)) == []
    driver = sarif["runs"][0]["tool"]["driver"]
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert "CVE-2019-10906" in rule_ids
    (result_entry,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "CVE-2019-10906"]
    assert rule_ids[result_entry["ruleIndex"]] == "CVE-2019-10906"
    location = result_entry["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "requirements.txt"
    assert location["region"]["startLine"] == 2
    table = run("probe", str(tree), "--no-bandit").out
    assert "PyPI/jinja2@2.10" in table


def test_no_intel_is_a_note_and_creates_nothing(
    tmp_path: Path, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "empty-home"
    result = cli(home, capsys)("probe", str(tree), "--no-bandit")
    assert result.code == 0, result.err
    assert "no vulnerability intelligence is loaded" in result.out
    assert "requirements.txt" in result.out
    assert not (home / "sakimori.db").exists()


def test_bandit_results_are_merged_and_deduplicated(
    tmp_path: Path, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli(tmp_path / "home", capsys)
    plain = json.loads(run("probe", str(tree), "-f", "json", "--no-deps").out)
    assert "bandit" not in plain["tools"], "Bandit runs only when asked for"
    document = json.loads(run("probe", str(tree), "-f", "json", "--no-deps", "--bandit").out)
    assert "bandit" in document["tools"]
    sqli = [f for f in document["findings"] if f["cwe"] == "CWE-89"]
    assert len(sqli) == 1, "the engine's and Bandit's SQL injection are one finding"
    assert (sqli[0]["tool"], sqli[0]["also_reported_by"]) == ("sakimori", ["bandit"])
    asserts = [f for f in document["findings"] if f["rule"] == "B101"]
    assert asserts
    assert {f["tool"] for f in asserts} == {"bandit"}
    assert {f["path"] for f in asserts} == {"selftest.py"}
    sarif = json.loads(run("probe", str(tree), "-f", "sarif", "--no-deps", "--bandit").out)
    assert list(jsonschema.Draft4Validator(SCHEMA).iter_errors(sarif)) == []
    without = json.loads(run("probe", str(tree), "-f", "json", "--no-bandit", "--no-deps").out)
    assert {f["tool"] for f in without["findings"]} == {"sakimori"}


def test_semgrep_local_rules_only_and_not_installed_here(
    tmp_path: Path, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli(tmp_path / "home", capsys)
    rules = tmp_path / "rules.yml"
    rules.write_text("rules: []\n")
    env = {"PATH": str(tmp_path / "no-tools")}
    result = run("probe", str(tree), "--semgrep-rules", str(rules), "--no-bandit", "--no-deps",
                 env=env)  # fmt: skip
    assert result.code == 0, result.err
    assert "semgrep: not installed" in result.out
    refused = run("probe", str(tree), "--semgrep-rules", "p/python", "--no-deps")
    assert refused.code == 2
    assert "not a local rule file" in refused.err


def test_semgrep_results_are_read_when_it_is_installed(
    tmp_path: Path, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stand-in ``semgrep`` program answering with a recorded JSON report."""
    tools = tmp_path / "tools"
    tools.mkdir()
    report = {
        "results": [
            {
                "check_id": "rules.python-sqli-concat",
                "path": "app.py",
                "start": {"line": 12, "col": 5, "offset": 200},
                "end": {"line": 12, "col": 80, "offset": 275},
                "extra": {
                    "message": "SQL built by concatenation",
                    "severity": "ERROR",
                    "metadata": {"cwe": ["CWE-89: Improper Neutralization of Special Elements"]},
                    "lines": '    cursor.execute("SELECT ..." + name + "\'")',
                },
            },
            {
                "check_id": "rules.sqlite-connect",
                "path": "app.py",
                "start": {"line": 18, "col": 12},
                "end": {"line": 18, "col": 37},
                "extra": {"message": "database opened", "severity": "INFO", "metadata": {}},
            },
        ],
        "errors": [],
    }
    fake = tools / "semgrep"
    fake.write_text(f"#!{sys.executable}\nprint({json.dumps(json.dumps(report))})\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    rules = tmp_path / "rules.yml"
    rules.write_text("rules: []\n")
    env = {"PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = cli(tmp_path / "home", capsys)(
        "probe", str(tree), "-f", "json", "--semgrep-rules", str(rules), "--no-bandit",
        "--no-deps", env=env,
    )  # fmt: skip
    document = json.loads(result.out)
    assert "semgrep" in document["tools"]
    sqli = [f for f in document["findings"] if f["cwe"] == "CWE-89"]
    assert len(sqli) == 1
    assert sqli[0]["also_reported_by"] == ["semgrep"]
    assert [f["rule"] for f in document["findings"] if f["tool"] == "semgrep"] == ["sqlite-connect"]


def test_llm_review_through_the_command(
    tmp_path: Path, tree: Path, server: ModelServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.queue(openai_chat(VERDICT, 700, 90))
    server.queue(openai_chat(f"```diff\n{gate_patches.RIGHT}```", 900, 150))
    run_dir = tmp_path / "run"
    result = cli(tmp_path / "home", capsys)(
        "probe", str(tree), "-f", "json", "--no-bandit", "--no-deps",
        "--llm", "openai", "--llm-url", server.url, "--llm-model", "local-coder",
        "--llm-key-env", "PROBE_LLM_KEY", "--llm-price-input", "1", "--llm-price-output", "2",
        "--llm-run-dir", str(run_dir), "--test-command", f"{sys.executable} selftest.py",
        env={"PROBE_LLM_KEY": "sk-local-secret-value"},
    )  # fmt: skip
    assert result.code == 0, result.err
    document = json.loads(result.out)
    (finding,) = [f for f in document["findings"] if f["cwe"] == "CWE-89"]
    review = finding["review"]
    assert review["verdict"]["verdict"] == "exploitable"
    assert review["verdict"]["status"] == "advice (not verified)"
    assert review["gate"]["accepted"] is True
    assert review["gate"]["tests"] == "passed"
    llm = document["llm"]
    assert (llm["calls"], llm["input_tokens"], llm["output_tokens"]) == (2, 1600, 240)
    assert llm["cost_usd"] == pytest.approx((1600 * 1 + 240 * 2) / 1e6)
    assert llm["patches_accepted"] == 1
    assert server.requests[0].headers["authorization"] == "Bearer sk-local-secret-value"
    assert server.requests[0].body["model"] == "local-coder"
    transcript = (run_dir / "transcript.jsonl").read_text()
    assert "sk-local-secret-value" not in transcript + result.out + result.err
    patch_file = run_dir / "patches" / f"{finding['fingerprint']}.diff"
    assert review["patch_file"] == str(patch_file)
    assert patch_file.read_text() == gate_patches.RIGHT


def test_llm_settings_from_the_file(
    tmp_path: Path, tree: Path, server: ModelServer, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "sakimori.toml").write_text(
        "[probe.llm]\n"
        f'url = "{server.url}"\nmodel = "file-model"\ntimeout = 10\nmax_findings = 1\n'
        '[probe.llm.prices."file-model"]\ninput = 3.0\noutput = 15.0\n'
        "[probe.gate]\n"
        f'test_command = [{json.dumps(sys.executable)}, "selftest.py"]\n'
    )
    server.queue(openai_chat(VERDICT, 1000, 100))
    server.queue(openai_chat(gate_patches.BREAKS_TESTS, 1000, 100))
    result = cli(home, capsys)("probe", str(tree), "--no-bandit", "--no-deps", "--llm", "openai")
    assert result.code == 0, result.err
    assert server.requests[0].body["model"] == "file-model"
    assert "patch rejected: the project's tests failed with the patch" in result.out
    assert "cost $0.0090" in result.out  # (2000 × 3 + 200 × 15) / 1e6
    assert "0 patch(es) accepted" in result.out


def test_llm_errors_do_not_fail_the_run(
    tmp_path: Path, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = cli(tmp_path / "home", capsys)(
        "probe", str(tree), "--no-bandit", "--no-deps", "--llm", "openai",
        "--llm-url", "http://127.0.0.1:9", "--llm-model", "m", "--llm-timeout", "2",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "cannot reach the model server" in result.out
    missing_key = cli(tmp_path / "home", capsys)(
        "probe", str(tree), "--no-deps", "--llm", "anthropic", "--llm-model", "m",
        "--llm-key-env", "PROBE_NO_SUCH_KEY",
    )  # fmt: skip
    assert missing_key.code == 2
    assert "PROBE_NO_SUCH_KEY" in missing_key.err


def test_recording_for_an_asset(
    tmp_path: Path, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    settings = Settings.load({"SAKIMORI_HOME": str(home)})
    db = open_database(settings.database_url)
    create_organisation(db, "city-bank", "City Bank", "operator", ["finance"])
    create_asset(db, "city-bank/portal", "Portal")
    db.dispose()
    run = cli(home, capsys)
    first = run("probe", str(tree), "--no-bandit", "--no-deps", "--asset", "city-bank/portal")
    assert "recorded for city-bank/portal: 1 opened" in first.out
    second = run("probe", str(tree), "--no-bandit", "--no-deps", "--asset", "city-bank/portal")
    assert "0 opened, 0 reopened, 0 closed as fixed, 1 seen again" in second.out
    listed = run("finding", "list", "--asset", "city-bank/portal")
    assert "PY-SQLI" in listed.out


def test_an_unknown_asset_is_an_error_before_any_analysis(
    tmp_path: Path, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = cli(tmp_path / "home", capsys)("probe", str(tree), "--asset", "nobody/nothing")
    assert result.code == 2
    assert "no organisation 'nobody'" in result.err
    assert result.out == ""
