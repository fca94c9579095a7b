"""VEX documents and statements

Revision: 0004 (follows 0003)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vex_document",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("document_ref", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["asset.id"],
            name=op.f("fk_vex_document_asset_id_asset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_vex_document_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vex_document")),
    )
    with op.batch_alter_table("vex_document", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vex_document_organisation_id"), ["organisation_id"], unique=False
        )
    op.create_table(
        "vex_statement",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("vulnerability", sa.String(length=200), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("purl", sa.Text(), nullable=True),
        sa.Column("cpe", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("justification", sa.String(length=60), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("stated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unmatched", sa.Boolean(), nullable=False),
        sa.Column("matched_findings", sa.JSON(), nullable=False),
        sa.Column("applied_findings", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["asset.id"],
            name=op.f("fk_vex_statement_asset_id_asset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["vex_document.id"],
            name=op.f("fk_vex_statement_document_id_vex_document"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_vex_statement_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vex_statement")),
    )
    with op.batch_alter_table("vex_statement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vex_statement_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_vex_statement_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index("ix_vex_statement_vulnerability", ["vulnerability"], unique=False)


def downgrade() -> None:
    op.drop_table("vex_statement")
    op.drop_table("vex_document")
