"""Cabal's ``cabal.project.freeze``: a ``constraints:`` field listing, comma-separated, one
``any.name ==version`` per package (``any.`` or ``setup.`` qualify where the constraint applies).

Flag constraints (``name +flag -other``) and ``installed``/``source`` constraints pin no
version and go to ``skipped``. Other fields (``index-state:``) add no package.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits
from sakimori.formats.lockfiles._common import InventoryBuilder, head_text, read_text
from sakimori.model.inventory import Inventory

FORMAT: Final = "cabal.project.freeze"
ECOSYSTEM: Final = "Hackage"

_MARK = re.compile(
    r"^constraints:\s*(any\.|setup\.)?[A-Za-z0-9-]+\s*(==|\+|-|installed)", re.MULTILINE
)
_FIELD = re.compile(r"([A-Za-z][A-Za-z0-9-]*):(.*)")
_PINNED = re.compile(r"(?:[A-Za-z0-9-]+:)?(?:any\.|setup\.)?([A-Za-z0-9-]+)\s*==\s*([0-9][0-9.]*)")


def sniff(data: bytes) -> bool:
    return bool(_MARK.search(head_text(data)))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    builder = InventoryBuilder(FORMAT, limits)
    constraints: list[str] = []
    field: str | None = None
    for number, line in enumerate(read_text(data, limits).splitlines(), start=1):
        line = line.split("--", 1)[0].rstrip()  # a "--" comment
        if not line.strip():
            continue
        if line[0] in " \t":
            if field is None:
                raise MalformedDocument(f"line {number}: an indented line outside a field")
            if field == "constraints":
                constraints.append(line)
            continue
        match = _FIELD.fullmatch(line)
        if match is None:
            raise MalformedDocument(f"line {number}: {line[:80]!r} is not 'field: value'")
        field = match.group(1).lower()
        if field == "constraints":
            constraints.append(match.group(2))
    if field is None:
        raise MalformedDocument("no field at all")
    for constraint in " ".join(constraints).split(","):
        constraint = " ".join(constraint.split())
        if not constraint:
            continue
        pinned = _PINNED.fullmatch(constraint)
        if pinned is None:
            builder.skip(f"constraint {constraint[:200]!r}: not a pinned version")
        else:
            builder.add(ECOSYSTEM, pinned.group(1), pinned.group(2))
    return builder.build()
