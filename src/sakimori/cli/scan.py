"""``sakimori scan``: match inventory files against the local intel database."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from sakimori.errors import InvalidInput


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"


class FailOn(StrEnum):
    any = "any"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"
    kev = "kev"
    track = "Track"
    track_star = "Track*"
    attend = "Attend"
    act = "Act"


def scan(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Inventory files (SBOMs, lockfiles, package databases) or directories; - reads "
            "standard input.",
            show_default=False,
        ),
    ] = None,
    purl: Annotated[
        list[str] | None,
        typer.Option("--purl", help="Also check one package URL (repeatable).", show_default=False),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.table,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            "--fail-on",
            help="Exit with 1 if a finding is at least this severe (CVSS rating), known "
            "exploited (kev), at least this SSVC decision (Track, Track*, Attend, Act), or "
            "any finding at all (any).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report to this file instead of stdout."),
    ] = None,
) -> None:
    """Scan inventories against the loaded vulnerability intelligence."""
    from sakimori.cli import render
    from sakimori.cli.context import open_db, settings
    from sakimori.services.assessment import policy_set
    from sakimori.services.scan import scan_inventories, scan_paths

    if not paths and not purl:
        raise InvalidInput("nothing to scan", hint="name inventory files or use --purl")
    config = settings()
    policies = policy_set(config.policy)
    db = open_db(config, require_intel=True)
    try:
        report = scan_paths(db, paths or [], config.limits, policies)
        if purl:
            extra = scan_inventories(db, [render.purl_inventory(purl)], policies)
            report.findings = render.merge_sorted(report.findings, extra.findings)
            report.not_evaluated.extend(extra.not_evaluated)
            report.inventories.extend(extra.inventories)
    finally:
        db.dispose()
    if output_format is OutputFormat.table:
        render.print_table(report, output)
    else:
        render.write_document(report, output_format.value, output)
    if fail_on is not None and render.fails(report.findings, fail_on.value):
        raise typer.Exit(1)
