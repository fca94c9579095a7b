"""Set-based re-assessment agrees with the pure functions, finding by finding.

A mix of assets (criticality, exposure known or not, one, two or no sectors, environments),
findings of the real salt advisories (some KEV-listed, with and without a fixed version, first
seen long before, just before and after KEV's due date), in open and closed states. Whatever the
grouping does, every open finding must read what ``decide`` and ``policy.deadline`` give for it
alone — its decision from its shape and rule, its deadline computed by the database from the
rule's terms, its reason from the rule's plan — and a closed one keeps the deadline in force when
it closed. A policy change writes no finding and records one ``triage_revision``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from sakimori.formats.limits import Limits
from sakimori.model.lifecycle import CLOSED
from sakimori.services import assessment_store
from sakimori.services.assessment import (
    assess_asset,
    assess_findings,
    assess_open,
    assess_vulnerabilities,
    deadline_of,
    decision_tables,
    explanation,
    explanation_text,
    policy_set,
)
from sakimori.services.assessment_evidence import VulnerabilityShape, context_of, evidence_by_shape
from sakimori.services.finding_details import attach_details
from sakimori.services.intel import load_paths
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.store import models
from sakimori.store.db import Database, open_database
from sakimori.store.triage_view import triaged
from sakimori.triage.config import DEFAULT_CONFIG
from sakimori.triage.decide import decide
from sakimori.triage.policy import DeadlineInputs, PolicySet, deadline
from sakimori.triage.policy_files import builtin_policies
from tests.conftest import require_data

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
#: Salt's KEV entries (CVE-2020-11651, -11652, -16846) are due 2022-05-03.
FIRST_SEEN = (
    datetime(2021, 12, 1, 8, 30, tzinfo=UTC),  # long before KEV's due date
    datetime(2022, 4, 30, 12, 0, tzinfo=UTC),  # less than the 14-day grace before it
    datetime(2022, 5, 5, 10, 0, 0, 250_000, tzinfo=UTC),  # after it
    T0 - timedelta(days=1, hours=3),
)
ORGANISATIONS = {"bank": ["finance"], "grid": ["electric_power", "water"], "shop": []}
ASSETS = (
    ("bank", "web", "critical", True, "production"),
    ("bank", "batch", "low", False, None),
    ("grid", "scada", "high", None, "production"),
    ("grid", "portal", "medium", True, "staging"),
    ("shop", "site", "medium", True, None),
)
STATES = ("open", "acknowledged", "open", "in_progress", "fixed", "open", "risk_accepted")
OPEN = frozenset(
    {"open", "acknowledged", "in_progress"} - {s.value for s in CLOSED}
)  # the states used here that are not closed
KEV_LISTED = "CVE-2020-11651"


def mixed_policies() -> PolicySet:
    """KEV due dates by default, stricter for finance, BOD 26-04 for water: a finding of the
    two-sector grid organisation takes the earlier of two policies."""
    presets = builtin_policies()
    return PolicySet(
        "mixed",
        "1.0.0",
        presets["kev-due-date"],
        {"finance": presets["critical-infrastructure"], "water": presets["cisa-bod-26-04"]},
    )


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.dispose()


def load_intel(db: Database, *, tables: bool = True) -> None:
    paths = [
        require_data("osv", "pypi", "vulns", "salt"),
        require_data("kev", "known_exploited_vulnerabilities.json"),
    ]
    if tables:
        paths.append(require_data("ssvc", "data", "json", "decision_tables"))
    load_paths(db, paths, Limits())


def populate(db: Database) -> int:
    """Organisations, assets and findings written directly (no triage yet); returns how many."""
    for slug, sectors in ORGANISATIONS.items():
        create_organisation(db, slug, "", "operator", sectors)
    for org, slug, criticality, internet, environment in ASSETS:
        create_asset(db, f"{org}/{slug}", "", criticality, internet, environment)
    with db.transaction() as session:
        advisories = session.execute(
            select(models.Advisory.id, models.Advisory.aliases).order_by(models.Advisory.id)
        ).all()
        assets = session.scalars(select(models.Asset.id).order_by(models.Asset.id)).all()
        rows: list[dict[str, Any]] = []
        for i, asset_id in enumerate(assets):
            for j, (record, aliases) in enumerate(advisories):
                if (i + j) % 2 and KEV_LISTED not in aliases:
                    continue
                # The organisation without a sector has the KEV-listed one in several
                # versions, first seen at every moment (one policy, every KEV case).
                several = KEV_LISTED in aliases and i == len(assets) - 1
                for k in range(len(FIRST_SEEN)) if several else [(i + j) % len(FIRST_SEEN)]:
                    state = STATES[(i * 3 + j + k) % len(STATES)]
                    rows.append(row(asset_id, record, aliases, f"3000.{k}", FIRST_SEEN[k], state))
                    rows[-1]["fixed_versions"] = ["3000.9"] if (i + j) % 3 else []
        attach_details(session, rows, T0)
        session.execute(models.Base.metadata.tables["finding"].insert(), rows)
    return len(rows)


def row(
    asset_id: int, record: str, aliases: list[str], version: str, seen: datetime, state: str
) -> dict[str, Any]:
    ids = [record, *aliases]
    primary = next((x for x in ids if x.startswith("CVE-")), record)
    return {
        "asset_id": asset_id,
        "key": f"pkg:PyPI/salt@{version}#{primary}#{record}",
        "kind": "package",
        "vulnerability": primary,
        "aliases": [x for x in ids if x != primary],
        "records": [record],
        "ecosystem": "PyPI",
        "package": "salt",
        "version": version,
        "fixed_versions": [],
        "state": state,
        "first_seen_at": seen,
        "last_seen_at": seen,
        "state_changed_at": seen,
        "closed_at": T0 if state in {"fixed", "risk_accepted"} else None,
        "revision": 1,
    }


def aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Expected:
    decision: str
    priority: str
    bod: str
    deadline: datetime | None
    policy: str
    reason: str
    explanation: dict[str, Any]


def earliest(
    policies: PolicySet, inputs: dict[str, Any], sectors: tuple[str, ...], first_seen: datetime
) -> tuple[datetime | None, str, str]:
    """The reference: each sector's policy alone through ``deadline()``, earliest wins."""
    best: tuple[datetime | None, str, str] | None = None
    for sector in sectors or (None,):
        policy = policies.policy_for(sector)
        found = deadline(policy, DeadlineInputs(**inputs, sector=sector), first_seen)
        if best is None or (found.due is not None and (best[0] is None or found.due < best[0])):
            best = (found.due, found.reason, policy.label)
    assert best is not None
    return best


