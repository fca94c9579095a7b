"""Scoring of a static analyser against labelled test files (the OWASP Benchmark method).

A test file is *flagged* in a category when a finding on it (or whose path passes through it)
carries the category's CWE (strict) or any CWE of the same family (lenient). Per category the
true-positive rate minus the false-positive rate is Youden's index; the OWASP score is its mean
over categories, times 100.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

#: Families for lenient scoring: CWEs that tools commonly report for the same flaw.
FAMILIES: dict[int, frozenset[int]] = {
    22: frozenset({22, 23, 36, 73, 99}),
    78: frozenset({78, 77, 88}),
    79: frozenset({79, 80, 83, 116}),
    89: frozenset({89, 564, 943}),
    643: frozenset({643, 91}),
    90: frozenset({90}),
    94: frozenset({94, 95, 1336}),
    327: frozenset({327, 328, 916}),
    328: frozenset({327, 328, 916}),
    330: frozenset({330, 338}),
    501: frozenset({501}),
    502: frozenset({502}),
    601: frozenset({601}),
    611: frozenset({611, 776}),
    614: frozenset({614, 1004}),
}


@dataclass(frozen=True)
class Case:
    path: str  # relative, forward slashes
    cwe: int
    vulnerable: bool


@dataclass(frozen=True)
class CategoryScore:
    cwe: int
    tp: int
    fn: int
    tn: int
    fp: int

    @property
    def tpr(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def fpr(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    @property
    def score(self) -> float:
        return (self.tpr - self.fpr) * 100


def load_truth(path: Path) -> list[Case]:
    """Cases from a ground-truth SARIF file (``kind`` fail: vulnerable; pass: safe)."""
    document = json.loads(path.read_bytes())
    cases = []
    for run in document.get("runs", []):
        for result in run.get("results", []):
            rule = str(result.get("ruleId", ""))
            if not rule.upper().startswith("CWE-"):
                continue
            uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            cases.append(Case(uri, int(rule[4:]), result.get("kind") == "fail"))
    return cases


def score(
    cases: Iterable[Case], flagged: Mapping[str, set[int]], *, lenient: bool = False
) -> dict[int, CategoryScore]:
    """Per-category confusion counts; ``flagged`` maps a file to the CWEs reported on it."""
    counts: dict[int, list[int]] = {}
    for case in cases:
        wanted = FAMILIES.get(case.cwe, frozenset({case.cwe})) if lenient else {case.cwe}
        hit = bool(flagged.get(case.path, set()) & wanted)
        row = counts.setdefault(case.cwe, [0, 0, 0, 0])
        if case.vulnerable:
            row[0 if hit else 1] += 1
        else:
            row[3 if hit else 2] += 1
    return {cwe: CategoryScore(cwe, *row) for cwe, row in sorted(counts.items())}


def owasp_score(categories: Mapping[int, CategoryScore]) -> float:
    """Mean over categories of (TPR - FPR), times 100."""
    if not categories:
        return 0.0
    return sum(c.score for c in categories.values()) / len(categories)


def recall(expected: Mapping[str, int], flagged: Mapping[str, set[int]], *, exact: bool) -> float:
    """Share of positive files flagged at all (``exact``: with the expected CWE's family)."""
    if not expected:
        return 0.0
    hits = 0
    for path, cwe in expected.items():
        found = flagged.get(path, set())
        if exact:
            hits += bool(found & FAMILIES.get(cwe, frozenset({cwe})))
        else:
            hits += bool(found)
    return hits / len(expected)
