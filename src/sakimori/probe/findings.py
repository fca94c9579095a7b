"""What ``sakimori probe`` reports: code findings, skipped files, and the run's summary."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sakimori.probe.rules import BY_ID, Rule
from sakimori.probe.values import Step


@dataclass(frozen=True)
class CodeFinding:
    """One weakness in one place, with the path from the source to the sink.

    ``fingerprint`` does not depend on line numbers: it hashes the file, the rule, the enclosing
    function, the normalised sink expression and the source, so that a finding keeps its identity
    when code above it moves.
    """

    rule_id: str
    cwe: int
    message: str
    path: str  # relative to the scanned root, with forward slashes
    sink: Step
    source: Step | None
    steps: tuple[Step, ...]
    function: str
    sink_expression: str
    source_kind: str
    fingerprint: str
    tool: str = "sakimori"

    @property
    def rule(self) -> Rule:
        return BY_ID[self.rule_id]


def fingerprint(
    path: str, rule_id: str, function: str, sink_expression: str, source_kind: str
) -> str:
    text = "\x1f".join((path, rule_id, function, " ".join(sink_expression.split()), source_kind))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Skipped:
    """A file not analysed (or analysed in part), and why."""

    path: str
    reason: str
    partial: bool = False


@dataclass
class ProbeReport:
    """Everything one run found, skipped, and whether it stopped early."""

    root: str
    findings: list[CodeFinding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files: int = 0
    lines: int = 0
    seconds: float = 0.0
    stopped_early: str | None = None
    tools: list[str] = field(default_factory=lambda: ["sakimori"])
