"""Queries and bulk writes for vulnerability intelligence.

Writes take domain objects that have been parsed and validated completely, and run inside the
caller's transaction, so a load either lands whole or not at all. Bulk inserts go through
SQLAlchemy Core ``insert`` with lists of rows (multi-row VALUES on PostgreSQL), in chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from sakimori.matching.index import AffectedEntry
from sakimori.model.advisory import Advisory, AdvisoryInfo, Event, EventKind, Range
from sakimori.model.ecosystem import base_ecosystem, normalize_name, release_of
from sakimori.model.intel import EpssScore, KevEntry
from sakimori.store import models

_CHUNK = 2_000
_IN_CHUNK = 900  # stays below SQLite's bound-parameter limit with room to spare

T = TypeVar("T")

_TABLES = models.Base.metadata.tables
ADVISORY = _TABLES["advisory"]
ALIAS = _TABLES["advisory_alias"]
AFFECTED = _TABLES["affected_package"]
KEV = _TABLES["kev_entry"]
EPSS = _TABLES["epss_score"]


def chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class AdvisoryChanges:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    #: (base ecosystem, normalised name) of every package a new, changed or removed record
    #: names, before and after: the findings to refresh.
    packages: frozenset[tuple[str, str]] = frozenset()


def existing_hashes(session: Session, ids: Iterable[str] | None = None) -> dict[str, str]:
    """``{advisory id: content hash}`` for the given ids (all advisories when ``ids`` is None)."""
    table = ADVISORY
    if ids is None:
        rows = session.execute(select(table.c.id, table.c.content_hash))
        return {row.id: row.content_hash for row in rows}
    wanted = list(ids)
    found: dict[str, str] = {}
    for part in chunks(wanted, _IN_CHUNK):
        rows = session.execute(select(table.c.id, table.c.content_hash).where(table.c.id.in_(part)))
        found.update((row.id, row.content_hash) for row in rows)
    return found


def store_advisories(
    session: Session,
    source: str,
    advisories: Sequence[Advisory],
    now: datetime,
    *,
    snapshot: bool = False,
) -> AdvisoryChanges:
    """Insert new and replace changed advisories (decided by content hash, not ``modified``).

    With ``snapshot`` the advisories are the whole content of ``source``: records of that source
    that are absent now are removed (an upstream archive dropped them).
    """
    latest: dict[str, Advisory] = {}
    for advisory in advisories:
        previous = latest.get(advisory.id)
        if previous is None or advisory.modified >= previous.modified:
            latest[advisory.id] = advisory
    # Past a few thousand ids, one query for every hash beats thousands of IN lookups (and, on
    # PostgreSQL, avoids a prepared statement whose generic plan scans the table).
    many = snapshot or len(latest) > 5 * _IN_CHUNK
    known = existing_hashes(session, None if many else latest)
    fresh = [a for a in latest.values() if known.get(a.id) != a.content_hash]
    changed_ids = [a.id for a in fresh if a.id in known]
    removed_ids: list[str] = []
    if snapshot:
        table = ADVISORY
        in_source = session.execute(select(table.c.id).where(table.c.source == source))
        removed_ids = [row.id for row in in_source if row.id not in latest]
    packages = set(packages_of(session, [*changed_ids, *removed_ids]))
    packages.update(
        (base_ecosystem(a.ecosystem), normalize_name(a.ecosystem, a.name))
        for advisory in fresh
        for a in advisory.affected
    )
    delete_advisories(session, [*changed_ids, *removed_ids])
    for part in chunks(fresh, _CHUNK):  # rows built per chunk: memory stays flat
        _insert_advisories(session, source, part, now)
    if len(fresh) > 10_000 and session.get_bind().dialect.name == "postgresql":
        # Fresh statistics, so later queries plan with the index (and cached plans reset).
        for name in ("advisory", "advisory_alias", "affected_package"):
            session.execute(text(f"ANALYZE {name}"))
    return AdvisoryChanges(
        added=len(fresh) - len(changed_ids),
        changed=len(changed_ids),
        unchanged=len(latest) - len(fresh),
        removed=len(removed_ids),
        packages=frozenset(packages),
    )


def packages_of(session: Session, ids: Sequence[str]) -> set[tuple[str, str]]:
    """The packages the stored records ``ids`` name."""
    found: set[tuple[str, str]] = set()
    for part in chunks(ids, _IN_CHUNK):
        rows = session.execute(
            select(AFFECTED.c.ecosystem, AFFECTED.c.name).where(AFFECTED.c.advisory_id.in_(part))
        )
        found.update((row.ecosystem, row.name) for row in rows)
    return found


def delete_advisories(session: Session, ids: Sequence[str]) -> None:
    for part in chunks(ids, _IN_CHUNK):
        session.execute(
            delete(models.AffectedPackage).where(models.AffectedPackage.advisory_id.in_(part))
        )
        session.execute(
            delete(models.AdvisoryAlias).where(models.AdvisoryAlias.advisory_id.in_(part))
        )
        session.execute(delete(models.Advisory).where(models.Advisory.id.in_(part)))


def _severity_rows(advisory: Advisory) -> list[dict[str, str]]:
    rows = [{"type": s.type, "score": s.score} for s in advisory.severity]
    for affected in advisory.affected:
        rows.extend({"type": s.type, "score": s.score} for s in affected.severity)
    rating = advisory.database_specific.get("severity")
    if isinstance(rating, str) and rating:
        rows.append({"type": "database_specific", "score": rating})
    unique = {(r["type"], r["score"]): r for r in rows}
    return list(unique.values())


def _insert_advisories(
    session: Session, source: str, advisories: Sequence[Advisory], now: datetime
) -> None:
    advisory_rows: list[dict[str, Any]] = []
    alias_rows: list[dict[str, Any]] = []
    affected_rows: list[dict[str, Any]] = []
    for advisory in advisories:
        advisory_rows.append(
            {
                "id": advisory.id,
                "source": source,
                "content_hash": advisory.content_hash,
                "modified": advisory.modified,
                "published": advisory.published,
                "withdrawn": advisory.withdrawn,
                "summary": advisory.summary or _first_line(advisory.details),
                "aliases": list(advisory.aliases),
                "severity": _severity_rows(advisory),
                "record": advisory_record(advisory),
                "loaded_at": now,
            }
        )
        alias_rows.extend(
            {"alias": alias, "advisory_id": advisory.id}
            for alias in dict.fromkeys((advisory.id, *advisory.aliases))
        )
        if advisory.withdrawn:
            continue  # withdrawn records stay visible but never match
        for affected in advisory.affected:
            affected_rows.append(
                {
                    "advisory_id": advisory.id,
                    "ecosystem": base_ecosystem(affected.ecosystem),
                    "release": release_of(affected.ecosystem),
                    "name": normalize_name(affected.ecosystem, affected.name),
                    "ranges": [_range_row(r) for r in affected.ranges],
                    "versions": list(affected.versions),
                }
            )
    for table, rows in (
        (ADVISORY, advisory_rows),
        (ALIAS, alias_rows),
        (AFFECTED, affected_rows),
    ):
        for part in chunks(rows):
            session.execute(table.insert(), list(part))


def advisory_record(advisory: Advisory) -> bytes:
    """A compact JSON form of what we keep of the record (the raw source stays upstream)."""
    return orjson.dumps(
        {
            "id": advisory.id,
            "modified": advisory.modified,
            "published": advisory.published,
            "withdrawn": advisory.withdrawn,
            "aliases": list(advisory.aliases),
            "related": list(advisory.related),
            "summary": advisory.summary,
            "details": advisory.details,
            "references": list(advisory.references),
            "database_specific": advisory.database_specific,
        },
        default=str,
    )


def _range_row(rng: Range) -> dict[str, Any]:
    row: dict[str, Any] = {
        "type": rng.type,
        "events": [[e.kind.value, e.version] for e in rng.events],
    }
    if rng.repo:
        row["repo"] = rng.repo
    return row


def _range_from_row(row: Mapping[str, Any]) -> Range:
    return Range(
        type=row["type"],
        events=tuple(Event(EventKind(kind), version) for kind, version in row["events"]),
        repo=row.get("repo"),
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else ""


def affected_entries(session: Session, packages: Iterable[tuple[str, str]]) -> list[AffectedEntry]:
    """The affected entries of the given (base ecosystem, normalised name) packages only.

    Queried per ecosystem with ``name IN (…)``: SQLite plans a row-value ``IN`` as a full table
    scan, while this form uses ``ix_affected_package_ecosystem_name`` on both backends.
    """
    by_ecosystem: dict[str, set[str]] = {}
    for ecosystem, name in packages:
        by_ecosystem.setdefault(ecosystem, set()).add(name)
    strings: dict[str, str] = {}
    entries: list[AffectedEntry] = []
    for ecosystem, names in sorted(by_ecosystem.items()):
        for part in chunks(sorted(names), _IN_CHUNK):
            rows = session.execute(
                select(
                    AFFECTED.c.advisory_id,
                    AFFECTED.c.ecosystem,
                    AFFECTED.c.release,
                    AFFECTED.c.name,
                    AFFECTED.c.ranges,
                    AFFECTED.c.versions,
                ).where(AFFECTED.c.ecosystem == ecosystem, AFFECTED.c.name.in_(part))
            )
            entries.extend(_entry(row, strings) for row in rows)
    return entries


def _entry(row: Any, strings: dict[str, str]) -> AffectedEntry:
    """An entry from a row; version strings repeated across a package's records are shared."""
    return AffectedEntry(
        advisory_id=row.advisory_id,
        ecosystem=row.ecosystem,
        name=row.name,
        release=row.release,
        ranges=tuple(_range_from_row(r) for r in row.ranges),
        versions=tuple(strings.setdefault(v, v) for v in row.versions),
    )


