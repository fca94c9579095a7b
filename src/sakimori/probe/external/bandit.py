"""Bandit (PyCQA), when installed: ``python -m bandit -r ROOT -f json``.

Each result becomes a probe finding with Bandit's test id as its rule (``B608``), the CWE Bandit
gives, its severity (LOW 3.0, MEDIUM 5.5, HIGH 8.0 as ``security-severity``) and location. The
same directories the engine skips are excluded.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from sakimori.errors import MalformedDocument
from sakimori.probe.external.interface import SEVERITY, Analyser, external_finding, run_tool
from sakimori.probe.findings import CodeFinding
from sakimori.probe.rules import Rule
from sakimori.probe.scan import SKIP_DIRS


class BanditAnalyser(Analyser):
    name = "bandit"

    def __init__(self, timeout: float = 600.0) -> None:
        self.timeout = timeout

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("bandit") is None:
            return "not installed (pip install bandit)"
        return None

    def run(self, root: Path) -> list[CodeFinding]:
        base = root if root.is_dir() else root.parent
        target = "." if root.is_dir() else root.name
        excluded = ",".join(f"*/{name}/*" for name in sorted(SKIP_DIRS))
        command = [sys.executable, "-m", "bandit", "-r", target, "-f", "json", "-q",
                   "-x", excluded]  # fmt: skip
        output = run_tool(command, base, self.timeout, self.name)
        try:
            document = json.loads(output)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise MalformedDocument("bandit did not write its JSON report") from None
        results = document.get("results") if isinstance(document, dict) else None
        if not isinstance(results, list):
            raise MalformedDocument("bandit's report has no results list")
        return [f for f in (_finding(r, base) for r in results) if f is not None]


def _finding(result: Any, base: Path) -> CodeFinding | None:
    if not isinstance(result, dict):
        return None
    try:
        test_id = str(result["test_id"])
        filename = str(result["filename"])
        line = int(result["line_number"])
    except (KeyError, TypeError, ValueError):
        return None
    path = Path(filename)
    relative = (path if path.is_absolute() else base / path).resolve()
    try:
        rel = relative.relative_to(base.resolve()).as_posix()
    except ValueError:
        return None
    cwe_info = result.get("issue_cwe")
    cwe = cwe_info.get("id") if isinstance(cwe_info, dict) else None
    cwe = cwe if isinstance(cwe, int) and cwe > 0 else 0
    name = str(result.get("test_name") or test_id)
    text = str(result.get("issue_text") or name)
    severity = SEVERITY.get(str(result.get("issue_severity", "")).upper(), 5.5)
    rule = Rule(
        id=test_id,
        cwe=cwe,
        name=name.replace("_", "-"),
        short=f"Bandit {test_id}: {name.replace('_', ' ')}",
        full=f"Bandit's check {test_id} ({name}).",
        help=str(result.get("more_info") or "See Bandit's documentation of this check."),
        severity=severity,
        taint=False,
    )
    line_range = result.get("line_range")
    end_line = max(line_range) if isinstance(line_range, list) and line_range else line
    column = result.get("col_offset")
    end_column = result.get("end_col_offset")
    column = column if isinstance(column, int) else 0
    end_column = end_column if isinstance(end_column, int) else column + 1
    return external_finding(
        tool="bandit",
        rule_id=test_id,
        cwe=cwe,
        message=f"{text} (Bandit {test_id}, confidence {result.get('issue_confidence', '?')})",
        path=rel,
        line=line,
        end_line=int(end_line),
        column=column,
        end_column=end_column,
        line_text=_line(relative, line),
        rule=rule,
    )


def _line(path: Path, line: int) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return lines[line - 1] if 0 < line <= len(lines) else ""
