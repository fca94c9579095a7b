"""Triage of stored findings: gather each vulnerability's evidence, decide, set the deadline.

Evidence comes from what is loaded (``services.assessment_evidence``); the asset gives the
context (criticality, exposure, sectors, environment). The SSVC tables are the ones loaded as
data (``intel load`` of CERT/CC's decision tables); the deadline comes from the configured
policy (``SAKIMORI_POLICY``).

Re-assessment is set-based (:func:`run_assessment`): a decision depends only on the
vulnerability's evidence and the asset context, and a deadline on the decision, the context and
when the finding was first seen. So evidence is built once per distinct vulnerability shape, a
decision made once per (class of SSVC values, context) and a deadline once per (class, context,
first seen), and the findings are written in a few statements by ``services.assessment_store``:
re-assessing a million findings costs a few hundred thousand small computations and one pass of
writes over the findings that changed. Each distinct part of an explanation is stored once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import Session

from sakimori.errors import ConfigurationError, NotFound, SakimoriError
from sakimori.formats import ssvc
from sakimori.model.finding import Finding
from sakimori.model.lifecycle import CLOSED
from sakimori.services import assessment_store as sets
from sakimori.services.assessment_evidence import (
    VulnerabilityShape,
    asset_context,
    context_of,
    cve_from_dict,
    evidence_by_shape,
    gather_evidence,
)
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.triage.config import DEFAULT_CONFIG, TriageConfig
from sakimori.triage.decide import Decision, DecisionTables, decide
from sakimori.triage.evidence import AssetContext, Evidence
from sakimori.triage.policy import DeadlineInputs, Policy, PolicySet, deadline
from sakimori.triage.policy_files import builtin_policies, load_policy_set

__all__ = [
    "AssessmentRun",
    "assess_asset",
    "assess_findings",
    "assess_open",
    "assess_vulnerabilities",
    "context_of",
    "cve_from_dict",
    "decision_tables",
    "explanation",
    "explanation_text",
    "gather_evidence",
    "policy_set",
    "run_assessment",
    "triage_scan",
]

log = logging.getLogger(__name__)

#: Table ids (namespace:key:) of the three tables decisions use; the newest version wins.
_ROLES = {"coordinator": "cisa:DT_CO:", "deployer": "ssvc:DT_DP:", "bod": "cisa:DT_BOD2604:"}
_CLOSED = frozenset(s.value for s in CLOSED)


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


_Plan = tuple[tuple[Policy, DeadlineInputs], ...]


def _plan(
    policies: PolicySet, decision: Decision, context: AssetContext, evidence: Evidence
) -> _Plan:
    """The policy and deadline inputs of each of the asset's sectors (or the default policy)."""
    kev_due = date.fromisoformat(evidence.kev_due_date) if evidence.kev_due_date else None
    return tuple(
        (
            policies.policy_for(sector),
            DeadlineInputs(
                bod=decision.bod.key,
                decision=decision.decision.name,
                priority=decision.priority.name,
                internet_facing=context.internet_facing is not False,  # unknown: open
                kev=evidence.kev,
                kev_due_date=kev_due if evidence.kev else None,
                sector=sector,
            ),
        )
        for sector in context.sectors or (None,)
    )


def _earliest(plan: _Plan, first_seen: datetime) -> tuple[datetime | None, str, str]:
    """(due, reason, policy) of the earliest deadline of the plan: a deadline beats none, and
    of equal ones the first sector's wins."""
    best: tuple[datetime | None, str, str] | None = None
    for policy, inputs in plan:
        found = deadline(policy, inputs, first_seen)
        if best is None or (found.due is not None and (best[0] is None or found.due < best[0])):
            best = (found.due, found.reason, policy.label)
    assert best is not None
    return best


def _due(
    policies: PolicySet,
    decision: Decision,
    context: AssetContext,
    evidence: Evidence,
    first_seen: datetime,
) -> tuple[datetime | None, str, str]:
    """The earliest deadline among the asset's sectors' policies (or the default policy)."""
    return _earliest(_plan(policies, decision, context, evidence), first_seen)