def all_affected_entries(session: Session) -> list[AffectedEntry]:
    rows = session.execute(
        select(
            AFFECTED.c.advisory_id,
            AFFECTED.c.ecosystem,
            AFFECTED.c.release,
            AFFECTED.c.name,
            AFFECTED.c.ranges,
            AFFECTED.c.versions,
        )
    )
    strings: dict[str, str] = {}
    return [_entry(row, strings) for row in rows]


def advisory_summaries(session: Session, ids: Iterable[str]) -> dict[str, AdvisoryInfo]:
    table = ADVISORY
    found: dict[str, AdvisoryInfo] = {}
    for part in chunks(sorted(set(ids)), _IN_CHUNK):
        rows = session.execute(
            select(
                table.c.id,
                table.c.aliases,
                table.c.summary,
                table.c.severity,
                table.c.modified,
                table.c.published,
            ).where(table.c.id.in_(part))
        )
        for row in rows:
            found[row.id] = AdvisoryInfo(
                id=row.id,
                aliases=tuple(row.aliases),
                summary=row.summary,
                severity=tuple((s["type"], s["score"]) for s in row.severity),
                modified=row.modified,
                published=row.published,
            )
    return found


def kev_entries(session: Session, cve_ids: Iterable[str]) -> dict[str, KevEntry]:
    found: dict[str, KevEntry] = {}
    for part in chunks(sorted(set(cve_ids)), _IN_CHUNK):
        for row in session.execute(select(KEV).where(KEV.c.cve_id.in_(part))):
            found[row.cve_id] = KevEntry(
                cve_id=row.cve_id,
                vendor=row.vendor,
                product=row.product,
                name=row.name,
                date_added=row.date_added,
                due_date=row.due_date,
                required_action=row.required_action,
                known_ransomware=row.known_ransomware,
                cwes=tuple(row.cwes),
                notes=row.notes,
            )
    return found


