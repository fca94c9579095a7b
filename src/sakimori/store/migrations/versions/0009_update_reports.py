"""Emergency updates: the releases published, the roll-out steps reported, and who has seen them

Revision: 0009 (follows 0008)

New tables only. ``update_release`` records each release the platform published for a vendor
(its package and the vulnerabilities it fixes), written when the upload is accepted;
``update_report`` every roll-out step an operator reported for one of its assets;
``update_seen`` which recipient organisation has seen which release (the in-interface alert).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "update_release",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("vendor", sa.String(length=100), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("line", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=True),
        sa.Column("fixes", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"], ["cm_package.id"], name=op.f("fk_update_release_package_id_cm_package")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_update_release")),
        sa.UniqueConstraint("vendor", "path", name=op.f("uq_update_release_vendor_path")),
    )
    with op.batch_alter_table("update_release", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_update_release_package_id"), ["package_id"], unique=False
        )
    op.create_table(
        "update_report",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("vendor", sa.String(length=100), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.Column("line", sa.String(length=100), nullable=True),
        sa.Column("version", sa.String(length=100), nullable=True),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("stage", sa.String(length=100), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["asset.id"], name=op.f("fk_update_report_asset_id_asset")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_update_report")),
    )
    with op.batch_alter_table("update_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_update_report_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index("ix_update_report_vendor_path", ["vendor", "path"], unique=False)
    op.create_table(
        "update_seen",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_update_seen_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["update_release.id"],
            name=op.f("fk_update_seen_release_id_update_release"),
        ),
        sa.PrimaryKeyConstraint("organisation_id", "release_id", name=op.f("pk_update_seen")),
    )


def downgrade() -> None:
    op.drop_table("update_seen")
    with op.batch_alter_table("update_report", schema=None) as batch_op:
        batch_op.drop_index("ix_update_report_vendor_path")
        batch_op.drop_index(batch_op.f("ix_update_report_asset_id"))
    op.drop_table("update_report")
    with op.batch_alter_table("update_release", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_update_release_package_id"))
    op.drop_table("update_release")
