"""Loading vulnerability intelligence from local files, and reporting what is loaded.

``load_paths`` reads OSV records (JSON, YAML, ``all.zip`` archives), Alpine secdb files, KEV
catalogs and EPSS files, recognised by content. Everything named is parsed and validated before
anything is written, and the writes happen in one transaction: a bad file anywhere leaves the
database as it was.

Re-loading is incremental at two levels: a file whose size and modification time are unchanged
since it was last loaded is not read again, and an advisory whose content hash is unchanged is
not rewritten (``modified`` alone cannot be trusted: every Go record says ``0001-01-01``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sakimori.cpe import nvd as nvd_format
from sakimori.cpe.nvd import NvdDocument
from sakimori.errors import SakimoriError, UnsupportedFormat
from sakimori.formats import alpine_secdb
from sakimori.formats import cve as cve_format
from sakimori.formats import epss as epss_format
from sakimori.formats import jvn as jvn_format
from sakimori.formats import kev as kev_format
from sakimori.formats import osv as osv_format
from sakimori.formats import ssvc as ssvc_format
from sakimori.formats.limits import Limits
from sakimori.model.advisory import Advisory
from sakimori.model.cve import CveRecord
from sakimori.model.intel import EpssScore, KevEntry
from sakimori.model.jvn import JvnRecord
from sakimori.services.assessment import assess_open, policy_set
from sakimori.services.product_findings import refresh_products
from sakimori.services.scan import read_bytes
from sakimori.services.tracking import refresh_packages
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.store.db import Database
from sakimori.store.jvn import store_jvn_records
from sakimori.store.products import store_cve_keys, store_nvd_records
from sakimori.triage.policy import PolicySet

log = logging.getLogger(__name__)

_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(slots=True)
class SourceReport:
    name: str
    kind: str
    location: str
    status: str  # loaded | unchanged | not-modified | failed
    records: int = 0
    changes: store.AdvisoryChanges | None = None
    message: str = ""


@dataclass(slots=True)
class LoadReport:
    sources: list[SourceReport] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    files_read: int = 0
    files_skipped: int = 0
    #: Open findings re-assessed because KEV, EPSS, CVE records or decision tables changed.
    reassessed: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[SourceReport]:
        return [s for s in self.sources if s.status == "failed"]


@dataclass(slots=True)
class Parsed:
    """Intel parsed from one or more documents, not yet stored."""

    advisories: list[Advisory] = field(default_factory=list)
    kev: list[KevEntry] = field(default_factory=list)
    kev_detail: dict[str, Any] = field(default_factory=dict)
    epss: list[EpssScore] = field(default_factory=list)
    epss_detail: dict[str, Any] = field(default_factory=dict)
    cve: list[CveRecord] = field(default_factory=list)
    nvd: list[NvdDocument] = field(default_factory=list)
    #: JVN iPedia records (MyJVN VULDEF details and RSS overviews), in document order.
    jvn: list[JvnRecord] = field(default_factory=list)
    #: SSVC decision tables: ``(id, name, document)``.
    ssvc: list[tuple[str, str, bytes]] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        present = [
            ("osv", self.advisories),
            ("cve", self.cve),
            ("nvd", self.nvd),
            ("jvn", self.jvn),
            ("kev", self.kev),
            ("epss", self.epss),
            ("ssvc", self.ssvc),
        ]
        return [kind for kind, items in present if items]


def parse_intel(data: bytes, limits: Limits, into: Parsed) -> str:
    """Recognise and parse one document by content; returns its kind. Pure apart from ``into``."""
    if data.startswith(_ZIP_MAGIC):
        into.advisories.extend(osv_format.iter_zip(data, limits))
        return "osv"
    if kev_format.sniff(data):
        catalog = kev_format.parse(data, limits)
        into.kev.extend(catalog.entries)
        into.kev_detail = {
            "catalog_version": catalog.catalog_version,
            "date_released": catalog.date_released,
        }
        return "kev"
    if epss_format.sniff(data):
        scores = epss_format.parse(data, limits)
        into.epss.extend(scores.scores())
        if scores.model_version or scores.score_date:
            into.epss_detail = {
                "model_version": scores.model_version,
                "score_date": scores.score_date,
            }
        return "epss"
    if ssvc_format.sniff(data):
        table = ssvc_format.parse(data, limits)  # validated (complete, one outcome per row)
        into.ssvc.append((table.id, table.name, data))
        return "ssvc"
    if cve_format.sniff(data):
        into.cve.append(cve_format.parse(data, limits))
        return "cve"
    if nvd_format.sniff(data):
        into.nvd.extend(nvd_format.documents(data, limits))
        return "nvd"
    if jvn_format.sniff(data):
        into.jvn.extend(jvn_format.parse(data, limits))
        return "jvn"
    if alpine_secdb.sniff(data):
        into.advisories.extend(alpine_secdb.parse(data, limits))
        return "osv"  # stored and matched as OSV advisories of ecosystem Alpine:vX.Y
    advisories = osv_format.parse_if_osv(data, limits)
    if advisories is not None:
        into.advisories.extend(advisories)
        return "osv"
    raise UnsupportedFormat(
        "not an OSV record or archive, an Alpine secdb file, a CVE record, an NVD CVE API 2.0 "
        "record or page, a MyJVN VULDEF or RSS document, an SSVC decision table, a CISA KEV "
        "catalog, or a FIRST EPSS file",
        hint="`sakimori intel load` reads those formats; inventories go to `sakimori scan`",
    )


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [path]


def load_paths(
    db: Database, paths: Sequence[Path], limits: Limits, policies: PolicySet | None = None
) -> LoadReport:
    """Load ``paths`` in one transaction. Findings follow: changed advisories re-match the
    inventories holding their packages; if KEV, EPSS, CVE records or decision tables changed,
    every open finding is re-assessed with ``policies`` (default: the built-in default)."""
    started = time.perf_counter()
    report = LoadReport()
    now = datetime.now(UTC)
    chosen = policies or policy_set(None)
    with db.transaction() as session:
        evidence: set[str] = set()
        for path in paths:
            report.sources.append(_load_path(session, path, limits, now, report, chosen, evidence))
        if evidence:
            why = f"intel load: {', '.join(sorted(evidence))} changed"
            report.reassessed = assess_open(session, chosen, now, why)
    report.seconds = time.perf_counter() - started
    return report


def _load_path(
    session: Session,
    path: Path,
    limits: Limits,
    now: datetime,
    report: LoadReport,
    policies: PolicySet,
    evidence: set[str],
) -> SourceReport:
    root = path.resolve()
    name = f"path:{root}"
    files = _files(path)
    explicit = not path.is_dir()
    known = {
        row.path: row
        for row in session.scalars(
            select(models.LoadedFile).where(models.LoadedFile.source == name)
        )
    }
    parsed = Parsed()
    touched: list[dict[str, Any]] = []
    digest = hashlib.sha256()
    for file in files:
        resolved = str(file.resolve())
        try:
            stat = file.stat()
        except OSError as exc:
            raise SakimoriError(f"cannot read: {exc.strerror}", where=str(file)) from None
        previous = known.get(resolved)
        if previous and (previous.size, previous.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            report.files_skipped += 1
            digest.update(previous.content_hash.encode())
            continue
        data = read_bytes(file, limits)
        report.files_read += 1
        content_hash = hashlib.sha256(data).hexdigest()
        digest.update(content_hash.encode())
        row = {
            "path": resolved,
            "source": name,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "content_hash": content_hash,
        }
        if previous and previous.content_hash == content_hash:
            touched.append(row)
            continue
        try:
            parse_intel(data, limits, parsed)
        except UnsupportedFormat as exc:
            if explicit:
                raise exc.located(str(file)) from None
            report.ignored.append((str(file), exc.message))
            touched.append(row)  # remembered, so an unchanged non-intel file is not re-read
            continue
        except SakimoriError as exc:
            raise exc.located(str(file)) from None
        touched.append(row)
    changes = store.store_advisories(session, name, parsed.advisories, now)
    refresh_packages(session, set(changes.packages), now, f"advisories changed in {root}", policies)
    kev_count = store.store_kev(session, parsed.kev, snapshot=False) if parsed.kev else 0
    cve_count = store.store_cve_records(session, name, parsed.cve, now) if parsed.cve else 0
    product_keys = store_nvd_records(session, name, parsed.nvd, now) if parsed.nvd else set()
    if parsed.cve:
        product_keys |= store_cve_keys(session, parsed.cve)
    refresh_products(session, product_keys, now, f"product records changed in {root}", policies)
    nvd_count = len(parsed.nvd)
    jvn_count = store_jvn_records(session, name, parsed.jvn, now) if parsed.jvn else 0
    ssvc_count = store.store_decision_tables(session, name, parsed.ssvc, now)
    epss_count = store.store_epss(session, parsed.epss) if parsed.epss else 0
    store.store_loaded_files(session, touched)
    counts = {"kev": kev_count, "epss": epss_count, "cve": cve_count, "ssvc": ssvc_count}
    evidence.update(kind for kind, count in counts.items() if count)
    kind = ",".join(parsed.kinds) or _previous_kind(session, name) or "unknown"
    changed = bool(
        changes.added
        or changes.changed
        or kev_count
        or epss_count
        or cve_count
        or ssvc_count
        or nvd_count
        or jvn_count
    )
    source = session.get(models.IntelSource, name) or models.IntelSource(
        name=name, kind=kind, location=str(root), record_count=0, detail={}
    )
    source.kind = kind
    source.checked_at = now
    source.content_hash = digest.hexdigest()
    if changed or source.changed_at is None:
        source.changed_at = now
    source.record_count = _record_count(session, name, kind, source.record_count, parsed)
    source.detail = {**(source.detail or {}), **parsed.kev_detail, **parsed.epss_detail}
    session.add(source)
    status = "loaded" if changed else "unchanged"
    osv_changes = changes if "osv" in kind else None
    return SourceReport(name, kind, str(root), status, source.record_count, osv_changes)


def _previous_kind(session: Session, name: str) -> str | None:
    source = session.get(models.IntelSource, name)
    return source.kind if source else None


def _record_count(session: Session, name: str, kind: str, previous: int, parsed: Parsed) -> int:
    if "osv" in kind:
        return store.count_advisories(session, name)
    fresh = (
        len(parsed.kev)
        + len(parsed.epss)
        + len(parsed.cve)
        + len(parsed.ssvc)
        + len(parsed.nvd)
        + len({r.id for r in parsed.jvn})
    )
    return fresh or previous


@dataclass(frozen=True, slots=True)
class Status:
    sources: list[models.IntelSource]
    counts: dict[str, int]
    #: Newest ``modified`` timestamp of each source's advisories (how recent the data is).
    newest: dict[str, str]


def status(db: Database) -> Status:
    with db.transaction() as session:
        sources = list(
            session.scalars(select(models.IntelSource).order_by(models.IntelSource.name))
        )
        return Status(sources, store.counts(session), store.newest_modified(session))
