"""Triage by reference: shape, triage_rule, triage_revision (issue 3, ADR 0001)

Revision: 0013 (follows 0012)

RESERVED: no schema change yet; the work that owns this revision fills it in.
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
