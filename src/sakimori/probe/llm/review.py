"""Run the LLM reviewer over a probe report: triage each finding, propose a patch, gate it.

For each finding (most severe first, at most ``max_findings``): one **triage** call (a verdict
with a proof sketch, shown as advice and never used to drop a finding), then, unless the verdict
is ``not_exploitable``, one **patch** call whose diff goes through the gate
(:class:`sakimori.probe.gate.Gate`).
Every call is appended to ``transcript.jsonl`` in the run directory (prompt, response, tokens,
cost, verdict, gate result; never the API key); accepted patches are written to
``patches/<fingerprint>.diff`` there.

A failing call (server unreachable, timeout, malformed or oversized answer, a diff that does not
apply or escapes the tree) is recorded with its reason and the review goes on; after
:data:`MAX_CONSECUTIVE_FAILURES` transport failures in a row the review stops, saying so.
Findings of committed secrets are never reviewed, and a file holding one is never sent.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sakimori.errors import SakimoriError, SourceUnavailable
from sakimori.probe.findings import CodeFinding, ProbeReport
from sakimori.probe.gate import Gate, GateResult
from sakimori.probe.llm import prompts
from sakimori.probe.llm.interface import Completion, Provider
from sakimori.probe.llm.prompts import Verdict

logger = logging.getLogger(__name__)

MAX_CONSECUTIVE_FAILURES = 3
#: Characters of a response kept in the transcript (answers are already bounded in bytes).
MAX_LOGGED_RESPONSE = 200_000

ReadText = Callable[[str], str | None]
_USERINFO = re.compile(r"://[^/?#]*@")


@dataclass(slots=True)
class FindingReview:
    """What the reviewer said about one finding, and what the gate made of its patch."""

    fingerprint: str
    verdict: Verdict | None = None
    verdict_error: str | None = None
    patch: str | None = None
    patch_error: str | None = None
    gate: GateResult | None = None
    skipped: str | None = None
    #: Where an accepted patch was written.
    patch_file: Path | None = None

    def as_json(self) -> dict[str, object]:
        verdict = self.verdict
        return {
            "verdict": None
            if verdict is None
            else {
                "verdict": verdict.verdict,
                "confidence": verdict.confidence,
                "proof_sketch": verdict.proof_sketch,
                "preconditions": list(verdict.preconditions),
                "status": "advice (not verified)",
            },
            "verdict_error": self.verdict_error,
            "patch_error": self.patch_error,
            "gate": None if self.gate is None else self.gate.as_json(),
            "patch_file": None if self.patch_file is None else str(self.patch_file),
            "skipped": self.skipped,
        }


@dataclass(slots=True)
class ReviewReport:
    """The reviewer's run: per-finding reviews, usage and cost, where the transcript is."""

    provider: str
    model: str
    transcript: Path
    reviews: dict[str, FindingReview] = field(default_factory=dict)
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = 0.0
    not_reviewed: int = 0
    stopped: str | None = None

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.reviews.values() if r.gate is not None and r.gate.accepted)

    def as_json(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "model": self.model,
            "transcript": str(self.transcript),
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": None if self.cost is None else round(self.cost, 6),
            "patches_accepted": self.accepted,
            "not_reviewed": self.not_reviewed,
            "stopped": self.stopped,
        }


