"""The LLM reviewer against a real HTTP server on 127.0.0.1 speaking both protocols, and the
deterministic gate that decides whether a proposed patch is accepted."""

from __future__ import annotations

import json
import shutil
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sakimori.errors import ConfigurationError, LimitExceeded, MalformedDocument, SourceUnavailable
from sakimori.probe.findings import CodeFinding, ProbeReport
from sakimori.probe.gate import Gate, GateSettings, patched_paths
from sakimori.probe.llm.interface import LLMConfig, Price, make_provider
from sakimori.probe.llm.prompts import parse_verdict
from sakimori.probe.llm.review import Reviewer
from sakimori.probe.scan import probe_tree
from tests.probe import gate_patches
from tests.probe.conftest import FIXTURES
from tests.probe.llm_server import ModelServer, anthropic_message, model_server, openai_chat

KEY = "sk-test-0123456789abcdef"
SELFTEST = (sys.executable, "selftest.py")
VERDICT = json.dumps(
    {
        "verdict": "exploitable",
        "confidence": 0.9,
        "proof_sketch": "GET /user?name=x'%20OR%20'1'='1 returns every user: the name is "
        "concatenated into the SQL text.",
        "preconditions": ["the route is reachable"],
    }
)


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with model_server() as running:
        yield running


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(FIXTURES / "gate", target)
    return target


@pytest.fixture
def baseline(tree: Path) -> ProbeReport:
    return probe_tree(tree)


def sqli(report: ProbeReport) -> CodeFinding:
    (finding,) = [f for f in report.findings if f.rule_id == "PY-SQLI"]
    return finding


def gate_for(tree: Path, baseline: ProbeReport, tests: bool = True) -> Gate:
    settings = GateSettings(test_command=SELFTEST if tests else (), test_timeout=60)
    return Gate(tree, baseline, probe_tree, settings)


def config(provider: str, server: ModelServer, **changes: Any) -> LLMConfig:
    base = LLMConfig(
        provider=provider,
        model="test-model",
        url=server.url,
        key_env="PROBE_TEST_KEY",
        timeout=5.0,
        prices={"test-model": Price(3.0, 15.0)},
    )
    return replace(base, **changes)


# -- the two protocols -------------------------------------------------------------------------


def test_anthropic_request_shape_usage_and_cost(server: ModelServer) -> None:
    server.queue(anthropic_message("hello", 1200, 300))
    settings = config("anthropic", server)
    with make_provider(settings, {"PROBE_TEST_KEY": KEY}) as provider:
        completion = provider.complete("system text", "the prompt")
    assert (completion.text, completion.input_tokens, completion.output_tokens) == (
        "hello",
        1200,
        300,
    )
    assert completion.stop_reason == "end_turn"
    assert settings.cost(completion.input_tokens, completion.output_tokens) == pytest.approx(
        1200 * 3 / 1e6 + 300 * 15 / 1e6
    )
    (request,) = server.requests
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert request.body == {
        "model": "test-model",
        "max_tokens": 4096,
        "system": "system text",
        "messages": [{"role": "user", "content": "the prompt"}],
    }


def test_openai_request_shape_with_and_without_key(server: ModelServer) -> None:
    server.queue(openai_chat("first", 50, 7))
    server.queue(openai_chat("second", 60, 8))
    settings = config("openai", server)
    with make_provider(settings, {"PROBE_TEST_KEY": KEY}) as provider:
        first = provider.complete("sys", "p1")
    with make_provider(settings, {}) as provider:  # a local server needs no key
        second = provider.complete("sys", "p2")
    assert (first.text, first.input_tokens, first.output_tokens) == ("first", 50, 7)
    assert (second.text, second.input_tokens, second.output_tokens) == ("second", 60, 8)
    with_key, without_key = server.requests
    assert with_key.path == without_key.path == "/v1/chat/completions"
    assert with_key.headers["authorization"] == f"Bearer {KEY}"
    assert "authorization" not in without_key.headers
    assert with_key.body["model"] == "test-model"
    assert with_key.body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "p1"},
    ]


