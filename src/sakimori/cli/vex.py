"""``sakimori vex import|export|list``: VEX statements of an organisation or one of its assets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sakimori.cli.context import open_db, settings
from sakimori.errors import InvalidInput

app = typer.Typer(help="VEX: import statements and apply them to findings; export; list.")

_FORMATS = {"openvex": "openvex", "cyclonedx": "cyclonedx-vex", "csaf": "csaf-vex"}

scope_argument = Annotated[
    str, typer.Argument(help="ORGANISATION, or ORGANISATION/ASSET for one asset.")
]


def _scope(ref: str) -> tuple[str, str | None]:
    org, slash, asset = ref.strip().partition("/")
    if not org or (slash and not asset):
        raise InvalidInput(
            f"{ref!r} is not ORGANISATION or ORGANISATION/ASSET", hint="e.g. city-bank/web-portal"
        )
    return org, asset or None


@app.command("import")
def import_command(
    ref: scope_argument,
    path: Annotated[Path, typer.Argument(help="CycloneDX VEX, OpenVEX or CSAF VEX (JSON).")],
    actor_name: Annotated[
        str | None,
        typer.Option(
            "--actor",
            "--by",
            help="Who imports it (default: $SAKIMORI_USER, else the login name).",
        ),
    ] = None,
    allow_unmatched: Annotated[
        bool,
        typer.Option(
            "--allow-unmatched",
            help="Keep statements about products in no current inventory (unapplied) instead "
            "of refusing the document.",
        ),
    ] = False,
) -> None:
    """Import a VEX document and apply its statements to the matching findings."""
    from sakimori.cli.context import actor
    from sakimori.services.scan import read_bytes
    from sakimori.services.vex import import_vex

    org, asset = _scope(ref)
    config = settings()
    data = read_bytes(path, config.limits)
    db = open_db(config)
    try:
        report = import_vex(
            db,
            data,
            organisation=org,
            asset=asset,
            actor=actor(actor_name),
            source=str(path),
            allow_unmatched=allow_unmatched,
            limits=config.limits,
        )
    finally:
        db.dispose()
    typer.echo(
        f"imported {report.format} document {report.document_id}"
        f"{f' by {report.author}' if report.author else ''}: {report.statements} statements, "
        f"{report.matched} finding matches, {len(report.applied)} findings changed, "
        f"{len(report.skipped)} skipped, {len(report.unmatched)} unmatched"
    )
    for change in report.applied:
        typer.echo(
            f"  finding {change.finding_id} ({change.asset}, {change.vulnerability}): "
            f"{change.from_state} -> {change.to_state}"
        )
    for skip in report.skipped:
        typer.echo(
            f"  finding {skip.finding_id} ({skip.asset}, {skip.vulnerability}) left "
            f"{skip.state}: {skip.reason}"
        )
    for label in report.unmatched:
        typer.echo(f"  unmatched: {label} (no current inventory holds this product)")


@app.command("export")
def export_command(
    ref: scope_argument,
    output_format: Annotated[
        str, typer.Option("--format", help="openvex, cyclonedx or csaf.")
    ] = "openvex",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: stdout).")
    ] = None,
    imported_only: Annotated[
        bool,
        typer.Option(
            "--imported-only", help="Only the imported statements, not the findings' states."
        ),
    ] = False,
    tlp: Annotated[str, typer.Option(help="CSAF: TLP label (WHITE, GREEN, AMBER, RED).")] = "AMBER",
    namespace: Annotated[
        str | None,
        typer.Option(help="CSAF: the publisher's namespace URL (default: a urn:sakimori URI)."),
    ] = None,
) -> None:
    """Write the statements of an organisation or asset as one VEX document."""
    from sakimori.formats.vex import VexFormat
    from sakimori.services.vex import export_vex

    chosen = _FORMATS.get(output_format.strip().lower())
    if chosen is None:
        raise InvalidInput(f"unknown VEX format {output_format!r}", hint="openvex, cyclonedx, csaf")
    org, asset = _scope(ref)
    db = open_db(settings())
    try:
        data = export_vex(
            db,
            organisation=org,
            asset=asset,
            fmt=VexFormat(chosen),
            derived=not imported_only,
            tlp=tlp,
            publisher_namespace=namespace,
        )
    finally:
        db.dispose()
    if output is None:
        typer.echo(data.decode())
        return
    try:
        output.write_bytes(data + b"\n")
    except OSError as exc:
        raise InvalidInput(f"cannot write {output}: {exc.strerror}") from None
    typer.echo(f"wrote {output} ({chosen}, {len(data):,} bytes)")


@app.command("list")
def list_command(
    ref: scope_argument,
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """List the statements: status, justification, source document, findings applied to."""
    from sakimori.services.vex import list_statements

    org, asset = _scope(ref)
    if output_format not in {"table", "json"}:
        raise InvalidInput(f"unknown format {output_format!r}", hint="table or json")
    db = open_db(settings())
    try:
        found = list_statements(db, organisation=org, asset=asset)
    finally:
        db.dispose()
    if output_format == "json":
        import orjson

        typer.echo(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(header_style="bold")
    for column in (
        "id",
        "vulnerability",
        "product",
        "status",
        "justification",
        "doc",
        "matched",
        "applied",
    ):
        table.add_column(column, overflow="fold")
    documents: dict[int, str] = {}
    for v in found:
        if v.document_id is not None:
            documents[v.document_id] = v.document
        table.add_row(
            str(v.id),
            v.vulnerability,
            v.product + (" (unmatched)" if v.unmatched else ""),
            v.status,
            v.justification or "",
            str(v.document_id) if v.document_id is not None else "-",
            str(v.matched),
            str(v.applied),
        )
    console = Console(highlight=False)
    console.print(table)
    console.print(f"{len(found)} statements")
    for number, origin in sorted(documents.items()):
        console.print(f"  document {number}: {origin}", soft_wrap=True)
