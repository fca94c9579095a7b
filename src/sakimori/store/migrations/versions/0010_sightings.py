"""Sightings from operators' monitoring (issue 7)

Revision: 0010 (follows 0009)

New tables only. ``sighting`` holds what a member organisation's ``sakimori watch`` reported
(client as its privacy setting shows it, detector, rule and version, source, first/last seen,
count; never a log line); ``sighting_vulnerability`` the vulnerabilities each one names, indexed
for corroboration; ``exploitation_review`` the vulnerabilities flagged for analyst review and
the analyst's decision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sighting",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(length=100), nullable=False),
        sa.Column("privacy", sa.String(length=10), nullable=False),
        sa.Column("detector", sa.String(length=60), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=60), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("vulnerabilities", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_sighting_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sighting")),
        sa.UniqueConstraint(
            "organisation_id",
            "detector",
            "source",
            "rule",
            "version",
            "client",
            "first_seen",
            name="uq_sighting_key",
        ),
    )
    with op.batch_alter_table("sighting", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sighting_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index("ix_sighting_reported_at", ["reported_at"], unique=False)
    op.create_table(
        "sighting_vulnerability",
        sa.Column("sighting_id", sa.Integer(), nullable=False),
        sa.Column("vulnerability", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["sighting_id"],
            ["sighting.id"],
            name=op.f("fk_sighting_vulnerability_sighting_id_sighting"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "sighting_id", "vulnerability", name=op.f("pk_sighting_vulnerability")
        ),
    )
    with op.batch_alter_table("sighting_vulnerability", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sighting_vulnerability_vulnerability"), ["vulnerability"], unique=False
        )
    op.create_table(
        "exploitation_review",
        sa.Column("vulnerability", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sighting_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("vulnerability", name=op.f("pk_exploitation_review")),
    )


def downgrade() -> None:
    op.drop_table("exploitation_review")
    with op.batch_alter_table("sighting_vulnerability", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sighting_vulnerability_vulnerability"))
    op.drop_table("sighting_vulnerability")
    with op.batch_alter_table("sighting", schema=None) as batch_op:
        batch_op.drop_index("ix_sighting_reported_at")
        batch_op.drop_index(batch_op.f("ix_sighting_organisation_id"))
    op.drop_table("sighting")