def test_a_base_url_ending_in_v1_is_not_doubled(server: ModelServer) -> None:
    server.queue(openai_chat("ok", 1, 1))
    settings = LLMConfig(provider="openai", model="m", url=server.url + "/v1/")
    with make_provider(settings, {}) as provider:
        provider.complete("s", "p")
    assert server.requests[0].path == "/v1/chat/completions"


def test_anthropic_needs_its_key_and_a_model() -> None:
    with pytest.raises(ConfigurationError, match="PROBE_TEST_KEY"):
        make_provider(LLMConfig(provider="anthropic", model="m", key_env="PROBE_TEST_KEY"), {})
    with pytest.raises(ConfigurationError, match="no model"):
        LLMConfig(provider="openai", model=" ")
    with pytest.raises(ConfigurationError, match="unknown LLM provider"):
        LLMConfig(provider="bard", model="m")


def test_unknown_price_means_unknown_cost() -> None:
    assert LLMConfig(provider="openai", model="m").cost(1000, 1000) is None


# -- malformed and abusive answers ---------------------------------------------------------------


def test_answer_that_is_not_json(server: ModelServer) -> None:
    server.queue(b"<html>gateway</html>", content_type="text/html")
    with (
        make_provider(config("openai", server), {}) as provider,
        pytest.raises(MalformedDocument, match="not JSON"),
    ):
        provider.complete("s", "p")


def test_answer_of_the_wrong_shape(server: ModelServer) -> None:
    server.queue({"content": "no blocks", "usage": {}})
    server.queue({"choices": []})
    with (
        make_provider(config("anthropic", server), {"PROBE_TEST_KEY": KEY}) as provider,
        pytest.raises(MalformedDocument, match="Messages API"),
    ):
        provider.complete("s", "p")
    with (
        make_provider(config("openai", server), {}) as provider,
        pytest.raises(MalformedDocument, match="no choices"),
    ):
        provider.complete("s", "p")


def test_huge_answer_is_not_read(server: ModelServer) -> None:
    server.queue(openai_chat("x" * 300_000, 1, 1))
    with (
        make_provider(config("openai", server, max_response_bytes=100_000), {}) as provider,
        pytest.raises(LimitExceeded, match="larger than 100,000 bytes"),
    ):
        provider.complete("s", "p")


def test_error_status_shows_the_servers_message(server: ModelServer) -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    server.queue(error, status=529)
    with (
        make_provider(config("anthropic", server), {"PROBE_TEST_KEY": KEY}) as provider,
        pytest.raises(SourceUnavailable, match="HTTP 529: Overloaded"),
    ):
        provider.complete("s", "p")


def test_timeout(server: ModelServer) -> None:
    server.queue(openai_chat("late", 1, 1), delay=30)
    with (
        make_provider(config("openai", server, timeout=0.3), {}) as provider,
        pytest.raises(SourceUnavailable, match=r"did not answer within 0\.3 s"),
    ):
        provider.complete("s", "p")


def test_unreachable_server() -> None:
    settings = LLMConfig(provider="openai", model="m", url="http://127.0.0.1:9", timeout=2)
    with make_provider(settings, {}) as provider, pytest.raises(SourceUnavailable, match="reach"):
        provider.complete("s", "p")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("It is exploitable.", "not one JSON object"),
        ('{"verdict": "pwned", "confidence": 1, "proof_sketch": "x"}', "verdict must be"),
        ('{"verdict": "uncertain", "confidence": 7, "proof_sketch": "x"}', "confidence"),
        ('{"verdict": "uncertain", "confidence": 0.5, "proof_sketch": ""}', "proof_sketch"),
        ("[1, 2]", "not one JSON object"),
        ('{"verdict": "exploitable",', "not valid JSON"),
    ],
)
def test_verdicts_are_read_strictly(text: str, message: str) -> None:
    with pytest.raises(MalformedDocument, match=message):
        parse_verdict(text)


def test_verdict_in_a_fenced_block() -> None:
    verdict = parse_verdict(f"Here you go:\n```json\n{VERDICT}\n```\n")
    assert verdict.verdict == "exploitable"
    assert verdict.confidence == 0.9


# -- the gate -----------------------------------------------------------------------------------


