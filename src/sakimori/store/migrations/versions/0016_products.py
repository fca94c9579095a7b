"""Products (issue 5): nvd_record, product_key and inventory_component.cpe

Revision: 0016 (follows 0015)

``nvd_record`` keeps each NVD CVE API 2.0 record's CPE applicability ``configurations`` (and its
``lastModified``, the cursor of incremental sync). ``product_key`` says which records — NVD
configurations and CVE List V5 ``affected`` entries — name a product, by
``part:vendor:product`` (CPE) or ``text:vendor:product`` (folded free text), so an asset's
products are matched against the few records that can concern them. ``inventory_component``
gains the component's CPE name (product entries, and SBOM components that carry one) and its
origin (``products`` for an entry of a product list: an SBOM upload keeps them, and a product
list upload keeps the SBOM's components).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nvd_record",
        sa.Column("cve_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("last_modified", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=True),
        sa.Column("configurations", sa.JSON(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cve_id", name=op.f("pk_nvd_record")),
    )
    with op.batch_alter_table("nvd_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_nvd_record_last_modified"), ["last_modified"], unique=False
        )
    op.create_table(
        "product_key",
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("cve_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("key", "kind", "cve_id", name=op.f("pk_product_key")),
    )
    with op.batch_alter_table("product_key", schema=None) as batch_op:
        batch_op.create_index("ix_product_key_record", ["kind", "cve_id"], unique=False)
    with op.batch_alter_table("inventory_component", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cpe", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("origin", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inventory_component", schema=None) as batch_op:
        batch_op.drop_column("origin")
        batch_op.drop_column("cpe")
    with op.batch_alter_table("product_key", schema=None) as batch_op:
        batch_op.drop_index("ix_product_key_record")
    op.drop_table("product_key")
    with op.batch_alter_table("nvd_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nvd_record_last_modified"))
    op.drop_table("nvd_record")