@dataclass(frozen=True, slots=True)
class AssessmentRun:
    """What one re-assessment did: findings whose outcome or deadline changed, transitions
    recorded, findings written, the sizes of the groups it computed, and where time went."""

    changed: int = 0
    transitions: int = 0
    written: int = 0
    shapes: int = 0
    classes: int = 0
    contexts: int = 0
    groups: int = 0
    decisions: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def run_assessment(
    session: Session,
    where: ColumnElement[bool],
    policies: PolicySet,
    now: datetime,
    why: str,
    config: TriageConfig = DEFAULT_CONFIG,
) -> AssessmentRun:
    """Decide and set deadlines for the findings ``where`` selects, set-based.

    Evidence is gathered once per distinct vulnerability *shape* (id, aliases, matched records,
    whether a fix exists: what the evidence depends on), a decision made once per (class of
    SSVC values, asset context) and a deadline once per (class, context, first seen); the
    findings are then written in a few statements (``services.assessment_store``). A finding
    whose shape cannot be decided keeps what it had (logged). A changed deadline on an open,
    already-decided finding is recorded in its history with the reason.
    """
    session.flush()
    tables = decision_tables(session)
    if tables is None:
        unavailable = {"part": "unavailable", "unavailable": _UNAVAILABLE}
        key = sets.digest(unavailable)
        sets.mark(session, where, sets.part_ids(session, {key: unavailable}, now)[key])
        sets.expire_findings(session)
        return AssessmentRun()
    clock = _Clock()
    with sets.temporary(session):
        found = _classify(session, where, tables, config, now)
        clock.lap("evidence")
        if not found.shapes:
            return AssessmentRun(seconds=clock.laps)
        contexts = _contexts(session, where)
        clock.lap("contexts")
        groups = sets.groups(session, where)
        clock.lap("groups")
        decisions = _results(session, groups, found, contexts, tables, config, policies, now)
        clock.lap("decide")
        note = f"deadline recomputed ({why or 'triage'}): "
        changed, transitions, written = sets.apply(session, where, sorted(_CLOSED), now, note)
        clock.lap("write")
    sets.expire_findings(session)
    return AssessmentRun(
        changed=changed,
        transitions=transitions,
        written=written,
        shapes=found.shapes,
        classes=len(found.representatives),
        contexts=len(contexts),
        groups=len(groups),
        decisions=decisions,
        seconds=clock.laps,
    )


_UNAVAILABLE = (
    "SSVC decision tables are not loaded: load CERT/CC's decision tables with "
    "`sakimori intel load` or `intel sync`"
)


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._last
        self._last = now


@dataclass(frozen=True, slots=True)
class _Classes:
    """Shapes decided: how many, and one Evidence per class of (E, A, TI, KEV, KEV due date)."""

    shapes: int
    representatives: list[Evidence]


def _classify(
    session: Session,
    where: ColumnElement[bool],
    tables: DecisionTables,
    config: TriageConfig,
    now: datetime,
) -> _Classes:
    """Evidence and the vulnerability part of the explanation per shape; load the shapes."""
    raw = sets.shapes(session, where)
    wanted = [
        VulnerabilityShape(v, tuple(orjson.loads(a)), tuple(orjson.loads(r)), fixed)
        for v, a, r, fixed in raw
    ]
    evidence = evidence_by_shape(session, wanted)
    unknown = AssetContext.unknown()
    classes: dict[tuple[str, str, str, bool, str | None], int] = {}
    representatives: list[Evidence] = []
    parts: dict[str, dict[str, Any]] = {}
    rows: list[tuple[int, str, str, str, bool, int, str]] = []
    for index, ((vulnerability, aliases, records, fixed), shape) in enumerate(
        zip(raw, wanted, strict=True)
    ):
        found = evidence[shape]
        try:
            decision = decide(found, unknown, tables, config)
        except SakimoriError as exc:
            log.warning("cannot decide %s: %s", vulnerability, exc.diagnostics())
            continue
        key = (
            decision.point("E").value,
            decision.point("A").value,
            decision.point("TI").value,
            found.kev,
            found.kev_due_date if found.kev else None,
        )
        if key not in classes:
            classes[key] = len(representatives)
            representatives.append(found)
        part = sets.vulnerability_part(decision)
        digest = sets.digest(part)
        parts[digest] = part
        rows.append((index, vulnerability, aliases, records, fixed, classes[key], digest))
    ids = sets.part_ids(session, parts, now)
    sets.load(session, sets.SHAPE, [(*row[:-1], ids[row[-1]]) for row in rows])
    return _Classes(len(rows), representatives)


def _contexts(session: Session, where: ColumnElement[bool]) -> list[AssetContext]:
    """The distinct asset contexts in scope (their index is the id); load each asset's."""
    contexts: dict[AssetContext, int] = {}
    rows: list[tuple[int, int]] = []
    for asset_id, criticality, internet_facing, environment, sectors in sets.asset_contexts(
        session, where
    ):
        context = asset_context(criticality, internet_facing, environment, sectors)
        rows.append((asset_id, contexts.setdefault(context, len(contexts))))
    sets.load(session, sets.ASSET, rows)
    return list(contexts)


