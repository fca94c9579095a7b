"""Triage of stored findings: gather each vulnerability's evidence, decide, set the deadline.

Evidence comes from what is loaded: the OSV records that matched (CVSS vectors, CWE ids,
references, fixed versions), CVE records of the same CVE ids (CNA/ADP metrics, CWEs, CISA's
SSVC and KEV blocks), the KEV catalog and EPSS. The asset gives the context (criticality,
exposure, sectors). The SSVC tables are the ones loaded as data (``intel load`` of CERT/CC's
decision tables); the deadline comes from the configured policy (``SAKIMORI_POLICY``).

Work is grouped: evidence is built once per vulnerability and a decision once per
(vulnerability, context), so re-assessing many findings costs little more than writing them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sakimori.errors import ConfigurationError, SakimoriError
from sakimori.formats import ssvc
from sakimori.model.cve import CisaSsvc, CveKev, CveRecord, CveReference, CvssMetric, Weakness
from sakimori.model.finding import Finding
from sakimori.model.lifecycle import CLOSED
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.triage.config import DEFAULT_CONFIG, TriageConfig
from sakimori.triage.decide import Decision, DecisionTables, decide
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
from sakimori.triage.policy import DeadlineInputs, PolicySet, deadline
from sakimori.triage.policy_files import builtin_policies, load_policy_set

log = logging.getLogger(__name__)

#: Table ids (namespace:key:) of the three tables decisions use; the newest version wins.
_ROLES = {"coordinator": "cisa:DT_CO:", "deployer": "ssvc:DT_DP:", "bod": "cisa:DT_BOD2604:"}
_CLOSED = frozenset(s.value for s in CLOSED)
_CRITICALITIES = frozenset({"low", "medium", "high", "critical"})


def policy_set(setting: str | None) -> PolicySet:
    """The policy set: a built-in preset by name, or a policy-set TOML file."""
    name = (setting or "cisa-bod-26-04").strip()
    presets = builtin_policies()
    if name in presets:
        chosen = presets[name]
        return PolicySet(chosen.name, chosen.version, chosen)
    path = Path(name).expanduser()
    if not path.is_file():
        raise ConfigurationError(
            f"SAKIMORI_POLICY={name!r} is neither a built-in policy nor a file",
            hint="built-in: " + ", ".join(sorted(presets)),
        )
    try:
        return load_policy_set(path.read_bytes(), where=str(path))
    except OSError as exc:
        raise ConfigurationError(f"cannot read the policy file: {exc}", where=str(path)) from None


def decision_tables(session: Session) -> DecisionTables | None:
    """The newest loaded version of each of the three tables, or None if one is missing."""
    documents = store.decision_table_documents(session)
    chosen: dict[str, bytes] = {}
    for role, prefix in _ROLES.items():
        ids = sorted((i for i in documents if i.startswith(prefix)), key=_version_key)
        if not ids:
            return None
        chosen[role] = documents[ids[-1]]
    return DecisionTables(
        coordinator=ssvc.parse(chosen["coordinator"]),
        deployer=ssvc.parse(chosen["deployer"]),
        bod=ssvc.parse(chosen["bod"]),
    )


def _version_key(identifier: str) -> tuple[int, ...]:
    version = identifier.rsplit(":", 1)[-1]
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


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


@dataclass(frozen=True, slots=True)
class _Vulnerability:
    """A finding's vulnerability as stored: primary id, aliases, the OSV records that matched."""

    id: str
    aliases: tuple[str, ...]
    records: tuple[str, ...]
    fixed: bool


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


