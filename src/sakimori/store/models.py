"""Database tables (SQLAlchemy 2 typed models). Alembic migrations in ``migrations/`` follow them.

The tables hold vulnerability intelligence in the form the matcher needs:

- ``intel_source``: each feed or local path loaded, with its HTTP validators and freshness;
- ``advisory``: one row per OSV record (its content hash decides whether a reload changes it);
- ``advisory_alias``: every id of every record (CVE, GHSA, PYSEC, GO, RUSTSEC…), for alias joins;
- ``affected_package``: one row per ``affected`` entry, keyed by (ecosystem, normalised name), so a
  scan fetches only the entries of the packages it holds;
- ``kev_entry`` and ``epss_score``: exploitation intelligence keyed by CVE id;
- ``loaded_file``: size and mtime of each local file loaded, so an unchanged file is not re-read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class IntelSource(Base):
    __tablename__ = "intel_source"

    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    location: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Advisory(Base):
    __tablename__ = "advisory"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(300), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    modified: Mapped[str] = mapped_column(String(40))
    published: Mapped[str | None] = mapped_column(String(40))
    withdrawn: Mapped[str | None] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text, default="")
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    severity: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    #: The whole record as canonical JSON, so derived rows can be rebuilt without re-fetching.
    record: Mapped[bytes] = mapped_column(LargeBinary)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AdvisoryAlias(Base):
    __tablename__ = "advisory_alias"

    alias: Mapped[str] = mapped_column(String(200), primary_key=True)
    advisory_id: Mapped[str] = mapped_column(
        ForeignKey("advisory.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AffectedPackage(Base):
    __tablename__ = "affected_package"
    __table_args__ = (Index("ix_affected_package_ecosystem_name", "ecosystem", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    advisory_id: Mapped[str] = mapped_column(
        ForeignKey("advisory.id", ondelete="CASCADE"), index=True
    )
    #: Base ecosystem (``Debian``) and the release suffix (``12``) when the record names one.
    ecosystem: Mapped[str] = mapped_column(String(60))
    release: Mapped[str | None] = mapped_column(String(60))
    #: Package name normalised per ecosystem (``sakimori.model.ecosystem.normalize_name``).
    name: Mapped[str] = mapped_column(String(500))
    #: ``[{"type": "ECOSYSTEM", "events": [["introduced", "0"], ["fixed", "1.2"]]}]``
    ranges: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    versions: Mapped[list[str]] = mapped_column(JSON, default=list)


class KevEntry(Base):
    __tablename__ = "kev_entry"

    cve_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    vendor: Mapped[str] = mapped_column(Text)
    product: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    date_added: Mapped[str] = mapped_column(String(20))
    due_date: Mapped[str | None] = mapped_column(String(20))
    required_action: Mapped[str] = mapped_column(Text, default="")
    known_ransomware: Mapped[str] = mapped_column(String(20), default="Unknown")
    cwes: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")


class EpssScore(Base):
    __tablename__ = "epss_score"

    cve_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    epss: Mapped[float] = mapped_column(Float)
    percentile: Mapped[float] = mapped_column(Float)


class LoadedFile(Base):
    __tablename__ = "loaded_file"

    path: Mapped[str] = mapped_column(Text, primary_key=True)
    source: Mapped[str] = mapped_column(String(300), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(64))
