"""Printing scan reports: a Rich table for people, JSON and SARIF documents for machines."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sakimori.errors import InvalidInput
from sakimori.formats.scan_report import render_json, render_sarif
from sakimori.matching.findings import sort_findings
from sakimori.model.ecosystem import parse_purl, to_purl
from sakimori.model.finding import Finding
from sakimori.model.inventory import Component, Inventory
from sakimori.services.scan import ScanReport
from sakimori.triage.severity import Rating

CONTEXT_NOTE = (
    "asset context unknown (a bare file): decisions assume exposure open and criticality "
    "medium, as documented in docs/triage.md; upload to an asset for its real context"
)

_STYLE = {
    Rating.CRITICAL: "bold red",
    Rating.HIGH: "red",
    Rating.MEDIUM: "yellow",
    Rating.LOW: "green",
}


def purl_inventory(purls: Sequence[str]) -> Inventory:
    """An inventory made of package URLs given on the command line (invalid ones are errors)."""
    components = []
    for text in purls:
        ref = parse_purl(text)
        if ref.ecosystem is None:
            raise InvalidInput(
                f"package URL type {ref.purl_type!r} has no vulnerability database",
                where=text,
            )
        if not ref.version:
            raise InvalidInput("package URL has no version", where=text, hint="add @VERSION")
        components.append(
            Component(
                name=ref.name,
                version=ref.version,
                ecosystem=ref.ecosystem,
                purl=to_purl(ref.ecosystem, ref.name, ref.version),
                release=ref.release,
            )
        )
    return Inventory("purl", tuple(components), source="--purl")


def merge_sorted(first: Sequence[Finding], second: Sequence[Finding]) -> list[Finding]:
    return sort_findings([*first, *second])


DECISION_RANK = {"Track": 0, "Track*": 1, "Attend": 2, "Act": 3}


def fails(findings: Sequence[Finding], threshold: str) -> bool:
    if threshold == "any":
        return bool(findings)
    if threshold == "kev":
        return any(f.kev for f in findings)
    if threshold in DECISION_RANK:
        rank = DECISION_RANK[threshold]
        return any(f.decision is not None and DECISION_RANK[f.decision] >= rank for f in findings)
    level = Rating.parse(threshold)
    return any(f.rating >= level for f in findings)


def write_document(report: ScanReport, kind: str, output: Path | None) -> None:
    if kind == "sarif":
        data = render_sarif(report.findings)
    else:
        inventories = [
            {
                "source": i.source,
                "format": i.format,
                "components": i.components,
                "skipped": list(i.skipped),
            }
            for i in report.inventories
        ]
        data = render_json(
            report.findings,
            inventories,
            report.not_evaluated,
            report.ignored_files,
            context=CONTEXT_NOTE if report.triage_note is None else report.triage_note,
        )
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)


def _epss(finding: Finding) -> str:
    return "" if finding.epss is None else f"{finding.epss:.3f}"


def print_table(report: ScanReport, output: Path | None) -> None:
    handle = output.open("w", encoding="utf-8") if output else None
    try:
        console = Console(file=handle, width=160 if handle else None, highlight=False)
        _print(console, report)
        _summary(console, report)
    finally:
        if handle:
            handle.close()


def _print(console: Console, report: ScanReport) -> None:
    findings = report.findings
    by_inventory: dict[str, list[Finding]] = {}
    for finding in findings:
        by_inventory.setdefault(finding.inventory, []).append(finding)
    for inventory in report.inventories:
        found = by_inventory.get(inventory.source, [])
        console.print(
            f"\n[bold]{inventory.source}[/] ({inventory.format}, {inventory.components} "
            f"components): {len(found)} findings"
        )
        if found:
            console.print(_table(found))


def _table(findings: Sequence[Finding]) -> Table:
    table = Table(header_style="bold", pad_edge=False)
    table.add_column("vulnerability", no_wrap=True)
    table.add_column("package", overflow="fold", min_width=12)
    table.add_column("version", no_wrap=True)
    table.add_column("fixed in", overflow="fold")
    table.add_column("severity")
    table.add_column("decision", no_wrap=True)
    table.add_column("KEV", no_wrap=True)
    table.add_column("EPSS", justify="right", no_wrap=True)
    for f in findings:
        score = "" if f.score is None else f" {f.score:.1f}"
        style = _STYLE.get(f.rating)
        severity = f"[{style}]{f.rating.label}{score}[/]" if style else f.rating.label
        table.add_row(
            f.vulnerability,
            f.package,
            f.version,
            ", ".join(f.fixed) or "-",
            severity,
            f.decision or "",
            "[bold red]yes[/]" if f.kev else "",
            _epss(f),
        )
    return table


def _summary(console: Console, report: ScanReport) -> None:
    findings = report.findings
    components = sum(i.components for i in report.inventories)
    vulnerable = {(f.inventory, f.package, f.version) for f in findings}
    kev = sum(1 for f in findings if f.kev)
    console.print(
        f"\n{len(findings)} findings ({kev} known exploited) in {len(vulnerable)} vulnerable "
        f"packages; {components} components in {len(report.inventories)} inventories."
    )
    if any(f.decision for f in findings):
        console.print(f"[dim]Decisions: {CONTEXT_NOTE}.[/]")
    elif report.triage_note:
        console.print(f"[dim]No decisions: {report.triage_note}.[/]")
    if report.not_evaluated:
        console.print(
            f"[yellow]{len(report.not_evaluated)} components or advisories could not be "
            "evaluated[/] (reasons: --format json, key not_evaluated)."
        )
    skipped = sum(len(i.skipped) for i in report.inventories)
    if skipped:
        console.print(f"{skipped} inventory lines were skipped (unpinned, local or VCS).")
    if report.ignored_files:
        console.print(f"{len(report.ignored_files)} files were not inventories and were ignored.")
