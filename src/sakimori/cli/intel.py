"""``sakimori intel load|sync|status``: what vulnerability intelligence is loaded, from where."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sakimori.services.intel import LoadReport

app = typer.Typer(help="Load, sync and inspect vulnerability intelligence.", no_args_is_help=True)


def _print_report(report: LoadReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(header_style="bold")
    table.add_column("kind", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for column in ("records", "added", "changed", "removed"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("source", overflow="fold")
    for source in report.sources:
        changes = source.changes
        table.add_row(
            source.kind,
            source.status,
            f"{source.records:,}",
            str(changes.added) if changes else "",
            str(changes.changed) if changes else "",
            str(changes.removed) if changes else "",
            source.name + (f": {source.message}" if source.message else ""),
        )
    console.print(table)
    console.print(
        f"{report.files_read} files read, {report.files_skipped} unchanged files skipped, "
        f"in {report.seconds:.1f} s."
    )
    if report.reassessed:
        console.print(
            f"{report.reassessed:,} open findings changed decision or deadline with the new "
            "evidence."
        )
    if report.ignored:
        names = sorted({Path(path).name for path, _ in report.ignored})
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        console.print(
            f"[dim]{len(report.ignored)} files are not OSV, CVE, KEV or EPSS and were ignored "
            f"({shown}).[/]"
        )


@app.command("load")
def load(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="OSV records (JSON/YAML), OSV all.zip archives, CVE List V5 records, SSVC "
            "decision tables, KEV JSON, EPSS CSV files, or directories of them.",
            show_default=False,
        ),
    ],
) -> None:
    """Load intelligence from local files and directories (formats recognised by content)."""
    from sakimori.cli.context import open_db, settings
    from sakimori.services.assessment import policy_set
    from sakimori.services.intel import load_paths

    config = settings()
    policies = policy_set(config.policy)
    db = open_db(config)
    try:
        report = load_paths(db, paths, config.limits, policies)
    finally:
        db.dispose()
    _print_report(report)


@app.command("sync")
def sync(
    mirror: Annotated[
        str | None,
        typer.Option(help="Mirror base URL or directory (default: SAKIMORI_MIRROR or upstream)."),
    ] = None,
) -> None:
    """Fetch the configured upstream feeds (OSV archives, KEV, EPSS, CVE records, SSVC tables),
    or a mirror of them."""
    from sakimori.cli.context import open_db, settings
    from sakimori.services.sync import sync_feeds

    config = settings()
    db = open_db(config)
    try:
        report = sync_feeds(db, config, mirror=mirror or config.mirror)
    finally:
        db.dispose()
    _print_report(report)
    if report.failed:
        typer.echo(
            f"sakimori: error: {len(report.failed)} of {len(report.sources)} feeds failed; "
            "the others were loaded",
            err=True,
        )
        raise typer.Exit(2)


def _age(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (datetime.now(UTC) - moment).total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


@app.command("status")
def status() -> None:
    """Show what is loaded, from where, and how fresh it is."""
    from rich.console import Console
    from rich.table import Table

    from sakimori.cli.context import open_db, settings
    from sakimori.services.intel import status as intel_status

    config = settings()
    db = open_db(config)
    try:
        current = intel_status(db)
    finally:
        db.dispose()
    console = Console(highlight=False)
    console.print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
    if not current.sources:
        console.print("nothing loaded yet: run `sakimori intel sync` or `sakimori intel load PATH`")
        return
    table = Table(header_style="bold")
    table.add_column("kind", no_wrap=True)
    table.add_column("records", justify="right", no_wrap=True)
    table.add_column("checked", no_wrap=True)
    table.add_column("changed", no_wrap=True)
    table.add_column("source", overflow="fold")
    for source in current.sources:
        details = dict(source.detail or {})
        if source.name in current.newest:
            details["newest record"] = current.newest[source.name][:10]
        detail = ", ".join(f"{k}={v}" for k, v in details.items() if v)
        table.add_row(
            source.kind,
            f"{source.record_count:,}",
            _age(source.checked_at),
            _age(source.changed_at),
            source.name + (f" ({detail})" if detail else ""),
        )
    console.print(table)
    counts = current.counts
    console.print(
        f"{counts['advisories']:,} advisories ({counts['withdrawn']:,} withdrawn), "
        f"{counts['affected_packages']:,} affected-package entries, "
        f"{counts['kev']:,} KEV entries, {counts['epss']:,} EPSS scores, "
        f"{counts['cve_records']:,} CVE records."
    )