def _results(
    session: Session,
    groups: Sequence[tuple[int, int, Any]],
    found: _Classes,
    contexts: Sequence[AssetContext],
    tables: DecisionTables,
    config: TriageConfig,
    policies: PolicySet,
    now: datetime,
) -> int:
    """One result per (class, context, first seen): outcomes, deadline, policy, reason, and
    the context part of the explanation; loaded for :func:`sets.apply`. Returns how many
    decisions were made (one per class and context)."""
    decided: dict[tuple[int, int], tuple[Decision, str]] = {}
    plans: dict[tuple[object, ...], _Plan] = {}
    deadlines: dict[tuple[object, ...], tuple[datetime | None, str, str]] = {}
    parts: dict[str, dict[str, Any]] = {}
    rows: list[list[Any]] = []
    for vclass, context_id, first_seen in groups:
        evidence, context = found.representatives[vclass], contexts[context_id]
        pair = decided.get((vclass, context_id))
        if pair is None:
            decision = decide(evidence, context, tables, config)
            part = sets.context_part(decision)
            digest = sets.digest(part)
            parts[digest] = part
            pair = decided[(vclass, context_id)] = (decision, digest)
        decision, digest = pair
        # The deadline depends on the outcomes, exposure, sectors and KEV due date only.
        key = (
            decision.bod.key,
            decision.decision.name,
            decision.priority.name,
            context.internet_facing is not False,
            context.sectors,
            evidence.kev_due_date if evidence.kev else None,
            evidence.kev,
        )
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = _plan(policies, decision, context, evidence)
        moment = _first_seen(first_seen)
        due = deadlines.get((key, moment))
        if due is None:
            due = deadlines[(key, moment)] = _earliest(plan, moment)
        rows.append(
            [
                len(rows),
                vclass,
                context_id,
                first_seen,
                decision.decision.name,
                decision.priority.name,
                decision.bod.key,
                *due,
                digest,
            ]
        )
    ids = sets.part_ids(session, parts, now)
    for row in rows:
        row[-1] = ids[row[-1]]
    sets.load(session, sets.RESULT, rows)
    return len(decided)


def _first_seen(stored: Any) -> datetime:
    """``first_seen_at`` as stored (SQLite: text; PostgreSQL: a timestamp) -> aware datetime."""
    moment = datetime.fromisoformat(stored) if isinstance(stored, str) else stored
    return _aware(moment)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def assess_asset(
    session: Session, asset_id: int, policies: PolicySet, now: datetime, why: str
) -> int:
    """Re-assess every finding of one asset (after an upload); returns how many changed."""
    return run_assessment(session, sets.of_asset(asset_id), policies, now, why).changed


def assess_findings(
    session: Session, finding_ids: Collection[int], policies: PolicySet, now: datetime, why: str
) -> int:
    """Re-assess the findings with these ids (after they were created or re-matched)."""
    wanted = sorted(set(finding_ids))
    if not wanted:
        return 0
    with sets.among(session, "id", wanted) as where:
        return run_assessment(session, where, policies, now, why).changed


def assess_vulnerabilities(
    session: Session,
    vulnerability_ids: Collection[str],
    policies: PolicySet,
    now: datetime,
    why: str,
) -> int:
    """Re-assess the open findings of these vulnerabilities (by a finding's primary id, which
    is the CVE id when there is one) after their KEV, EPSS or CVE record changed."""
    wanted = sorted(set(vulnerability_ids))
    if not wanted:
        return 0
    with sets.among(session, "vulnerability", wanted) as among:
        where = and_(among, sets.not_closed(sorted(_CLOSED)))
        return run_assessment(session, where, policies, now, why).changed


def assess_open(session: Session, policies: PolicySet, now: datetime, why: str) -> int:
    """Re-assess every open finding (after a policy, KEV, EPSS or CVE-record change)."""
    return run_assessment(session, sets.not_closed(sorted(_CLOSED)), policies, now, why).changed


def explanation(session: Session, finding_id: int) -> dict[str, Any]:
    """A finding's explanation as stored: ``Decision.to_dict()``; ``{"unavailable": why}`` when
    it could not be decided; ``{}`` when it has not been assessed yet."""
    return sets.explanation(session, _finding(session, finding_id))


def _finding(session: Session, finding_id: int) -> models.Finding:
    row = session.get(models.Finding, finding_id)
    if row is None:
        raise NotFound(f"no finding {finding_id}", hint="see `sakimori finding list`")
    return row


def explanation_text(session: Session, finding_id: int) -> str:
    """The stored explanation of a finding's decision, as lines a person reads."""
    row = _finding(session, finding_id)
    data = sets.explanation(session, row)
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
        VulnerabilityShape(f.vulnerability, f.aliases, f.records, bool(f.fixed)) for f in findings
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
