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

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

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


# -- organisations, assets, inventories over time ------------------------------------------------


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(Text)
    #: coordinator | agency | operator | vendor | partner
    kind: Mapped[str] = mapped_column(String(20))
    #: Japan's critical-infrastructure sectors (``sakimori.model.organisation.SECTORS``).
    sectors: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Asset(Base):
    __tablename__ = "asset"
    __table_args__ = (UniqueConstraint("organisation_id", "slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(Text)
    #: low | medium | high | critical
    criticality: Mapped[str] = mapped_column(String(20))
    #: True: reachable from the internet; False: internal; None: not stated.
    internet_facing: Mapped[bool | None] = mapped_column(Boolean)
    environment: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The triage context the last assessment derived (criticality, exposure, sectors…).
    triage_context_id: Mapped[int | None] = mapped_column(ForeignKey("triage_context.id"))


class Inventory(Base):
    """One upload of an asset's inventory; the highest version is the current one."""

    __tablename__ = "inventory"
    __table_args__ = (UniqueConstraint("asset_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    component_count: Mapped[int] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    uploaded_by: Mapped[str] = mapped_column(String(200))


class InventoryComponent(Base):
    """A unique package-version of one inventory (components reduced on upload)."""

    __tablename__ = "inventory_component"
    __table_args__ = (Index("ix_inventory_component_package", "ecosystem", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inventory_id: Mapped[int] = mapped_column(
        ForeignKey("inventory.id", ondelete="CASCADE"), index=True
    )
    ecosystem: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(500))  # normalised
    version: Mapped[str] = mapped_column(String(200))
    release: Mapped[str | None] = mapped_column(String(60))
    display_name: Mapped[str] = mapped_column(String(500))  # as the inventory wrote it
    purl: Mapped[str | None] = mapped_column(Text)
    #: The CPE 2.3 name of a product entry (ecosystem ``CPE``), or the one an SBOM gave.
    cpe: Mapped[str | None] = mapped_column(Text)
    #: ``products`` for an entry of a product list, None for what an SBOM, a lockfile or an
    #: image holds: uploading one kind keeps the other kind's entries of the previous version.
    origin: Mapped[str | None] = mapped_column(String(20))


# -- findings and their history -------------------------------------------------------------------


class Assessment(Base):
    """One part of the explanation of triage decisions, stored once and shared (content-addressed).

    A decision's explanation is the same for every finding of a vulnerability in the same asset
    context, and it splits into two parts that vary independently: what is known about the
    vulnerability (``part = "vulnerability"``: Exploitation, Automatable, Technical Impact and
    KEV with their evidence, the table versions and the triage configuration) and what the
    asset context gives with the three outcomes (``part = "context"``). A finding points to one
    of each; ``part = "unavailable"`` says why a finding could not be decided. ``digest`` is
    the SHA-256 of the canonical JSON of ``data``; rows are never changed, only added.
    """

    __tablename__ = "assessment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    part: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TriageShape(Base):
    """What a finding's evidence depends on — vulnerability id, aliases, matched records, whether
    a fix exists — shared by every finding with the same, with what triage last derived for it:
    its class of vulnerability decision points (``vclass``) and that part of the explanation.
    ``digest`` identifies the content; rows are added by reconciliation, their class rewritten
    by assessment (a few thousand rows for a million findings)."""

    __tablename__ = "triage_shape"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    vulnerability: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    records: Mapped[list[str]] = mapped_column(JSON, default=list)
    fixed: Mapped[bool] = mapped_column(Boolean)
    #: ``E|A|TI|KEV|KEV due date`` of the last assessment; None until assessed or undecidable.
    vclass: Mapped[str | None] = mapped_column(String(80))
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessment.id"))


class TriageContext(Base):
    """A distinct asset context (criticality, exposure, environment, sectors), by content."""

    __tablename__ = "triage_context"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class TriageRule(Base):
    """The outcomes and deadline terms of one (vulnerability class, asset context): what every
    finding of that pair gets. The deadline is ``least(first seen + duration,
    greatest(kev_end, first seen + grace))`` (``triage.policy.DeadlineTerms``), computed when
    read. ``plan`` holds the per-sector policy inputs, to explain the deadline."""

    __tablename__ = "triage_rule"

    vclass: Mapped[str] = mapped_column(String(80), primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("triage_context.id"), primary_key=True)
    decision: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(20))
    bod: Mapped[str] = mapped_column(String(10))
    policy: Mapped[str] = mapped_column(String(100))
    duration_s: Mapped[int | None] = mapped_column(BigInteger)
    kev_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    grace_s: Mapped[int | None] = mapped_column(BigInteger)
    context_assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"))
    plan: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    revision_id: Mapped[int] = mapped_column(ForeignKey("triage_revision.id"))


class TriageRevision(Base):
    """One re-assessment that changed something: when, why, under which policy set, tables and
    configuration, and which shapes and rules changed (before and after). A finding's deadline
    at any past time follows from its first-seen time and the rule then in force."""

    __tablename__ = "triage_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    why: Mapped[str] = mapped_column(Text)
    policy_set: Mapped[str] = mapped_column(String(200))
    shapes_changed: Mapped[int] = mapped_column(Integer)
    rules_changed: Mapped[int] = mapped_column(Integer)
    findings_changed: Mapped[int] = mapped_column(Integer)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)


class FindingDetail(Base):
    """What matching says about one vulnerability of one package-version (or one weakness at a
    code location): its aliases, the advisory records that matched, the fixed versions, and its
    triage shape. Shared by every finding with the same identity — kind, key, purl and OS
    release, the inputs of matching, whose ``digest`` names the row — and rewritten in place
    when intel changes, so a changed advisory writes a few of these rows and no finding.
    ``matched_at`` is when the content was matched (``services.finding_details``)."""

    __tablename__ = "finding_detail"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    vulnerability: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    records: Mapped[list[str]] = mapped_column(JSON, default=list)
    fixed_versions: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Triage by reference (ADR 0001): the shape carries the SSVC class and the vulnerability
    #: part of the explanation.
    shape_id: Mapped[int | None] = mapped_column(ForeignKey("triage_shape.id"))
    matched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Finding(Base):
    """A vulnerability in an asset's component (or, later, a weakness at a code location).

    ``key`` identifies it within the asset across inventory versions:
    ``pkg:<ecosystem>/<name>@<version>#<vulnerability>`` or ``code:<fingerprint>#<weakness>``.
    """

    __tablename__ = "finding"
    __table_args__ = (
        UniqueConstraint("asset_id", "key"),
        Index("ix_finding_state", "state"),
        Index("ix_finding_package", "ecosystem", "package"),
        #: A vulnerability's findings in id order: the findings list pages through them.
        Index("ix_finding_vulnerability_id", "vulnerability", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(1000))
    kind: Mapped[str] = mapped_column(String(10))  # package | code
    vulnerability: Mapped[str] = mapped_column(String(200))
    ecosystem: Mapped[str | None] = mapped_column(String(60))
    package: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[str | None] = mapped_column(String(200))
    purl: Mapped[str | None] = mapped_column(Text)
    location_fingerprint: Mapped[str | None] = mapped_column(String(200))
    weakness: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))
    resolution: Mapped[str | None] = mapped_column(Text)
    justification: Mapped[str | None] = mapped_column(String(60))
    risk_accepted_until: Mapped[date | None] = mapped_column(Date)
    risk_accepted_by: Mapped[str | None] = mapped_column(String(200))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Aliases, matched records, fixed versions and the triage shape, shared with every finding
    #: of the same package-version and vulnerability (:class:`FindingDetail`). The shape's
    #: class and the asset's context name the rule with the outcomes and deadline terms
    #: (ADR 0001; ``store.triage_view`` joins them), so nothing is written here when a
    #: decision, a deadline or an advisory changes. Indexed: a changed detail re-assesses
    #: every finding that shares it. Always set (nullable only because SQLite cannot add a
    #: required column to existing rows).
    detail_id: Mapped[int | None] = mapped_column(ForeignKey("finding_detail.id"), index=True)
    detail: Mapped[FindingDetail | None] = relationship(lazy="selectin")
    #: The deadline in force when the finding closed (None while open; and when none was set):
    #: a later policy change does not rewrite whether it was closed on time.
    closed_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Bumped by every write; concurrent writers serialise on the row lock.
    revision: Mapped[int] = mapped_column(Integer, default=1)

    @property
    def aliases(self) -> list[str]:
        return list(self.detail.aliases) if self.detail else []

    @property
    def records(self) -> list[str]:
        return list(self.detail.records) if self.detail else []

    @property
    def fixed_versions(self) -> list[str]:
        return list(self.detail.fixed_versions) if self.detail else []


class FindingTransition(Base):
    """Append-only history: who moved which finding from where to where, when, and why."""

    __tablename__ = "finding_transition"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    finding_id: Mapped[int] = mapped_column(
        ForeignKey("finding.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")


class CveRecord(Base):
    """A CVE List V5 record's enrichment (CVSS, CWE, CISA's SSVC and KEV blocks, references)."""

    __tablename__ = "cve_record"

    cve_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(String(300), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    date_updated: Mapped[str | None] = mapped_column(String(40))
    #: The parsed enrichment (``sakimori.model.cve.CveRecord`` as a dict).
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NvdRecordRow(Base):
    """An NVD CVE API 2.0 record's CPE applicability ``configurations``, as NVD wrote them."""

    __tablename__ = "nvd_record"

    cve_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    #: NVD's ``lastModified``: what incremental sync continues from.
    last_modified: Mapped[str | None] = mapped_column(String(40), index=True)
    status: Mapped[str | None] = mapped_column(String(40))  # vulnStatus
    configurations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JvnRecordRow(Base):
    """A JVN iPedia entry (``JVNDB-YYYY-NNNNNN``), its Japanese and English readings merged.

    ``titles`` / ``descriptions`` map a language (``ja``, ``en``) to the text as JVN wrote it;
    ``reading`` says whether the entry came from a VULDEF detail or only an RSS overview."""

    __tablename__ = "jvn_record"

    jvn_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(String(300), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    reading: Mapped[str] = mapped_column(String(10))  # vuldef | rss
    titles: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    descriptions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    cve_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: ``[{version, score, severity, vector}]``.
    cvss: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: ``[{vendor, product, cpe22, cpe23, versions}]``: versions are JVN's free text.
    products: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: ``[{kind, source, id, url, title}]``: vendor advisories, CVE/NVD/JVN ids, CWE, other.
    references: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cwe_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: ISO 8601 as JVN writes them (``+09:00``): first registration, last update, disclosure.
    published: Mapped[str | None] = mapped_column(String(40))
    modified: Mapped[str | None] = mapped_column(String(40), index=True)
    disclosed: Mapped[str | None] = mapped_column(String(40))
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JvnCve(Base):
    """Which JVN iPedia entries name a CVE id: a CVE and a JVNDB id are one vulnerability."""

    __tablename__ = "jvn_cve"

    cve_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    jvn_id: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class ProductKey(Base):
    """Which records name a product: ``part:vendor:product`` (a CPE criterion or an ``affected``
    entry's ``cpes``) or ``text:vendor:product`` (an ``affected`` entry's folded names).
    ``kind`` is ``nvd`` (configurations) or ``cve`` (CVE List V5 ``affected``)."""

    __tablename__ = "product_key"
    __table_args__ = (Index("ix_product_key_record", "kind", "cve_id"),)

    key: Mapped[str] = mapped_column(String(600), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    cve_id: Mapped[str] = mapped_column(String(40), primary_key=True)


class DecisionTableRow(Base):
    """An SSVC decision table (CERT/CC JSON, schema 2.0.0), kept as loaded: versioned data."""

    __tablename__ = "decision_table"

    #: ``namespace:key:version``, e.g. ``cisa:CISA:1.1.0``.
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    document: Mapped[bytes] = mapped_column(LargeBinary)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# -- VEX: statements received and made ------------------------------------------------------------


class VexDocumentRow(Base):
    """A VEX document imported for an organisation (or one of its assets), kept as received."""

    __tablename__ = "vex_document"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    #: The asset the import was scoped to; None: every asset of the organisation.
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    format: Mapped[str] = mapped_column(String(20))  # cyclonedx-vex | openvex | csaf-vex
    document_ref: Mapped[str | None] = mapped_column(Text)  # the document's own id
    author: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    document: Mapped[bytes] = mapped_column(LargeBinary)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    imported_by: Mapped[str] = mapped_column(String(200))


class VexStatementRow(Base):
    """One VEX statement about one product, imported (``document_id`` set) or made here."""

    __tablename__ = "vex_statement"
    __table_args__ = (Index("ix_vex_statement_vulnerability", "vulnerability"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("vex_document.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    vulnerability: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Product identifiers it applies to (purl, CPE), for matching findings.
    purl: Mapped[str | None] = mapped_column(Text)
    cpe: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(30))
    justification: Mapped[str | None] = mapped_column(String(60))
    #: The statement in full (``sakimori.model.vex.VexStatement`` as a dict), for lossless export.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: True when, at import, the product matched no component of a current inventory (kept only
    #: because the import allowed unmatched statements).
    unmatched: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Ids of the findings the statement matched at import, and of those whose state it changed.
    matched_findings: Mapped[list[int]] = mapped_column(JSON, default=list)
    applied_findings: Mapped[list[int]] = mapped_column(JSON, default=list)


# -- identity: users, their role in an organisation, API tokens ----------------------------------


class User(Base):
    """A person who signs in. The password is stored only as an argon2id hash (``argon2-cffi``)."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: Login name: lower case, unique.
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Membership(Base):
    """A user's role in an organisation (``sakimori.services.access.Role``); one per user."""

    __tablename__ = "membership"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """An API token: only an HMAC-SHA256 of its secret under the server's key is stored.

    The token a client sends is ``skm_<id>_<secret>``; the id finds the row, the keyed hash of
    the secret is compared in constant time.
    """

    __tablename__ = "api_token"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: ``read``, ``write``.
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# -- counter-measure packages, their recipients, and STIX objects received over TAXII ---------


class PackageRow(Base):
    """A counter-measure package: its lifecycle state; the content lives in its revisions."""

    __tablename__ = "cm_package"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: draft | review | published | updated | withdrawn (``sakimori.packages.lifecycle``)
    state: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The newest published revision (0: none yet).
    published_revision: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))


class PackageRevisionRow(Base):
    """One numbered revision of a package; immutable once published."""

    __tablename__ = "cm_package_revision"
    __table_args__ = (UniqueConstraint("package_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    package_id: Mapped[int] = mapped_column(
        ForeignKey("cm_package.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    #: draft | review | published
    status: Mapped[str] = mapped_column(String(20))
    tlp: Mapped[str] = mapped_column(String(20))
    #: The content (``sakimori.packages.model.Content`` as a dict).
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    change: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(200))
    approver: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PackageRecipientRow(Base):
    """An organisation a package reaches, why, and what it did with it."""

    __tablename__ = "cm_package_recipient"
    __table_args__ = (UniqueConstraint("package_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    package_id: Mapped[int] = mapped_column(
        ForeignKey("cm_package.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    #: audience | exposure
    reason: Mapped[str] = mapped_column(String(20))
    #: False once a revision's audience no longer includes it (it may no longer read).
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: TLP:RED: the named people of this organisation who may read it (empty otherwise).
    named_users: Mapped[list[str]] = mapped_column(JSON, default=list)
    since_revision: Mapped[int] = mapped_column(Integer)
    delivered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    #: When the acknowledgement reminder went out (once), and when the recipient was escalated
    #: to its admins and the coordinator (once) — migration 0019.
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PackageReportRow(Base):
    """One report a package requires from one recipient organisation (early warning,
    notification, final report): its clock and, once filed, who filed what (migration 0019)."""

    __tablename__ = "cm_package_report"
    __table_args__ = (UniqueConstraint("package_id", "organisation_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    package_id: Mapped[int] = mapped_column(
        ForeignKey("cm_package.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    #: early_warning | notification | final
    kind: Mapped[str] = mapped_column(String(20))
    #: When the clock started and when it runs out.
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    filed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    filed_by: Mapped[str | None] = mapped_column(String(200))
    #: The form's fields as filed.
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TaxiiSourceRow(Base):
    """A partner's TAXII 2.1 collection this instance pulls on a schedule (migration 0019)."""

    __tablename__ = "taxii_source"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: The partner's collection URL (``…/{api-root}/collections/{id}/``).
    url: Mapped[str] = mapped_column(Text)
    user_name: Mapped[str | None] = mapped_column(String(200))
    #: The password or token, sealed like webhook secrets (``sakimori.notify.sealing``).
    sealed_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The most restricted TLP label accepted from this partner; objects above it are refused.
    max_tlp: Mapped[str] = mapped_column(String(20))
    interval_minutes: Mapped[int] = mapped_column(Integer)
    #: The partner's ``X-TAXII-Date-Added-Last`` of the last page taken: the next ``added_after``.
    added_after: Mapped[str | None] = mapped_column(String(40))
    last_pulled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TaxiiObjectRow(Base):
    """A STIX object version added to a TAXII collection by a client (packages are rendered)."""

    __tablename__ = "taxii_object"
    __table_args__ = (
        UniqueConstraint("collection", "object_id", "version"),
        Index("ix_taxii_object_added", "collection", "added_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    collection: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(200))
    object_type: Mapped[str] = mapped_column(String(100))
    #: The object's ``modified`` (or ``created``) timestamp, as written.
    version: Mapped[str] = mapped_column(String(40))
    spec_version: Mapped[str] = mapped_column(String(10))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    added_by: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TaxiiStatusRow(Base):
    """The status resource of one TAXII POST."""

    __tablename__ = "taxii_status"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    collection: Mapped[str] = mapped_column(String(100))
    user_name: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: {"successes": [...], "failures": [...], "pendings": [...]}
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# -- audit log and jobs (0008) --------------------------------------------------------------------


class AuditEntryRow(Base):
    """One entry of the audit log, chained to the one before it by hash
    (``sakimori.services.audit``); never updated, deleted only by retention pruning."""

    __tablename__ = "audit_entry"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    organisation: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_kind: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(200))
    tlp: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str | None] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainRow(Base):
    """The head of the audit chain (one row, id 1): the lock every append takes."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointRow(Base):
    """Where the chain resumes after pruning: the last pruned entry's number and hash, with an
    HMAC made with the server key (kept outside the database)."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    pruned: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    mac: Mapped[str] = mapped_column(String(64))


class JobRow(Base):
    """A job of the queue (``sakimori.jobs``): written in the transaction that causes it."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_state_run_after", "state", "run_after"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    #: Enqueueing a key that is already there is a no-op.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: queued | running | done | dead
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_after: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: A fresh id per claim: only the holder of the current claim may finish the job.
    claim: Mapped[str | None] = mapped_column(String(36))
    worker: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)


# -- emergency updates (0009) ---------------------------------------------------------------------


class UpdateReleaseRow(Base):
    """A release the platform published for a vendor (``services.updates.upload``)."""

    __tablename__ = "update_release"
    __table_args__ = (UniqueConstraint("vendor", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vendor: Mapped[str] = mapped_column(String(100))
    #: The target path, ``<line>/<file>``.
    path: Mapped[str] = mapped_column(String(500))
    line: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(100))
    package_id: Mapped[int | None] = mapped_column(ForeignKey("cm_package.id"), index=True)
    #: The vulnerability ids the release fixes (its signed ``custom`` fields).
    fixes: Mapped[list[str]] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str] = mapped_column(String(200))


class UpdateReportRow(Base):
    """One roll-out step an operator reported for one of its assets; never updated."""

    __tablename__ = "update_report"
    __table_args__ = (Index("ix_update_report_vendor_path", "vendor", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vendor: Mapped[str] = mapped_column(String(100))
    #: The release's target path (``None`` for a step that names no release).
    path: Mapped[str | None] = mapped_column(String(500))
    line: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[str | None] = mapped_column(String(100))
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    #: The roll-out group (stage) the step belongs to, when the operator sent it.
    stage: Mapped[str | None] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: ``findings_moved`` (to fix_applied), ``findings_reopened`` (back to in_progress).
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class UpdateSeenRow(Base):
    """A recipient organisation has seen a release (its in-interface alert is gone)."""

    __tablename__ = "update_seen"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("update_release.id"), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seen_by: Mapped[str] = mapped_column(String(200))


# --- sightings (issue 7; migration 0010) ---


class SightingRow(Base):
    """What a member organisation's monitoring saw (``services.sightings``): never a log line.

    One row per (organisation, detector, source, rule, version, client, first seen): a sighting
    sent again (a re-run over the same log) grows the row instead of adding one."""

    __tablename__ = "sighting"
    __table_args__ = (
        UniqueConstraint(
            "organisation_id",
            "detector",
            "source",
            "rule",
            "version",
            "client",
            "first_seen",
            name="uq_sighting_key",
        ),
        Index("ix_sighting_reported_at", "reported_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    #: The client as the operator's privacy setting shows it (``privacy``: full, truncate, hash).
    client: Mapped[str] = mapped_column(String(100))
    privacy: Mapped[str] = mapped_column(String(10))
    detector: Mapped[str] = mapped_column(String(60))
    rule: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(300))
    #: builtin | local | package:<id>
    source: Mapped[str] = mapped_column(String(100))
    vulnerabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    count: Mapped[int] = mapped_column(Integer)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reported_by: Mapped[str] = mapped_column(String(200))


class SightingVulnerabilityRow(Base):
    """A vulnerability a sighting names (the index corroboration is read through)."""

    __tablename__ = "sighting_vulnerability"

    sighting_id: Mapped[int] = mapped_column(
        ForeignKey("sighting.id", ondelete="CASCADE"), primary_key=True
    )
    vulnerability: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)


class ExploitationReviewRow(Base):
    """A vulnerability flagged for analyst review because sightings name it, and the analyst's
    decision: ``pending``, ``confirmed`` (exploitation is active) or ``rejected`` (the
    sightings reported until ``decided_at`` do not count)."""

    __tablename__ = "exploitation_review"

    vulnerability: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    flagged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_sighting_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(Text, default="")


# --- notifications (issue 6; migration 0011) ---


class NotifyEndpointRow(Base):
    """Where an organisation receives package notifications: a webhook URL or an e-mail
    address, with its filters (``sakimori.notify.filters``). Never deleted (deliveries refer
    to it); a removed endpoint is inactive."""

    __tablename__ = "notify_endpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    #: webhook | email
    kind: Mapped[str] = mapped_column(String(10))
    #: The URL (webhook) or the address (e-mail).
    target: Mapped[str] = mapped_column(Text)
    #: A personal e-mail endpoint: the user (of the organisation) whose mailbox it is. Only
    #: these receive TLP:RED, and only when that user is named.
    user_name: Mapped[str | None] = mapped_column(String(100))
    #: ja | en; None: both.
    language: Mapped[str | None] = mapped_column(String(5))
    sectors: Mapped[list[str]] = mapped_column(JSON, default=list)
    vulnerabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    purl_prefixes: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_tlp: Mapped[str | None] = mapped_column(String(20))
    max_tlp: Mapped[str | None] = mapped_column(String(20))
    #: Webhooks: the signing secret, sealed with AES-GCM under a key derived from the server
    #: key (``sakimori.notify.sealing``); it is needed in clear to sign.
    sealed_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: Low-priority notifications wait for the endpoint's digest instead of going one by one
    #: (migration 0019).
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotifyDeliveryRow(Base):
    """One notification of one package revision to one endpoint of a recipient: its attempts
    and outcome. The unique (package, revision, endpoint) makes enqueueing idempotent."""

    __tablename__ = "notify_delivery"
    __table_args__ = (
        UniqueConstraint("package_id", "revision", "endpoint_id"),
        Index("ix_notify_delivery_state_organisation", "state", "organisation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("cm_package.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("notify_endpoint.id", ondelete="CASCADE"), index=True
    )
    #: Stable per (package, revision, organisation, endpoint): receivers de-duplicate on it.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: published | revised | exposure
    cause: Mapped[str] = mapped_column(String(20))
    #: pending | delivered | dead | dropped (no longer entitled when its turn came)
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: A held low-priority delivery: the digest that carries it (migration 0019).
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("notify_digest.id", ondelete="SET NULL"), index=True
    )


class NotifyDigestRow(Base):
    """One digest message to one endpoint: the held deliveries it carries, its attempts and
    outcome, like a delivery's (migration 0019)."""

    __tablename__ = "notify_digest"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("notify_endpoint.id", ondelete="CASCADE"), index=True
    )
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: pending | delivered | dead
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- second factor (issue 4; migration 0012) ---


class UserTotp(Base):
    """A user's TOTP second factor (``sakimori.services.second_factor``).

    ``secret`` is sealed (AES-256-GCM under a key derived from the server key, bound to the
    user's id; ``sakimori.totp.SecretBox``). ``confirmed_at`` is empty while the enrolment waits
    for its first code; ``last_step`` is the TOTP step of the last code accepted (a code is
    accepted only for a later step, so none is used twice).
    """

    __tablename__ = "user_totp"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(Base):
    """A single-use recovery code, stored only as an HMAC-SHA256 under a derived server key."""

    __tablename__ = "recovery_code"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# -- the dashboard's pre-aggregated figures (migration 0014) --------------------------------------


class MetricsSnapshot(Base):
    """One pre-aggregated computation of the remediation metrics (``services.metrics_snapshot``):
    when (``at``, the "now" its overdue counts use), how long it took, how many findings."""

    __tablename__ = "metrics_snapshot"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    seconds: Mapped[float] = mapped_column(Float)
    findings: Mapped[int] = mapped_column(Integer)


class MetricsFigures(Base):
    """The figures of one scope of a snapshot: ``overall`` (key ``""``), an ``organisation``
    (its slug), a ``sector``, or a ``pair`` of sectors (``"a|b"``: findings of organisations in
    both, what a report filtered by sector ``a`` shows for ``b``). ``data`` holds the figures,
    for the first three the months, and ``members``: an organisation's sectors, a sector's
    organisations."""

    __tablename__ = "metrics_figures"
    __table_args__ = (Index("ix_metrics_figures_top", "snapshot_id", "scope", "open"),)

    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("metrics_snapshot.id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(String(12), primary_key=True)
    key: Mapped[str] = mapped_column(String(210), primary_key=True)
    #: Open findings (the dashboard lists the organisations with the most).
    open: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


# -- single sign-on (OpenID Connect; migration 0018) ----------------------------------------------


class UserIdentity(Base):
    """A user's identity at an OpenID provider: the pair (``issuer``, ``subject``) — never the
    e-mail address, which providers let change and reuse (``sakimori.services.oidc``).
    ``managed``: the user was provisioned from the claims, so the mapping rules decide their
    membership at every sign-in; otherwise an administrator linked them and the membership is
    Sakimori's own."""

    __tablename__ = "user_identity"
    __table_args__ = (
        UniqueConstraint("issuer", "subject"),
        UniqueConstraint("user_id", "issuer"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OidcLogin(Base):
    """A single sign-on under way: what the callback checks, for ten minutes, used once.

    ``id`` is a keyed hash of the ``state`` sent to the provider, ``browser`` a keyed hash of
    the random value in the browser's ``sakimori_oidc`` cookie; ``nonce`` and the PKCE
    ``code_verifier`` never leave the server but in the ID token's request and the token
    request."""

    __tablename__ = "oidc_login"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(100))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_page: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
