"""CPE name matching (NISTIR 7696): attribute comparison and name comparison.

``compare_values(source, target)`` is Table 6-2 of the specification: the relation of the set
of things the *source* value names to the set the *target* value names.

==================  ==========  ==========  ======================  ==========
source \\ target     ANY         NA          string ``i``            wildcards
==================  ==========  ==========  ======================  ==========
ANY                 EQUAL       SUPERSET    SUPERSET                UNDEFINED
NA                  SUBSET      EQUAL       DISJOINT                UNDEFINED
string ``i``        SUBSET      DISJOINT    EQUAL if i == t,        UNDEFINED
                                            else DISJOINT
wildcards ``m``     SUBSET      DISJOINT    SUPERSET if m matches   UNDEFINED
                                            t, else DISJOINT
==================  ==========  ==========  ======================  ==========

Strings compare case-insensitively, as the NIST reference implementation
(usnistgov/cpe-reference-implementation, ``CPENameMatcher``) does. A wildcard string has an
unquoted ``*`` (any sequence, possibly empty) or a run of *n* unquoted ``?`` at its start and/or
end; following the reference implementation a run of *n* ``?`` matches **at most** *n*
characters.

``compare_names(source, target)`` is the name comparison (§6.2, the ``CPE_DISJOINT``,
``CPE_EQUAL``, ``CPE_SUBSET`` and ``CPE_SUPERSET`` functions): DISJOINT when any attribute is
disjoint; EQUAL when all are equal; SUBSET / SUPERSET when every attribute is that or equal;
UNDEFINED otherwise (an undefined attribute, or a mix of subset and superset: the names overlap
without either containing the other). ``name_matches(pattern, name)`` is the question an
applicability statement asks: does ``pattern`` (a criterion) cover ``name`` (an asset's CPE)?
"""

from __future__ import annotations

import enum
import re
from functools import lru_cache

from sakimori.cpe.name import ANY, ATTRIBUTES, NA, Value, Wfn, unquote


class Relation(enum.Enum):
    SUPERSET = "superset"
    SUBSET = "subset"
    EQUAL = "equal"
    DISJOINT = "disjoint"
    UNDEFINED = "undefined"


def has_wildcards(value: Value) -> bool:
    """True for a string value with an unquoted ``*`` or ``?`` (they can only be at its ends)."""
    if not isinstance(value, str):
        return False
    return _wild_start(value) or _wild_end(value)


def _wild_start(value: str) -> bool:
    return value[:1] in {"*", "?"}


def _wild_end(value: str) -> bool:
    if value[-1:] not in {"*", "?"}:
        return False
    slashes = 0
    while len(value) - 2 - slashes >= 0 and value[len(value) - 2 - slashes] == "\\":
        slashes += 1
    return slashes % 2 == 0


def compare_values(source: Value, target: Value) -> Relation:
    """The relation of ``source`` to ``target`` (NISTIR 7696 Table 6-2)."""
    if isinstance(target, str) and has_wildcards(target):
        return Relation.UNDEFINED
    if source is ANY:
        return Relation.EQUAL if target is ANY else Relation.SUPERSET
    if target is ANY:
        return Relation.SUBSET
    if source is NA:
        return Relation.EQUAL if target is NA else Relation.DISJOINT
    if target is NA:
        return Relation.DISJOINT
    assert isinstance(source, str)
    assert isinstance(target, str)
    if source.lower() == target.lower():
        return Relation.EQUAL
    if has_wildcards(source):
        return (
            Relation.SUPERSET
            if wildcard_pattern(source).fullmatch(unquote(target))
            else Relation.DISJOINT
        )
    return Relation.DISJOINT


@lru_cache(maxsize=4096)
def wildcard_pattern(source: str) -> re.Pattern[str]:
    """A regular expression for a wildcard value (wildcards only at the ends)."""
    start, end = 0, len(source)
    prefix = suffix = ""
    if source.startswith("*"):
        start, prefix = 1, ".*"
    else:
        while start < end and source[start] == "?":
            start += 1
        prefix = f".{{0,{start}}}" if start else ""
    rest = source[start:end]
    if rest and _wild_end(rest):
        if rest[-1] == "*":
            rest, suffix = rest[:-1], ".*"
        else:
            count = 0
            while rest and rest[-1] == "?" and _wild_end(rest):
                rest = rest[:-1]
                count += 1
            suffix = f".{{0,{count}}}"
    middle = re.escape(unquote(rest))
    return re.compile(prefix + middle + suffix, re.IGNORECASE | re.DOTALL)


def compare_wfns(source: Wfn, target: Wfn) -> tuple[Relation, ...]:
    """The relation of every attribute pair, in :data:`ATTRIBUTES` order."""
    return tuple(
        compare_values(s, t) for s, t in zip(source.values(), target.values(), strict=True)
    )


def compare_names(source: Wfn, target: Wfn) -> Relation:
    """The name-level relation of ``source`` to ``target`` (NISTIR 7696 §6.2)."""
    relations = set(compare_wfns(source, target))
    if Relation.DISJOINT in relations:
        return Relation.DISJOINT
    if relations == {Relation.EQUAL}:
        return Relation.EQUAL
    if relations <= {Relation.SUBSET, Relation.EQUAL}:
        return Relation.SUBSET
    if relations <= {Relation.SUPERSET, Relation.EQUAL}:
        return Relation.SUPERSET
    return Relation.UNDEFINED


def name_matches(pattern: Wfn, name: Wfn) -> bool:
    """True when ``pattern`` is a superset of, or equal to, ``name`` (``CPE_SUPERSET``)."""
    return compare_names(pattern, name) in {Relation.SUPERSET, Relation.EQUAL}


__all__ = [
    "ATTRIBUTES",
    "Relation",
    "compare_names",
    "compare_values",
    "compare_wfns",
    "has_wildcards",
    "name_matches",
    "wildcard_pattern",
]
