"""TOTP second factor (issue 4)

Revision: 0012 (follows 0011)

RESERVED: no schema change yet; the work that owns this revision fills it in.
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
