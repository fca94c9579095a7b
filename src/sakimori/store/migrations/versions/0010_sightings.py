"""Sightings from operators' monitoring (issue 7)

Revision: 0010 (follows 0009)

RESERVED: no schema change yet; the work that owns this revision fills it in.
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