def gather_evidence(
    session: Session, vulnerabilities: Iterable[_Vulnerability]
) -> dict[str, Evidence]:
    """One merged :class:`Evidence` per vulnerability id (OSV + CVE + KEV + EPSS)."""
    import orjson

    wanted = list({v.id: v for v in vulnerabilities}.values())
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
    found: dict[str, Evidence] = {}
    for vulnerability in wanted:
        ids = (vulnerability.id, *vulnerability.aliases)
        parts = [osv[r] for r in vulnerability.records if r in osv]
        for identifier in ids:
            if identifier.startswith("CVE-"):
                record = cve.get(identifier)
                if record is not None:
                    parts.append(
                        evidence_from_cve(
                            cve_from_dict(record),
                            kev=kev.get(identifier),
                            epss=epss.get(identifier),
                        )
                    )
                elif identifier in kev or identifier in epss:
                    entry, score = kev.get(identifier), epss.get(identifier)
                    parts.append(
                        Evidence(
                            id=identifier,
                            kev=entry is not None,
                            kev_due_date=entry.due_date if entry else None,
                            epss=score.epss if score else None,
                            epss_percentile=score.percentile if score else None,
                        )
                    )
        head = Evidence(
            id=vulnerability.id,
            aliases=vulnerability.aliases,
            fix_available=vulnerability.fixed,
            open_source=bool(vulnerability.records),
        )
        found[vulnerability.id] = merge(head, *parts)
    return found


def context_of(asset: models.Asset, organisation: models.Organisation) -> AssetContext:
    criticality = asset.criticality if asset.criticality in _CRITICALITIES else None
    return AssetContext(
        criticality=criticality,  # type: ignore[arg-type]  # checked against the literal set
        internet_facing=asset.internet_facing,
        sectors=tuple(organisation.sectors),
        environment=asset.environment,
    )


def _due(
    policies: PolicySet,
    decision: Decision,
    context: AssetContext,
    evidence: Evidence,
    first_seen: datetime,
) -> tuple[datetime | None, str, str]:
    """The earliest deadline among the asset's sectors' policies (or the default policy)."""
    kev_due = date.fromisoformat(evidence.kev_due_date) if evidence.kev_due_date else None
    best: tuple[datetime | None, str, str] | None = None
    for sector in context.sectors or (None,):
        policy = policies.policy_for(sector)
        inputs = DeadlineInputs(
            bod=decision.bod.key,
            decision=decision.decision.name,
            priority=decision.priority.name,
            internet_facing=True if context.internet_facing is None else context.internet_facing,
            kev=evidence.kev,
            kev_due_date=kev_due if evidence.kev else None,
            sector=sector,
        )
        found = deadline(policy, inputs, first_seen)
        candidate = (found.due, found.reason, policy.label)
        if best is None or (found.due is not None and (best[0] is None or found.due < best[0])):
            best = candidate
    assert best is not None
    return best


def assess(
    session: Session,
    rows: Sequence[models.Finding],
    policies: PolicySet,
    config: TriageConfig = DEFAULT_CONFIG,
    now: datetime | None = None,
    why: str = "",
) -> int:
    """Decide and set deadlines for ``rows``; returns how many changed. A changed deadline on
    an existing finding is recorded in its history with the reason."""
    now = now or datetime.now(UTC)
    tables = decision_tables(session)
    if tables is None:
        for row in rows:
            row.explanation = {
                "unavailable": "SSVC decision tables are not loaded: load CERT/CC's "
                "decision tables with `sakimori intel load` or `intel sync`"
            }
        return 0
    assets = {
        a.id: a
        for a in session.scalars(
            select(models.Asset).where(models.Asset.id.in_({r.asset_id for r in rows}))
        )
    }
    orgs = {
        o.id: o
        for o in session.scalars(
            select(models.Organisation).where(
                models.Organisation.id.in_({a.organisation_id for a in assets.values()})
            )
        )
    }
    vulnerabilities = {
        row.vulnerability: _Vulnerability(
            row.vulnerability, tuple(row.aliases), tuple(row.records), bool(row.fixed_versions)
        )
        for row in rows
    }
    evidence = gather_evidence(session, vulnerabilities.values())
    changed = 0
    decisions: dict[tuple[str, AssetContext], Decision] = {}
    for row in rows:
        asset = assets[row.asset_id]
        context = context_of(asset, orgs[asset.organisation_id])
        found = evidence[row.vulnerability]
        key = (row.vulnerability, context)
        decision = decisions.get(key)
        if decision is None:
            try:
                decision = decisions[key] = decide(found, context, tables, config)
            except SakimoriError as exc:
                log.warning("cannot decide %s: %s", row.vulnerability, exc.diagnostics())
                continue
        due, reason, policy = _due(policies, decision, context, found, _aware(row.first_seen_at))
        before = (
            row.decision,
            row.priority,
            row.bod,
            _aware(row.deadline) if row.deadline else None,
        )
        after = (decision.decision.name, decision.priority.name, decision.bod.key, due)
        row.explanation = decision.to_dict()
        row.policy = policy
        row.deadline_reason = reason
        if before == after:
            continue
        changed += 1
        row.decision, row.priority, row.bod, row.deadline = after
        if before[0] is not None and row.state not in _CLOSED and before[3] != due:
            session.add(
                models.FindingTransition(
                    finding_id=row.id,
                    at=now,
                    actor="sakimori",
                    from_state=row.state,
                    to_state=row.state,
                    note=f"deadline recomputed ({why or 'triage'}): {reason}",
                )
            )
    return changed


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def assess_asset(
    session: Session, asset_id: int, policies: PolicySet, now: datetime, why: str
) -> int:
    rows = list(session.scalars(select(models.Finding).where(models.Finding.asset_id == asset_id)))
    return assess(session, rows, policies, now=now, why=why)


