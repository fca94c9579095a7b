"""Prompts built from a finding, and strict readers of the model's answers.

Two tasks per finding:

* **triage**: argue whether the finding is exploitable, answering with exactly one JSON object
  ``{"verdict": "exploitable" | "not_exploitable" | "uncertain", "confidence": 0.0-1.0,
  "proof_sketch": "...", "preconditions": ["..."]}``. Anything else (prose around it is tolerated
  only inside a fenced ``json`` block) is rejected with a clear reason;
* **patch**: propose the smallest fix as a unified diff against the file, paths relative to the
  tree's root with ``a/`` and ``b/`` prefixes, in one fenced ``diff`` block.

The code sent is the sink's file (with line numbers in the triage prompt, verbatim in the patch
prompt so that the diff's context lines can match), cut to :data:`MAX_FILE_CHARS`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sakimori.errors import MalformedDocument
from sakimori.probe.findings import CodeFinding

MAX_FILE_CHARS = 40_000
#: Lines of context around the sink when the file is too long to send whole.
EXCERPT_LINES = 60
VERDICTS = ("exploitable", "not_exploitable", "uncertain")

SYSTEM = (
    "You are a senior application-security reviewer helping a defender fix their own code. "
    "A deterministic static analyser reported the finding below. Be precise and brief. "
    "Your answers are checked by machine: follow the requested output format exactly."
)

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The model's argued opinion on a finding: advice, never a decision."""

    verdict: str
    confidence: float
    proof_sketch: str
    preconditions: tuple[str, ...] = ()


def describe(finding: CodeFinding) -> str:
    """The finding as the prompts state it: rule, CWE, message, source, path and sink."""
    lines = [
        f"Rule: {finding.rule_id} ({finding.rule.short}), CWE-{finding.cwe}",
        f"Message: {finding.message}",
        f"File: {finding.path}, function {finding.function or '(module level)'}",
        f"Sink: {finding.sink.path}:{finding.sink.line} ({finding.sink.note})",
    ]
    if finding.source is not None:
        lines.append(f"Source: {finding.source.path}:{finding.source.line} ({finding.source.note})")
    for step in finding.steps:
        lines.append(f"  via {step.path}:{step.line}: {step.note}")
    return "\n".join(lines)


def excerpt(text: str, line: int, *, numbered: bool) -> tuple[str, int]:
    """The file (or the lines around ``line`` when it is long) and its first line's number."""
    lines = text.splitlines()
    first, last = 1, len(lines)
    if len(text) > MAX_FILE_CHARS:
        first = max(1, line - EXCERPT_LINES)
        last = min(len(lines), line + EXCERPT_LINES)
    chosen = lines[first - 1 : last]
    if numbered:
        chosen = [f"{first + i:5d}| {content}" for i, content in enumerate(chosen)]
    return "\n".join(chosen)[: MAX_FILE_CHARS + 2000], first


def triage_prompt(finding: CodeFinding, source_text: str) -> str:
    code, first = excerpt(source_text, finding.sink.line, numbered=True)
    return (
        "Decide whether this finding is exploitable by a remote attacker.\n\n"
        f"{describe(finding)}\n\n"
        f"Code of {finding.path} (from line {first}, numbered):\n```python\n{code}\n```\n\n"
        "Answer with exactly one JSON object and nothing else, of this shape:\n"
        '{"verdict": "exploitable" | "not_exploitable" | "uncertain", '
        '"confidence": <number from 0 to 1>, '
        '"proof_sketch": "<how an attacker triggers it, with an example input; or why they '
        'cannot>", "preconditions": ["<what must hold>", ...]}'
    )


def patch_prompt(finding: CodeFinding, source_text: str) -> str:
    code, first = excerpt(source_text, finding.sink.line, numbered=False)
    return (
        "Propose the smallest change that removes this weakness without changing what the "
        "code does for legitimate input.\n\n"
        f"{describe(finding)}\n\n"
        f"Content of {finding.path} (verbatim, from line {first}):\n```python\n{code}\n```\n\n"
        "Answer with one unified diff in a ```diff fenced block and nothing else. Use the "
        f"paths a/{finding.path} and b/{finding.path}, correct @@ line numbers, and at least "
        "three unchanged context lines around each change. Change no other file unless the "
        "fix needs it, never delete or rename files."
    )


def parse_verdict(text: str) -> Verdict:
    """The strict JSON verdict; MalformedDocument explaining what is wrong otherwise."""
    body = text.strip()
    if not body.startswith("{"):
        fenced = [content for lang, content in _FENCE.findall(body) if lang in ("json", "")]
        if len(fenced) != 1:
            raise MalformedDocument("the verdict is not one JSON object")
        body = fenced[0].strip()
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedDocument(f"the verdict is not valid JSON: {exc.msg}") from None
    if not isinstance(document, dict):
        raise MalformedDocument("the verdict is not a JSON object")
    verdict = document.get("verdict")
    if verdict not in VERDICTS:
        raise MalformedDocument(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    confidence = document.get("confidence")
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0 <= confidence <= 1
    ):
        raise MalformedDocument("confidence must be a number from 0 to 1")
    sketch = document.get("proof_sketch")
    if not isinstance(sketch, str) or not sketch.strip():
        raise MalformedDocument("proof_sketch must be a non-empty text")
    preconditions = document.get("preconditions", [])
    if not isinstance(preconditions, list) or not all(isinstance(p, str) for p in preconditions):
        raise MalformedDocument("preconditions must be a list of texts")
    return Verdict(str(verdict), float(confidence), sketch.strip(), tuple(preconditions))


def extract_diff(text: str) -> str:
    """The unified diff of an answer: its one fenced ``diff`` block, or the bare diff."""
    blocks = [c for lang, c in _FENCE.findall(text) if lang in ("diff", "patch", "udiff", "")]
    candidates = [c for c in blocks if re.search(r"^(---|diff --git) ", c, re.MULTILINE)]
    if len(candidates) > 1:
        raise MalformedDocument("the answer holds more than one diff block")
    if candidates:
        diff = str(candidates[0])
    else:
        match = re.search(r"^(---|diff --git) ", text, re.MULTILINE)
        if match is None:
            raise MalformedDocument("the answer holds no unified diff")
        diff = text[match.start() :]
    return diff if diff.endswith("\n") else diff + "\n"
