"""Advisory details by reference (ADR 0001 part (e)): findings point to a shared finding_detail

Revision: 0015 (follows 0014)

A finding no longer stores its aliases, matched records, fixed versions or triage shape. They
move to ``finding_detail``, one row per identity — kind, key, purl and OS release, what matching
reads — shared by the findings of every asset holding that package-version, and rewritten in
place when an advisory changes (``finding.detail_id``).

Existing data: each identity's detail is the content of its most recently seen finding (the
findings of one identity differ only when a refresh skipped a closed one); findings point to
it. Their OS release is not stored, so migrated details have none: the next match of an OS
package moves its findings to the detail with the release, as a changed identity does.

SQLite: columns are added and dropped with ``ALTER TABLE`` (3.35 or later), as in 0013.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import orjson
import sqlalchemy as sa
from alembic import op

from sakimori.store.migrations.columns import (
    add_reference,
    drop_reference,
    is_sqlite,
    require_sqlite_alter,
)

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_BATCH = 5000


def _digest(kind: str, key: str, vulnerability: str, purl: str | None) -> str:
    """The same digest as ``services.finding_details.identity``, with no OS release (kept
    here: a migration is frozen)."""
    return hashlib.sha256(orjson.dumps([kind, key, vulnerability, purl, None])).hexdigest()


def upgrade() -> None:
    require_sqlite_alter("0015")
    op.create_table(
        "finding_detail",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("vulnerability", sa.String(length=200), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("records", sa.JSON(), nullable=False),
        sa.Column("fixed_versions", sa.JSON(), nullable=False),
        sa.Column("shape_id", sa.Integer(), nullable=True),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shape_id"], ["triage_shape.id"], name=op.f("fk_finding_detail_shape_id_triage_shape")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_detail")),
        sa.UniqueConstraint("digest", name=op.f("uq_finding_detail_digest")),
    )
    add_reference("finding", "detail_id", "finding_detail")
    _backfill()
    op.create_index(op.f("ix_finding_detail_id"), "finding", ["detail_id"], unique=False)
    for column in ("aliases", "records", "fixed_versions"):
        op.drop_column("finding", column)
    drop_reference("finding", "shape_id", "triage_shape")


def _backfill() -> None:
    """One detail per identity (its latest content), and every finding pointing to it."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT kind, key, purl, vulnerability, CAST(aliases AS TEXT), "
            "CAST(records AS TEXT), CAST(fixed_versions AS TEXT), shape_id, "
            "MAX(last_seen_at) AS seen FROM finding "
            "GROUP BY kind, key, purl, vulnerability, CAST(aliases AS TEXT), "
            "CAST(records AS TEXT), CAST(fixed_versions AS TEXT), shape_id "
            "ORDER BY seen"
        )
    )
    latest: dict[str, dict[str, object]] = {}
    keys: dict[str, tuple[str, str, str, str]] = {}
    now = datetime.now(UTC)
    for kind, key, purl, vulnerability, aliases, records, fixed, shape, _seen in rows:
        digest = _digest(kind, key, vulnerability, purl)
        # Ordered by when seen: the last content of an identity wins.
        latest[digest] = {
            "digest": digest,
            "vulnerability": vulnerability,
            "aliases": orjson.loads(aliases),
            "records": orjson.loads(records),
            "fixed_versions": orjson.loads(fixed),
            "shape_id": shape,
            "matched_at": now,
        }
        keys[digest] = (kind, key, vulnerability, purl or "")
    if not latest:
        return
    detail = sa.table(
        "finding_detail",
        sa.column("id", sa.Integer()),
        sa.column("digest", sa.String()),
        sa.column("vulnerability", sa.String()),
        sa.column("aliases", sa.JSON()),
        sa.column("records", sa.JSON()),
        sa.column("fixed_versions", sa.JSON()),
        sa.column("shape_id", sa.Integer()),
        sa.column("matched_at", sa.DateTime(timezone=True)),
    )
    values = list(latest.values())
    for start in range(0, len(values), _BATCH):
        bind.execute(detail.insert(), values[start : start + _BATCH])
    # Findings find their detail through a scratch table of identities.
    op.execute(
        "CREATE TEMPORARY TABLE detail_identity (kind VARCHAR(10), key VARCHAR(1000), "
        "vulnerability VARCHAR(200), purl TEXT, digest VARCHAR(64))"
    )
    scratch = sa.table(
        "detail_identity",
        sa.column("kind", sa.String()),
        sa.column("key", sa.String()),
        sa.column("vulnerability", sa.String()),
        sa.column("purl", sa.String()),
        sa.column("digest", sa.String()),
    )
    identities = [
        {"kind": kind, "key": key, "vulnerability": vulnerability, "purl": purl, "digest": digest}
        for digest, (kind, key, vulnerability, purl) in keys.items()
    ]
    for start in range(0, len(identities), _BATCH):
        bind.execute(scratch.insert(), identities[start : start + _BATCH])
    op.execute(
        "UPDATE finding SET detail_id = finding_detail.id FROM detail_identity "
        "JOIN finding_detail ON finding_detail.digest = detail_identity.digest "
        "WHERE detail_identity.kind = finding.kind AND detail_identity.key = finding.key "
        "AND detail_identity.vulnerability = finding.vulnerability "
        "AND detail_identity.purl = COALESCE(finding.purl, '')"
    )
    op.execute("DROP TABLE detail_identity")


def downgrade() -> None:
    require_sqlite_alter("0015")
    for column in ("aliases", "records", "fixed_versions"):
        op.add_column("finding", sa.Column(column, sa.JSON(), nullable=True))
    add_reference("finding", "shape_id", "triage_shape")
    op.execute(
        "UPDATE finding SET aliases = finding_detail.aliases, records = finding_detail.records, "
        "fixed_versions = finding_detail.fixed_versions, shape_id = finding_detail.shape_id "
        "FROM finding_detail WHERE finding_detail.id = finding.detail_id"
    )
    for column in ("aliases", "records", "fixed_versions"):
        op.execute(f"UPDATE finding SET {column} = '[]' WHERE {column} IS NULL")  # noqa: S608
        if not is_sqlite():
            op.alter_column("finding", column, nullable=False)
    op.drop_index(op.f("ix_finding_detail_id"), table_name="finding")
    drop_reference("finding", "detail_id", "finding_detail")
    op.drop_table("finding_detail")
