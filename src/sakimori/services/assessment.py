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
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, select
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
from sakimori.store.db import aware
from sakimori.store.triage_view import triaged
from sakimori.triage.config import DEFAULT_CONFIG, TriageConfig
from sakimori.triage.decide import Decision, DecisionTables, decide
from sakimori.triage.evidence import AssetContext, Evidence
from sakimori.triage.policy import DeadlineInputs, DeadlineSpec, Policy, PolicySet, render, spec
from sakimori.triage.policy_files import builtin_policies, load_policy_set

__all__ = [
    "AssessmentRun",
    "assess_asset",
    "assess_findings",
    "assess_open",
    "assess_vulnerabilities",
    "context_of",
    "cve_from_dict",
    "deadline_of",
    "decision_tables",
    "explanation",
    "explanation_text",
    "gather_evidence",
    "policy_set",
    "revisions",
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


#: A stored plan: per sector (in order), the policy's label and its :class:`DeadlineSpec`.
StoredPlan = Sequence[tuple[str, DeadlineSpec]]


def _specs(plan: _Plan) -> list[tuple[str, DeadlineSpec]]:
    return [(policy.label, spec(policy, inputs)) for policy, inputs in plan]


def earliest(plan: StoredPlan, first_seen: datetime) -> tuple[datetime | None, str, str]:
    """(due, reason, policy) of the earliest deadline of the plan for a finding first seen at
    ``first_seen``: a deadline beats none, and of equal ones the first sector's wins."""
    best: tuple[datetime | None, str, str] | None = None
    for label, found in plan:
        due, reason = render(found, first_seen)
        if best is None or (due is not None and (best[0] is None or due < best[0])):
            best = (due, reason, label)
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
    return earliest(_specs(_plan(policies, decision, context, evidence)), first_seen)


def plan_from_json(data: Sequence[Mapping[str, Any]]) -> list[tuple[str, DeadlineSpec]]:
    """A rule's stored ``plan`` back into (policy label, spec) pairs."""
    return [(item["policy"], DeadlineSpec.from_dict(item["spec"])) for item in data]


@dataclass(frozen=True, slots=True)
class AssessmentRun:
    """What one re-assessment did: findings whose outcome or deadline changed, shapes and rules
    written, the sizes of what it computed, the revision it recorded, and where time went."""

    changed: int = 0
    transitions: int = 0
    written: int = 0
    shapes: int = 0
    classes: int = 0
    contexts: int = 0
    groups: int = 0
    decisions: int = 0
    revision: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def run_assessment(
    session: Session,
    where: ColumnElement[bool],
    policies: PolicySet,
    now: datetime,
    why: str,
    config: TriageConfig = DEFAULT_CONFIG,
    *,
    rematched: bool = False,
) -> AssessmentRun:
    """Decide and set deadlines for the findings ``where`` selects, by reference (ADR 0001).

    Evidence is gathered once per vulnerability *shape* (id, aliases, matched records, whether
    a fix exists) and gives the shape its class of vulnerability decision points; each asset in
    scope gets its context; a rule is decided once per (class, context) pair in scope: outcomes
    and deadline terms. No finding is written: readers join shape and rule
    (``store.triage_view``). A rule is shared by every finding of its pair, in scope or not. A
    shape that cannot be decided keeps what it had (logged). Anything changed is recorded as one
    ``triage_revision`` (why, the policy set, each shape and rule before and after).

    ``rematched``: the findings were matched again (an upload, a changed advisory), and
    nothing else changed — not the assets, not the policy, not the tables (each of those
    re-assesses without it). So the context an asset points to stands, and so does a rule
    already decided: only the shapes are classified again, and only missing contexts and rules
    are derived. Otherwise every asset in scope gets its context derived again, and every pair
    in scope its rule.
    """
    session.flush()
    clock = _Clock()
    shapes = sets.scope_shapes(session, where)
    clock.lap("shapes")
    if not shapes:
        return AssessmentRun(seconds=clock.laps)
    tables = decision_tables(session)
    if tables is None:
        return _unavailable(session, shapes, now, why, policies, clock)
    classes = _classify(session, shapes, tables, config, now)
    clock.lap("evidence")
    contexts = _contexts(session, where, missing_only=rematched)
    clock.lap("contexts")
    counts = sets.pair_counts(session, where)
    known = {context for _, context, _ in counts} - contexts.keys()
    contexts.update(
        (i, asset_context(d["criticality"], d["internet_facing"], d["environment"], d["sectors"]))
        for i, d in sets.stored_contexts(session, known).items()
    )
    clock.lap("pairs")
    old_class: dict[int, str | None] = {shape.id: shape.vclass for shape in shapes}
    new_class = old_class | classes.vclass
    pairs = {
        (vclass, context)
        for shape, context, _ in counts
        if (vclass := new_class[shape]) is not None and vclass in classes.representatives
    }
    before = sets.rules(session, {c for c in (*old_class.values(), *new_class.values()) if c})
    if rematched:
        pairs = {pair for pair in pairs if pair not in before}
    after = _rules(session, pairs, classes, contexts, tables, config, policies, now)
    changed_rules = {key: row for key, row in after.items() if before.get(key) != row}
    clock.lap("decide")
    changed = 0
    for shape, context, count in counts:
        was, will = old_class[shape], new_class[shape]
        previous = before.get((was, context)) if was else None
        current = after.get((will, context), before.get((will, context))) if will else None
        changed += count * (_outcome(previous) != _outcome(current))
    revision = None
    if classes.changes or changed_rules:
        revision = sets.record_revision(
            session,
            now,
            why,
            f"{policies.name} {policies.version}",
            (len(classes.changes), len(changed_rules), changed),
            {
                "shapes": [
                    {"shape": i, "vulnerability": v, "from": f, "to": t}
                    for i, v, f, t in classes.changes
                ],
                "rules": [
                    {
                        "vclass": vclass,
                        "context": context,
                        "from": _summary(before.get((vclass, context))),
                        "to": _summary(row),
                    }
                    for (vclass, context), row in sorted(changed_rules.items())
                ],
            },
        )
        sets.update_shapes(session, classes.updates)
        sets.write_rules(session, changed_rules, revision)
    clock.lap("write")
    return AssessmentRun(
        changed=changed,
        written=len(classes.updates) + len(changed_rules),
        shapes=len(shapes),
        classes=len(classes.representatives),
        contexts=len(contexts),
        groups=len(counts),
        decisions=len(after),
        revision=revision,
        seconds=clock.laps,
    )


_UNAVAILABLE = (
    "SSVC decision tables are not loaded: load CERT/CC's decision tables with "
    "`sakimori intel load` or `intel sync`"
)


def _unavailable(
    session: Session,
    shapes: Sequence[sets.ShapeRow],
    now: datetime,
    why: str,
    policies: PolicySet,
    clock: _Clock,
) -> AssessmentRun:
    """No tables: every shape in scope points at the reason, and has no class (so no rule)."""
    unavailable = {"part": "unavailable", "unavailable": _UNAVAILABLE}
    key = sets.digest(unavailable)
    part = sets.part_ids(session, {key: unavailable}, now)[key]
    updates = [(s.id, None, part) for s in shapes if (s.vclass, s.assessment_id) != (None, part)]
    revision = None
    if updates:
        revision = sets.record_revision(
            session,
            now,
            why,
            f"{policies.name} {policies.version}",
            (len(updates), 0, 0),
            {"unavailable": _UNAVAILABLE, "shapes": [i for i, _, _ in updates]},
        )
        sets.update_shapes(session, updates)
    clock.lap("write")
    return AssessmentRun(written=len(updates), shapes=len(shapes), revision=revision)


def _outcome(rule: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    """What a finding sees of a rule: the outcomes and the deadline terms."""
    if rule is None:
        return None
    return tuple(
        _comparable(rule[k])
        for k in ("decision", "priority", "bod", "duration_s", "kev_end", "grace_s")
    )


def _comparable(value: Any) -> Any:
    return aware(value) if isinstance(value, datetime) else value


def _summary(rule: Mapping[str, Any] | None) -> list[Any] | None:
    """A rule as a revision records it: decision, priority, BOD class, policy, duration (s),
    KEV end of day, grace (s) and the explanation part (the plan's words follow from the
    policy set the revision names)."""
    if rule is None:
        return None
    values = (rule[k] for k in ("decision", "priority", "bod", "policy", "duration_s"))
    kev_end = rule["kev_end"]
    return [
        *values,
        kev_end.isoformat() if kev_end else None,
        rule["grace_s"],
        rule["context_assessment_id"],
    ]


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
    """Shapes decided: the class of each, the shapes whose stored class or explanation part
    changed, and one Evidence per class (the same class means the same decisions)."""

    vclass: dict[int, str]
    representatives: dict[str, Evidence]
    updates: list[tuple[int, str | None, int | None]]
    changes: list[tuple[int, str, str | None, str]]


def _class_key(decision: Decision, evidence: Evidence) -> str:
    """``E|A|TI|KEV|KEV due date``: what the vulnerability gives every decision and deadline."""
    kev_due = (evidence.kev_due_date or "") if evidence.kev else ""
    return "|".join(
        (
            decision.point("E").value,
            decision.point("A").value,
            decision.point("TI").value,
            "1" if evidence.kev else "0",
            kev_due,
        )
    )


def _classify(
    session: Session,
    shapes: Sequence[sets.ShapeRow],
    tables: DecisionTables,
    config: TriageConfig,
    now: datetime,
) -> _Classes:
    """Evidence, class and the vulnerability part of the explanation of each shape."""
    wanted = {
        shape.id: VulnerabilityShape(shape.vulnerability, shape.aliases, shape.records, shape.fixed)
        for shape in shapes
    }
    evidence = evidence_by_shape(session, list(wanted.values()))
    unknown = AssetContext.unknown()
    representatives: dict[str, Evidence] = {}
    parts: dict[str, dict[str, Any]] = {}
    decided: dict[int, tuple[str, str]] = {}
    for shape in shapes:
        found = evidence[wanted[shape.id]]
        try:
            decision = decide(found, unknown, tables, config)
        except SakimoriError as exc:
            log.warning("cannot decide %s: %s", shape.vulnerability, exc.diagnostics())
            continue
        key = _class_key(decision, found)
        representatives.setdefault(key, found)
        part = sets.vulnerability_part(decision)
        digest = sets.digest(part)
        parts[digest] = part
        decided[shape.id] = (key, digest)
    ids = sets.part_ids(session, parts, now)
    updates: list[tuple[int, str | None, int | None]] = []
    changes: list[tuple[int, str, str | None, str]] = []
    for shape in shapes:
        if shape.id not in decided:
            continue
        key, digest = decided[shape.id]
        if (shape.vclass, shape.assessment_id) != (key, ids[digest]):
            updates.append((shape.id, key, ids[digest]))
        if shape.vclass != key:
            changes.append((shape.id, shape.vulnerability, shape.vclass, key))
    return _Classes({i: key for i, (key, _) in decided.items()}, representatives, updates, changes)


def _context_data(context: AssetContext) -> dict[str, Any]:
    return {
        "criticality": context.criticality,
        "internet_facing": context.internet_facing,
        "environment": context.environment,
        "sectors": list(context.sectors),
    }


def _contexts(
    session: Session, where: ColumnElement[bool], *, missing_only: bool = False
) -> dict[int, AssetContext]:
    """The asset contexts in scope, by ``triage_context`` id; each asset points to its own
    (``missing_only``: only the assets that point to none yet)."""
    found: dict[tuple[object, ...], tuple[str, AssetContext]] = {}
    wanted: list[tuple[int, str, int | None]] = []
    for asset_id, criticality, internet_facing, environment, sectors, stored in sets.scope_assets(
        session, where, missing_only=missing_only
    ):
        raw = (criticality, internet_facing, environment, tuple(sectors))
        known = found.get(raw)
        if known is None:  # thousands of assets share a few hundred contexts
            context = asset_context(criticality, internet_facing, environment, sectors)
            known = found[raw] = (sets.digest(_context_data(context)), context)
        wanted.append((asset_id, known[0], stored))
    contexts = dict(found.values())
    ids = sets.context_ids(session, {key: _context_data(c) for key, c in contexts.items()})
    sets.update_asset_contexts(
        session, [(asset, ids[key]) for asset, key, stored in wanted if stored != ids[key]]
    )
    return {ids[key]: context for key, context in contexts.items()}


def _rules(
    session: Session,
    pairs: Collection[tuple[str, int]],
    classes: _Classes,
    contexts: Mapping[int, AssetContext],
    tables: DecisionTables,
    config: TriageConfig,
    policies: PolicySet,
    now: datetime,
) -> dict[tuple[str, int], dict[str, Any]]:
    """The rule of each (class, context) pair: outcomes, deadline terms, policy, plan and the
    context part of the explanation, as :func:`sets.write_rules` stores them."""
    parts: dict[str, dict[str, Any]] = {}
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    plans: dict[tuple[object, ...], list[tuple[str, DeadlineSpec]]] = {}
    for vclass, context_id in sorted(pairs):
        evidence, context = classes.representatives[vclass], contexts[context_id]
        decision = decide(evidence, context, tables, config)
        part = sets.context_part(decision)
        digest = sets.digest(part)
        parts[digest] = part
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
            plan = plans[key] = _specs(_plan(policies, decision, context, evidence))
        terms = plan[0][1].terms()
        for _, other in plan[1:]:
            terms = terms.earliest(other.terms())
        rows[(vclass, context_id)] = {
            "decision": decision.decision.name,
            "priority": decision.priority.name,
            "bod": decision.bod.key,
            "policy": plan[0][0] if len(plan) == 1 else _policies(plan),
            "duration_s": _seconds(terms.duration),
            "kev_end": terms.kev_end,
            "grace_s": _seconds(terms.grace),
            "context_assessment_id": digest,
            "plan": [{"policy": label, "spec": found.to_dict()} for label, found in plan],
        }
    ids = sets.part_ids(session, parts, now)
    for row in rows.values():
        row["context_assessment_id"] = ids[row["context_assessment_id"]]
    return rows


def _policies(plan: Sequence[tuple[str, DeadlineSpec]]) -> str:
    """The policies of a plan (several sectors), each once, for the rule's ``policy``."""
    return ", ".join(dict.fromkeys(label for label, _ in plan))[:100]


def _seconds(span: timedelta | None) -> int | None:
    return None if span is None else int(span.total_seconds())


def _first_seen(stored: Any) -> datetime:
    """``first_seen_at`` as stored (SQLite: text; PostgreSQL: a timestamp) -> aware datetime."""
    moment = datetime.fromisoformat(stored) if isinstance(stored, str) else stored
    return aware(moment)


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
        return run_assessment(session, where, policies, now, why, rematched=True).changed


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
    return sets.explanation(session, _finding(session, finding_id).id)


def deadline_of(session: Session, finding_id: int) -> tuple[datetime | None, str, str | None]:
    """A finding's deadline, why, and the policy that set it: from its rule's plan and its
    first-seen time (the database computes the same due time from the rule's terms), or, once
    closed, the deadline that was in force then."""
    view = triaged()
    query = (
        select(
            models.Finding.first_seen_at,
            models.Finding.closed_at,
            models.Finding.closed_deadline,
            view.rule.c.plan,
            view.policy,
        )
        .select_from(view.joined)
        .where(models.Finding.id == finding_id)
    )
    found = session.execute(query).first()
    if found is None:
        raise NotFound(f"no finding {finding_id}", hint="see `sakimori finding list`")
    first_seen, closed_at, closed_deadline, plan, policy = found
    if closed_at is not None:
        return aware(closed_deadline), "the deadline in force when the finding was closed", policy
    if plan is None:
        return None, "no policy applied", None
    return earliest(plan_from_json(plan), _first_seen(first_seen))


@dataclass(frozen=True, slots=True)
class Revision:
    """One re-assessment that changed something (``triage_revision``), without its details."""

    id: int
    at: datetime
    why: str
    policy_set: str
    shapes_changed: int
    rules_changed: int
    findings_changed: int


def revisions(session: Session, limit: int = 20) -> list[Revision]:
    """The newest triage revisions first."""
    table = models.TriageRevision
    query = (
        select(
            table.id,
            table.at,
            table.why,
            table.policy_set,
            table.shapes_changed,
            table.rules_changed,
            table.findings_changed,
        )
        .order_by(table.id.desc())
        .limit(limit)
    )
    return [
        Revision(i, aware(at), why, policy, shapes, rules, findings)
        for i, at, why, policy, shapes, rules, findings in session.execute(query)
    ]


def _finding(session: Session, finding_id: int) -> models.Finding:
    row = session.get(models.Finding, finding_id)
    if row is None:
        raise NotFound(f"no finding {finding_id}", hint="see `sakimori finding list`")
    return row


def explanation_text(session: Session, finding_id: int) -> str:
    """The stored explanation of a finding's decision, as lines a person reads."""
    row = _finding(session, finding_id)
    data = sets.explanation(session, row.id)
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
    deadline, reason, _ = deadline_of(session, row.id)
    due = deadline.isoformat(timespec="minutes") if deadline else "none"
    lines.append(f"  deadline: {due} — {reason}")
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