def assess_findings(
    session: Session, finding_ids: Collection[int], policies: PolicySet, now: datetime, why: str
) -> int:
    """Re-assess the findings with these ids (after they were created or re-matched)."""
    rows: list[models.Finding] = []
    for part in store.chunks(sorted(finding_ids), 900):
        rows.extend(session.scalars(select(models.Finding).where(models.Finding.id.in_(part))))
    return assess(session, rows, policies, now=now, why=why)


def assess_open(session: Session, policies: PolicySet, now: datetime, why: str) -> int:
    """Re-assess every open finding (after a policy, KEV, EPSS or CVE-record change)."""
    rows = list(
        session.scalars(select(models.Finding).where(models.Finding.state.not_in(list(_CLOSED))))
    )
    return assess(session, rows, policies, now=now, why=why)


def explanation_text(row: models.Finding) -> str:
    """The stored explanation of a finding's decision, as lines a person reads."""
    data = row.explanation or {}
    if "unavailable" in data:
        return f"finding {row.id}: not triaged: {data['unavailable']}"
    if not data:
        return f"finding {row.id}: not triaged yet (run `sakimori triage recompute`)"
    lines = [
        f"finding {row.id}: {data['vulnerability']} in {row.package} {row.version} — decision "
        f"{data['decision']['name']}, priority {data['priority']['name']}, BOD 26-04 "
        f"{data['bod']['name']} ({data['bod']['key']})"
    ]
    if data.get("context_unknown"):
        lines.append("  asset context unknown: exposure and criticality take their defaults")
    for point in data.get("points", []):
        flag = " [unknown, default]" if point.get("unknown") else ""
        lines.append(f"  {point['name']} ({point['point']}): {point['value_name']}{flag}")
        lines.extend(f"    - {b['source']}: {b['detail']}" for b in point.get("because", []))
    tables = ", ".join(data.get("tables", {}).values())
    lines.append(f"  tables: {tables}; triage configuration {data.get('config_version')}")
    due = row.deadline.isoformat(timespec="minutes") if row.deadline else "none"
    lines.append(f"  deadline: {due} — {row.deadline_reason or 'no policy applied'}")
    return "\n".join(lines)


def triage_scan(
    session: Session, findings: Sequence[Finding], policies: PolicySet, now: datetime
) -> tuple[list[Finding], str | None]:
    """Decisions for a bare scan: the asset context is unknown (exposure open, criticality
    medium, as documented); the clock starts now. Returns the findings and, when no tables are
    loaded, the reason they carry no decision."""
    tables = decision_tables(session)
    if tables is None:
        return list(findings), "SSVC decision tables are not loaded"
    wanted = [
        _Vulnerability(f.vulnerability, f.aliases, f.records, bool(f.fixed)) for f in findings
    ]
    evidence = gather_evidence(session, wanted)
    context = AssetContext.unknown()
    decided: list[Finding] = []
    for item in findings:
        found = evidence[item.vulnerability]
        decision = decide(found, context, tables, DEFAULT_CONFIG)
        due, reason, _ = _due(policies, decision, context, found, now)
        explanation = decision.to_dict() | {"deadline_reason": reason}
        decided.append(
            replace(
                item,
                decision=decision.decision.name,
                priority=decision.priority.name,
                bod=decision.bod.key,
                deadline=due,
                explanation=explanation,
            )
        )
    return decided, None