class Reviewer:
    """Asks one provider about the findings of one report, gating every patch."""

    def __init__(
        self,
        provider: Provider,
        gate: Gate,
        run_dir: Path,
        read_text: ReadText,
        *,
        max_findings: int = 20,
        propose_patches: bool = True,
    ) -> None:
        self.provider = provider
        self.gate = gate
        self.run_dir = run_dir
        self.read_text = read_text
        self.max_findings = max_findings
        self.propose_patches = propose_patches
        self._failures = 0

    def review(self, report: ProbeReport) -> ReviewReport:
        # The transcript holds source code: readable by its owner only.
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = self.provider.config
        result = ReviewReport(config.provider, config.model, self.run_dir / "transcript.jsonl")
        secret_files = {f.path for f in report.findings if f.rule_id == "SECRET"}
        candidates = sorted(
            (f for f in report.findings if f.rule_id != "SECRET" and f.tool == "sakimori"),
            key=lambda f: (-f.rule.severity, f.path, f.sink.line),
        )
        result.not_reviewed = max(0, len(candidates) - self.max_findings)
        with result.transcript.open("a", encoding="utf-8") as log:
            for finding in candidates[: self.max_findings]:
                if self._failures >= MAX_CONSECUTIVE_FAILURES:
                    result.stopped = (
                        f"the model server failed {self._failures} times in a row; "
                        "later findings were not reviewed"
                    )
                    result.not_reviewed += 1
                    continue
                review = result.reviews[finding.fingerprint] = FindingReview(finding.fingerprint)
                text = None if finding.path in secret_files else self.read_text(finding.path)
                if text is None:
                    review.skipped = (
                        "the file holds a committed secret and is not sent to the model"
                        if finding.path in secret_files
                        else "the file cannot be read"
                    )
                    continue
                self._review_one(finding, text, review, result, log)
        return result

    def _review_one(
        self,
        finding: CodeFinding,
        text: str,
        review: FindingReview,
        result: ReviewReport,
        log: TextIO,
    ) -> None:
        prompt = prompts.triage_prompt(finding, text)
        completion, error = self._call(prompt, result)
        entry = self._entry(finding, "triage", prompt, completion, error)
        if completion is not None:
            try:
                review.verdict = prompts.parse_verdict(completion.text)
                entry["verdict"] = review.as_json()["verdict"]
            except SakimoriError as exc:
                review.verdict_error = entry["error"] = (
                    f"malformed verdict: {exc.message}{_cut(completion)}"
                )
        else:
            review.verdict_error = error
            _write(log, entry)
            return
        _write(log, entry)
        if not self.propose_patches or (
            review.verdict is not None and review.verdict.verdict == "not_exploitable"
        ):
            return
        prompt = prompts.patch_prompt(finding, text)
        completion, error = self._call(prompt, result)
        entry = self._entry(finding, "patch", prompt, completion, error)
        if completion is None:
            review.patch_error = error
            _write(log, entry)
            return
        try:
            review.patch = prompts.extract_diff(completion.text)
        except SakimoriError as exc:
            review.patch_error = entry["error"] = f"no usable diff: {exc.message}{_cut(completion)}"
            _write(log, entry)
            return
        review.gate = self.gate.check(review.patch, finding)
        entry["gate"] = review.gate.as_json()
        if review.gate.accepted:
            patches = self.run_dir / "patches"
            patches.mkdir(exist_ok=True, mode=0o700)
            review.patch_file = patches / f"{finding.fingerprint}.diff"
            review.patch_file.write_text(review.patch, encoding="utf-8")
        _write(log, entry)

    def _call(self, prompt: str, result: ReviewReport) -> tuple[Completion | None, str | None]:
        started = time.monotonic()
        try:
            completion = self.provider.complete(prompts.SYSTEM, prompt)
        except SourceUnavailable as exc:
            self._failures += 1
            return None, exc.diagnostics()
        except SakimoriError as exc:
            self._failures = 0
            return None, exc.diagnostics()
        finally:
            logger.info("LLM call took %.1f s", time.monotonic() - started)
        self._failures = 0
        result.calls += 1
        result.input_tokens += completion.input_tokens
        result.output_tokens += completion.output_tokens
        cost = self.provider.config.cost(completion.input_tokens, completion.output_tokens)
        result.cost = None if cost is None or result.cost is None else result.cost + cost
        return completion, None

    def _entry(
        self,
        finding: CodeFinding,
        task: str,
        prompt: str,
        completion: Completion | None,
        error: str | None,
    ) -> dict[str, Any]:
        config = self.provider.config
        entry: dict[str, Any] = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "task": task,
            "finding": finding.fingerprint,
            "rule": finding.rule_id,
            "location": f"{finding.path}:{finding.sink.line}",
            "provider": config.provider,
            "url": _USERINFO.sub("://", config.base_url),
            "model": config.model,
            "system": prompts.SYSTEM,
            "prompt": prompt,
            "response": None,
            "input_tokens": None,
            "output_tokens": None,
            "cost_usd": None,
            "error": error,
        }
        if completion is not None:
            entry.update(
                response=completion.text[:MAX_LOGGED_RESPONSE],
                response_model=completion.model,
                stop_reason=completion.stop_reason,
                input_tokens=completion.input_tokens,
                output_tokens=completion.output_tokens,
                cost_usd=config.cost(completion.input_tokens, completion.output_tokens),
            )
        return entry


def _cut(completion: Completion) -> str:
    """A hint when the answer stopped at the token limit (and so is likely incomplete)."""
    if completion.stop_reason in ("max_tokens", "length"):
        return " (the answer was cut at the token limit; raise max_tokens in [probe.llm])"
    return ""


def _write(log: TextIO, entry: dict[str, Any]) -> None:
    log.write(json.dumps(entry, ensure_ascii=False) + "\n")
    log.flush()
