"""Notification channels and deliveries (issue 6)

Revision: 0011 (follows 0010)

New tables only. ``notify_endpoint`` holds each organisation's webhook URLs and e-mail
addresses with their filters (and a webhook's sealed signing secret); ``notify_delivery`` one
row per (package revision, endpoint) notified: its idempotency key, attempts and outcome.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_endpoint",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=True),
        sa.Column("sectors", sa.JSON(), nullable=False),
        sa.Column("vulnerabilities", sa.JSON(), nullable=False),
        sa.Column("purl_prefixes", sa.JSON(), nullable=False),
        sa.Column("min_tlp", sa.String(length=20), nullable=True),
        sa.Column("max_tlp", sa.String(length=20), nullable=True),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_notify_endpoint_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_endpoint")),
    )
    with op.batch_alter_table("notify_endpoint", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notify_endpoint_organisation_id"), ["organisation_id"], unique=False
        )
    op.create_table(
        "notify_delivery",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("cause", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["notify_endpoint.id"],
            name=op.f("fk_notify_delivery_endpoint_id_notify_endpoint"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_notify_delivery_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["cm_package.id"],
            name=op.f("fk_notify_delivery_package_id_cm_package"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_delivery")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notify_delivery_idempotency_key")),
        sa.UniqueConstraint(
            "package_id",
            "revision",
            "endpoint_id",
            name=op.f("uq_notify_delivery_package_id_revision_endpoint_id"),
        ),
    )
    with op.batch_alter_table("notify_delivery", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notify_delivery_endpoint_id"), ["endpoint_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notify_delivery_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            "ix_notify_delivery_state_organisation", ["state", "organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notify_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_notify_delivery_state_organisation")
        batch_op.drop_index(batch_op.f("ix_notify_delivery_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_notify_delivery_endpoint_id"))
    op.drop_table("notify_delivery")
    with op.batch_alter_table("notify_endpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_endpoint_organisation_id"))
    op.drop_table("notify_endpoint")
