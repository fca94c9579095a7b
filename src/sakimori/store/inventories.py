"""Which inventory of an asset is current, as a SQL predicate shared by the readers of
current inventories (package re-matching, product re-matching)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Table, select


def is_current(inventory: Table) -> ColumnElement[bool]:
    """True for a row of ``inventory`` when no newer version of its asset exists (an index
    probe per row: joining a ``max(version)`` per asset made PostgreSQL walk every inventory
    when its estimate for a popular package was low)."""
    newer = inventory.alias("newer")
    return ~(
        select(newer.c.id)
        .where(newer.c.asset_id == inventory.c.asset_id, newer.c.version > inventory.c.version)
        .exists()
    )
