"""Semgrep, only with local rule files, only when the ``semgrep`` program is installed.

``semgrep scan --config RULES... --json --metrics=off --disable-version-check`` over the tree.
Registry rules (``p/...``, ``r/...``, ``auto``) and URLs are refused: Semgrep must not fetch
anything. Results become probe findings with the rule's id, the first CWE in its metadata and
its severity (INFO 3.0, WARNING 5.5, ERROR 8.0).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sakimori.errors import InvalidInput, MalformedDocument
from sakimori.probe.external.interface import SEVERITY, Analyser, external_finding, run_tool
from sakimori.probe.findings import CodeFinding
from sakimori.probe.rules import Rule

_CWE = re.compile(r"CWE-(\d+)", re.IGNORECASE)


class SemgrepAnalyser(Analyser):
    name = "semgrep"

    def __init__(self, rules: Sequence[Path], timeout: float = 600.0) -> None:
        for rule in rules:
            text = str(rule)
            if "://" in text or text in ("auto",) or re.match(r"^[pr]/", text):
                raise InvalidInput(
                    f"{text} is not a local rule file", where="--semgrep-rules",
                    hint="Semgrep runs here with local rule files or directories only",
                )  # fmt: skip
            if not rule.exists():
                raise InvalidInput("no such rule file or directory", where=text)
        self.rules = [rule.resolve() for rule in rules]
        self.timeout = timeout

    def unavailable(self) -> str | None:
        return None if shutil.which("semgrep") else "not installed"

    def run(self, root: Path) -> list[CodeFinding]:
        program = shutil.which("semgrep")
        assert program is not None
        base = root if root.is_dir() else root.parent
        target = "." if root.is_dir() else root.name
        command = [program, "scan", "--json", "--metrics=off", "--disable-version-check",
                   "--quiet"]  # fmt: skip
        for rule in self.rules:
            command += ["--config", str(rule)]
        output = run_tool([*command, target], base, self.timeout, self.name)
        try:
            document = json.loads(output)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise MalformedDocument("semgrep did not write its JSON report") from None
        results = document.get("results") if isinstance(document, dict) else None
        if not isinstance(results, list):
            raise MalformedDocument("semgrep's report has no results list")
        return [f for f in (_finding(r, base) for r in results) if f is not None]


def _finding(result: Any, base: Path) -> CodeFinding | None:
    if not isinstance(result, dict):
        return None
    start, end = result.get("start"), result.get("end")
    extra = result.get("extra") if isinstance(result.get("extra"), dict) else {}
    if not isinstance(start, dict) or not isinstance(end, dict) or not isinstance(extra, dict):
        return None
    check = str(result.get("check_id") or "semgrep")
    path = (base / str(result.get("path") or "")).resolve()
    try:
        relative = path.relative_to(base.resolve()).as_posix()
    except ValueError:
        return None
    metadata = extra.get("metadata") if isinstance(extra.get("metadata"), dict) else {}
    cwes = metadata.get("cwe", []) if isinstance(metadata, dict) else []
    cwes = [cwes] if isinstance(cwes, str) else cwes
    match = next((_CWE.search(str(c)) for c in cwes if _CWE.search(str(c))), None)
    cwe = int(match.group(1)) if match else 0
    message = str(extra.get("message") or check)
    rule_id = check.rsplit(".", 1)[-1]
    rule = Rule(
        id=rule_id, cwe=cwe, name=rule_id, short=f"Semgrep {rule_id}", full=message[:500],
        help="See the rule file.", severity=SEVERITY.get(str(extra.get("severity")), 5.5),
        taint=False,
    )  # fmt: skip
    line = int(start.get("line", 1))
    end_line = int(end.get("line", line))
    text = _lines(path)
    first = text[line - 1] if 0 < line <= len(text) else ""
    last = text[end_line - 1] if 0 < end_line <= len(text) else ""
    return external_finding(
        tool="semgrep",
        rule_id=rule_id,
        cwe=cwe,
        message=f"{message} (Semgrep {check})",
        path=relative,
        line=line,
        end_line=end_line,
        column=_byte_offset(first, int(start.get("col", 1))),
        end_column=_byte_offset(last, int(end.get("col", 2))),
        line_text=first,
        rule=rule,
    )


def _lines(path: Path) -> list[str]:
    """The file's lines (Semgrep's own ``lines`` field may be withheld)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _byte_offset(line: str, column: int) -> int:
    """Semgrep's 1-based character column as the 0-based UTF-8 offset findings carry."""
    return len(line[: max(0, column - 1)].encode("utf-8"))
