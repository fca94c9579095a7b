"""OSV range evaluation: compiled intervals agree with the schema's pseudo-code, shape by shape."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sakimori.errors import InvalidVersion
from sakimori.matching.ranges import Interval, compile_range, is_affected_reference
from sakimori.model.advisory import Event, EventKind
from sakimori.versions import SortKey


def int_key(version: str) -> SortKey:
    """Versions are plain integers here, so the tests isolate the range logic."""
    if not version.isdigit():
        raise InvalidVersion(version, "test")
    return (int(version),)


def events(*pairs: tuple[str, str]) -> tuple[Event, ...]:
    return tuple(Event(EventKind(kind), version) for kind, version in pairs)


def affected(version: str, evts: tuple[Event, ...]) -> bool:
    key = int_key(version)
    return any(i.contains(key) for i in compile_range(evts, int_key))


def test_introduced_is_inclusive_and_fixed_exclusive() -> None:
    evts = events(("introduced", "2"), ("fixed", "5"))
    assert [affected(str(v), evts) for v in range(7)] == [
        False, False, True, True, True, False, False,
    ]  # fmt: skip


def test_introduced_zero_means_from_the_beginning() -> None:
    evts = events(("introduced", "0"), ("fixed", "3"))
    assert affected("0", evts)
    assert affected("2", evts)
    assert not affected("3", evts)


def test_last_affected_is_inclusive() -> None:
    evts = events(("introduced", "1"), ("last_affected", "4"))
    assert affected("4", evts)
    assert not affected("5", evts)
    assert not affected("0", evts)


def test_no_upper_bound_affects_every_later_version() -> None:
    evts = events(
        ("introduced", "3"),
    )
    assert not affected("2", evts)
    assert affected("3", evts)
    assert affected("999999", evts)


def test_several_pairs_in_one_range_and_unsorted_events() -> None:
    evts = events(("fixed", "12"), ("introduced", "10"), ("fixed", "3"), ("introduced", "1"))
    expected = {1, 2, 10, 11}
    assert {v for v in range(15) if affected(str(v), evts)} == expected


def test_limit_caps_the_range() -> None:
    evts = events(("introduced", "0"), ("limit", "5"))
    assert affected("4", evts)
    assert not affected("5", evts)
    assert not affected("9", evts)


def test_limit_star_means_no_limit() -> None:
    evts = events(("introduced", "2"), ("limit", "*"))
    assert affected("100", evts)


def test_several_limits_take_the_largest() -> None:
    evts = events(("introduced", "0"), ("limit", "3"), ("limit", "6"))
    assert affected("5", evts)
    assert not affected("6", evts)


def test_limit_with_fixed_keeps_both_bounds() -> None:
    evts = events(("introduced", "1"), ("fixed", "4"), ("introduced", "6"), ("limit", "8"))
    assert {v for v in range(10) if affected(str(v), evts)} == {1, 2, 3, 6, 7}


def test_fixed_version_is_reported_on_the_interval() -> None:
    intervals = compile_range(events(("introduced", "1"), ("fixed", "4")), int_key)
    assert intervals == (Interval(((1,), 0), ((4,), 0), "4"),)


def test_empty_range_when_introduced_equals_fixed() -> None:
    assert compile_range(events(("introduced", "3"), ("fixed", "3")), int_key) == ()


def test_invalid_version_in_events_raises_our_error() -> None:
    with pytest.raises(InvalidVersion, match="x1"):
        compile_range(events(("introduced", "0"), ("fixed", "x1")), int_key)


event_kinds = st.sampled_from(["introduced", "fixed", "last_affected", "limit"])
event_versions = st.integers(min_value=0, max_value=12).map(str)
random_events = st.lists(st.tuples(event_kinds, event_versions), min_size=0, max_size=8).map(
    lambda pairs: events(*pairs)
)


@settings(max_examples=600, deadline=None)
@given(evts=random_events)
def test_compiled_intervals_agree_with_the_schema_pseudocode(evts: tuple[Event, ...]) -> None:
    """Any event list — ties, odd orders, limits — evaluates identically both ways."""
    intervals = compile_range(evts, int_key)
    for version in range(14):
        key = int_key(str(version))
        compiled = any(i.contains(key) for i in intervals)
        assert compiled == is_affected_reference(str(version), evts, int_key), (evts, version)