def test_gate_accepts_the_right_patch(tree: Path, baseline: ProbeReport) -> None:
    finding = sqli(baseline)
    result = gate_for(tree, baseline).check(gate_patches.RIGHT, finding)
    assert result.accepted, result.reason
    assert result.tests == "passed"
    assert result.files == ("app.py",)
    assert (
        'cursor.execute("SELECT name, role FROM users WHERE name = \'"'
        in (tree / "app.py").read_text()
    ), "the tree itself is never patched"


def test_gate_reads_diffs_without_a_b_prefixes(tree: Path, baseline: ProbeReport) -> None:
    bare = gate_patches.RIGHT.replace("--- a/app.py", "--- app.py").replace(
        "+++ b/app.py", "+++ app.py"
    )
    result = gate_for(tree, baseline, tests=False).check(bare, sqli(baseline))
    assert result.accepted, result.reason
    assert result.files == ("app.py",)


def test_gate_rejects_a_patch_that_leaves_the_finding(tree: Path, baseline: ProbeReport) -> None:
    result = gate_for(tree, baseline).check(gate_patches.STILL_VULNERABLE, sqli(baseline))
    assert not result.accepted
    assert result.stage == "finding"
    assert "still reported" in result.reason


def test_gate_rejects_a_patch_that_breaks_the_tests(tree: Path, baseline: ProbeReport) -> None:
    result = gate_for(tree, baseline).check(gate_patches.BREAKS_TESTS, sqli(baseline))
    assert not result.accepted
    assert (result.stage, result.tests) == ("tests", "failed")
    assert "alice is found" in result.test_output
    # Without a test command the same patch passes: only the tests catch it.
    lenient = gate_for(tree, baseline, tests=False)
    assert lenient.check(gate_patches.BREAKS_TESTS, sqli(baseline)).accepted


def test_gate_rejects_a_patch_that_adds_a_finding(tree: Path, baseline: ProbeReport) -> None:
    result = gate_for(tree, baseline).check(gate_patches.NEW_FINDING, sqli(baseline))
    assert not result.accepted
    assert result.stage == "new-findings"
    assert "PY-CMDI" in result.reason
    assert len(result.new_findings) == 1


@pytest.mark.parametrize(
    ("diff", "message"),
    [
        (gate_patches.ESCAPING, "escaping the tree"),
        (gate_patches.ABSOLUTE, "outside the tree"),
        (gate_patches.DELETES, "deletes a file"),
        ("diff --git a/app.py b/app.py\nrename from app.py\nrename to x.py\n", "renames"),
        ("diff --git a/.git/config b/.git/config\n", "version-control"),
        ("just some prose", "names no file"),
    ],
)
def test_gate_refuses_diffs_outside_the_tree(
    tree: Path, baseline: ProbeReport, diff: str, message: str
) -> None:
    result = gate_for(tree, baseline).check(diff, sqli(baseline))
    assert not result.accepted
    assert result.stage == "refused"
    assert message in result.reason
    assert not (tree.parent / "outside.py").exists()


