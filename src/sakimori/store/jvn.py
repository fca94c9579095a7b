"""Storage of JVN iPedia records (``jvn_record``) and their CVE links (``jvn_cve``).

One row per JVNDB id. A record read in another language (MyJVN's ``lang=en``) or from the other
feed (the RSS overview after the VULDEF detail) merges into the stored row: each language's
title and description is kept, everything else comes from the newer reading of the same kind
(the Japanese one when an English reading comes over it), and a detail is never replaced by an
overview (``JvnRecord.merge``). A row whose merged content hashes as stored is not written again.

``jvn_cve`` says which JVNDB ids name a CVE id, so the findings of a CVE can list its JVNDB ids
among their aliases (``jvn_ids_for``, ``with_jvn_aliases``) while matching stays pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sakimori.model.advisory import AdvisoryInfo
from sakimori.model.jvn import JvnCvss, JvnProduct, JvnRecord, JvnReference
from sakimori.store import models
from sakimori.store.intel import chunks

RECORD = models.Base.metadata.tables["jvn_record"]
LINK = models.Base.metadata.tables["jvn_cve"]
_IN_CHUNK = 900


def merged(new: JvnRecord, stored: JvnRecord | None) -> JvnRecord:
    """``new`` read over ``stored`` (the same JVNDB id).

    A detail and an overview: ``JvnRecord.merge`` (the detail's fields, texts of every language).
    Two readings of the same kind: ``new``'s texts replace those of its languages, the others
    are kept; every other field (CVE ids, products, references…) comes from ``new``, except that
    an English reading over a Japanese one keeps the Japanese reading's, whose names and notice
    titles are JVN's original words, so that alternating languages does not rewrite the row.
    """
    if stored is None:
        return new
    if new.source != stored.source:
        return new.merge(stored)
    japanese_kept = "ja" in dict(stored.titles) and "ja" not in dict(new.titles)
    base = stored if japanese_kept else new
    return replace(
        base,
        titles=tuple({**dict(stored.titles), **dict(new.titles)}.items()),
        descriptions=tuple({**dict(stored.descriptions), **dict(new.descriptions)}.items()),
    )


def content_hash(record: JvnRecord) -> str:
    """SHA-256 of what is stored of ``record``; languages in any order hash alike."""
    row = _content(record)
    return hashlib.sha256(orjson.dumps(row, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _content(record: JvnRecord) -> dict[str, Any]:
    return {
        "reading": record.source,
        "titles": dict(record.titles),
        "descriptions": dict(record.descriptions),
        "cve_ids": list(record.cve_ids),
        "cvss": [asdict(c) for c in record.cvss],
        "products": [{**asdict(p), "versions": list(p.versions)} for p in record.products],
        "references": [asdict(r) for r in record.references],
        "cwe_ids": list(record.cwe_ids),
        "published": record.published,
        "modified": record.modified,
        "disclosed": record.disclosed,
        "notes": list(record.notes),
    }


def _record(row: Any) -> JvnRecord:
    return JvnRecord(
        id=row.jvn_id,
        titles=tuple(row.titles.items()),
        descriptions=tuple(row.descriptions.items()),
        cve_ids=tuple(row.cve_ids),
        cvss=tuple(JvnCvss(**c) for c in row.cvss),
        products=tuple(JvnProduct(**{**p, "versions": tuple(p["versions"])}) for p in row.products),
        references=tuple(JvnReference(**r) for r in row.references),
        cwe_ids=tuple(row.cwe_ids),
        published=row.published,
        modified=row.modified,
        disclosed=row.disclosed,
        source=row.reading,
        notes=tuple(row.notes),
    )


def jvn_records(session: Session, ids: Iterable[str]) -> dict[str, JvnRecord]:
    """``{JVNDB id: record}`` for the ids that are stored."""
    found: dict[str, JvnRecord] = {}
    for part in chunks(sorted(set(ids)), _IN_CHUNK):
        for row in session.execute(select(RECORD).where(RECORD.c.jvn_id.in_(part))):
            found[row.jvn_id] = _record(row)
    return found


def store_jvn_records(
    session: Session, source: str, records: Sequence[JvnRecord], now: datetime
) -> int:
    """Insert or merge ``records`` into the stored rows; returns how many rows were written.

    Readings of one id within ``records`` merge in order, then over the stored row; a row whose
    merged content is unchanged is left as it is (its ``source`` and ``loaded_at`` too).
    """
    latest: dict[str, JvnRecord] = {}
    for record in records:
        latest[record.id] = merged(record, latest.get(record.id))
    stored = jvn_records(session, latest)
    hashes: dict[str, str] = {}
    for part in chunks(sorted(stored), _IN_CHUNK):
        known = session.execute(
            select(RECORD.c.jvn_id, RECORD.c.content_hash).where(RECORD.c.jvn_id.in_(part))
        )
        hashes.update((row.jvn_id, row.content_hash) for row in known)
    fresh: list[tuple[JvnRecord, str]] = []
    for identifier, record in latest.items():
        final = merged(record, stored.get(identifier))
        digest = content_hash(final)
        if hashes.get(identifier) != digest:
            fresh.append((final, digest))
    written = [record.id for record, _ in fresh]
    for part in chunks(sorted(set(written) & set(stored)), _IN_CHUNK):
        session.execute(delete(RECORD).where(RECORD.c.jvn_id.in_(part)))
    for part in chunks(sorted(written), _IN_CHUNK):
        session.execute(delete(LINK).where(LINK.c.jvn_id.in_(part)))
    rows: list[dict[str, Any]] = [
        {"jvn_id": r.id, "source": source, "content_hash": d, "loaded_at": now, **_content(r)}
        for r, d in fresh
    ]
    links: list[dict[str, Any]] = [
        {"cve_id": cve, "jvn_id": r.id} for r, _ in fresh for cve in dict.fromkeys(r.cve_ids)
    ]
    for table, batch in ((RECORD, rows), (LINK, links)):
        for rows_part in chunks(batch):
            session.execute(table.insert(), list(rows_part))
    return len(fresh)


def jvn_ids_for(session: Session, cve_ids: Iterable[str]) -> dict[str, list[str]]:
    """``{CVE id: [JVNDB ids naming it, sorted]}`` for the CVE ids some JVN record names."""
    found: dict[str, list[str]] = {}
    for part in chunks(sorted(set(cve_ids)), _IN_CHUNK):
        rows = session.execute(
            select(LINK.c.cve_id, LINK.c.jvn_id)
            .where(LINK.c.cve_id.in_(part))
            .order_by(LINK.c.cve_id, LINK.c.jvn_id)
        )
        for cve_id, jvn_id in rows:
            found.setdefault(cve_id, []).append(jvn_id)
    return found


def with_jvn_aliases(
    advisories: Mapping[str, AdvisoryInfo], jvn_ids: Mapping[str, Sequence[str]]
) -> dict[str, AdvisoryInfo]:
    """``advisories`` with the JVNDB ids of their CVE ids added to their aliases (for
    ``build_findings``; ``jvn_ids`` as :func:`jvn_ids_for` gives it). Pure."""
    out: dict[str, AdvisoryInfo] = {}
    for key, info in advisories.items():
        extra = [j for i in info.ids for j in jvn_ids.get(i, ()) if j not in info.ids]
        out[key] = replace(info, aliases=(*info.aliases, *dict.fromkeys(extra))) if extra else info
    return out


def count_jvn(session: Session, source: str | None = None) -> int:
    """Stored JVN records (of ``source`` only, when given)."""
    query = select(func.count()).select_from(RECORD)
    if source is not None:
        query = query.where(RECORD.c.source == source)
    return int(session.scalar(query) or 0)


def count_jvn_links(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(LINK)) or 0)


__all__ = [
    "content_hash",
    "count_jvn",
    "count_jvn_links",
    "jvn_ids_for",
    "jvn_records",
    "merged",
    "store_jvn_records",
    "with_jvn_aliases",
]