def expected(session: Session, policies: PolicySet) -> dict[int, Expected]:
    """Every finding on its own: its evidence, ``decide`` and ``deadline``."""
    tables = decision_tables(session)
    assert tables is not None
    rows = session.execute(
        select(models.Finding, models.Asset, models.Organisation)
        .join(models.Asset, models.Asset.id == models.Finding.asset_id)
        .join(models.Organisation, models.Organisation.id == models.Asset.organisation_id)
    ).all()
    shapes = {
        row.id: VulnerabilityShape(
            row.vulnerability, tuple(row.aliases), tuple(row.records), bool(row.fixed_versions)
        )
        for row, _, _ in rows
    }
    evidence = evidence_by_shape(session, list(shapes.values()))
    found: dict[int, Expected] = {}
    for row, asset, organisation in rows:
        facts = evidence[shapes[row.id]]
        context = context_of(asset, organisation)
        decision = decide(facts, context, tables, DEFAULT_CONFIG)
        kev_due = facts.kev_due_date if facts.kev else None
        inputs = {
            "bod": decision.bod.key,
            "decision": decision.decision.name,
            "priority": decision.priority.name,
            "internet_facing": context.internet_facing is not False,
            "kev": facts.kev,
            "kev_due_date": datetime.fromisoformat(kev_due).date() if kev_due else None,
        }
        first_seen = aware(row.first_seen_at)
        assert first_seen is not None
        due, reason, label = earliest(policies, inputs, context.sectors, first_seen)
        found[row.id] = Expected(
            decision.decision.name,
            decision.priority.name,
            decision.bod.key,
            due,
            label,
            reason,
            decision.to_dict(),
        )
    return found


def stored(session: Session) -> dict[int, tuple[Any, ...]]:
    """(state, decision, priority, BOD, deadline, policy, reason, explanation part ids) of every
    finding, as a reader sees them: through ``store.triage_view`` and ``deadline_of``."""
    view = triaged()
    rows = session.execute(
        select(
            models.Finding.id,
            models.Finding.state,
            view.decision,
            view.priority,
            view.bod,
            view.deadline,
            view.assessment_id,
            view.context_assessment_id,
        ).select_from(view.joined)
    ).all()
    found: dict[int, tuple[Any, ...]] = {}
    for finding_id, state, decision, priority, bod, due, part, context_part in rows:
        in_python, reason, policy = deadline_of(session, finding_id)
        assert aware(due) == in_python, finding_id  # the database and Python agree
        found[finding_id] = (
            state,
            decision,
            priority,
            bod,
            aware(due),
            policy,
            reason,
            part,
            context_part,
        )
    return found


