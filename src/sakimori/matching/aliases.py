"""Alias grouping: records that share any id (CVE, GHSA, PYSEC, GO, RUSTSEC…) are one vulnerability.

The same vulnerability is published by several databases under several ids, each record listing
the others in ``aliases``. Grouping is the connected components of the "shares an id" relation,
so one vulnerability is reported once, with all of its ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_CVE = re.compile(r"^CVE-(\d{4})-(\d+)$")
_PREFERENCE = ("CVE", "GHSA")


def group(ids_by_record: Mapping[str, Iterable[str]]) -> list[tuple[str, ...]]:
    """``{record id: its aliases}`` -> tuples of record ids, one tuple per vulnerability."""
    parent: dict[str, str] = {}

    def find(item: str) -> str:
        root = item
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while item != root:
            parent[item], item = root, parent[item]
        return root

    for record, aliases in ids_by_record.items():
        root = find(record)
        for alias in aliases:
            other = find(alias)
            if other != root:
                parent[other] = root
    groups: dict[str, list[str]] = {}
    for record in ids_by_record:
        groups.setdefault(find(record), []).append(record)
    return [tuple(sorted(members)) for members in groups.values()]


def _order(identifier: str) -> tuple[int, str, int, int]:
    match = _CVE.match(identifier)
    if match:
        return (0, "", int(match.group(1)), int(match.group(2)))
    prefix = identifier.split("-", 1)[0]
    rank = _PREFERENCE.index(prefix) if prefix in _PREFERENCE else len(_PREFERENCE)
    return (rank, identifier, 0, 0)


def primary(ids: Iterable[str]) -> str:
    """The id to report a vulnerability under: its CVE id if it has one, else its GHSA id, else
    the first id in alphabetical order."""
    return min(ids, key=_order)


def ordered(ids: Iterable[str]) -> list[str]:
    """Ids in reporting order (CVE, GHSA, then alphabetical), without repeats."""
    return sorted(set(ids), key=_order)
