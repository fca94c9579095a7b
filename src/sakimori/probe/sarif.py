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
from sakimori.probe.findings import CodeFinding, ProbeReport
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
            "tags": ["security", f"external/cwe/cwe-{rule.cwe}"],
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


def _result(finding: CodeFinding, read: LineReader) -> dict[str, object]:
    lines = read(finding.path)
    result: dict[str, object] = {
        "ruleId": finding.rule_id,
        "ruleIndex": list(RULES).index(finding.cwe),
        "level": _level(finding.rule),
        "message": {"text": finding.message},
        "locations": [_location(finding.sink, lines)],
        "partialFingerprints": {"primaryLocationLineHash": line_hash(lines, finding.sink.line)},
        "fingerprints": {"sakimori/v1": finding.fingerprint},
        "properties": {"cwe": f"CWE-{finding.cwe}", "tool": finding.tool},
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


def render(report: ProbeReport, read: LineReader) -> bytes:
    """The report as a SARIF 2.1.0 log; ``read`` returns a file's lines by relative path."""
    rules = [_rule(rule) for rule in RULES.values()]
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
                "results": [_result(finding, read) for finding in report.findings],
                "invocations": [
                    {
                        "executionSuccessful": report.stopped_early is None,
                        "toolExecutionNotifications": [
                            {
                                "level": "warning" if skipped.partial else "note",
                                "message": {"text": f"{skipped.path}: {skipped.reason}"},
                            }
                            for skipped in report.skipped
                        ],
                    }
                ],
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
