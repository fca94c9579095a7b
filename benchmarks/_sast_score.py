"""Scoring helpers for the SAST benchmark: flagged files per tool, from our report and Bandit's.

The scoring itself (per-category TPR/FPR, the OWASP score) is ``sakimori.probe.scoring``, tested in
tests/probe; this module only turns each tool's output into ``{file: {cwe, ...}}``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any


def flagged_by_probe(report: Any) -> dict[str, set[int]]:
    """Files a finding is on or whose source-to-sink path passes through, with its CWE."""
    flagged: dict[str, set[int]] = defaultdict(set)
    for finding in report.findings:
        paths = {finding.path, *(step.path for step in finding.steps)}
        if finding.source is not None:
            paths.add(finding.source.path)
        for path in paths:
            flagged[path].add(finding.cwe)
    return dict(flagged)


def flagged_by_bandit(document: dict[str, Any], root: Path) -> dict[str, set[int]]:
    """Bandit's JSON report as files (relative to ``root``) with the CWEs Bandit assigned."""
    flagged: dict[str, set[int]] = defaultdict(set)
    for result in document.get("results", []):
        path = Path(result["filename"]).resolve().relative_to(root.resolve()).as_posix()
        cwe = (result.get("issue_cwe") or {}).get("id")
        flagged[path].add(int(cwe) if cwe else 0)
    return dict(flagged)


def load_bandit(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_bytes())
    return document
