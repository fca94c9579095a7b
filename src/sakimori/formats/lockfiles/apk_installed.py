"""Alpine's apk database, ``/lib/apk/db/installed``: one stanza per installed package, one
``X:value`` a line (``P`` name, ``V`` version, ``A`` architecture, ``o`` origin).

Alpine advisories are written against the origin (source) package; it is in ``note`` and in the
purl's ``upstream`` qualifier. The database does not say the Alpine release.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits
from sakimori.formats.lockfiles._common import InventoryBuilder, head_text, purl_with, read_text
from sakimori.model.inventory import Inventory

FORMAT: Final = "apk-installed"
ECOSYSTEM: Final = "Alpine"

_FIRST = re.compile(r"\A[A-Za-z]:\S")
_NAME = re.compile(r"^P:\S+$", re.MULTILINE)
_VERSION = re.compile(r"^V:\S+$", re.MULTILINE)


def sniff(data: bytes) -> bool:
    head = head_text(data)
    return bool(_FIRST.match(head) and _NAME.search(head) and _VERSION.search(head))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    builder = InventoryBuilder(FORMAT, limits)
    stanza: dict[str, str] = {}
    start = stanzas = 0
    for number, line in enumerate([*read_text(data, limits).splitlines(), ""], start=1):
        if not line.strip():
            if stanza:
                _add(builder, stanza, start)
                stanzas += 1
            stanza = {}
            continue
        if len(line) < 2 or line[1] != ":" or not ("A" <= line[0].upper() <= "Z"):
            raise MalformedDocument(f"line {number}: {line[:80]!r} is not 'X:value'")
        if not stanza:
            start = number
        stanza.setdefault(line[0], line[2:].strip())
    if not stanzas:
        raise MalformedDocument("no package stanza")
    return builder.build()


def _add(builder: InventoryBuilder, stanza: dict[str, str], start: int) -> None:
    name, version = stanza.get("P"), stanza.get("V")
    if not name or not version:
        raise MalformedDocument(f"the stanza at line {start} has no P: name or V: version")
    origin = stanza.get("o") or name
    purl = purl_with(
        "apk", "alpine", name, version, {"arch": stanza.get("A", ""), "upstream": origin}
    )
    builder.add(ECOSYSTEM, name, version, purl=purl, note=f"origin package {origin}")