def test_gate_refuses_writing_through_a_symlink(tmp_path: Path, tree: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    original = (tree / "app.py").read_text()
    (elsewhere / "app.py").write_text(original)
    (tree / "app.py").unlink()
    (tree / "app.py").symlink_to(elsewhere / "app.py")
    baseline = probe_tree(tree)
    result = gate_for(tree, baseline, tests=False).check(gate_patches.RIGHT, sqli(baseline))
    assert not result.accepted
    assert result.stage == "refused"
    assert "symbolic link" in result.reason
    assert (elsewhere / "app.py").read_text() == original


def test_gate_refuses_changes_off_the_findings_path(tree: Path, baseline: ProbeReport) -> None:
    weaken = (
        "--- a/selftest.py\n+++ b/selftest.py\n@@ -9,4 +9,3 @@\n"
        ' conn.executemany("INSERT INTO users VALUES (?, ?)", [("alice", "admin"), '
        '("bob", "reader")])\n'
        '-assert find_user(conn, "alice") == [("alice", "admin")], "alice is found"\n'
        ' assert find_user(conn, "carol") == [], "nobody else is"\n'
        ' print("selftest: ok")\n'
    )
    for diff in (gate_patches.BREAKS_TESTS + weaken, gate_patches.NEW_FILE):
        result = gate_for(tree, baseline).check(diff, sqli(baseline))
        assert (result.accepted, result.stage) == (False, "refused")
        assert "not a file on the finding's path (app.py)" in result.reason


def test_gate_reports_a_patch_that_does_not_apply(tree: Path, baseline: ProbeReport) -> None:
    result = gate_for(tree, baseline).check(gate_patches.STALE, sqli(baseline))
    assert (result.accepted, result.stage) == (False, "apply")
    assert "does not apply" in result.reason


def test_gate_rejects_a_patch_that_breaks_the_syntax(tree: Path, baseline: ProbeReport) -> None:
    broken = gate_patches.RIGHT.replace('(name,))\n"', '(name,)\n"').replace(
        "(name,))\n", "(name,\n"
    )
    result = gate_for(tree, baseline, tests=False).check(broken, sqli(baseline))
    assert (result.accepted, result.stage) == (False, "analysis")
    assert "app.py" in result.reason


def test_gate_cannot_judge_when_the_tests_fail_already(tree: Path, baseline: ProbeReport) -> None:
    (tree / "selftest.py").write_text("raise SystemExit(3)\n")
    result = gate_for(tree, baseline).check(gate_patches.RIGHT, sqli(baseline))
    assert (result.accepted, result.stage, result.tests) == (False, "tests", "not run")
    assert "without the patch" in result.reason


def test_gate_stops_tests_that_run_too_long(tree: Path, baseline: ProbeReport) -> None:
    (tree / "selftest.py").write_text("import time\n\ntime.sleep(60)\n")
    settings = GateSettings(test_command=SELFTEST, test_timeout=0.5)
    result = Gate(tree, baseline, probe_tree, settings).check(gate_patches.RIGHT, sqli(baseline))
    assert (result.accepted, result.stage) == (False, "tests")
    assert "(timed out)" in result.reason


def test_paths_of_a_diff() -> None:
    assert patched_paths(gate_patches.NEW_FINDING) == ("app.py",)


# -- the reviewer end to end ---------------------------------------------------------------------


def test_review_accepts_a_right_patch_and_logs_everything(
    server: ModelServer, tree: Path, baseline: ProbeReport, tmp_path: Path
) -> None:
    server.queue(anthropic_message(VERDICT, 900, 120))
    server.queue(anthropic_message(f"```diff\n{gate_patches.RIGHT}```\n", 1100, 200))
    run_dir = tmp_path / "run"
    finding = sqli(baseline)
    with make_provider(config("anthropic", server), {"PROBE_TEST_KEY": KEY}) as provider:
        reviewer = Reviewer(provider, gate_for(tree, baseline), run_dir, _reader(tree))
        result = reviewer.review(baseline)
    review = result.reviews[finding.fingerprint]
    assert review.verdict is not None
    assert review.verdict.verdict == "exploitable"
    assert review.gate is not None
    assert review.gate.accepted
    assert (result.calls, result.input_tokens, result.output_tokens) == (2, 2000, 320)
    assert result.cost == pytest.approx((2000 * 3 + 320 * 15) / 1e6)
    assert (run_dir / "patches" / f"{finding.fingerprint}.diff").read_text() == gate_patches.RIGHT
    triage_prompt = server.requests[0].body["messages"][0]["content"]
    assert "CWE-89" in triage_prompt
    assert "route parameter" in triage_prompt  # the source
    assert "cursor.execute" in triage_prompt  # the code
    lines = (run_dir / "transcript.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["task"] for e in entries] == ["triage", "patch"]
    assert entries[0]["prompt"] == triage_prompt
    assert entries[0]["response"] == VERDICT
    assert entries[0]["verdict"]["verdict"] == "exploitable"
    assert (entries[0]["input_tokens"], entries[0]["output_tokens"]) == (900, 120)
    assert entries[1]["cost_usd"] == pytest.approx((1100 * 3 + 200 * 15) / 1e6)
    assert entries[1]["gate"]["accepted"] is True
    assert KEY not in "\n".join(lines)
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700  # the transcript holds source code


def test_review_records_a_rejected_patch_and_goes_on(
    server: ModelServer, tree: Path, baseline: ProbeReport, tmp_path: Path
) -> None:
    server.queue(openai_chat(VERDICT, 10, 10))
    server.queue(openai_chat(gate_patches.ESCAPING, 10, 10))
    with make_provider(config("openai", server), {}) as provider:
        reviewer = Reviewer(provider, gate_for(tree, baseline), tmp_path / "run", _reader(tree))
        result = reviewer.review(baseline)
    review = result.reviews[sqli(baseline).fingerprint]
    assert review.gate is not None
    assert review.gate.stage == "refused"
    assert result.accepted == 0
    assert not (tmp_path / "run" / "patches").exists()


def test_review_survives_bad_answers(
    server: ModelServer, tree: Path, baseline: ProbeReport, tmp_path: Path
) -> None:
    server.queue(openai_chat("I think it is fine.", 5, 5))  # not the JSON verdict
    server.queue(b"not json at all", content_type="text/plain")  # the patch call
    with make_provider(config("openai", server), {}) as provider:
        reviewer = Reviewer(provider, gate_for(tree, baseline), tmp_path / "run", _reader(tree))
        result = reviewer.review(baseline)
    review = result.reviews[sqli(baseline).fingerprint]
    assert review.verdict is None
    assert review.verdict_error is not None
    assert "malformed verdict" in review.verdict_error
    assert review.patch_error is not None
    assert "not JSON" in review.patch_error
    entries = [
        json.loads(x) for x in (tmp_path / "run" / "transcript.jsonl").read_text().splitlines()
    ]
    assert len(entries) == 2
    assert all(e["error"] for e in entries)


def test_review_says_when_an_answer_was_cut_or_refused(
    server: ModelServer, tree: Path, baseline: ProbeReport, tmp_path: Path
) -> None:
    server.queue(openai_chat(VERDICT[:40], 5, 4096, finish_reason="length"))
    server.queue(openai_chat(None, 5, 3, refusal="I can't help with exploits."))
    with make_provider(config("openai", server), {}) as provider:
        reviewer = Reviewer(provider, gate_for(tree, baseline), tmp_path / "run", _reader(tree))
        result = reviewer.review(baseline)
    review = result.reviews[sqli(baseline).fingerprint]
    assert review.verdict_error is not None
    assert "cut at the token limit" in review.verdict_error
    assert review.patch_error is not None
    assert "the model refused: I can't help with exploits." in review.patch_error


def test_review_stops_after_repeated_transport_failures(
    tree: Path, tmp_path: Path, server: ModelServer
) -> None:
    for index in range(3):
        (tree / f"extra{index}.py").write_text((tree / "app.py").read_text())
    baseline = probe_tree(tree)
    assert len(baseline.findings) == 4
    for _ in range(3):
        server.queue({"error": {"message": "down"}}, status=503)
    with make_provider(config("openai", server), {}) as provider:
        reviewer = Reviewer(provider, gate_for(tree, baseline), tmp_path / "run", _reader(tree))
        result = reviewer.review(baseline)
    assert result.stopped is not None
    assert "3 times in a row" in result.stopped
    assert len(server.requests) == 3  # one triage call for each of three findings, then none
    assert result.not_reviewed == 1


def test_review_never_sends_a_file_holding_a_secret(
    server: ModelServer, tree: Path, tmp_path: Path
) -> None:
    source = (tree / "app.py").read_text()
    secret = "AKIA" + "Z7Q4XK2M9PLW3RTB"
    (tree / "app.py").write_text(source + f'\nAWS_KEY = "{secret}"\n')
    baseline = probe_tree(tree, secrets=True)
    assert {f.rule_id for f in baseline.findings} == {"PY-SQLI", "SECRET"}
    with make_provider(config("openai", server), {}) as provider:
        reviewer = Reviewer(provider, gate_for(tree, baseline), tmp_path / "run", _reader(tree))
        result = reviewer.review(baseline)
    assert server.requests == []
    assert "committed secret" in str(result.reviews[sqli(baseline).fingerprint].skipped)


def _reader(tree: Path) -> Callable[[str], str | None]:
    def read(relative: str) -> str | None:
        return (tree / relative).read_text(encoding="utf-8")

    return read
