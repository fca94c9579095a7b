"""Storage of the records products are matched against: NVD configurations and product keys.

``nvd_record`` keeps each NVD record's ``configurations`` as NVD wrote them; ``product_key``
says which records (NVD configurations, CVE List V5 ``affected`` entries) name a product, so
matching an asset's products reads only the records that can concern them
(``matching.products`` computes the keys). Writes are set-based and skip records whose content
hash is unchanged; every write returns the product keys whose records changed, which is what
re-matching the inventories that hold them needs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sakimori.cpe.applicability import ApplicabilityIndex
from sakimori.cpe.nvd import NvdDocument, NvdRecord, record_from_dict
from sakimori.matching.product_names import cve_record_keys, nvd_record_keys
from sakimori.model.cve import CveRecord
from sakimori.store import models
from sakimori.store.intel import chunks

NVD = models.Base.metadata.tables["nvd_record"]
KEYS = models.Base.metadata.tables["product_key"]
CVE = models.Base.metadata.tables["cve_record"]
_IN_CHUNK = 900


def _keys_of(session: Session, kind: str, ids: Collection[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(sorted(ids), _IN_CHUNK):
        found.update(
            session.scalars(
                select(KEYS.c.key).where(KEYS.c.kind == kind, KEYS.c.cve_id.in_(part)).distinct()
            )
        )
    return found


def _replace_keys(
    session: Session, kind: str, keys: dict[str, set[str]], stored: Collection[str]
) -> None:
    """Write the keys of these records, deleting first those of the ones ``stored`` before
    (a new record has none: skipping the delete keeps a first load off the key index)."""
    for part in chunks(sorted(set(keys) & set(stored)), _IN_CHUNK):
        session.execute(delete(KEYS).where(KEYS.c.kind == kind, KEYS.c.cve_id.in_(part)))
    rows = [
        {"key": key, "kind": kind, "cve_id": cve_id}
        for cve_id, named in keys.items()
        for key in sorted(named)
    ]
    for batch in chunks(rows):
        session.execute(KEYS.insert(), list(batch))


def store_nvd_records(
    session: Session, source: str, documents: Sequence[NvdDocument], now: datetime
) -> set[str]:
    """Insert or replace NVD records whose content changed; the product keys they named
    before and name now, when their configurations changed."""
    latest = {d.record.id: d for d in documents}
    hashes: dict[str, str] = {}
    for part in chunks(sorted(latest), _IN_CHUNK):
        rows = session.execute(
            select(NVD.c.cve_id, NVD.c.content_hash).where(NVD.c.cve_id.in_(part))
        )
        hashes.update((row.cve_id, row.content_hash) for row in rows)
    fresh = [d for d in latest.values() if hashes.get(d.record.id) != d.content_hash]
    # Only a changed record's stored configurations are read back: most of a re-load is
    # unchanged, and its configurations are the bulk of the table.
    known: dict[str, Any] = {}
    for part in chunks(sorted(d.record.id for d in fresh if d.record.id in hashes), _IN_CHUNK):
        rows = session.execute(
            select(NVD.c.cve_id, NVD.c.configurations).where(NVD.c.cve_id.in_(part))
        )
        known.update((row.cve_id, row.configurations) for row in rows)
    reshaped = {
        d.record.id
        for d in fresh
        if d.record.id not in known or known[d.record.id] != list(d.configurations)
    }
    stored = {d.record.id for d in fresh if d.record.id in hashes}
    changed = _keys_of(session, "nvd", reshaped & stored)
    for part in chunks([d.record.id for d in fresh if d.record.id in known], _IN_CHUNK):
        session.execute(delete(NVD).where(NVD.c.cve_id.in_(part)))
    new_rows = [
        {
            "cve_id": d.record.id,
            "source": source,
            "content_hash": d.content_hash,
            "last_modified": d.last_modified or None,
            "status": d.record.vuln_status or None,
            "configurations": list(d.configurations),
            "loaded_at": now,
        }
        for d in fresh
    ]
    for batch in chunks(new_rows):
        session.execute(NVD.insert(), list(batch))
    new_keys = {d.record.id: nvd_record_keys(d.record) for d in fresh if d.record.id in reshaped}
    _replace_keys(session, "nvd", new_keys, stored)
    for named in new_keys.values():
        changed |= named
    return changed


def store_cve_keys(session: Session, records: Sequence[CveRecord]) -> set[str]:
    """Rewrite the product keys of CVE records just stored; the keys they named before and now."""
    keys = {r.id: cve_record_keys(r) for r in records}
    changed = _keys_of(session, "cve", keys)
    _replace_keys(session, "cve", keys, keys)
    for named in keys.values():
        changed |= named
    return changed


def records_for(session: Session, keys: Iterable[str]) -> tuple[list[NvdRecord], list[CveRecord]]:
    """The NVD and CVE records that name any of ``keys``."""
    ids: dict[str, set[str]] = {"nvd": set(), "cve": set()}
    for part in chunks(sorted(set(keys)), _IN_CHUNK):
        for kind, cve_id in session.execute(
            select(KEYS.c.kind, KEYS.c.cve_id).where(KEYS.c.key.in_(part))
        ):
            ids[kind].add(cve_id)
    nvd: list[NvdRecord] = []
    for part in chunks(sorted(ids["nvd"]), _IN_CHUNK):
        stored = session.execute(
            select(NVD.c.cve_id, NVD.c.status, NVD.c.configurations).where(NVD.c.cve_id.in_(part))
        )
        for cve_id, status, configurations in stored:
            document = {"id": cve_id, "configurations": configurations, "vulnStatus": status}
            nvd.append(record_from_dict(document))
    return nvd, cve_records_of(session, ids["cve"])


def cve_records_of(session: Session, cve_ids: Iterable[str]) -> list[CveRecord]:
    """The stored CVE records of ``cve_ids``, with what product matching reads (``affected``)."""
    cve: list[CveRecord] = []
    for part in chunks(sorted(set(cve_ids)), _IN_CHUNK):
        rows = session.execute(select(CVE.c.cve_id, CVE.c.data).where(CVE.c.cve_id.in_(part)))
        for cve_id, data in rows:
            cve.append(
                CveRecord(
                    id=cve_id,
                    state=data.get("state", ""),
                    content_hash=data.get("content_hash", ""),
                    affected=tuple(data.get("affected") or ()),
                )
            )
    return cve


def product_index(
    session: Session, keys: Iterable[str]
) -> tuple[ApplicabilityIndex, list[CveRecord]]:
    """The NVD records naming ``keys``, indexed, and the CVE records naming them."""
    nvd, cve = records_for(session, keys)
    return ApplicabilityIndex(nvd), cve


def newest_nvd_modified(session: Session) -> str | None:
    """The newest ``lastModified`` of the stored NVD records (where incremental sync resumes)."""
    return session.scalar(select(NVD.c.last_modified).order_by(NVD.c.last_modified.desc()).limit(1))


def count_nvd(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(NVD)) or 0


__all__ = [
    "count_nvd",
    "cve_records_of",
    "newest_nvd_modified",
    "product_index",
    "records_for",
    "store_cve_keys",
    "store_nvd_records",
]
