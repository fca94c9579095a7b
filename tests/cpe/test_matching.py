"""NISTIR 7696 name matching: Table 6-2 (attribute comparison) for every pair of value kinds,
and name comparison (§6.2)."""

from __future__ import annotations

import pytest

from sakimori.cpe.matching import (
    Relation,
    compare_names,
    compare_values,
    has_wildcards,
    name_matches,
)
from sakimori.cpe.name import ANY, NA, Value, Wfn, parse

S, B, E, D, U = (
    Relation.SUPERSET,
    Relation.SUBSET,
    Relation.EQUAL,
    Relation.DISJOINT,
    Relation.UNDEFINED,
)

# Table 6-2, one row per (source kind, target kind) and outcome. Kinds: ANY, NA, a string
# without wildcards ("i"), a string with wildcards ("m"). Strings are WFN quoted forms.
TABLE_6_2: list[tuple[str, Value, Value, Relation]] = [
    ("ANY/ANY", ANY, ANY, E),
    ("ANY/NA", ANY, NA, S),
    ("ANY/i", ANY, "7\\.0", S),
    ("ANY/m", ANY, "7\\.*", U),
    ("NA/ANY", NA, ANY, B),
    ("NA/NA", NA, NA, E),
    ("NA/i", NA, "7\\.0", D),
    ("NA/m", NA, "7\\.*", U),
    ("i/ANY", "7\\.0", ANY, B),
    ("i/NA", "7\\.0", NA, D),
    ("i/i equal", "7\\.0", "7\\.0", E),
    ("i/i equal, case folded", "FortiOS", "fortios", E),
    ("i/i different", "7\\.0", "7\\.1", D),
    ("i/m", "7\\.0", "7\\.*", U),
    ("m/ANY", "7\\.*", ANY, B),
    ("m/NA", "7\\.*", NA, D),
    ("m/i trailing * matches", "7\\.*", "7\\.0\\.1", S),
    ("m/i trailing * matches empty", "7\\.*", "7\\.", S),
    ("m/i trailing * misses", "7\\.*", "8\\.0", D),
    ("m/i leading * matches", "*_firmware", "fortios_firmware", S),
    ("m/i leading * misses", "*_firmware", "fortios", D),
    ("m/i both ends", "*secure*", "connect_secure_gateway", S),
    ("m/i leading ? matches one", "?\\.0", "7\\.0", S),
    ("m/i leading ? misses two", "?\\.0", "17\\.0", D),
    ("m/i trailing ?? matches up to two", "sp??", "sp12", S),
    ("m/i trailing ?? matches one (reference impl.)", "sp??", "sp1", S),
    ("m/i trailing ?? misses three", "sp??", "sp123", D),
    ("m/i quoted * is literal", "8\\.\\*", "8\\.1", D),
    ("m/i wildcard case folded", "Forti*", "fortios", S),
    ("m/m", "7\\.*", "7\\.*", U),
]


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [row[1:] for row in TABLE_6_2],
    ids=[row[0] for row in TABLE_6_2],
)
def test_table_6_2(source: Value, target: Value, expected: Relation) -> None:
    assert compare_values(source, target) is expected


def test_table_covers_every_kind_pair() -> None:
    def kind(value: Value) -> str:
        if value is ANY or value is NA:
            return str(value.value)
        assert isinstance(value, str)
        return "m" if has_wildcards(value) else "i"

    pairs = {(kind(s), kind(t)) for _, s, t, _ in TABLE_6_2}
    kinds = ["ANY", "NA", "i", "m"]
    assert pairs == {(s, t) for s in kinds for t in kinds}


def test_quoted_wildcards_are_not_wildcards() -> None:
    assert not has_wildcards("8\\.\\*")
    assert not has_wildcards("sp\\?")
    assert has_wildcards("sp?")
    assert has_wildcards("*x")
    assert not has_wildcards(ANY)


FORTIOS_ANY = "cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*"
FORTIOS_7 = "cpe:2.3:o:fortinet:fortios:7.0.1:*:*:*:*:*:*:*"


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        (FORTIOS_ANY, FORTIOS_7, S),
        (FORTIOS_7, FORTIOS_ANY, B),
        (FORTIOS_7, FORTIOS_7, E),
        (FORTIOS_7, "cpe:2.3:o:fortinet:fortios:7.0.2:*:*:*:*:*:*:*", D),
        (FORTIOS_ANY, "cpe:2.3:o:fortinet:fortiproxy:7.0.1:*:*:*:*:*:*:*", D),
        # a superset in one attribute and a subset in another: neither contains the other
        (
            "cpe:2.3:o:fortinet:fortios:*:h1:*:*:*:*:*:*",
            "cpe:2.3:o:fortinet:fortios:7.0.1:*:*:*:*:*:*:*",
            U,
        ),
        # a disjoint attribute decides even beside an undefined one
        (FORTIOS_7, "cpe:2.3:o:fortinet:fortios:7.*:-:*:*:*:*:*:*", U),
        (
            "cpe:2.3:o:fortinet:fortios:7.0.1:h1:*:*:*:*:*:*",
            "cpe:2.3:o:fortinet:fortios:7.*:-:*:*:*:*:*:*",
            D,
        ),
        # NA platform criteria (hardware with no version) match only NA
        (
            "cpe:2.3:h:fortinet:fortigate_100d:-:*:*:*:*:*:*:*",
            "cpe:2.3:h:fortinet:fortigate_100d:-:*:*:*:*:*:*:*",
            E,
        ),
        (
            "cpe:2.3:h:fortinet:fortigate_100d:-:*:*:*:*:*:*:*",
            "cpe:2.3:h:fortinet:fortigate_100d:1:*:*:*:*:*:*:*",
            D,
        ),
        # URI and formatted string of the same name
        (
            "cpe:/a:microsoft:internet_explorer:8.%02",
            "cpe:2.3:a:microsoft:internet_explorer:8.0.6001:beta:*:*:*:*:*:*",
            S,
        ),
    ],
)
def test_name_comparison(source: str, target: str, expected: Relation) -> None:
    assert compare_names(parse(source), parse(target)) is expected
    assert name_matches(parse(source), parse(target)) is (expected in {S, E})


def test_name_relation_is_the_converse_when_swapped() -> None:
    names = [
        parse(FORTIOS_ANY),
        parse(FORTIOS_7),
        parse("cpe:2.3:o:fortinet:fortios:7.0.1:-:*:*:*:*:*:*"),
        parse("cpe:2.3:o:fortinet:fortios:-:*:*:*:*:*:*:*"),
        Wfn(),
    ]
    converse = {S: B, B: S, E: E, D: D, U: U}
    for source in names:
        for target in names:
            assert compare_names(target, source) is converse[compare_names(source, target)]
