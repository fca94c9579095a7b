"""Bun's text lockfile ``bun.lock`` (Bun >= 1.2): JSON with trailing commas (JSONC).

``packages`` maps a key to an array whose first element is ``name@spec``: a version for
registry packages, else a git (``github:``, ``git+``), tarball, ``workspace:``, ``file:`` or
``link:`` source. The binary ``bun.lockb`` is not read.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, check_size, load_json
from sakimori.formats.lockfiles import _npm
from sakimori.formats.lockfiles._common import (
    InventoryBuilder,
    head_text,
    mapping,
    sequence,
    string,
)
from sakimori.model.inventory import Inventory

FORMAT: Final = "bun.lock"

_VERSION = re.compile(r'"lockfileVersion"\s*:\s*\d')
_WORKSPACES = re.compile(r'"workspaces"\s*:\s*\{')


def sniff(data: bytes) -> bool:
    head = head_text(data)
    return head.startswith("{") and bool(_VERSION.search(head) and _WORKSPACES.search(head))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    check_size(data, limits)
    document = mapping(load_json(jsonc_to_json(data), limits), "bun.lock")
    builder = InventoryBuilder(FORMAT, limits)
    for key, item in mapping(document.get("packages", {}), "packages").items():
        entry = sequence(item, f"package {key[:80]!r}")
        if not entry:
            raise MalformedDocument(f"package {key[:80]!r} is an empty list")
        name, spec = _npm.split_spec(string(entry[0], f"first element of {key[:80]!r}"))
        if not name or not spec:
            raise MalformedDocument(f"package {key[:80]!r}: {name[:80]!r} has no version")
        _npm.add_package(builder, name, spec)
    return builder.build()


def jsonc_to_json(data: bytes) -> bytes:
    """Blank out ``//`` and ``/* */`` comments and trailing commas outside strings.

    One regular expression, no backtracking across tokens: an unterminated string or comment
    runs to the end of the input, which the JSON parser then refuses.
    """
    return _JSONC.sub(_keep_strings, data)


_JSONC = re.compile(
    rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)'
    rb"|//[^\n]*+"
    rb"|/\*(?:[^*]++|\*(?!/))*+(?:\*/|\Z)"
    rb"|,(?=\s*+[}\]])",
    re.DOTALL,
)


def _keep_strings(match: re.Match[bytes]) -> bytes:
    token = match.group()
    return token if token.startswith(b'"') else b" "
