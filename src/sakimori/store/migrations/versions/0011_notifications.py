"""Notification channels and deliveries (issue 6)

Revision: 0011 (follows 0010)

RESERVED: no schema change yet; the work that owns this revision fills it in.
"""

from __future__ import annotations

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