def terms(session: Session) -> dict[int, tuple[Any, ...]]:
    """The deadline terms of each finding's rule (what ``changed`` counts, with the outcomes)."""
    view = triaged()
    rows = session.execute(
        select(
            models.Finding.id, view.rule.c.duration_s, view.rule.c.kev_end, view.rule.c.grace_s
        ).select_from(view.joined)
    ).all()
    return {r[0]: (r[1], aware(r[2]), r[3]) for r in rows}


def revisions(session: Session) -> list[models.TriageRevision]:
    return list(session.scalars(select(models.TriageRevision).order_by(models.TriageRevision.id)))


def transitions(session: Session) -> list[tuple[int, str | None, str, str]]:
    rows = session.execute(
        select(
            models.FindingTransition.finding_id,
            models.FindingTransition.from_state,
            models.FindingTransition.to_state,
            models.FindingTransition.note,
        ).order_by(models.FindingTransition.id)
    ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def check_agrees(session: Session, policies: PolicySet, ids: set[int] | None = None) -> int:
    want = expected(session, policies)
    have = stored(session)
    checked = 0
    for finding_id, e in want.items():
        if ids is not None and finding_id not in ids:
            continue
        state, decision, priority, bod, due, policy, reason, *_ = have[finding_id]
        assert (decision, priority, bod) == (e.decision, e.priority, e.bod), finding_id
        assert explanation(session, finding_id) == e.explanation, finding_id
        if state in OPEN:
            assert due == e.deadline, finding_id
            assert (policy, reason) == (e.policy, e.reason), finding_id
        else:  # closed: the deadline in force when it closed (none was, for these rows)
            assert due is None, finding_id
        checked += 1
    return checked


def test_every_finding_gets_what_the_pure_functions_give_it(db: Database) -> None:
    load_intel(db)
    count = populate(db)
    policies = mixed_policies()
    with db.transaction() as session:
        changed = assess_asset(session, 1, policies, T0, "test")
        changed += sum(assess_asset(session, i, policies, T0, "test") for i in range(2, 6))
    assert changed == count  # every finding was undecided
    with db.transaction() as session:
        assert check_agrees(session, policies) == count
        # Nothing was written into the findings: shapes and rules carry it all.
        shapes = session.scalar(select(func.count()).select_from(models.TriageShape))
        rules = session.scalar(select(func.count()).select_from(models.TriageRule))
        assert shapes is not None
        assert rules is not None
        assert shapes + rules < count
        want = expected(session, policies)
        # The mix is what it claims to be: several outcomes, KEV's due date and its grace
        # both used, two policies, and fewer explanation parts than findings.
        assert len({e.decision for e in want.values()}) >= 3
        assert len({e.bod for e in want.values()}) >= 2
        reasons = " ".join(e.reason for e in want.values())
        assert "KEV due date 2022-05-03 (end of day UTC)" in reasons
        assert "14 days grace from first seen" in reasons
        assert "had passed by then" in reasons
        assert "was less than that away" in reasons
        assert {e.policy for e in want.values()} >= {
            "kev-due-date 1.0.0",
            "critical-infrastructure 1.0.0",
            "cisa-bod-26-04 1.0.0",
        }
        parts = session.scalar(select(func.count()).select_from(models.Assessment))
        assert parts is not None
        assert parts < count
        assert transitions(session) == []  # triage writes no finding history
        assert len(revisions(session)) == 5  # one per assessment that changed something


def test_a_policy_change_writes_no_finding_and_records_one_revision(db: Database) -> None:
    load_intel(db)
    populate(db)
    with db.transaction() as session:
        assess_open(session, policy_set("cisa-bod-26-04"), T0, "first")
    with db.transaction() as session:
        before = stored(session)
        terms_before = terms(session)
        history = len(transitions(session))
        first = revisions(session)
        rows_before = session.execute(select(models.Finding).order_by(models.Finding.id)).all()
        snapshot = [
            {c.key: getattr(r[0], c.key) for c in models.Finding.__table__.columns}
            for r in rows_before
        ]
    assert history == 0
    assert len(first) == 1
    policies = mixed_policies()
    with db.transaction() as session:
        changed = assess_open(session, policies, T0 + timedelta(hours=1), "policy change")
    with db.transaction() as session:
        after = stored(session)
        terms_after = terms(session)
        assert transitions(session) == []
        assert check_agrees(session, policies, {i for i, r in before.items() if r[0] in OPEN})
        rows_after = session.execute(select(models.Finding).order_by(models.Finding.id)).all()
        assert [
            {c.key: getattr(r[0], c.key) for c in models.Finding.__table__.columns}
            for r in rows_after
        ] == snapshot  # not one finding row written
        latest = revisions(session)[-1]
    moved = {i for i, row in before.items() if row[0] in OPEN and row[4] != after[i][4]}
    # Changed: an outcome or the deadline terms (a new grace may leave a given due time alone).
    changed_rule = {
        i
        for i, row in before.items()
        if row[0] in OPEN and (row[1:4], terms_before[i]) != (after[i][1:4], terms_after[i])
    }
    assert moved, "the policy change should move some deadlines"
    assert moved <= changed_rule
    assert changed == len(changed_rule) == latest.findings_changed
    assert latest.why == "policy change"
    assert latest.policy_set == "mixed 1.0.0"
    assert latest.rules_changed == len(latest.changes["rules"]) > 0
    for change in latest.changes["rules"]:
        assert change["from"] != change["to"]
    closed = {i for i, row in before.items() if row[0] not in OPEN}
    assert closed
    assert all(after[i][4] == before[i][4] for i in closed)  # closed: deadline kept


def test_reassessing_one_asset_changes_only_what_shares_its_rules(db: Database) -> None:
    load_intel(db)
    populate(db)
    with db.transaction() as session:
        for asset_id in range(1, 6):
            assess_asset(session, asset_id, policy_set("cisa-bod-26-04"), T0, "upload")
        before = stored(session)
        asset_of = dict(session.execute(select(models.Finding.id, models.Finding.asset_id)).all())
    policies = mixed_policies()
    with db.transaction() as session:
        assess_asset(session, 1, policies, T0, "inventory version 2")
        first = stored(session)
    # Every asset here has its own context, so the rules asset 1 rewrote are its own.
    assert all(first[i] == before[i] for i in before if asset_of[i] != 1)
    assert any(first[i] != before[i] for i in before if asset_of[i] == 1)
    with db.transaction() as session:
        for asset_id in range(2, 6):
            assess_asset(session, asset_id, policies, T0, "inventory version 2")
        assert check_agrees(session, policies) == len(before)  # closed ones too
        assert transitions(session) == []


def test_reassessing_unchanged_findings_changes_nothing(db: Database) -> None:
    load_intel(db)
    populate(db)
    policies = mixed_policies()
    with db.transaction() as session:
        assert sum(assess_asset(session, i, policies, T0, "first") for i in range(1, 6)) > 0
    with db.transaction() as session:
        before = stored(session)
        history = transitions(session)
        parts = session.scalar(select(func.count()).select_from(models.Assessment))
        recorded = len(revisions(session))
    with db.transaction() as session:
        assert assess_open(session, policies, T0 + timedelta(days=1), "again") == 0
        for asset_id in range(1, 6):
            assert assess_asset(session, asset_id, policies, T0, "again") == 0
        everything = list(before)
        assert assess_findings(session, everything, policies, T0, "again") == 0
    with db.transaction() as session:
        assert stored(session) == before
        assert transitions(session) == history
        assert session.scalar(select(func.count()).select_from(models.Assessment)) == parts
        assert len(revisions(session)) == recorded


def test_assess_vulnerabilities_touches_only_their_findings(db: Database) -> None:
    """The open findings of the vulnerability are decided; a closed one of the same shape and
    asset reads the same shared rule; no other vulnerability's finding is decided."""
    load_intel(db)
    populate(db)
    policies = mixed_policies()
    with db.transaction() as session:
        changed = assess_vulnerabilities(session, [KEV_LISTED], policies, T0, "KEV changed")
        rows = stored(session)
        vulnerability = dict(
            session.execute(select(models.Finding.id, models.Finding.vulnerability)).all()
        )
    chosen = {i for i, row in rows.items() if vulnerability[i] == KEV_LISTED and row[0] in OPEN}
    assert chosen
    assert changed == len(chosen)
    for finding_id, row in rows.items():
        if finding_id in chosen:
            assert row[1] is not None, finding_id
        elif vulnerability[finding_id] != KEV_LISTED:
            assert row[1] is None, finding_id
    with db.transaction() as session:
        assert check_agrees(session, policies, chosen) == len(chosen)


@pytest.mark.parametrize("limit", [500, 2])
def test_assess_findings_touches_only_those_ids(
    db: Database, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """By an ``IN`` list, and (limit 2) through a temporary table of ids."""
    monkeypatch.setattr(assessment_store, "_IN_LIMIT", limit)
    load_intel(db)
    populate(db)
    policies = policy_set("kev-due-date")
    with db.transaction() as session:
        everything = sorted(session.scalars(select(models.Finding.id)).all())
        chosen = set(everything[::7])
        assert assess_findings(session, chosen, policies, T0, "re-matched") == len(chosen)
        rows = stored(session)
        pair = {
            i: (vclass, context)
            for i, vclass, context in session.execute(
                select(
                    models.Finding.id,
                    models.TriageShape.vclass,
                    models.Asset.triage_context_id,
                )
                .join(models.FindingDetail, models.FindingDetail.id == models.Finding.detail_id)
                .join(models.TriageShape, models.TriageShape.id == models.FindingDetail.shape_id)
                .join(models.Asset, models.Asset.id == models.Finding.asset_id)
            )
        }
        # Decided: the chosen ones, and every finding whose shape (shared through its detail)
        # has the class of a chosen one's, in the same context: they share its rule. Assets of
        # no chosen finding have no context yet.
        reached = {pair[i] for i in chosen}
        assert {i for i, row in rows.items() if row[1] is not None} == {
            i for i in everything if pair[i] in reached
        }
        assert len(reached) < len(everything)
        assert check_agrees(session, policies, chosen) == len(chosen)
        assert assess_findings(session, [], policies, T0, "nothing") == 0


def test_first_seen_as_stored_whatever_its_form(db: Database) -> None:
    """SQLite keeps timestamps as text; one written without fractional seconds (or, on
    PostgreSQL, with another offset) is still matched and read as the same moment."""
    load_intel(db)
    populate(db)
    with db.transaction() as session:
        target = session.scalar(
            select(models.Finding.id).where(
                models.Finding.vulnerability == KEV_LISTED, models.Finding.state == "open"
            )
        )
        assert target is not None
        sqlite = session.get_bind().dialect.name == "sqlite"
        stored_as = "2022-05-05 10:00:00" if sqlite else "2022-05-05T19:00:00+09:00"
        session.execute(
            text(f"UPDATE finding SET first_seen_at = '{stored_as}' WHERE id = :id"), {"id": target}
        )
    policies = policy_set("kev-due-date")
    with db.transaction() as session:
        assess_open(session, policies, T0, "test")
        _, decision, *_ = stored(session)[target]
        assert decision is not None
        due, reason, _ = deadline_of(session, target)
        assert due == datetime(2022, 5, 19, 10, 0, tzinfo=UTC)  # 14 days grace
        assert "from first seen 2022-05-05T10:00:00+00:00" in reason
        assert check_agrees(session, policies, {target}) == 1


def test_without_tables_every_finding_says_why(db: Database) -> None:
    load_intel(db, tables=False)
    count = populate(db)
    with db.transaction() as session:  # a closed finding whose shape no open one has
        first = session.execute(
            select(models.Advisory.id, models.Advisory.aliases).order_by(models.Advisory.id)
        ).first()
        assert first is not None
        alone = [row(1, first[0], [*first[1], "TEST-ALONE-1"], "3000.99", T0, "fixed")]
        attach_details(session, alone, T0)
        session.execute(models.Base.metadata.tables["finding"].insert(), alone)
        count += 1
    with db.transaction() as session:
        assert assess_open(session, policy_set(None), T0, "test") == 0
        rows = stored(session)
        undecided = [i for i, row in rows.items() if row[0] in OPEN]
        assert all(rows[i][1] is None for i in rows)
        assert {rows[i][7] for i in undecided} != {None}  # pointed at the reason
        text = explanation_text(session, undecided[0])
        assert "not triaged: SSVC decision tables are not loaded" in text
        assert explanation(session, undecided[0])["unavailable"].startswith("SSVC decision")
        closed = max(i for i, row in rows.items() if row[0] not in OPEN)  # the one added
        assert "not triaged yet" in explanation_text(session, closed)
    assert count > len(undecided)
