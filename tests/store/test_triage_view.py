"""A deadline computed by the database equals the one Python computes, on both dialects.

Readers never see a stored deadline: the database computes it from the finding's first-seen
time and its rule's terms (``store.triage_view``). Three computations must agree for every
policy, sector mix, KEV due date and first-seen time: the reference (each sector's policy
through ``policy.deadline``, the earliest wins), the rule's terms in Python
(``due_from_terms``), and the SQL expression on PostgreSQL and SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import DateTime, Integer, literal, select

from sakimori.services.assessment import earliest
from sakimori.store.db import Database, open_database
from sakimori.store.triage_view import _Deadline, sqlite_deadline
from sakimori.triage.policy import (
    BOD_OUTCOMES,
    DECISIONS,
    PRIORITIES,
    DeadlineInputs,
    DeadlineSpec,
    DeadlineTerms,
    deadline,
    due_from_terms,
    spec,
)
from sakimori.triage.policy_files import builtin_policies

POLICIES = builtin_policies()
KEV_DUE = date(2022, 5, 3)


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[tuple[str, DeadlineInputs]], datetime]:
    """One to three sectors' (policy, inputs) for the same outcomes, and a first-seen time
    anywhere around KEV's due date (with microseconds)."""
    kev = draw(st.booleans())
    outcome = {
        "bod": draw(st.sampled_from(BOD_OUTCOMES)),
        "decision": draw(st.sampled_from(DECISIONS)),
        "priority": draw(st.sampled_from(PRIORITIES)),
        "internet_facing": draw(st.booleans()),
        "kev": kev,
        "kev_due_date": KEV_DUE if kev else None,
    }
    names = draw(st.lists(st.sampled_from(sorted(POLICIES)), min_size=1, max_size=3))
    first_seen = datetime(2022, 5, 3, tzinfo=UTC) + timedelta(
        microseconds=draw(st.integers(-60 * 86_400 * 10**6, 60 * 86_400 * 10**6))
    )
    return [(name, DeadlineInputs(**outcome)) for name in names], first_seen


def combined(
    plan: list[tuple[str, DeadlineInputs]],
) -> tuple[list[tuple[str, DeadlineSpec]], DeadlineTerms]:
    specs = [(POLICIES[name].label, spec(POLICIES[name], inputs)) for name, inputs in plan]
    terms = specs[0][1].terms()
    for _, other in specs[1:]:
        terms = terms.earliest(other.terms())
    return specs, terms


@settings(max_examples=400, deadline=None)
@given(plans())
def test_terms_give_the_earliest_deadline_of_the_sectors_policies(
    drawn: tuple[list[tuple[str, DeadlineInputs]], datetime],
) -> None:
    plan, first_seen = drawn
    specs, terms = combined(plan)
    reference = [deadline(POLICIES[name], inputs, first_seen) for name, inputs in plan]
    dues = [d.due for d in reference if d.due is not None]
    want = min(dues) if dues else None
    assert due_from_terms(terms, first_seen) == want
    due, reason, label = earliest(specs, first_seen)
    assert due == want
    first = next(d for d in reference if d.due == want)  # of equal ones, the first sector's
    assert reason == first.reason
    assert label == f"{first.policy_name} {first.policy_version}"
    # A stored plan reads back into the same specs.
    assert [DeadlineSpec.from_dict(s.to_dict()) for _, s in specs] == [s for _, s in specs]


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.dispose()


def cases() -> list[tuple[DeadlineTerms, datetime]]:
    """Every combination of terms around KEV's due date, at first-seen times with and without
    microseconds, before, at and after the floor."""
    kev_end = datetime(2022, 5, 4, tzinfo=UTC)
    found = []
    for duration in (None, timedelta(hours=24), timedelta(days=14), timedelta(days=60)):
        for grace in (None, timedelta(days=3), timedelta(days=14)):
            terms = DeadlineTerms(duration, kev_end if grace else None, grace)
            for offset in (-40, -14, -3, -1, 0, 1, 10):
                for micro in (0, 250_000, 999_999):
                    seen = kev_end + timedelta(days=offset, microseconds=micro)
                    found.append((terms, seen))
    return found


def test_the_database_computes_the_same_deadline(db: Database) -> None:
    moment = DateTime(timezone=True)
    with db.transaction() as session:
        for terms, seen in cases():
            seconds = [
                None if span is None else int(span.total_seconds())
                for span in (terms.duration, terms.grace)
            ]
            expression = _Deadline(
                literal(seen, moment),
                literal(seconds[0], Integer),
                literal(terms.kev_end, moment),
                literal(seconds[1], Integer),
            )
            got = session.scalar(select(expression))
            if got is not None and got.tzinfo is None:
                got = got.replace(tzinfo=UTC)  # SQLite: naive, UTC
            assert got == due_from_terms(terms, seen), (terms, seen)


def test_the_sqlite_function_reads_what_sqlalchemy_stores() -> None:
    """SQLite keeps ``2022-05-05 10:00:00.250000`` (or without fraction) and gets the same."""
    assert sqlite_deadline("2022-05-05 10:00:00.250000", 86_400, None, None) == (
        "2022-05-06 10:00:00.250000"
    )
    assert sqlite_deadline(
        "2022-05-05 10:00:00", None, "2022-05-04 00:00:00.000000", 14 * 86_400
    ) == ("2022-05-19 10:00:00.000000")
    assert sqlite_deadline("2022-04-01 10:00:00", None, "2022-05-04 00:00:00", 3 * 86_400) == (
        "2022-05-04 00:00:00.000000"
    )
    assert sqlite_deadline("2022-04-01 10:00:00", None, None, None) is None
    assert sqlite_deadline(None, 86_400, None, None) is None
