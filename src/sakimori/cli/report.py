"""``sakimori report``: remediation metrics per organisation and sector."""

from __future__ import annotations

from typing import Annotated

import typer

from sakimori.cli.context import open_db, settings
from sakimori.errors import InvalidInput


def report(
    organisation: Annotated[
        str | None, typer.Option("--org", help="Only this organisation.")
    ] = None,
    sector: Annotated[str | None, typer.Option(help="Only this sector.")] = None,
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Open findings by decision, overdue, on-time rate and time to remediate."""
    from sakimori.model.organisation import check_sector
    from sakimori.services.metrics import Figures
    from sakimori.services.metrics import report as build

    chosen = check_sector(sector) if sector else None
    db = open_db(settings())
    try:
        result = build(db, organisation=organisation, sector=chosen)
    finally:
        db.dispose()
    if output_format == "json":
        import orjson

        typer.echo(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    if output_format != "table":
        raise InvalidInput(f"unknown format {output_format!r}", hint="table or json")
    from rich.console import Console
    from rich.table import Table

    table = Table(header_style="bold")
    for column in (
        "scope",
        "open",
        "Act",
        "Attend",
        "Track*",
        "Track",
        "untriaged",
        "overdue",
        "on time",
        "median days to fix",
    ):
        table.add_column(column, justify="left" if column == "scope" else "right")

    def row(scope: str, f: Figures) -> None:
        decisions = f.open_by_decision
        rate = f.on_time_rate
        median = f.median_days_to_remediate
        table.add_row(
            scope,
            str(f.open),
            *(str(decisions.get(d, 0)) for d in ("Act", "Attend", "Track*", "Track", "untriaged")),
            str(f.overdue),
            "-" if rate is None else f"{rate:.0%}",
            "-" if median is None else f"{median:.1f}",
        )

    row("all", result.overall)
    for name, figures in sorted(result.sectors.items()):
        row(f"sector {name}", figures)
    for name, figures in sorted(result.organisations.items()):
        row(name, figures)
    Console(highlight=False).print(table)
