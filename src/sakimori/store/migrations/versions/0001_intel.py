"""Vulnerability intelligence: advisories, affected packages, KEV, EPSS

Revision: 0001 (the first)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "advisory",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("modified", sa.String(length=40), nullable=False),
        sa.Column("published", sa.String(length=40), nullable=True),
        sa.Column("withdrawn", sa.String(length=40), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("severity", sa.JSON(), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advisory")),
    )
    with op.batch_alter_table("advisory", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_advisory_source"), ["source"], unique=False)

    op.create_table(
        "epss_score",
        sa.Column("cve_id", sa.String(length=40), nullable=False),
        sa.Column("epss", sa.Float(), nullable=False),
        sa.Column("percentile", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("cve_id", name=op.f("pk_epss_score")),
    )
    op.create_table(
        "intel_source",
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_intel_source")),
    )
    op.create_table(
        "kev_entry",
        sa.Column("cve_id", sa.String(length=40), nullable=False),
        sa.Column("vendor", sa.Text(), nullable=False),
        sa.Column("product", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("date_added", sa.String(length=20), nullable=False),
        sa.Column("due_date", sa.String(length=20), nullable=True),
        sa.Column("required_action", sa.Text(), nullable=False),
        sa.Column("known_ransomware", sa.String(length=20), nullable=False),
        sa.Column("cwes", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("cve_id", name=op.f("pk_kev_entry")),
    )
    op.create_table(
        "loaded_file",
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_loaded_file")),
    )
    with op.batch_alter_table("loaded_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loaded_file_source"), ["source"], unique=False)

    op.create_table(
        "advisory_alias",
        sa.Column("alias", sa.String(length=200), nullable=False),
        sa.Column("advisory_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["advisory_id"],
            ["advisory.id"],
            name=op.f("fk_advisory_alias_advisory_id_advisory"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alias", "advisory_id", name=op.f("pk_advisory_alias")),
    )
    with op.batch_alter_table("advisory_alias", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_advisory_alias_advisory_id"), ["advisory_id"], unique=False
        )

    op.create_table(
        "affected_package",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("advisory_id", sa.String(length=200), nullable=False),
        sa.Column("ecosystem", sa.String(length=60), nullable=False),
        sa.Column("release", sa.String(length=60), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("ranges", sa.JSON(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["advisory_id"],
            ["advisory.id"],
            name=op.f("fk_affected_package_advisory_id_advisory"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affected_package")),
    )
    with op.batch_alter_table("affected_package", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_affected_package_advisory_id"), ["advisory_id"], unique=False
        )
        batch_op.create_index(
            "ix_affected_package_ecosystem_name", ["ecosystem", "name"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("affected_package", schema=None) as batch_op:
        batch_op.drop_index("ix_affected_package_ecosystem_name")
        batch_op.drop_index(batch_op.f("ix_affected_package_advisory_id"))

    op.drop_table("affected_package")
    with op.batch_alter_table("advisory_alias", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_advisory_alias_advisory_id"))

    op.drop_table("advisory_alias")
    with op.batch_alter_table("loaded_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loaded_file_source"))

    op.drop_table("loaded_file")
    op.drop_table("kev_entry")
    op.drop_table("intel_source")
    op.drop_table("epss_score")
    with op.batch_alter_table("advisory", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_advisory_source"))

    op.drop_table("advisory")
