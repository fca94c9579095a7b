"""Pre-aggregated remediation metrics (issue 4): metrics_snapshot and metrics_figures

Revision: 0014 (follows 0013)

New tables only. ``metrics_snapshot`` holds one computation of the figures
``services.metrics.report`` produces (when, how long, how many findings); ``metrics_figures``
its figures per scope (overall, organisation, sector, pair of sectors), so the dashboard and
the API read a few rows instead of scanning every finding (``services.metrics_snapshot``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metrics_snapshot",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metrics_snapshot")),
    )
    with op.batch_alter_table("metrics_snapshot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_metrics_snapshot_at"), ["at"], unique=False)
    op.create_table(
        "metrics_figures",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=12), nullable=False),
        sa.Column("key", sa.String(length=210), nullable=False),
        sa.Column("open", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["metrics_snapshot.id"],
            name=op.f("fk_metrics_figures_snapshot_id_metrics_snapshot"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("snapshot_id", "scope", "key", name=op.f("pk_metrics_figures")),
    )
    with op.batch_alter_table("metrics_figures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_metrics_figures_top", ["snapshot_id", "scope", "open"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("metrics_figures", schema=None) as batch_op:
        batch_op.drop_index("ix_metrics_figures_top")
    op.drop_table("metrics_figures")
    with op.batch_alter_table("metrics_snapshot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metrics_snapshot_at"))
    op.drop_table("metrics_snapshot")
