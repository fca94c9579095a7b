"""JVN iPedia: jvn_record and jvn_cve

Revision: 0017 (follows 0016)

``jvn_record`` keeps each JVN iPedia entry (``JVNDB-YYYY-NNNNNN``) as MyJVN's VULDEF detail or
RSS overview gives it: title and description per language (Japanese and English readings of one
entry merge into one row), CVE ids, CVSS, affected products (CPE 2.2 and 2.3, JVN's version
text), references and vendor advisories, CWE ids and dates. ``jvn_cve`` links CVE ids to the
JVNDB ids that name them, so a finding of a CVE can carry its JVNDB ids among its aliases.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jvn_record",
        sa.Column("jvn_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("reading", sa.String(length=10), nullable=False),
        sa.Column("titles", sa.JSON(), nullable=False),
        sa.Column("descriptions", sa.JSON(), nullable=False),
        sa.Column("cve_ids", sa.JSON(), nullable=False),
        sa.Column("cvss", sa.JSON(), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.Column("cwe_ids", sa.JSON(), nullable=False),
        sa.Column("published", sa.String(length=40), nullable=True),
        sa.Column("modified", sa.String(length=40), nullable=True),
        sa.Column("disclosed", sa.String(length=40), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jvn_id", name=op.f("pk_jvn_record")),
    )
    with op.batch_alter_table("jvn_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jvn_record_source"), ["source"], unique=False)
        batch_op.create_index(batch_op.f("ix_jvn_record_modified"), ["modified"], unique=False)
    op.create_table(
        "jvn_cve",
        sa.Column("cve_id", sa.String(length=40), nullable=False),
        sa.Column("jvn_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("cve_id", "jvn_id", name=op.f("pk_jvn_cve")),
    )
    with op.batch_alter_table("jvn_cve", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jvn_cve_jvn_id"), ["jvn_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jvn_cve", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jvn_cve_jvn_id"))
    op.drop_table("jvn_cve")
    with op.batch_alter_table("jvn_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jvn_record_modified"))
        batch_op.drop_index(batch_op.f("ix_jvn_record_source"))
    op.drop_table("jvn_record")
