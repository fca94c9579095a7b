"""Follow-up of packages, digests and TAXII pulls (issue 6)

Revision: 0019 (follows 0018)

- ``cm_package_recipient`` gains ``reminded_at`` and ``escalated_at``: the acknowledgement
  reminder and the escalation each happen once per recipient.
- ``cm_package_report``: the reports a package requires from a recipient organisation (early
  warning, notification, final report), each with its clock and, once filed, its content.
- ``notify_endpoint.digest`` (existing endpoints: off) and ``notify_digest``: low-priority
  deliveries held for one digest message per endpoint; ``notify_delivery.digest_id`` says which.
- ``taxii_source``: partners' TAXII collections pulled on a schedule, with the cursor of the
  last page taken.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cm_package_recipient", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "cm_package_report",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("filed_by", sa.String(length=200), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_cm_package_report_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["cm_package.id"],
            name=op.f("fk_cm_package_report_package_id_cm_package"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cm_package_report")),
        sa.UniqueConstraint(
            "package_id",
            "organisation_id",
            "kind",
            name=op.f("uq_cm_package_report_package_id_organisation_id_kind"),
        ),
    )
    with op.batch_alter_table("cm_package_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cm_package_report_due_at"), ["due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cm_package_report_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cm_package_report_package_id"), ["package_id"], unique=False
        )
    op.create_table(
        "taxii_source",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=True),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=True),
        sa.Column("max_tlp", sa.String(length=20), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("added_after", sa.String(length=40), nullable=True),
        sa.Column("last_pulled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxii_source")),
        sa.UniqueConstraint("name", name=op.f("uq_taxii_source_name")),
    )
    with op.batch_alter_table("notify_endpoint", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("digest", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "notify_digest",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
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
            name=op.f("fk_notify_digest_endpoint_id_notify_endpoint"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_notify_digest_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_digest")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notify_digest_idempotency_key")),
    )
    with op.batch_alter_table("notify_digest", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notify_digest_endpoint_id"), ["endpoint_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notify_digest_organisation_id"), ["organisation_id"], unique=False
        )
    with op.batch_alter_table("notify_delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_notify_delivery_digest_id"), ["digest_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_notify_delivery_digest_id_notify_digest"),
            "notify_digest",
            ["digest_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("notify_delivery", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notify_delivery_digest_id_notify_digest"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_notify_delivery_digest_id"))
        batch_op.drop_column("digest_id")
    with op.batch_alter_table("notify_digest", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_digest_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_notify_digest_endpoint_id"))
    op.drop_table("notify_digest")
    with op.batch_alter_table("notify_endpoint", schema=None) as batch_op:
        batch_op.drop_column("digest")
    op.drop_table("taxii_source")
    with op.batch_alter_table("cm_package_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cm_package_report_package_id"))
        batch_op.drop_index(batch_op.f("ix_cm_package_report_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_cm_package_report_due_at"))
    op.drop_table("cm_package_report")
    with op.batch_alter_table("cm_package_recipient", schema=None) as batch_op:
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("reminded_at")
