"""Triage by reference (ADR 0001): shapes, contexts, rules and revisions; findings keep only keys

Revision: 0013 (follows 0012)

A finding no longer stores its decision, priority, BOD outcome, policy, deadline, reason or
explanation references. It points to its vulnerability shape (``finding.shape_id`` →
``triage_shape``: the SSVC class and the vulnerability part of the explanation), its asset to a
context (``asset.triage_context_id`` → ``triage_context``), and (class, context) names a
``triage_rule`` with the outcomes and the deadline terms; the deadline is computed when read
(``store.triage_view``). ``triage_revision`` records each re-assessment that changed something.

Existing data: a shape is created for every distinct (vulnerability, aliases, records, has a fix)
of the findings and each finding points to its own; a closed finding keeps the deadline it had
(``closed_deadline``). Rules are not back-filled: decisions and open deadlines return with the
next re-assessment (``sakimori triage recompute``, or the ``assess.open`` job), which computes
the same values from the same policy.

SQLite: columns are added and dropped with ``ALTER TABLE`` (3.35 or later), as in 0005.
"""

from __future__ import annotations

import hashlib

import orjson
import sqlalchemy as sa
from alembic import op

from sakimori.store.migrations.columns import (
    add_reference,
    drop_reference,
    require_sqlite_alter,
)

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: The stored triage columns that give way to references, and their indexes.
_OLD_COLUMNS = (
    ("decision", sa.String(length=20)),
    ("priority", sa.String(length=20)),
    ("bod", sa.String(length=10)),
    ("policy", sa.String(length=100)),
    ("deadline", sa.DateTime(timezone=True)),
    ("deadline_reason", sa.Text()),
    ("assessment_id", sa.Integer()),
    ("context_assessment_id", sa.Integer()),
)
_OLD_INDEXES = ("decision", "deadline", "assessment_id", "context_assessment_id")
_OLD_FOREIGN_KEYS = ("assessment_id", "context_assessment_id")


def upgrade() -> None:
    require_sqlite_alter("0013")
    op.create_table(
        "triage_revision",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("policy_set", sa.String(length=200), nullable=False),
        sa.Column("shapes_changed", sa.Integer(), nullable=False),
        sa.Column("rules_changed", sa.Integer(), nullable=False),
        sa.Column("findings_changed", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_revision")),
    )
    op.create_table(
        "triage_context",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_context")),
        sa.UniqueConstraint("digest", name=op.f("uq_triage_context_digest")),
    )
    op.create_table(
        "triage_shape",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("vulnerability", sa.String(length=200), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("records", sa.JSON(), nullable=False),
        sa.Column("fixed", sa.Boolean(), nullable=False),
        sa.Column("vclass", sa.String(length=80), nullable=True),
        sa.Column("assessment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessment.id"],
            name=op.f("fk_triage_shape_assessment_id_assessment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_shape")),
        sa.UniqueConstraint("digest", name=op.f("uq_triage_shape_digest")),
    )
    op.create_table(
        "triage_rule",
        sa.Column("vclass", sa.String(length=80), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.String(length=20), nullable=False),
        sa.Column("bod", sa.String(length=10), nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=False),
        sa.Column("duration_s", sa.BigInteger(), nullable=True),
        sa.Column("kev_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("grace_s", sa.BigInteger(), nullable=True),
        sa.Column("context_assessment_id", sa.Integer(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_assessment_id"],
            ["assessment.id"],
            name=op.f("fk_triage_rule_context_assessment_id_assessment"),
        ),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["triage_context.id"],
            name=op.f("fk_triage_rule_context_id_triage_context"),
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["triage_revision.id"],
            name=op.f("fk_triage_rule_revision_id_triage_revision"),
        ),
        sa.PrimaryKeyConstraint("vclass", "context_id", name=op.f("pk_triage_rule")),
    )
    add_reference("finding", "shape_id", "triage_shape")  # not indexed: see models.Finding
    op.add_column(
        "finding", sa.Column("closed_deadline", sa.DateTime(timezone=True), nullable=True)
    )
    add_reference("asset", "triage_context_id", "triage_context")
    _backfill()
    for column in _OLD_INDEXES:
        op.drop_index(op.f(f"ix_finding_{column}"), table_name="finding")
    for column, _type in _OLD_COLUMNS:
        if column in _OLD_FOREIGN_KEYS:
            drop_reference("finding", column, "assessment")
        else:
            op.drop_column("finding", column)


def _backfill() -> None:
    """A shape per distinct finding content, each finding pointing to its own; closed findings
    keep their deadline."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT DISTINCT vulnerability, CAST(aliases AS TEXT), CAST(records AS TEXT), "
            "CAST(fixed_versions AS TEXT) <> '[]' FROM finding"
        )
    ).all()
    shapes = []
    for vulnerability, aliases, records, fixed in rows:
        # The same digest as store.triage_view.shape_digest (kept here: a migration is frozen).
        canonical = orjson.dumps(
            [vulnerability, orjson.loads(aliases), orjson.loads(records), bool(fixed)]
        )
        shapes.append(
            {
                "digest": hashlib.sha256(canonical).hexdigest(),
                "vulnerability": vulnerability,
                "aliases": orjson.loads(aliases),
                "records": orjson.loads(records),
                "fixed": bool(fixed),
            }
        )
    if shapes:
        table = sa.table(
            "triage_shape",
            sa.column("digest", sa.String()),
            sa.column("vulnerability", sa.String()),
            sa.column("aliases", sa.JSON()),
            sa.column("records", sa.JSON()),
            sa.column("fixed", sa.Boolean()),
        )
        op.bulk_insert(table, shapes)
        # The shape's JSON is written by the same serializer as the finding's: equal as text.
        op.execute(
            "UPDATE finding SET shape_id = triage_shape.id FROM triage_shape "
            "WHERE triage_shape.vulnerability = finding.vulnerability "
            "AND CAST(triage_shape.aliases AS TEXT) = CAST(finding.aliases AS TEXT) "
            "AND CAST(triage_shape.records AS TEXT) = CAST(finding.records AS TEXT) "
            "AND triage_shape.fixed = (CAST(finding.fixed_versions AS TEXT) <> '[]')"
        )
    op.execute("UPDATE finding SET closed_deadline = deadline WHERE closed_at IS NOT NULL")


def downgrade() -> None:
    require_sqlite_alter("0013")
    for column, kind in _OLD_COLUMNS:
        if column in _OLD_FOREIGN_KEYS:
            add_reference("finding", column, "assessment")
        else:
            op.add_column("finding", sa.Column(column, kind, nullable=True))
    for column in _OLD_INDEXES:
        op.create_index(op.f(f"ix_finding_{column}"), "finding", [column], unique=False)
    op.execute("UPDATE finding SET deadline = closed_deadline WHERE closed_at IS NOT NULL")
    drop_reference("asset", "triage_context_id", "triage_context")
    op.drop_column("finding", "closed_deadline")
    drop_reference("finding", "shape_id", "triage_shape")
    op.drop_table("triage_rule")
    op.drop_table("triage_shape")
    op.drop_table("triage_context")
    op.drop_table("triage_revision")
