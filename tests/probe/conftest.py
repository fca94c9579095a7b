"""Helpers for probe tests: analyse a small tree written into a temporary directory."""

from __future__ import annotations

from pathlib import Path

from sakimori.probe.findings import ProbeReport
from sakimori.probe.scan import Limits, probe_tree

FIXTURES = Path(__file__).parent / "fixtures"


def analyse(
    tmp_path: Path,
    files: dict[str, str],
    limits: Limits | None = None,
    *,
    local_sources: bool = False,
) -> ProbeReport:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return probe_tree(tmp_path, limits, local_sources=local_sources)


def cwes(report: ProbeReport) -> set[int]:
    return {finding.cwe for finding in report.findings}
