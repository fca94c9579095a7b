"""The table and JSON forms of a probe report (SARIF is in :mod:`sakimori.probe.sarif`)."""

from __future__ import annotations

import json

from sakimori.probe.findings import CodeFinding, ProbeReport
from sakimori.probe.values import Step


def _step(step: Step) -> dict[str, object]:
    return {
        "path": step.path,
        "line": step.line,
        "column": step.column + 1,
        "end_line": step.end_line,
        "end_column": step.end_column + 1,
        "note": step.note,
    }


def finding_json(finding: CodeFinding) -> dict[str, object]:
    return {
        "rule": finding.rule_id,
        "cwe": f"CWE-{finding.cwe}",
        "severity": finding.rule.severity,
        "message": finding.message,
        "path": finding.path,
        "line": finding.sink.line,
        "function": finding.function,
        "sink": _step(finding.sink),
        "source": _step(finding.source) if finding.source is not None else None,
        "steps": [_step(step) for step in finding.steps],
        "fingerprint": finding.fingerprint,
        "tool": finding.tool,
    }


def render_json(report: ProbeReport) -> bytes:
    document = {
        "root": report.root,
        "files": report.files,
        "lines": report.lines,
        "seconds": round(report.seconds, 3),
        "stopped_early": report.stopped_early,
        "findings": [finding_json(f) for f in report.findings],
        "skipped": [
            {"path": s.path, "reason": s.reason, "partial": s.partial} for s in report.skipped
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def render_table(report: ProbeReport) -> str:
    rows = [("CWE", "RULE", "LOCATION", "SOURCE", "MESSAGE")]
    for finding in report.findings:
        source = (
            f"{finding.source.path}:{finding.source.line}" if finding.source is not None else "-"
        )
        rows.append(
            (
                f"CWE-{finding.cwe}",
                finding.rule_id,
                f"{finding.path}:{finding.sink.line}",
                source,
                finding.message,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        for row in rows
    ]
    lines.append("")
    lines.append(
        f"{len(report.findings)} finding(s) in {report.files} file(s), {report.lines} lines, "
        f"{report.seconds:.2f} s"
    )
    for skipped in report.skipped:
        lines.append(f"skipped {skipped.path}: {skipped.reason}")
    if report.stopped_early:
        lines.append(f"stopped early: {report.stopped_early}")
    return "\n".join(lines) + "\n"
