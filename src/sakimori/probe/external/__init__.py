"""External analysers run beside the engine when installed, their results merged.

Each analyser (:mod:`.bandit`, :mod:`.semgrep`) implements :class:`.interface.Analyser`: it says
whether it can run here and, if so, returns probe findings. :func:`run_external` runs the chosen
ones over the tree and merges their findings into the report: a finding at the same file, with
overlapping lines and the same weakness (CWE, or a CWE of the same family) as one already
reported is folded into it (``also`` names the other tools); the others are added. An analyser
that is not installed, or fails, is named in a note; the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sakimori.errors import SakimoriError
from sakimori.probe.external.interface import Analyser
from sakimori.probe.findings import CodeFinding, ProbeReport

logger = logging.getLogger(__name__)

#: CWEs that name the same weakness as far as de-duplication goes.
_FAMILY = {327: 328, 338: 330, 259: 798, 321: 798, 77: 78}


def _family(cwe: int) -> int:
    return _FAMILY.get(cwe, cwe)


def _lines(finding: CodeFinding) -> range:
    return range(finding.sink.line, max(finding.sink.end_line, finding.sink.line) + 1)


def same_weakness(a: CodeFinding, b: CodeFinding) -> bool:
    """Same file, overlapping lines, same CWE family."""
    if a.path != b.path or _family(a.cwe) != _family(b.cwe):
        return False
    first, second = _lines(a), _lines(b)
    return first.start < second.stop and second.start < first.stop


def merge(findings: list[CodeFinding], extra: Sequence[CodeFinding]) -> list[CodeFinding]:
    """``findings`` with ``extra`` folded in: duplicates noted on the first report, others added."""
    merged = list(findings)
    seen = {f.fingerprint for f in merged}
    for finding in extra:
        if finding.fingerprint in seen:
            continue
        for index, known in enumerate(merged):
            if same_weakness(known, finding):
                if finding.tool != known.tool and finding.tool not in known.also:
                    merged[index] = replace(known, also=(*known.also, finding.tool))
                break
        else:
            merged.append(finding)
            seen.add(finding.fingerprint)
    return merged


def run_external(
    root: Path,
    report: ProbeReport,
    *,
    bandit: bool = True,
    semgrep_rules: Sequence[Path] = (),
    timeout: float = 600.0,
) -> None:
    """Run Bandit (when asked and installed) and Semgrep (when rules are given and it is
    installed) over ``root``, merging their findings into ``report``."""
    from sakimori.probe.external.bandit import BanditAnalyser
    from sakimori.probe.external.semgrep import SemgrepAnalyser

    analysers: list[Analyser] = []
    if bandit:
        analysers.append(BanditAnalyser(timeout=timeout))
    if semgrep_rules:
        analysers.append(SemgrepAnalyser(semgrep_rules, timeout=timeout))
    for analyser in analysers:
        missing = analyser.unavailable()
        if missing is not None:
            report.notes.append(f"{analyser.name}: {missing}; its checks were not run")
            continue
        try:
            found = analyser.run(root)
        except SakimoriError as exc:
            report.notes.append(f"{analyser.name}: failed: {exc.diagnostics()}")
            continue
        report.tools.append(analyser.name)
        before = len(report.findings)
        report.findings = sorted(
            merge(report.findings, found),
            key=lambda f: (f.path, f.sink.line, f.sink.column, f.rule_id),
        )
        logger.info(
            "%s: %d finding(s), %d new", analyser.name, len(found), len(report.findings) - before
        )
