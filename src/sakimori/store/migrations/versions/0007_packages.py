"""Counter-measure packages, their revisions and recipients; STIX objects received over TAXII

Revision: 0007 (follows 0006)

New tables only. A package's content lives in its numbered revisions (immutable once
published); ``cm_package_recipient`` records who a package reaches and why, and when it was
delivered, read and acknowledged. Packages are rendered as STIX on read; ``taxii_object`` holds
only what TAXII clients add, and ``taxii_status`` the status resource of each POST.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cm_package",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_revision", sa.Integer(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cm_package")),
    )
    op.create_table(
        "cm_package_revision",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("approver", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["cm_package.id"],
            name=op.f("fk_cm_package_revision_package_id_cm_package"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cm_package_revision")),
        sa.UniqueConstraint(
            "package_id", "number", name=op.f("uq_cm_package_revision_package_id_number")
        ),
    )
    with op.batch_alter_table("cm_package_revision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cm_package_revision_package_id"), ["package_id"], unique=False
        )
    op.create_table(
        "cm_package_recipient",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("named_users", sa.JSON(), nullable=False),
        sa.Column("since_revision", sa.Integer(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_by", sa.String(length=200), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_cm_package_recipient_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["cm_package.id"],
            name=op.f("fk_cm_package_recipient_package_id_cm_package"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cm_package_recipient")),
        sa.UniqueConstraint(
            "package_id",
            "organisation_id",
            name=op.f("uq_cm_package_recipient_package_id_organisation_id"),
        ),
    )
    with op.batch_alter_table("cm_package_recipient", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cm_package_recipient_organisation_id"),
            ["organisation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_cm_package_recipient_package_id"), ["package_id"], unique=False
        )
    op.create_table(
        "taxii_object",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("collection", sa.String(length=100), nullable=False),
        sa.Column("object_id", sa.String(length=200), nullable=False),
        sa.Column("object_type", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("spec_version", sa.String(length=10), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxii_object")),
        sa.UniqueConstraint(
            "collection",
            "object_id",
            "version",
            name=op.f("uq_taxii_object_collection_object_id_version"),
        ),
    )
    with op.batch_alter_table("taxii_object", schema=None) as batch_op:
        batch_op.create_index("ix_taxii_object_added", ["collection", "added_at"], unique=False)
    op.create_table(
        "taxii_status",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("collection", sa.String(length=100), nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxii_status")),
    )


def downgrade() -> None:
    op.drop_table("taxii_status")
    with op.batch_alter_table("taxii_object", schema=None) as batch_op:
        batch_op.drop_index("ix_taxii_object_added")
    op.drop_table("taxii_object")
    with op.batch_alter_table("cm_package_recipient", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cm_package_recipient_package_id"))
        batch_op.drop_index(batch_op.f("ix_cm_package_recipient_organisation_id"))
    op.drop_table("cm_package_recipient")
    with op.batch_alter_table("cm_package_revision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cm_package_revision_package_id"))
    op.drop_table("cm_package_revision")
    op.drop_table("cm_package")
