"""The table and JSON forms of a probe report (SARIF is in :mod:`sakimori.probe.sarif`)."""

from __future__ import annotations

import json

from sakimori.probe.findings import CodeFinding, DependencyFinding, ProbeReport
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


def finding_json(
    finding: CodeFinding, review: dict[str, object] | None = None
) -> dict[str, object]:
    document: dict[str, object] = {
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
        "also_reported_by": list(finding.also),
    }
    if review is not None:
        document["review"] = review
    return document


def dependency_json(finding: DependencyFinding) -> dict[str, object]:
    return {
        "vulnerability": finding.vulnerability,
        "aliases": list(finding.aliases),
        "ecosystem": finding.ecosystem,
        "package": finding.package,
        "version": finding.version,
        "fixed": list(finding.fixed),
        "score": finding.score,
        "rating": finding.rating,
        "kev": finding.kev,
        "summary": finding.summary,
        "path": finding.path,
        "line": finding.line,
        "decision": finding.decision,
    }


def render_json(report: ProbeReport) -> bytes:
    document = {
        "root": report.root,
        "files": report.files,
        "lines": report.lines,
        "seconds": round(report.seconds, 3),
        "stopped_early": report.stopped_early,
        "tools": report.tools,
        "findings": [finding_json(f, report.reviews.get(f.fingerprint)) for f in report.findings],
        "dependencies": [dependency_json(d) for d in report.dependencies],
        "skipped": [
            {"path": s.path, "reason": s.reason, "partial": s.partial} for s in report.skipped
        ],
        "notes": report.notes,
        "llm": report.llm,
    }
    return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1]
        for row in rows
    ]


def _review_line(review: dict[str, object]) -> str | None:
    parts: list[str] = []
    verdict = review.get("verdict")
    if isinstance(verdict, dict):
        parts.append(f"reviewer says {verdict['verdict']} (advice, not verified)")
    gate = review.get("gate")
    if isinstance(gate, dict):
        outcome = "patch accepted" if gate["accepted"] else "patch rejected"
        parts.append(f"{outcome}: {gate['reason']}")
        if review.get("patch_file"):
            parts.append(f"patch in {review['patch_file']}")
    for key in ("verdict_error", "patch_error", "skipped"):
        if review.get(key):
            parts.append(str(review[key]))
    return "; ".join(parts) or None


def render_table(report: ProbeReport) -> str:
    rows: list[tuple[str, ...]] = [("CWE", "RULE", "LOCATION", "SOURCE", "MESSAGE")]
    reviews: list[str] = []
    for finding in report.findings:
        source = (
            f"{finding.source.path}:{finding.source.line}" if finding.source is not None else "-"
        )
        tools = ", ".join((finding.tool, *finding.also))
        suffix = f" [{tools}]" if finding.also or finding.tool != "sakimori" else ""
        rows.append(
            (
                f"CWE-{finding.cwe}",
                finding.rule_id,
                f"{finding.path}:{finding.sink.line}",
                source,
                finding.message + suffix,
            )
        )
        review = report.reviews.get(finding.fingerprint)
        line = _review_line(review) if review is not None else None
        if line:
            reviews.append(f"  {finding.path}:{finding.sink.line} {finding.rule_id}: {line}")
    lines = _columns(rows)
    lines.append("")
    lines.append(
        f"{len(report.findings)} finding(s) in {report.files} file(s), {report.lines} lines, "
        f"{report.seconds:.2f} s"
    )
    if report.dependencies:
        lines.append("")
        deps: list[tuple[str, ...]] = [("VULNERABILITY", "PACKAGE", "LOCATION", "FIXED", "SUMMARY")]
        for dep in report.dependencies:
            deps.append(
                (
                    dep.vulnerability + (" (KEV)" if dep.kev else ""),
                    f"{dep.ecosystem}/{dep.package}@{dep.version}",
                    f"{dep.path}:{dep.line}",
                    ", ".join(dep.fixed) or "-",
                    dep.summary,
                )
            )
        lines.extend(_columns(deps))
        lines.append(f"{len(report.dependencies)} vulnerable dependency finding(s)")
    if reviews:
        lines.append("")
        lines.append("LLM review:")
        lines.extend(reviews)
    if report.llm is not None:
        cost = report.llm.get("cost_usd")
        lines.append(
            f"LLM: {report.llm['provider']} {report.llm['model']}, {report.llm['calls']} "
            f"call(s), {report.llm['input_tokens']} input / {report.llm['output_tokens']} output "
            f"tokens, cost {'unknown (no price set)' if cost is None else f'${cost:.4f}'}, "
            f"{report.llm['patches_accepted']} patch(es) accepted; transcript "
            f"{report.llm['transcript']}"
        )
        if report.llm.get("stopped"):
            lines.append(f"LLM review stopped: {report.llm['stopped']}")
    for note in report.notes:
        lines.append(f"note: {note}")
    for skipped in report.skipped:
        lines.append(f"skipped {skipped.path}: {skipped.reason}")
    if report.stopped_early:
        lines.append(f"stopped early: {report.stopped_early}")
    return "\n".join(lines) + "\n"