def epss_scores(session: Session, cve_ids: Iterable[str]) -> dict[str, EpssScore]:
    table = EPSS
    found: dict[str, EpssScore] = {}
    for part in chunks(sorted(set(cve_ids)), _IN_CHUNK):
        rows = session.execute(
            select(table.c.cve_id, table.c.epss, table.c.percentile).where(table.c.cve_id.in_(part))
        )
        found.update((r.cve_id, EpssScore(r.cve_id, r.epss, r.percentile)) for r in rows)
    return found


def _upsert(session: Session, table: Any, rows: Sequence[Mapping[str, Any]], key: str) -> None:
    """INSERT … ON CONFLICT (key) DO UPDATE, on SQLite and PostgreSQL, as one executemany."""
    if not rows:
        return
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    columns = [c for c in rows[0] if c != key]
    statement = module.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[key], set_={c: statement.excluded[c] for c in columns}
    )
    for part in chunks(rows, 20_000):
        session.execute(statement, list(part))


def store_kev(session: Session, entries: Sequence[KevEntry], *, snapshot: bool) -> int:
    """Upsert KEV entries; a full catalog (``snapshot``) also removes entries it no longer has."""
    table = KEV
    rows = [
        {
            "cve_id": e.cve_id,
            "vendor": e.vendor,
            "product": e.product,
            "name": e.name,
            "date_added": e.date_added,
            "due_date": e.due_date,
            "required_action": e.required_action,
            "known_ransomware": e.known_ransomware,
            "cwes": list(e.cwes),
            "notes": e.notes,
        }
        for e in {e.cve_id: e for e in entries}.values()
    ]
    if snapshot:
        keep = {r["cve_id"] for r in rows}
        stale = [cve for cve in session.scalars(select(table.c.cve_id)) if cve not in keep]
        for part in chunks(stale, _IN_CHUNK):
            session.execute(delete(table).where(table.c.cve_id.in_(part)))
    _upsert(session, table, rows, "cve_id")
    return len(rows)


def store_epss(session: Session, scores: Sequence[EpssScore]) -> int:
    """Upsert EPSS scores, writing only rows whose values changed."""
    table = EPSS
    current = {
        row.cve_id: (row.epss, row.percentile)
        for row in session.execute(select(table.c.cve_id, table.c.epss, table.c.percentile))
    }
    rows = [
        {"cve_id": s.cve_id, "epss": s.epss, "percentile": s.percentile}
        for s in {s.cve_id: s for s in scores}.values()
        if current.get(s.cve_id) != (s.epss, s.percentile)
    ]
    _upsert(session, table, rows, "cve_id")
    return len(rows)


