"""Code findings of ``sakimori probe`` as an asset's findings, kept current run after run.

A code finding is stored in the ``finding`` table with ``kind = "code"``, keyed within its asset
by ``code:<location fingerprint>#<weakness>`` (the fingerprint of :mod:`sakimori.probe.findings`,
which does not change when lines move, and ``CWE-n``); ``vulnerability`` holds the rule
(``PY-SQLI``), ``weakness`` the CWE, and ``package`` the file. Each call reconciles the asset's
code findings with one probe run, in one transaction, with the asset row locked (PostgreSQL):

- a weakness reported for the first time opens a finding (a transition ``found by probe``);
- a finding reported again keeps its state (a person's ``acknowledged``, ``not_affected``…) and
  its identity; only its last-seen time moves; a ``fixed`` one reopens (a regression);
- a finding not reported any more closes as ``fixed`` ("verified by probe run") from whatever
  state it was in, unless the run could not judge it: its rule was not run (``rules``) or its
  file was not analysed (``unanalysed``). Then it is left as it was.

Package findings of the asset are never touched. Code findings are triaged like package ones,
in the same transaction: the weakness is their evidence (their detail's ``aliases`` hold
``CWE-n``, which ``services.assessment_evidence`` reads as the weakness, not as an id), so
Automatable and Technical Impact follow the CWE and the asset's context; with no public
exploit of the organisation's own code, Exploitation is ``none``. A deadline follows from the
policy.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from sakimori.model.lifecycle import State
from sakimori.probe.findings import CodeFinding
from sakimori.services.assessment import policy_set, run_assessment
from sakimori.services.finding_details import Detail, identity, store_details
from sakimori.services.organisations import asset as find_asset
from sakimori.store import models
from sakimori.store.db import Database
from sakimori.store.triage_view import finding_triage
from sakimori.triage.policy import PolicySet

_ACTOR_NOTE = "sakimori probe"


@dataclass(slots=True)
class CodeSyncCounts:
    opened: int = 0
    reopened: int = 0
    closed: int = 0
    kept: int = 0


def code_key(finding: CodeFinding) -> str:
    return f"code:{finding.fingerprint}#CWE-{finding.cwe}"


def record_code_findings(
    db: Database,
    asset_ref: str,
    findings: Iterable[CodeFinding],
    actor: str,
    now: datetime,
    *,
    rules: Collection[str] | None = None,
    unanalysed: Collection[str] = (),
    policies: PolicySet | None = None,
) -> CodeSyncCounts:
    """Reconcile the code findings of ``asset_ref`` with the findings of one probe run.

    ``rules``: the rule ids the run checked (None: every rule); stored findings of other rules
    stay as they are. ``unanalysed``: files the run skipped or did not finish; their stored
    findings stay as they are too.
    """
    reported: dict[str, CodeFinding] = {}
    for finding in findings:
        reported.setdefault(code_key(finding), finding)
    counts = CodeSyncCounts()
    skipped = set(unanalysed)
    with db.transaction() as session:
        target = find_asset(session, asset_ref)
        session.execute(
            select(models.Asset.id).where(models.Asset.id == target.id).with_for_update()
        )
        stored = {
            row.key: row
            for row in session.scalars(
                select(models.Finding)
                .where(models.Finding.asset_id == target.id, models.Finding.kind == "code")
                .order_by(models.Finding.id)
                .with_for_update()
            )
        }
        digests = {key: identity("code", key, f.rule_id, None, None) for key, f in reported.items()}
        details = store_details(
            session,
            {
                digests[key]: Detail(finding.rule_id, (f"CWE-{finding.cwe}",), (), ())
                for key, finding in reported.items()
            },
            now,
        )
        for key, finding in reported.items():
            row = stored.get(key)
            where = f"{finding.path}:{finding.sink.line}"
            detail = details[digests[key]]
            if row is None:
                row = models.Finding(
                    asset_id=target.id,
                    key=key,
                    kind="code",
                    vulnerability=finding.rule_id,
                    detail_id=detail.id,
                    package=finding.path,
                    location_fingerprint=finding.fingerprint,
                    weakness=f"CWE-{finding.cwe}",
                    state=State.OPEN.value,
                    first_seen_at=now,
                    last_seen_at=now,
                    state_changed_at=now,
                )
                session.add(row)
                session.flush()
                _transition(session, row, now, actor, None, State.OPEN,
                            f"found by {_ACTOR_NOTE}: {finding.message} ({where})")  # fmt: skip
                counts.opened += 1
                continue
            row.last_seen_at = now
            row.package = finding.path
            row.detail_id = detail.id
            if row.state == State.FIXED.value:
                _transition(session, row, now, actor, State.FIXED, State.OPEN,
                            f"reported again by {_ACTOR_NOTE} ({where}): regression")  # fmt: skip
                row.state = State.OPEN.value
                row.state_changed_at = now
                row.closed_at = None
                row.closed_deadline = None
                row.resolution = None
                row.revision += 1
                counts.reopened += 1
            else:
                counts.kept += 1
        for key, row in stored.items():
            if key in reported or row.state == State.FIXED.value:
                continue
            if (rules is not None and row.vulnerability not in rules) or row.package in skipped:
                continue
            _transition(session, row, now, actor, State(row.state), State.FIXED,
                        f"verified by {_ACTOR_NOTE} run: no longer reported")  # fmt: skip
            row.closed_deadline = finding_triage(session, [row.id])[row.id].deadline
            row.state = State.FIXED.value
            row.state_changed_at = now
            row.closed_at = now
            row.resolution = "verified by probe run"
            row.justification = None
            row.risk_accepted_until = row.risk_accepted_by = None
            row.revision += 1
            counts.closed += 1
        session.flush()
        code = and_(models.Finding.asset_id == target.id, models.Finding.kind == "code")
        run_assessment(session, code, policies or policy_set(None), now, f"{_ACTOR_NOTE} run")
    return counts


def _transition(
    session: Session, row: models.Finding, now: datetime, actor: str,
    before: State | None, after: State, note: str,
) -> None:  # fmt: skip

    session.add(
        models.FindingTransition(
            finding_id=row.id,
            at=now,
            actor=actor,
            from_state=None if before is None else before.value,
            to_state=after.value,
            note=note[:2000],
        )
    )
