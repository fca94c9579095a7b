"""Explanations stored once: the assessment table; findings point to it

Revision: 0005 (follows 0004)

``finding.explanation`` (a full JSON explanation per finding) gives way to two references into
``assessment``, where each distinct part of an explanation is stored once. Existing findings
keep their decision, priority and deadline; their explanation returns with the next
re-assessment (``sakimori triage recompute``).

SQLite: the columns are added and dropped with ``ALTER TABLE`` (SQLite 3.35 or later), not by
Alembic's copy-and-move batch mode: dropping the old ``finding`` table while foreign keys are
enforced would cascade to ``finding_transition`` and lose the history.
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = ("assessment_id", "context_assessment_id")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _require_sqlite_alter() -> None:
    if sqlite3.sqlite_version_info < (3, 35, 0):
        raise RuntimeError(
            f"SQLite {sqlite3.sqlite_version} cannot drop a column; migration 0005 needs "
            "SQLite 3.35 or later (use a newer Python, or PostgreSQL)"
        )


def upgrade() -> None:
    op.create_table(
        "assessment",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("part", sa.String(length=20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment")),
        sa.UniqueConstraint("digest", name=op.f("uq_assessment_digest")),
    )
    if _sqlite():
        _require_sqlite_alter()
        for column in _COLUMNS:
            op.execute(
                f"ALTER TABLE finding ADD COLUMN {column} INTEGER "
                f"CONSTRAINT fk_finding_{column}_assessment REFERENCES assessment (id)"
            )
    else:
        for column in _COLUMNS:
            op.add_column("finding", sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(
                op.f(f"fk_finding_{column}_assessment"), "finding", "assessment", [column], ["id"]
            )
    for column in _COLUMNS:
        op.create_index(op.f(f"ix_finding_{column}"), "finding", [column], unique=False)
    op.drop_column("finding", "explanation")


def downgrade() -> None:
    op.add_column(
        "finding", sa.Column("explanation", sa.JSON(), nullable=False, server_default="{}")
    )
    for column in _COLUMNS:
        op.drop_index(op.f(f"ix_finding_{column}"), table_name="finding")
        if _sqlite():
            _require_sqlite_alter()
            op.execute(f"ALTER TABLE finding DROP COLUMN {column}")
        else:
            op.drop_constraint(
                op.f(f"fk_finding_{column}_assessment"), "finding", type_="foreignkey"
            )
            op.drop_column("finding", column)
    op.drop_table("assessment")