def counts(session: Session) -> dict[str, int]:
    def count(model: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)

    withdrawn = session.scalar(
        select(func.count())
        .select_from(models.Advisory)
        .where(models.Advisory.withdrawn.is_not(None))
    )
    return {
        "advisories": count(models.Advisory),
        "withdrawn": int(withdrawn or 0),
        "affected_packages": count(models.AffectedPackage),
        "kev": count(models.KevEntry),
        "epss": count(models.EpssScore),
        "cve_records": count(models.CveRecord),
        "nvd_records": count(models.NvdRecordRow),
        "jvn_records": count(models.JvnRecordRow),
    }


def count_advisories(session: Session, source: str) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(ADVISORY).where(ADVISORY.c.source == source)
        )
        or 0
    )


def store_loaded_files(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Remember size, mtime and hash of each file read, so an unchanged file is not re-read."""
    _upsert(session, models.Base.metadata.tables["loaded_file"], rows, "path")


def newest_modified(session: Session) -> dict[str, str]:
    """``{source: newest 'modified' of its advisories}``: how recent each feed's data is."""
    rows = session.execute(
        select(ADVISORY.c.source, func.max(ADVISORY.c.modified)).group_by(ADVISORY.c.source)
    )
    return {source: newest for source, newest in rows if newest}


def store_cve_records(session: Session, source: str, records: Sequence[Any], now: datetime) -> int:
    """Insert or replace CVE records whose content hash changed; returns how many were written.

    ``records`` are ``sakimori.model.cve.CveRecord`` objects; their parsed parts are kept as JSON.
    """
    from dataclasses import asdict

    table = models.Base.metadata.tables["cve_record"]
    latest = {r.id: r for r in records}
    known: dict[str, str] = {}
    for part in chunks(sorted(latest), _IN_CHUNK):
        rows = session.execute(
            select(table.c.cve_id, table.c.content_hash).where(table.c.cve_id.in_(part))
        )
        known.update((row.cve_id, row.content_hash) for row in rows)
    fresh = [r for r in latest.values() if known.get(r.id) != r.content_hash]
    stale = [r.id for r in fresh if r.id in known]
    for part in chunks(stale, _IN_CHUNK):
        session.execute(delete(table).where(table.c.cve_id.in_(part)))
    rows_out = [
        {
            "cve_id": r.id,
            "source": source,
            "content_hash": r.content_hash,
            "date_updated": r.date_updated,
            "data": asdict(r),
            "loaded_at": now,
        }
        for r in fresh
    ]
    for part in chunks(rows_out):
        session.execute(table.insert(), list(part))
    return len(fresh)


def cve_records(session: Session, cve_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{CVE id: parsed record as a dict}`` for the ids that have a record."""
    table = models.Base.metadata.tables["cve_record"]
    found: dict[str, dict[str, Any]] = {}
    for part in chunks(sorted(set(cve_ids)), _IN_CHUNK):
        rows = session.execute(select(table.c.cve_id, table.c.data).where(table.c.cve_id.in_(part)))
        found.update((row.cve_id, row.data) for row in rows)
    return found


def store_decision_tables(
    session: Session, source: str, tables: Sequence[tuple[str, str, bytes]], now: datetime
) -> int:
    """Store SSVC decision tables ``(id, name, document)``; a table id is versioned
    (``cisa:CISA:1.1.0``), so a new version is a new row and old versions stay for history."""
    import hashlib

    table = models.Base.metadata.tables["decision_table"]
    written = 0
    for identifier, name, document in tables:
        digest = hashlib.sha256(document).hexdigest()
        current = session.execute(
            select(table.c.content_hash).where(table.c.id == identifier)
        ).scalar()
        if current == digest:
            continue
        if current is not None:
            session.execute(delete(table).where(table.c.id == identifier))
        session.execute(
            table.insert(),
            {
                "id": identifier,
                "name": name,
                "source": source,
                "content_hash": digest,
                "document": document,
                "loaded_at": now,
            },
        )
        written += 1
    return written


def decision_table_documents(session: Session) -> dict[str, bytes]:
    """Every stored SSVC decision table document, by id."""
    table = models.Base.metadata.tables["decision_table"]
    return {row.id: row.document for row in session.execute(select(table.c.id, table.c.document))}


def cve_severity(session: Session, cve_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """``{CVE id: [(CVSS_Vx, vector), …]}`` from the CNA and ADP metrics of loaded CVE records."""
    found: dict[str, list[tuple[str, str]]] = {}
    for cve_id, data in cve_records(session, cve_ids).items():
        statements = [
            ("CVSS_V" + str(m.get("version", "3"))[0], m["vector"])
            for m in data.get("cvss", [])
            if m.get("vector")
        ]
        if statements:
            found[cve_id] = statements
    return found
