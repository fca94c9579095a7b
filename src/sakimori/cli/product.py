"""``sakimori product suggest``: the CPE vendor/product names the loaded intel uses for a
product named in free text — ranked and explained, for a person to confirm."""

from __future__ import annotations

from typing import Annotated

import typer

from sakimori.cli.context import open_db, settings

app = typer.Typer(help="Products (appliances, operating systems): find the names NVD uses.")


@app.command("suggest")
def suggest(
    text: Annotated[
        str, typer.Argument(help='The product as people name it ("Fortinet FortiGate").')
    ],
    vendor: Annotated[
        str | None, typer.Option(help="The vendor, when it is known apart from the product.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=50, help="How many suggestions.")] = 5,
) -> None:
    """Rank the vendor/product pairs of the loaded NVD and CVE records against TEXT and say
    why each one scored: nothing is chosen for you. Write the one you confirm in the product
    list's `cpe` column (cpe:2.3:PART:VENDOR:PRODUCT:VERSION:…)."""
    from sakimori.services.product_findings import suggest as ranked

    db = open_db(settings())
    try:
        found = ranked(db, text, vendor=vendor, limit=limit)
    finally:
        db.dispose()
    if not found:
        typer.echo(
            f"no vendor/product of the loaded intel resembles {text!r} "
            "(load NVD or CVE records first: `sakimori intel load`, `sakimori intel sync-nvd`)"
        )
        raise typer.Exit(1)
    for rank, suggestion in enumerate(found, 1):
        typer.echo(f"{rank}. {suggestion.pair}  score {suggestion.score:.2f}")
        typer.echo(f"   {suggestion.explain()}")
