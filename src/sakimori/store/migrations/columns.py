"""Column operations the migrations share: SQLite's ``ALTER TABLE`` for added and dropped
columns (3.35 or later; alembic's batch mode would copy the whole table), and foreign-key
columns added and dropped on both dialects. Kept small and stable: a change here changes what
old migrations do."""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op


def is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def require_sqlite_alter(revision: str) -> None:
    """On SQLite older than 3.35 (no ``DROP COLUMN``), stop with what to do."""
    if is_sqlite() and sqlite3.sqlite_version_info < (3, 35, 0):
        raise RuntimeError(
            f"SQLite {sqlite3.sqlite_version} cannot drop a column; migration {revision} needs "
            "SQLite 3.35 or later (use a newer Python, or PostgreSQL)"
        )


def add_reference(table: str, column: str, target: str) -> None:
    """A nullable integer column referring to ``target.id``, with a named constraint."""
    if is_sqlite():
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {column} INTEGER "
            f"CONSTRAINT fk_{table}_{column}_{target} REFERENCES {target} (id)"
        )
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f(f"fk_{table}_{column}_{target}"), table, target, [column], ["id"]
        )


def drop_reference(table: str, column: str, target: str) -> None:
    """Drop a column added by :func:`add_reference`, with its constraint."""
    if is_sqlite():
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_constraint(op.f(f"fk_{table}_{column}_{target}"), table, type_="foreignkey")
        op.drop_column(table, column)
