"""Property tests (Hypothesis): for any valid inputs exactly one rule applies — the first that
matches, as the slow reference :meth:`Rule.matches` says — and the deadline is never before the
finding was first seen (or there is none). Checked for the presets and for generated policies."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sakimori.errors import MalformedDocument
from sakimori.triage.policy import (
    BOD_OUTCOMES,
    DECISIONS,
    PRIORITIES,
    SECTORS,
    DeadlineInputs,
    Policy,
    Rule,
    deadline,
    status,
)
from sakimori.triage.policy_files import builtin_policies

PROFILE = settings(
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PRESETS = tuple(builtin_policies().values())

created_ats = st.builds(
    lambda moment, hours: moment.replace(tzinfo=timezone(timedelta(hours=hours))),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1)),
    st.integers(min_value=-12, max_value=14),
)


@st.composite
def deadline_inputs(draw: st.DrawFn) -> DeadlineInputs:
    kev = draw(st.booleans())
    due = draw(st.none() | st.dates(date(2000, 1, 1), date(2060, 1, 1))) if kev else None
    return DeadlineInputs(
        bod=draw(st.sampled_from(BOD_OUTCOMES)),
        decision=draw(st.sampled_from(DECISIONS)),
        priority=draw(st.sampled_from(PRIORITIES)),
        internet_facing=draw(st.booleans()),
        kev=kev,
        kev_due_date=due,
        sector=draw(st.none() | st.sampled_from(SECTORS)),
    )


def subset(values: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(values), unique=True, max_size=2).map(tuple)


@st.composite
def rules(draw: st.DrawFn, index: int) -> Rule:
    return Rule(
        id=f"r{index}",
        deadline=draw(st.sampled_from(["24h", "3d", "14d", "none", "kev_due_date"])),
        bod=draw(subset(BOD_OUTCOMES)),
        decision=draw(subset(DECISIONS)),
        priority=draw(subset(PRIORITIES)),
        sector=draw(subset(SECTORS[:3])),
        internet_facing=draw(st.none() | st.booleans()),
        kev=draw(st.none() | st.booleans()),
        forensic_triage=draw(st.booleans()),
    )


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    count = draw(st.integers(min_value=0, max_value=4))
    body = [draw(rules(index)) for index in range(count)]
    # A rule naming every value of the outcomes the body keys on covers them all; the catch-all
    # after it is then never reached, which a policy may do.
    cover = Rule(
        "cover",
        draw(st.sampled_from(["7d", "none"])),
        bod=BOD_OUTCOMES if any(rule.bod for rule in body) else (),
        decision=DECISIONS if any(rule.decision for rule in body) else (),
        priority=PRIORITIES if any(rule.priority for rule in body) else (),
    )
    tail = [cover] if not cover.is_catch_all else []
    cap = draw(st.booleans())
    uses_kev = cap or any(rule.deadline == "kev_due_date" for rule in body)
    try:
        return Policy(
            "generated",
            "1",
            (*body, *tail, Rule("rest", draw(st.sampled_from(["60d", "none"])))),
            kev_grace=draw(st.sampled_from(["1h", "72h", "14d"])) if uses_kev else None,
            cap_at_kev_due_date=cap,
        )
    except MalformedDocument:
        assume(False)
        raise


def check(policy: Policy, found: DeadlineInputs, created_at: datetime) -> None:
    result = deadline(policy, found, created_at)
    matching = [rule for rule in policy.rules if rule.matches(found)]
    assert matching, "the catch-all always matches"
    assert result.rule == matching[0]
    assert policy.rule_for(found) == matching[0]
    assert result.forensic_triage is matching[0].forensic_triage
    assert result.reason.endswith(f"[policy {policy.label}, rule {matching[0].id}]")
    if result.due is None:
        assert matching[0].deadline == "none"
        assert not (policy.cap_at_kev_due_date and found.kev_due_date is not None)
        assert status(result, created_at).state == "none"
    else:
        assert result.due.tzinfo is UTC
        assert result.due >= created_at
        assert status(result, created_at).state == "due"


@PROFILE
@given(st.sampled_from(PRESETS), deadline_inputs(), created_ats)
def test_presets_apply_exactly_one_rule_never_in_the_past(
    policy: Policy, found: DeadlineInputs, created_at: datetime
) -> None:
    check(policy, found, created_at)


@settings(PROFILE, max_examples=200)
@given(policies(), deadline_inputs(), created_ats)
def test_generated_policies_agree_with_the_reference(
    policy: Policy, found: DeadlineInputs, created_at: datetime
) -> None:
    check(policy, found, created_at)
