"""Run the taint engine over a source tree: find files, parse them, analyse within limits.

Every file that cannot be analysed is listed with a reason (binary, too large, undecodable, not
Python 3 syntax, a symlink loop), never raised. Code written for a newer Python than the running
interpreter is parsed statement by statement: a statement the interpreter cannot parse (a 3.12
``type`` alias, a PEP 701 f-string, a new ``match`` form) is replaced by ``pass``, the rest is
analysed, and the file is reported as analysed in part with the lines skipped.
"""

from __future__ import annotations

import ast
import io
import logging
import os
import sys
import time
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sakimori.errors import InvalidInput, NotFound
from sakimori.probe.calls import Analyzer
from sakimori.probe.engine import BudgetExceeded
from sakimori.probe.findings import ProbeReport, Skipped
from sakimori.probe.program import ModuleInfo, Program
from sakimori.probe.secrets import scan_secrets

logger = logging.getLogger(__name__)

SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", "node_modules",
     ".mypy_cache", ".ruff_cache", ".pytest_cache", "build", "dist", "site-packages"}
)  # fmt: skip
#: How many unparsable statements a file may have before it counts as not Python 3.
MAX_REPAIRS = 8


@dataclass(frozen=True)
class Limits:
    """Per-file and per-run limits; a run that reaches one says so in its report."""

    max_file_bytes: int = 2_000_000
    file_seconds: float = 10.0
    run_seconds: float = 600.0
    max_files: int = 50_000
    max_nodes_per_file: int = 500_000
    max_work_per_file: int = 3_000_000


def python_files(root: Path, report: ProbeReport) -> Iterator[tuple[Path, str]]:
    """Python files below ``root`` (or ``root`` itself), with their relative paths.

    Directory symlinks are not followed; file symlinks that cannot be resolved (loops, dangling)
    are reported as skipped.
    """
    if root.is_file():
        yield root, root.name
        return
    for directory, subdirs, names in os.walk(root, followlinks=False):
        subdirs[:] = sorted(
            d for d in subdirs if d not in SKIP_DIRS and not d.endswith(".egg-info")
        )
        for name in sorted(names):
            if not name.endswith((".py", ".pyw")):
                continue
            path = Path(directory) / name
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                try:
                    path.resolve(strict=True)
                except (OSError, RuntimeError) as exc:
                    report.skipped.append(Skipped(relative, f"unresolvable symlink: {exc}"))
                    continue
            yield path, relative


def decode(data: bytes) -> str:
    """Source text from bytes, honouring a PEP 263 coding line; InvalidInput when impossible."""
    if b"\x00" in data[:8192]:
        raise InvalidInput("binary content (NUL bytes)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot decode the source: {exc}") from exc


def parse(text: str, path: str) -> tuple[ast.Module, list[int]]:
    """The module's tree and the lines replaced by ``pass`` because they did not parse."""
    lines = text.splitlines(keepends=True)
    repaired: list[int] = []
    while True:
        try:
            return ast.parse("".join(lines), filename=path), repaired
        except SyntaxError as exc:
            line = exc.lineno or 0
            if len(repaired) >= MAX_REPAIRS or not 1 <= line <= len(lines) or line in repaired:
                detail = exc.msg or "syntax error"
                raise InvalidInput(
                    f"does not parse as Python {sys.version_info.major}."
                    f"{sys.version_info.minor}: {detail} (line {line})"
                ) from exc
            repaired.append(line)
            original = lines[line - 1]
            indent = original[: len(original) - len(original.lstrip())]
            lines[line - 1] = f"{indent}pass\n"


def probe_tree(
    root: Path,
    limits: Limits | None = None,
    *,
    local_sources: bool = False,
    secrets: bool = False,
    allowed_secrets: frozenset[str] = frozenset(),
) -> ProbeReport:
    """Analyse every Python file below ``root``; the report lists findings and skipped files.

    ``local_sources`` adds the local threat model (environment, command line, standard input,
    file contents) to the remote one (request data, sockets, network responses). ``secrets``
    also scans every text file for committed secrets (see :mod:`sakimori.probe.secrets`).
    """
    limits = limits or Limits()
    if not root.exists():
        raise NotFound("no such file or directory", where=str(root))
    started = time.monotonic()
    report = ProbeReport(root=str(root))
    modules: list[ModuleInfo] = []
    for path, relative in python_files(root, report):
        if len(modules) >= limits.max_files:
            report.stopped_early = f"more than {limits.max_files} files; the rest not analysed"
            break
        module = load_module(path, relative, limits, report)
        if module is not None:
            modules.append(module)
            report.lines += len(module.lines)
    report.files = len(modules)
    run_deadline = started + limits.run_seconds
    program = Program(modules)
    analyzer = Analyzer(program, deadline=run_deadline, local_sources=local_sources)
    for module in modules:
        now = time.monotonic()
        if now > run_deadline:
            report.stopped_early = (
                f"run time limit of {limits.run_seconds:g} s reached; later files not analysed"
            )
            break
        analyzer.deadline = min(run_deadline, now + limits.file_seconds)
        analyzer.work = 0
        analyzer.max_work = limits.max_work_per_file
        try:
            analyzer.run_entries(module)
        except BudgetExceeded as exc:
            analyzer.stack.clear()
            analyzer.uncertain = 0
            report.skipped.append(
                Skipped(module.path, f"analysis stopped early: {exc} per file", partial=True)
            )
        except RecursionError:
            analyzer.stack.clear()
            analyzer.uncertain = 0
            report.skipped.append(
                Skipped(module.path, "analysis stopped early: nesting too deep", partial=True)
            )
    found = list(analyzer.findings.values())
    if secrets:
        found.extend(scan_secrets(root, report, allowed_secrets))
    report.findings = sorted(found, key=lambda f: (f.path, f.sink.line, f.sink.column, f.rule_id))
    report.seconds = time.monotonic() - started
    return report


def load_module(
    path: Path, relative: str, limits: Limits, report: ProbeReport
) -> ModuleInfo | None:
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            report.skipped.append(
                Skipped(relative, f"file too large ({size} bytes > {limits.max_file_bytes})")
            )
            return None
        data = path.read_bytes()
    except OSError as exc:
        report.skipped.append(Skipped(relative, f"cannot read: {exc.strerror or exc}"))
        return None
    try:
        text = decode(data)
        tree, repaired = parse(text, relative)
    except InvalidInput as exc:
        report.skipped.append(Skipped(relative, exc.message))
        return None
    except (RecursionError, MemoryError, ValueError) as exc:
        report.skipped.append(Skipped(relative, f"does not parse: {type(exc).__name__}"))
        return None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > limits.max_nodes_per_file:
        report.skipped.append(Skipped(relative, f"too many syntax nodes ({nodes})"))
        return None
    if repaired:
        lines = ", ".join(str(n) for n in repaired)
        report.skipped.append(
            Skipped(
                relative,
                f"analysed in part: line(s) {lines} use syntax this Python "
                f"({sys.version_info.major}.{sys.version_info.minor}) cannot parse",
                partial=True,
            )
        )
    return ModuleInfo(module_name(relative), relative, tree, text.splitlines())


def module_name(relative: str) -> str:
    parts = relative[: -len(Path(relative).suffix)].split("/")
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)
