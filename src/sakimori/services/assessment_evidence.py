"""What triage reads from the store: each vulnerability's evidence, and each asset's context.

Evidence comes from what is loaded: the OSV records that matched (CVSS vectors, CWE ids,
references), CVE records of the same CVE ids (CNA/ADP metrics, CWEs, CISA's SSVC and KEV
blocks), the KEV catalog and EPSS. A finding's evidence depends on its *shape*
(:class:`VulnerabilityShape`): the vulnerability id, its aliases, the records that matched and
whether a fixed version exists; findings of one shape share one :class:`Evidence`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from sakimori.model.cve import CisaSsvc, CveKev, CveRecord, CveReference, CvssMetric, Weakness
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.triage.evidence import (
    AssetContext,
    Cvss,
    Evidence,
    Reference,
    evidence_from_cve,
    merge,
    normalise_cwe,
)
from sakimori.triage.evidence import Weakness as EvidenceWeakness

_CRITICALITIES = frozenset({"low", "medium", "high", "critical"})


@dataclass(frozen=True, slots=True)
class VulnerabilityShape:
    """A finding's vulnerability as stored: primary id, aliases, the OSV records that matched,
    and whether a fixed version is known. Its evidence depends on nothing else."""

    id: str
    aliases: tuple[str, ...]
    records: tuple[str, ...]
    fixed: bool


def cve_from_dict(data: dict[str, Any]) -> CveRecord:
    """Rebuild a stored CVE record (``cve_record.data``)."""
    ssvc_block, kev = data.get("ssvc"), data.get("kev")
    return CveRecord(
        id=data["id"],
        state=data.get("state", "PUBLISHED"),
        content_hash=data.get("content_hash", ""),
        cvss=tuple(CvssMetric(**m) for m in data.get("cvss", [])),
        weaknesses=tuple(Weakness(**w) for w in data.get("weaknesses", [])),
        ssvc=CisaSsvc(**ssvc_block) if ssvc_block else None,
        kev=CveKev(**kev) if kev else None,
        references=tuple(
            CveReference(r["url"], tuple(r.get("tags", ())), r.get("source", ""), r.get("name", ""))
            for r in data.get("references", [])
        ),
        affected=tuple(data.get("affected", [])),
    )


def _osv_evidence(row: Any, record: dict[str, Any]) -> Evidence:
    severity = [s for s in row.severity if str(s.get("type", "")).startswith("CVSS_")]
    specific = record.get("database_specific") or {}
    cwe_ids = specific.get("cwe_ids") if isinstance(specific, dict) else None
    cwes = (
        [normalise_cwe(c) for c in cwe_ids if isinstance(c, str)]
        if isinstance(cwe_ids, list)
        else []
    )
    return Evidence(
        id=row.id,
        aliases=tuple(row.aliases),
        cvss=tuple(dict.fromkeys(Cvss(s["type"], s["score"], row.id) for s in severity)),
        cwes=tuple(dict.fromkeys(EvidenceWeakness(c, row.id) for c in cwes if c)),
        references=tuple(Reference(url, (), row.id) for url in record.get("references", [])),
        open_source=True,
    )


def evidence_by_shape(
    session: Session, shapes: Sequence[VulnerabilityShape]
) -> dict[VulnerabilityShape, Evidence]:
    """One merged :class:`Evidence` per shape (OSV + CVE + KEV + EPSS); each record is read
    and turned into evidence once, however many shapes name it."""
    wanted = list(dict.fromkeys(shapes))
    records = {r for v in wanted for r in v.records}
    advisory = models.Base.metadata.tables["advisory"]
    osv: dict[str, Evidence] = {}
    for part in store.chunks(sorted(records), 900):
        rows = session.execute(
            select(advisory.c.id, advisory.c.aliases, advisory.c.severity, advisory.c.record).where(
                advisory.c.id.in_(part)
            )
        )
        for row in rows:
            osv[row.id] = _osv_evidence(row, orjson.loads(row.record))
    cves = {i for v in wanted for i in (v.id, *v.aliases) if i.startswith("CVE-")}
    kev = store.kev_entries(session, cves)
    epss = store.epss_scores(session, cves)
    cve = store.cve_records(session, cves)
    by_cve: dict[str, Evidence | None] = {}
    for identifier in sorted(cves):
        record = cve.get(identifier)
        entry, score = kev.get(identifier), epss.get(identifier)
        if record is not None:
            by_cve[identifier] = evidence_from_cve(cve_from_dict(record), kev=entry, epss=score)
        elif entry is not None or score is not None:
            by_cve[identifier] = Evidence(
                id=identifier,
                kev=entry is not None,
                kev_due_date=entry.due_date if entry else None,
                epss=score.epss if score else None,
                epss_percentile=score.percentile if score else None,
            )
    found: dict[VulnerabilityShape, Evidence] = {}
    for shape in wanted:
        parts = [osv[r] for r in shape.records if r in osv]
        parts.extend(e for i in (shape.id, *shape.aliases) if (e := by_cve.get(i)) is not None)
        # A code finding's shape names its weakness among its aliases (``CWE-n``): evidence.
        weaknesses = tuple(
            EvidenceWeakness(cwe, "code analysis")
            for a in shape.aliases
            if a.startswith("CWE-") and (cwe := normalise_cwe(a))
        )
        head = Evidence(
            id=shape.id,
            aliases=tuple(a for a in shape.aliases if not a.startswith("CWE-")),
            cwes=weaknesses,
            fix_available=shape.fixed,
            open_source=bool(shape.records),
        )
        found[shape] = merge(head, *parts)
    # Exploitation corroborated by monitoring (services/sightings.py), over all of a shape's ids.
    from sakimori.store.sightings import corroborated

    for shape in corroborated(session, {s: (s.id, *s.aliases) for s in wanted}):
        found[shape] = merge(found[shape], Evidence(id=shape.id, sightings="corroborated"))
    return found


def gather_evidence(
    session: Session, vulnerabilities: Iterable[VulnerabilityShape]
) -> dict[str, Evidence]:
    """One merged :class:`Evidence` per vulnerability id (the last shape given for an id)."""
    wanted = list({v.id: v for v in vulnerabilities}.values())
    found = evidence_by_shape(session, wanted)
    return {shape.id: found[shape] for shape in wanted}


def asset_context(
    criticality: str | None,
    internet_facing: bool | None,
    environment: str | None,
    sectors: Sequence[str],
) -> AssetContext:
    """An asset's triage context from its stored fields (an unknown criticality is None)."""
    return AssetContext(
        criticality=criticality if criticality in _CRITICALITIES else None,  # type: ignore[arg-type]
        internet_facing=internet_facing,
        sectors=tuple(sectors),
        environment=environment,
    )


def context_of(asset: models.Asset, organisation: models.Organisation) -> AssetContext:
    return asset_context(
        asset.criticality, asset.internet_facing, asset.environment, organisation.sectors
    )
