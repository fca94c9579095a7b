"""The generic version ordering used for NVD version bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sakimori.cpe.version import compare_generic, generic_key
from sakimori.errors import InvalidVersion

ASCENDING = [
    "0",
    "1.2",
    "1.2.0.1",
    "1.2.1",
    "1.2.a",
    "1.10",
    "6.60.05008561",
    "6.60.05008562",
    "7.0u3",
    "7.0u3o",
    "7.0u3s",
    "8.6.2",
    "8.6.2j",
    "8.6.2j-398",
    "10.2.0.5-d-29sv",
    "12.1-55.300",
    "12.1-55.302",
    "2021-12-13",
]


def test_real_vendor_versions_sort_as_listed() -> None:
    assert sorted(ASCENDING, key=generic_key) == ASCENDING


@pytest.mark.parametrize(
    ("a", "b"),
    [("1.2", "1.2.0"), ("1.2", "1.2.0.0"), ("7.0U3", "7.0u3"), ("12.1-55.300", "12.1.55.300")],
)
def test_equal_versions(a: str, b: str) -> None:
    assert compare_generic(a, b) == 0


@pytest.mark.parametrize("bad", ["", "...", "-", "x" * 300])
def test_refuses_what_is_not_a_version(bad: str) -> None:
    with pytest.raises(InvalidVersion):
        generic_key(bad)


_VERSION = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}([a-z]{1,2}[0-9]?)?", fullmatch=True)


@given(_VERSION, _VERSION, _VERSION)
def test_total_order(a: str, b: str, c: str) -> None:
    assert compare_generic(a, b) == -compare_generic(b, a)
    if compare_generic(a, b) <= 0 and compare_generic(b, c) <= 0:
        assert compare_generic(a, c) <= 0


@given(st.lists(st.integers(0, 50), min_size=1, max_size=5))
def test_numeric_versions_order_like_integer_tuples(parts: list[int]) -> None:
    text = ".".join(map(str, parts))
    bumped = [*parts[:-1], parts[-1] + 1]
    assert compare_generic(text, ".".join(map(str, bumped))) == -1
    assert compare_generic(text, text + ".1") == -1
