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
    #: Other analysers that reported the same weakness at the same place (de-duplicated).
    also: tuple[str, ...] = ()
    #: The rule of an external analyser's finding (Bandit), when it is not one of ours.
    external_rule: Rule | None = None

    @property
    def rule(self) -> Rule:
        return self.external_rule or BY_ID[self.rule_id]


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


@dataclass(frozen=True)
class DependencyFinding:
    """A known vulnerability of a package pinned in a lockfile or manifest of the tree."""

    vulnerability: str
    aliases: tuple[str, ...]
    ecosystem: str
    package: str
    version: str
    fixed: tuple[str, ...]
    score: float | None
    rating: str
    kev: bool
    summary: str
    path: str  # the lockfile, relative to the scanned root
    line: int  # where the package is pinned (1 when it cannot be told)
    decision: str | None = None


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
    dependencies: list[DependencyFinding] = field(default_factory=list)
    #: What the run could not do or chose not to (no intel loaded, an analyser not installed).
    notes: list[str] = field(default_factory=list)
    #: The LLM reviewer's output per finding fingerprint, and its run summary.
    reviews: dict[str, dict[str, object]] = field(default_factory=dict)
    llm: dict[str, object] | None = None
