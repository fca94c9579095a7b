"""Organisations, assets, inventories over time, findings, CVE records

Revision: 0002 (follows 0001)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cve_record",
        sa.Column("cve_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("date_updated", sa.String(length=40), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cve_id", name=op.f("pk_cve_record")),
    )
    with op.batch_alter_table("cve_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cve_record_source"), ["source"], unique=False)

    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sectors", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("slug", name=op.f("uq_organisation_slug")),
    )
    op.create_table(
        "asset",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("criticality", sa.String(length=20), nullable=False),
        sa.Column("internet_facing", sa.Boolean(), nullable=True),
        sa.Column("environment", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_asset_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset")),
        sa.UniqueConstraint("organisation_id", "slug", name=op.f("uq_asset_organisation_id_slug")),
    )
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_asset_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "finding",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=1000), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("vulnerability", sa.String(length=200), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("records", sa.JSON(), nullable=False),
        sa.Column("ecosystem", sa.String(length=60), nullable=True),
        sa.Column("package", sa.String(length=500), nullable=True),
        sa.Column("version", sa.String(length=200), nullable=True),
        sa.Column("purl", sa.Text(), nullable=True),
        sa.Column("fixed_versions", sa.JSON(), nullable=False),
        sa.Column("location_fingerprint", sa.String(length=200), nullable=True),
        sa.Column("weakness", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("justification", sa.String(length=60), nullable=True),
        sa.Column("risk_accepted_until", sa.Date(), nullable=True),
        sa.Column("risk_accepted_by", sa.String(length=200), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision", sa.String(length=20), nullable=True),
        sa.Column("priority", sa.String(length=20), nullable=True),
        sa.Column("bod", sa.String(length=10), nullable=True),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_reason", sa.Text(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["asset.id"], name=op.f("fk_finding_asset_id_asset"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding")),
        sa.UniqueConstraint("asset_id", "key", name=op.f("uq_finding_asset_id_key")),
    )
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finding_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_finding_deadline"), ["deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_finding_decision"), ["decision"], unique=False)
        batch_op.create_index("ix_finding_package", ["ecosystem", "package"], unique=False)
        batch_op.create_index("ix_finding_state", ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_finding_vulnerability"), ["vulnerability"], unique=False
        )

    op.create_table(
        "inventory",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=40), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("component_count", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["asset.id"], name=op.f("fk_inventory_asset_id_asset"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory")),
        sa.UniqueConstraint("asset_id", "version", name=op.f("uq_inventory_asset_id_version")),
    )
    with op.batch_alter_table("inventory", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inventory_asset_id"), ["asset_id"], unique=False)

    op.create_table(
        "finding_transition",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["finding.id"],
            name=op.f("fk_finding_transition_finding_id_finding"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_transition")),
    )
    with op.batch_alter_table("finding_transition", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_finding_transition_finding_id"), ["finding_id"], unique=False
        )

    op.create_table(
        "inventory_component",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("inventory_id", sa.Integer(), nullable=False),
        sa.Column("ecosystem", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("release", sa.String(length=60), nullable=True),
        sa.Column("display_name", sa.String(length=500), nullable=False),
        sa.Column("purl", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inventory_id"],
            ["inventory.id"],
            name=op.f("fk_inventory_component_inventory_id_inventory"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_component")),
    )
    with op.batch_alter_table("inventory_component", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inventory_component_inventory_id"), ["inventory_id"], unique=False
        )
        batch_op.create_index("ix_inventory_component_package", ["ecosystem", "name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inventory_component", schema=None) as batch_op:
        batch_op.drop_index("ix_inventory_component_package")
        batch_op.drop_index(batch_op.f("ix_inventory_component_inventory_id"))

    op.drop_table("inventory_component")
    with op.batch_alter_table("finding_transition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finding_transition_finding_id"))

    op.drop_table("finding_transition")
    with op.batch_alter_table("inventory", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_asset_id"))

    op.drop_table("inventory")
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finding_vulnerability"))
        batch_op.drop_index("ix_finding_state")
        batch_op.drop_index("ix_finding_package")
        batch_op.drop_index(batch_op.f("ix_finding_decision"))
        batch_op.drop_index(batch_op.f("ix_finding_deadline"))
        batch_op.drop_index(batch_op.f("ix_finding_asset_id"))

    op.drop_table("finding")
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_organisation_id"))

    op.drop_table("asset")
    op.drop_table("organisation")
    with op.batch_alter_table("cve_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cve_record_source"))

    op.drop_table("cve_record")
