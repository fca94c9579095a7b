"""The built-in presets, outcome by outcome; KEV due dates and grace; explanations; status."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from sakimori.errors import InvalidInput
from sakimori.triage.policy import (
    BOD_OUTCOMES,
    DECISIONS,
    PRIORITIES,
    Deadline,
    DeadlineInputs,
    Policy,
    Rule,
    deadline,
    explain_change,
    status,
)
from sakimori.triage.policy_files import builtin_policies

CREATED = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
FIRST_SEEN = "2026-11-29T10:00:00+00:00"
PRESETS = builtin_policies()
BOD = PRESETS["cisa-bod-26-04"]
KEV = PRESETS["kev-due-date"]
CRITICAL = PRESETS["critical-infrastructure"]
H, D = timedelta(hours=1), timedelta(days=1)


def inputs(
    bod: str = "14D",
    decision: str = "Attend",
    priority: str = "Scheduled",
    *,
    internet_facing: bool = False,
    kev: bool = False,
    due: date | None = None,
    sector: str | None = None,
) -> DeadlineInputs:
    return DeadlineInputs(
        bod, decision, priority, internet_facing, kev or due is not None, due, sector
    )


def end_of(day: date) -> datetime:
    return datetime.combine(day + D, datetime.min.time(), UTC)


def test_builtin_presets_are_packaged() -> None:
    assert sorted(PRESETS) == ["cisa-bod-26-04", "critical-infrastructure", "kev-due-date"]
    assert all(policy.version == "1.0.0" and policy.description for policy in PRESETS.values())


# --- cisa-bod-26-04: every outcome ----------------------------------------------------------------

BOD_TABLE = [
    ("FSU", None, False, "bod-fsu"),
    ("60D", 60 * D, False, "bod-60d"),
    ("14D", 14 * D, False, "bod-14d"),
    ("3D", 3 * D, False, "bod-3d"),
    ("3DF", 3 * D, True, "bod-3df"),
]


@pytest.mark.parametrize(("bod", "after", "forensic", "rule"), BOD_TABLE)
@pytest.mark.parametrize("internet_facing", [False, True])
def test_bod_preset(
    bod: str, after: timedelta | None, forensic: bool, rule: str, internet_facing: bool
) -> None:
    for decision, priority in zip(DECISIONS, PRIORITIES, strict=True):
        result = deadline(
            BOD, inputs(bod, decision, priority, internet_facing=internet_facing), CREATED
        )
        assert result.due == (None if after is None else CREATED + after)
        assert (result.forensic_triage, result.rule.id) == (forensic, rule)
        assert (result.policy_name, result.policy_version) == ("cisa-bod-26-04", "1.0.0")


def test_bod_preset_ignores_kev_due_dates() -> None:
    result = deadline(BOD, inputs("14D", due=date(2026, 12, 1)), CREATED)
    assert result.due == CREATED + 14 * D


# --- kev-due-date: KEV's date, grace, BOD fallback ------------------------------------------------


@pytest.mark.parametrize(("bod", "after", "forensic", "rule"), BOD_TABLE)
@pytest.mark.parametrize("kev", [False, True])
def test_kev_preset_falls_back_to_bod_without_a_due_date(
    bod: str, after: timedelta | None, forensic: bool, rule: str, kev: bool
) -> None:
    result = deadline(KEV, inputs(bod, kev=kev), CREATED)
    assert result.due == (None if after is None else CREATED + after)
    assert (result.forensic_triage, result.rule.id) == (forensic, rule)


@pytest.mark.parametrize("bod", BOD_OUTCOMES)
def test_kev_preset_uses_the_due_date_for_every_outcome(bod: str) -> None:
    result = deadline(KEV, inputs(bod, due=date(2027, 1, 15)), CREATED)
    assert result.due == datetime(2027, 1, 16, tzinfo=UTC)  # the end of the due day, UTC
    assert result.forensic_triage is (bod == "3DF")
    assert result.rule.id == ("kev-forensic" if bod == "3DF" else "kev")


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (date(2027, 1, 15), end_of(date(2027, 1, 15))),  # well after creation: KEV's date
        (date(2026, 12, 12), CREATED + 14 * D),  # end of day is 14 days minus 10 hours away
        (date(2026, 12, 13), end_of(date(2026, 12, 13))),  # 14 days 14 hours away: KEV's date
        (date(2026, 11, 29), CREATED + 14 * D),  # due the day it was first seen
        (date(2026, 11, 1), CREATED + 14 * D),  # long passed: grace from first seen
    ],
)
def test_kev_due_date_and_grace(due: date, expected: datetime) -> None:
    assert deadline(KEV, inputs(due=due), CREATED).due == expected


def test_kev_grace_boundary_is_the_due_date() -> None:
    created = datetime(2026, 11, 1, tzinfo=UTC)
    exactly = deadline(KEV, inputs(due=date(2026, 11, 14)), created)
    assert exactly.due == created + 14 * D
    assert "KEV due date 2026-11-14 (end of day UTC)" in exactly.reason


# --- critical-infrastructure ----------------------------------------------------------------------

CRITICAL_TABLE = [
    # decision, internet-facing, BOD outcome -> after, forensic, rule
    ("Act", True, "14D", 24 * H, False, "act-internet"),
    ("Act", True, "3D", 24 * H, False, "act-internet"),
    ("Act", False, "14D", 72 * H, False, "act"),
    ("Act", False, "3D", 72 * H, False, "act"),
    ("Act", False, "3DF", 24 * H, True, "forensic"),
    ("Attend", True, "3DF", 24 * H, True, "forensic"),
    ("Track", False, "3D", 72 * H, False, "bod-3d"),
    ("Attend", True, "60D", 7 * D, False, "attend"),
    ("Attend", False, "FSU", 7 * D, False, "attend"),
    ("Track*", False, "14D", 14 * D, False, "bod-14d"),
    ("Track", True, "14D", 14 * D, False, "bod-14d"),
    ("Track*", True, "FSU", 30 * D, False, "track-star"),
    ("Track*", False, "60D", 30 * D, False, "track-star"),
    ("Track", False, "60D", 60 * D, False, "bod-60d"),
    ("Track", True, "FSU", 90 * D, False, "track"),
]


@pytest.mark.parametrize(
    ("decision", "internet_facing", "bod", "after", "forensic", "rule"), CRITICAL_TABLE
)
def test_critical_preset(
    decision: str, internet_facing: bool, bod: str, after: timedelta, forensic: bool, rule: str
) -> None:
    for priority in PRIORITIES:
        found = inputs(bod, decision, priority, internet_facing=internet_facing)
        result = deadline(CRITICAL, found, CREATED)
        assert result.due == CREATED + after
        assert (result.forensic_triage, result.rule.id) == (forensic, rule)


def test_critical_table_names_every_rule_but_the_catch_all() -> None:
    named = {row[-1] for row in CRITICAL_TABLE}
    assert named == {rule.id for rule in CRITICAL.rules[:-1]}


@pytest.mark.parametrize(
    ("decision", "due", "expected", "capped"),
    [
        ("Track", date(2026, 12, 9), end_of(date(2026, 12, 9)), True),  # 90 days capped
        ("Attend", date(2026, 12, 1), CREATED + 72 * H, True),  # too close: 72 hours' grace
        ("Attend", date(2026, 11, 1), CREATED + 72 * H, True),  # passed: 72 hours' grace
        ("Act", date(2026, 12, 1), CREATED + 72 * H, False),  # 72h rule = the grace floor
        ("Act", date(2027, 3, 1), CREATED + 72 * H, False),  # KEV's date is later
    ],
)
def test_critical_caps_kev_listed_findings_at_the_due_date(
    decision: str, due: date, expected: datetime, capped: bool
) -> None:
    result = deadline(CRITICAL, inputs("FSU", decision, due=due), CREATED)
    assert result.due == expected
    assert ("KEV-listed, so capped at" in result.reason) is capped


def every_input(due_dates: tuple[date | None, ...]) -> list[DeadlineInputs]:
    found = []
    for bod, decision, priority, internet, kev, due in itertools.product(
        BOD_OUTCOMES, DECISIONS, PRIORITIES, (False, True), (False, True), due_dates
    ):
        if due is None or kev:
            found.append(DeadlineInputs(bod, decision, priority, internet, kev, due))
    return found


def test_critical_is_never_later_than_the_other_presets() -> None:
    dues = (None, date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 15), date(2027, 6, 1))
    for found in every_input(dues):
        critical = deadline(CRITICAL, found, CREATED)
        assert critical.due is not None
        for other in (BOD, KEV):
            due = deadline(other, found, CREATED).due
            assert due is None or critical.due <= due, (found, other.name)


# --- explanations, one per rule -------------------------------------------------------------------

S = FIRST_SEEN
EXPLANATIONS = [
    (BOD, inputs("FSU"), "bod-fsu", "BOD 26-04 outcome FSU → no deadline"),
    (BOD, inputs("60D"), "bod-60d", f"BOD 26-04 outcome 60D → 60 days from first seen {S}"),
    (BOD, inputs("14D"), "bod-14d", f"BOD 26-04 outcome 14D → 14 days from first seen {S}"),
    (BOD, inputs("3D"), "bod-3d", f"BOD 26-04 outcome 3D → 3 days from first seen {S}"),
    (
        BOD,
        inputs("3DF"),
        "bod-3df",
        f"BOD 26-04 outcome 3DF → 3 days from first seen {S}, and a forensic triage of the asset",
    ),
    (
        KEV,
        inputs("14D", due=date(2027, 1, 15)),
        "kev",
        "KEV-listed → KEV due date 2027-01-15 (end of day UTC)",
    ),
    (
        KEV,
        inputs("14D", due=date(2026, 11, 1)),
        "kev",
        f"KEV-listed → 14 days grace from first seen {S}, "
        "as KEV due date 2026-11-01 had passed by then",
    ),
    (
        KEV,
        inputs("14D", due=date(2026, 12, 1)),
        "kev",
        f"KEV-listed → 14 days grace from first seen {S}, "
        "as KEV due date 2026-12-01 was less than that away",
    ),
    (
        KEV,
        inputs("3DF", due=date(2027, 1, 15)),
        "kev-forensic",
        "BOD 26-04 outcome 3DF, KEV-listed → KEV due date 2027-01-15 (end of day UTC), "
        "and a forensic triage of the asset",
    ),
    (
        KEV,
        inputs("3DF", kev=True),
        "bod-3df",
        f"BOD 26-04 outcome 3DF → 3 days from first seen {S}, and a forensic triage of the asset",
    ),
    (KEV, inputs("3D"), "bod-3d", f"BOD 26-04 outcome 3D → 3 days from first seen {S}"),
    (KEV, inputs("14D"), "bod-14d", f"BOD 26-04 outcome 14D → 14 days from first seen {S}"),
    (KEV, inputs("60D"), "bod-60d", f"BOD 26-04 outcome 60D → 60 days from first seen {S}"),
    (KEV, inputs("FSU"), "bod-fsu", "BOD 26-04 outcome FSU → no deadline"),
    (
        CRITICAL,
        inputs("3DF", "Act"),
        "forensic",
        f"BOD 26-04 outcome 3DF → 24 hours from first seen {S}, and a forensic triage of the asset",
    ),
    (
        CRITICAL,
        inputs("60D", "Act", internet_facing=True),
        "act-internet",
        f"decision Act, internet-facing → 24 hours from first seen {S}",
    ),
    (CRITICAL, inputs("60D", "Act"), "act", f"decision Act → 72 hours from first seen {S}"),
    (
        CRITICAL,
        inputs("3D", "Track"),
        "bod-3d",
        f"BOD 26-04 outcome 3D → 72 hours from first seen {S}",
    ),
    (CRITICAL, inputs("60D", "Attend"), "attend", f"decision Attend → 7 days from first seen {S}"),
    (
        CRITICAL,
        inputs("14D", "Track*"),
        "bod-14d",
        f"BOD 26-04 outcome 14D → 14 days from first seen {S}",
    ),
    (
        CRITICAL,
        inputs("FSU", "Track*"),
        "track-star",
        f"decision Track* → 30 days from first seen {S}",
    ),
    (
        CRITICAL,
        inputs("60D", "Track"),
        "bod-60d",
        f"BOD 26-04 outcome 60D → 60 days from first seen {S}",
    ),
    (CRITICAL, inputs("FSU", "Track"), "track", f"decision Track → 90 days from first seen {S}"),
    (
        CRITICAL,
        inputs("FSU", "Track", due=date(2026, 12, 9)),
        "track",
        f"decision Track → 90 days from first seen {S}; "
        "KEV-listed, so capped at KEV due date 2026-12-09 (end of day UTC)",
    ),
    (
        CRITICAL,
        inputs("FSU", "Attend", due=date(2026, 11, 1)),
        "attend",
        f"decision Attend → 7 days from first seen {S}; KEV-listed, so capped at 72 hours "
        f"grace from first seen {S}, as KEV due date 2026-11-01 had passed by then",
    ),
]


@pytest.mark.parametrize(("policy", "found", "rule", "reason"), EXPLANATIONS)
def test_explanation(policy: Policy, found: DeadlineInputs, rule: str, reason: str) -> None:
    assert (
        deadline(policy, found, CREATED).reason == f"{reason} [policy {policy.label}, rule {rule}]"
    )


def test_every_reachable_preset_rule_is_explained() -> None:
    explained = {(policy.name, rule) for policy, _, rule, _ in EXPLANATIONS}
    expected = {(policy.name, rule.id) for policy in PRESETS.values() for rule in policy.rules[:-1]}
    assert explained == expected


def test_catch_all_sector_and_priority_explanations() -> None:
    policy = Policy(
        "sector-demo",
        "2",
        (
            Rule("health", "48h", sector=("medical", "water"), internet_facing=True),
            Rule("immediate", "1d", priority=("Immediate",), kev=False),
            Rule("kev-immediate", "12h", priority=("Immediate",)),
            Rule("other-priorities", "30d", priority=("Defer", "Scheduled", "Out-of-Cycle")),
            Rule("rest", "30d"),
        ),
    )
    water = deadline(policy, inputs(internet_facing=True, sector="water"), CREATED)
    assert water.reason.startswith("internet-facing, sector water → 48 hours from first seen")
    immediate = deadline(policy, inputs(priority="Immediate"), CREATED)
    assert immediate.reason.startswith("priority Immediate, not KEV-listed → 1 day from first seen")
    kev = deadline(policy, inputs(priority="Immediate", kev=True), CREATED)
    assert (kev.rule.id, kev.due) == ("kev-immediate", CREATED + 12 * H)
    catch_all = Policy("flat", "1", (Rule("everything", "30d"),))
    assert deadline(catch_all, inputs(), CREATED).reason == (
        f"no earlier rule applies → 30 days from first seen {FIRST_SEEN} "
        "[policy flat 1, rule everything]"
    )


# --- time zones and inputs ------------------------------------------------------------------------


def test_created_at_in_another_time_zone_gives_utc() -> None:
    jst = timezone(timedelta(hours=9))
    result = deadline(BOD, inputs("3D"), datetime(2026, 11, 29, 19, 0, tzinfo=jst))
    assert result.due == CREATED + 3 * D
    assert result.due is not None
    assert result.due.tzinfo is UTC
    assert FIRST_SEEN in result.reason


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline(BOD, inputs(), datetime(2026, 11, 29))
    with pytest.raises(ValueError, match="timezone-aware"):
        status(deadline(BOD, inputs(), CREATED), datetime(2026, 11, 29))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bod": "14d"}, "unknown BOD 26-04 outcome '14d'; expected one of FSU, 60D, 14D, 3D, 3DF"),
        ({"decision": "act"}, "unknown decision 'act'; expected one of Track, Track*, Attend, Act"),
        ({"priority": "High"}, "unknown priority 'High'"),
        (
            {"sector": "energy"},
            "unknown sector 'energy'; expected one of information_communications",
        ),
    ],
)
def test_unknown_input_values_are_refused(kwargs: dict[str, str], message: str) -> None:
    values = {"bod": "14D", "decision": "Act", "priority": "Defer", **kwargs}
    with pytest.raises(InvalidInput) as caught:
        DeadlineInputs(
            values["bod"], values["decision"], values["priority"], True, sector=values.get("sector")
        )
    assert message in caught.value.message


def test_a_due_date_needs_a_kev_listing() -> None:
    with pytest.raises(InvalidInput, match="not KEV-listed"):
        DeadlineInputs("14D", "Act", "Defer", True, kev=False, kev_due_date=date(2026, 12, 1))


# --- status ---------------------------------------------------------------------------------------


def test_status_due_overdue_none() -> None:
    result = deadline(BOD, inputs("14D"), CREATED)
    due = status(result, CREATED + 3 * D + 2 * H)
    assert (due.state, due.time_left, due.overdue_by) == ("due", 10 * D + 22 * H, None)
    assert due.text == "due in 10 days 22 hours"
    at = status(result, CREATED + 14 * D)
    assert (at.state, at.time_left, at.text) == ("due", timedelta(0), "due in less than a minute")
    late = status(result, CREATED + 14 * D + 1 * H + timedelta(minutes=5))
    assert (late.state, late.overdue_by) == ("overdue", 1 * H + timedelta(minutes=5))
    assert late.text == "overdue by 1 hour 5 minutes"
    none = status(deadline(BOD, inputs("FSU"), CREATED), CREATED + 900 * D)
    assert (none.state, none.time_left, none.overdue_by, none.text) == (
        "none",
        None,
        None,
        "no deadline",
    )


def test_stored_due_times_without_a_zone_are_utc() -> None:
    from sakimori.triage.policy import due_status

    naive = datetime(2026, 12, 1, 12, 0)  # as SQLite returns a stored UTC time
    found = due_status(naive, datetime(2026, 12, 1, 13, 0, tzinfo=UTC))
    assert (found.state, found.overdue_by) == ("overdue", 1 * H)
    assert due_status(None, datetime(2026, 12, 1, tzinfo=UTC)).state == "none"
    with pytest.raises(ValueError, match="timezone-aware"):
        due_status(naive, naive)


# --- policy changes -------------------------------------------------------------------------------


def test_explain_change_earlier_and_forensic() -> None:
    change = explain_change(BOD, CRITICAL, inputs("3DF", "Act"), CREATED)
    assert change.changed
    assert change.old.due == CREATED + 3 * D
    assert change.new.due == CREATED + 24 * H
    assert change.reason == (
        "policy cisa-bod-26-04 1.0.0 → critical-infrastructure 1.0.0: due "
        "2026-12-02T10:00:00+00:00 → 2026-11-30T10:00:00+00:00 (2 days earlier). "
        f"Before: BOD 26-04 outcome 3DF → 3 days from first seen {FIRST_SEEN}, and a forensic "
        "triage of the asset [policy cisa-bod-26-04 1.0.0, rule bod-3df]. "
        f"Now: BOD 26-04 outcome 3DF → 24 hours from first seen {FIRST_SEEN}, and a forensic "
        "triage of the asset [policy critical-infrastructure 1.0.0, rule forensic]"
    )


def test_explain_change_unchanged_later_set_and_removed() -> None:
    same = explain_change(BOD, KEV, inputs("14D"), CREATED)
    assert not same.changed
    assert same.reason.startswith(
        "policy cisa-bod-26-04 1.0.0 → kev-due-date 1.0.0: "
        "deadline unchanged (2026-12-13T10:00:00+00:00). "
    )
    later = explain_change(CRITICAL, BOD, inputs("60D", "Track*"), CREATED)
    assert "(30 days later)" in later.reason
    removed = explain_change(CRITICAL, BOD, inputs("FSU", "Track"), CREATED)
    assert "the deadline 2027-02-27T10:00:00+00:00 is removed" in removed.reason
    assert removed.new.due is None
    assert removed.changed
    added = explain_change(BOD, CRITICAL, inputs("FSU", "Track"), CREATED)
    assert "a deadline is now set: 2027-02-27T10:00:00+00:00" in added.reason
    both_forensic = explain_change(KEV, BOD, inputs("3DF", due=date(2026, 12, 20)), CREATED)
    assert both_forensic.old.forensic_triage
    assert both_forensic.new.forensic_triage
    assert "forensic triage" not in both_forensic.reason.split(". Before")[0]
    assert isinstance(both_forensic.old, Deadline)
    assert both_forensic.changed


def test_explain_change_reports_forensic_triage_changes() -> None:
    plain = Policy("plain", "1", (Rule("all", "3d"),))
    change = explain_change(plain, BOD, inputs("3DF"), CREATED)
    assert change.changed
    assert change.old.due == change.new.due
    assert (
        "deadline unchanged (2026-12-02T10:00:00+00:00); forensic triage now required."
        in change.reason
    )
    back = explain_change(BOD, plain, inputs("3DF"), CREATED)
    assert "; forensic triage no longer required." in back.reason
