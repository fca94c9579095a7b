"""``sakimori org|asset|inventory``: organisations, their assets, and inventories over time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sakimori.cli.context import actor_option, open_db, settings

if TYPE_CHECKING:
    from sakimori.services.tracking import UploadReport

org_app = typer.Typer(help="Organisations (coordinator, agencies, operators, vendors).")
asset_app = typer.Typer(help="Assets: systems and services of an organisation.")
inventory_app = typer.Typer(help="Inventories of an asset, one version per upload.")


@org_app.command("create")
def org_create(
    slug: Annotated[str, typer.Argument(help="Short name, e.g. city-bank.")],
    name: Annotated[str, typer.Option(help="Full name.")] = "",
    kind: Annotated[
        str, typer.Option(help="coordinator, agency, operator, vendor or partner.")
    ] = "operator",
    sector: Annotated[
        list[str] | None,
        typer.Option(help="Critical-infrastructure sector (repeatable), e.g. finance."),
    ] = None,
) -> None:
    """Register an organisation."""
    from sakimori.services.organisations import create_organisation

    db = open_db(settings())
    try:
        made = create_organisation(db, slug, name, kind, sector or [])
    finally:
        db.dispose()
    typer.echo(f"organisation {made.slug} ({made.kind}; {', '.join(made.sectors) or 'no sector'})")


@org_app.command("list")
def org_list() -> None:
    """List organisations."""
    from rich.console import Console
    from rich.table import Table

    from sakimori.services.organisations import list_organisations

    db = open_db(settings())
    try:
        found = list_organisations(db)
    finally:
        db.dispose()
    table = Table(header_style="bold")
    for column in ("organisation", "name", "kind", "sectors", "assets"):
        table.add_column(column)
    for o in found:
        table.add_row(o.slug, o.name, o.kind, ", ".join(o.sectors), str(o.assets))
    Console(highlight=False).print(table)


@asset_app.command("create")
def asset_create(
    ref: Annotated[str, typer.Argument(help="ORGANISATION/ASSET, e.g. city-bank/web-portal.")],
    name: Annotated[str, typer.Option(help="Full name.")] = "",
    criticality: Annotated[str, typer.Option(help="low, medium, high or critical.")] = "medium",
    internet_facing: Annotated[
        bool | None,
        typer.Option("--internet-facing/--internal", help="Reachable from the internet, or not."),
    ] = None,
    environment: Annotated[str, typer.Option(help="e.g. production, staging.")] = "",
) -> None:
    """Register an asset of an organisation."""
    from sakimori.services.organisations import create_asset

    db = open_db(settings())
    try:
        made = create_asset(db, ref, name, criticality, internet_facing, environment or None)
    finally:
        db.dispose()
    exposure = {True: "internet-facing", False: "internal", None: "exposure not stated"}
    typer.echo(f"asset {made.ref} ({made.criticality}, {exposure[made.internet_facing]})")


@asset_app.command("list")
def asset_list(
    organisation: Annotated[str | None, typer.Argument(help="Only this organisation.")] = None,
) -> None:
    """List assets."""
    from rich.console import Console
    from rich.table import Table

    from sakimori.services.organisations import list_assets

    db = open_db(settings())
    try:
        found = list_assets(db, organisation)
    finally:
        db.dispose()
    table = Table(header_style="bold")
    for column in ("asset", "name", "criticality", "exposure", "environment", "inventory"):
        table.add_column(column)
    exposure = {True: "internet", False: "internal", None: "unknown"}
    for a in found:
        table.add_row(
            a.ref,
            a.name,
            a.criticality,
            exposure[a.internet_facing],
            a.environment or "",
            f"v{a.inventory_version}" if a.inventory_version else "none",
        )
    Console(highlight=False).print(table)


@inventory_app.command("upload")
def inventory_upload(
    ref: Annotated[str, typer.Argument(help="ORGANISATION/ASSET.")],
    path: Annotated[Path, typer.Argument(help="SBOM, lockfile or package database.")],
    by: actor_option = None,
) -> None:
    """Upload a new inventory version for an asset and bring its findings up to date."""
    from sakimori.cli.context import actor
    from sakimori.services.tracking import upload_inventory

    config = settings()
    db = open_db(config)
    try:
        report = upload_inventory(db, ref, path, actor(by), config.limits)
    finally:
        db.dispose()
    c = report.counts
    typer.echo(
        f"{report.asset} inventory v{report.version} ({report.format}, {report.components} "
        f"components{_kept(report)}, {report.package_versions} unique package-versions): "
        f"{c.opened} new "
        f"findings, {c.closed} closed as fixed, {c.reopened} reopened, {c.kept} unchanged"
        + (f"; {report.not_evaluated} not evaluated" if report.not_evaluated else "")
    )
    if report.unknown_products:
        typer.echo(
            f"{len(report.unknown_products)} product entr"
            f"{'y names' if len(report.unknown_products) == 1 else 'ies name'} no product the "
            "loaded intel knows (spelled otherwise than NVD and the CNAs spell it?): "
            + ", ".join(report.unknown_products)
            + '. `sakimori product suggest "VENDOR PRODUCT"` proposes the names they use.',
            err=True,
        )
    if report.new_packages:
        numbers = ", ".join(str(n) for n in report.new_packages)
        typer.echo(
            f"{report.asset}: the organisation now receives counter-measure package(s) {numbers}"
            " (see `sakimori package show ID`)"
        )


def _kept(report: UploadReport) -> str:
    if not report.kept:
        return ""
    other = "SBOM/lockfile components" if report.format == "products-csv" else "product entries"
    return f" with {report.kept} {other} kept from the previous version"
