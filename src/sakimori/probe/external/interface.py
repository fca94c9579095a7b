"""The interface of an external analyser, and helpers its implementations share."""

from __future__ import annotations

import subprocess
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from sakimori.errors import SourceUnavailable
from sakimori.probe.findings import CodeFinding, fingerprint
from sakimori.probe.rules import Rule
from sakimori.probe.values import Step

#: Severity (as ``security-severity``) of an external tool's LOW / MEDIUM / HIGH.
SEVERITY = {"LOW": 3.0, "INFO": 3.0, "MEDIUM": 5.5, "WARNING": 5.5, "HIGH": 8.0, "ERROR": 8.0}


class Analyser(ABC):
    """A static analyser run as a separate program over the tree."""

    name: str

    @abstractmethod
    def unavailable(self) -> str | None:
        """None when the analyser can run here; else why not ("not installed")."""

    @abstractmethod
    def run(self, root: Path) -> list[CodeFinding]:
        """Its findings over ``root``, paths relative to it; a Sakimori error if it failed."""


def run_tool(command: Sequence[str], cwd: Path, timeout: float, name: str) -> bytes:
    """The tool's standard output; SourceUnavailable when it cannot run or takes too long."""
    try:
        done = subprocess.run(  # noqa: S603 - a fixed tool command over the tree
            list(command), cwd=cwd, capture_output=True, timeout=timeout, check=False,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise SourceUnavailable(f"{name} did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise SourceUnavailable(f"cannot run {name}: {exc.strerror or exc}") from None
    return done.stdout


def external_finding(
    *,
    tool: str,
    rule_id: str,
    cwe: int,
    message: str,
    path: str,
    line: int,
    end_line: int,
    column: int,
    end_column: int,
    line_text: str,
    rule: Rule,
) -> CodeFinding:
    """A probe finding from an external tool's result.

    The fingerprint hashes the file, the tool's rule and the flagged line's text without
    whitespace, so it survives lines moving, as the engine's does.
    """
    sink = Step(path, line, column, max(end_line, line), end_column, f"sink: {tool} {rule_id}")
    key = fingerprint(path, f"{tool}:{rule_id}", "", "".join(line_text.split()), tool)
    return CodeFinding(
        rule_id=rule_id,
        cwe=cwe,
        message=message,
        path=path,
        sink=sink,
        source=None,
        steps=(),
        function="",
        sink_expression=line_text.strip(),
        source_kind=tool,
        fingerprint=key,
        tool=tool,
        external_rule=rule,
    )
