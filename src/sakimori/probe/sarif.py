"""SARIF 2.1.0 output of ``sakimori probe``, as code-scanning services read it.

Columns are in UTF-16 code units (SARIF's default ``columnKind``), 1-based; Python's ``ast`` gives
0-based UTF-8 byte offsets, converted here from the source line. Each result carries
``partialFingerprints.primaryLocationLineHash``, computed by us: a hash of the sink line's text
with whitespace removed, and the occurrence of that text in the file (``<hash>:<n>``), so that a
result keeps its identity when lines move.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from sakimori import __version__
from sakimori.probe.findings import CodeFinding, DependencyFinding, ProbeReport
from sakimori.probe.rules import RULES, Rule
from sakimori.probe.values import Step

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/sakimori/sakimori"

LineReader = Callable[[str], list[str]]


def _level(rule: Rule) -> str:
    if rule.severity >= 7.0:
        return "error"
    if rule.severity >= 4.0:
        return "warning"
    return "note"


def _rule(rule: Rule) -> dict[str, object]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.short},
        "fullDescription": {"text": rule.full},
        "help": {"text": rule.help, "markdown": rule.help},
        "defaultConfiguration": {"level": _level(rule)},
        "properties": {
            "security-severity": f"{rule.severity:.1f}",
            "tags": ["security", f"external/cwe/cwe-{rule.cwe}"] if rule.cwe else ["security"],
            "precision": "high" if rule.taint else "medium",
        },
    }


def utf16_column(line: str, byte_offset: int) -> int:
    """1-based UTF-16 column of a 0-based UTF-8 byte offset into ``line``."""
    prefix = line.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore")
    return len(prefix.encode("utf-16-le")) // 2 + 1


def _region(step: Step, lines: list[str]) -> dict[str, int]:
    first = lines[step.line - 1] if 0 < step.line <= len(lines) else ""
    last = lines[step.end_line - 1] if 0 < step.end_line <= len(lines) else ""
    start = utf16_column(first, step.column)
    end = utf16_column(last, step.end_column)
    if step.end_line == step.line and end <= start:
        end = start + 1
    return {
        "startLine": step.line,
        "startColumn": start,
        "endLine": max(step.end_line, step.line),
        "endColumn": end,
    }


def _location(step: Step, lines: list[str], message: str | None = None) -> dict[str, object]:
    location: dict[str, object] = {
        "physicalLocation": {
            "artifactLocation": {"uri": step.path, "uriBaseId": "%SRCROOT%"},
            "region": _region(step, lines),
        }
    }
    if message:
        location["message"] = {"text": message}
    return location


def line_hash(lines: list[str], line_number: int) -> str:
    """``primaryLocationLineHash``: the sink line without whitespace, and its occurrence."""

    def normal(text: str) -> str:
        return "".join(text.split())

    text = normal(lines[line_number - 1]) if 0 < line_number <= len(lines) else ""
    occurrence = sum(1 for line in lines[: line_number - 1] if normal(line) == text) + 1
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return f"{digest}:{occurrence}"


def _result(
    finding: CodeFinding,
    read: LineReader,
    index: dict[str, int],
    review: dict[str, object] | None = None,
) -> dict[str, object]:
    lines = read(finding.path)
    properties: dict[str, object] = {"cwe": f"CWE-{finding.cwe}", "tool": finding.tool}
    if review is not None:
        properties["sakimori/llmReview"] = review
    if finding.also:
        properties["alsoReportedBy"] = list(finding.also)
    result: dict[str, object] = {
        "ruleId": finding.rule_id,
        "ruleIndex": index[finding.rule_id],
        "level": _level(finding.rule),
        "message": {"text": finding.message},
        "locations": [_location(finding.sink, lines)],
        "partialFingerprints": {"primaryLocationLineHash": line_hash(lines, finding.sink.line)},
        "fingerprints": {"sakimori/v1": finding.fingerprint},
        "properties": properties,
    }
    if finding.source is not None:
        flow_steps = [finding.source, *finding.steps, finding.sink]
        result["codeFlows"] = [
            {
                "threadFlows": [
                    {
                        "locations": [
                            {"location": _location(step, read(step.path), step.note)}
                            for step in flow_steps
                        ]
                    }
                ]
            }
        ]
        result["relatedLocations"] = [
            {"id": 1, **_location(finding.source, read(finding.source.path), "source")}
        ]
    return result


_DEPENDENCY_SEVERITY = {"critical": 9.5, "high": 8.0, "medium": 5.5, "low": 2.5}


def _dependency_rule(finding: DependencyFinding) -> dict[str, object]:
    """One rule per vulnerability id, as code-scanning services show dependency alerts."""
    score = finding.score
    if score is None:
        score = _DEPENDENCY_SEVERITY.get(finding.rating, 5.0)
    summary = finding.summary or finding.vulnerability
    aliases = f" (also {', '.join(finding.aliases)})" if finding.aliases else ""
    level = "error" if score >= 7.0 else "warning" if score >= 4.0 else "note"
    return {
        "id": finding.vulnerability,
        "name": "vulnerable-dependency",
        "shortDescription": {"text": summary[:200]},
        "fullDescription": {"text": f"{finding.vulnerability}{aliases}: {summary}"},
        "help": {
            "text": "Upgrade the package to a fixed version, or record why the vulnerable code "
            "is not reachable (VEX)."
        },
        "defaultConfiguration": {"level": level},
        "properties": {
            "security-severity": f"{score:.1f}",
            "tags": ["security", "dependency", finding.ecosystem],
        },
    }


def _dependency_result(finding: DependencyFinding, index: dict[str, int]) -> dict[str, object]:
    fixed = ", ".join(finding.fixed) or "no fixed version known"
    identity = "\x1f".join(
        ("dependency", finding.path, finding.ecosystem, finding.package, finding.version,
         finding.vulnerability)
    )  # fmt: skip
    return {
        "ruleId": finding.vulnerability,
        "ruleIndex": index[finding.vulnerability],
        "message": {
            "text": f"{finding.package} {finding.version} ({finding.ecosystem}) is affected by "
            f"{finding.vulnerability}{' (known exploited)' if finding.kev else ''}; fixed: {fixed}"
        },
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": finding.path, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": finding.line},
                }
            }
        ],
        "fingerprints": {
            "sakimori/v1": hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
        },
        "properties": {"package": finding.package, "version": finding.version,
                       "kev": finding.kev, "decision": finding.decision},
    }  # fmt: skip


def render(report: ProbeReport, read: LineReader) -> bytes:
    """The report as a SARIF 2.1.0 log; ``read`` returns a file's lines by relative path."""
    rules = [_rule(rule) for rule in RULES.values()]
    extra = {f.rule.id: f.rule for f in report.findings if f.external_rule is not None}
    rules.extend(_rule(rule) for rule in extra.values())
    seen: set[str] = set()
    for dependency in report.dependencies:
        if dependency.vulnerability not in seen:
            seen.add(dependency.vulnerability)
            rules.append(_dependency_rule(dependency))
    index = {str(rule["id"]): position for position, rule in enumerate(rules)}
    results = [
        _result(finding, read, index, report.reviews.get(finding.fingerprint))
        for finding in report.findings
    ]
    results.extend(_dependency_result(d, index) for d in report.dependencies)
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "sakimori-probe",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "columnKind": "utf16CodeUnits",
                "results": results,
                "invocations": [
                    {
                        "executionSuccessful": report.stopped_early is None,
                        "toolExecutionNotifications": [
                            {
                                "level": "warning" if skipped.partial else "note",
                                "message": {"text": f"{skipped.path}: {skipped.reason}"},
                            }
                            for skipped in report.skipped
                        ]
                        + [{"level": "note", "message": {"text": note}} for note in report.notes],
                    }
                ],
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
