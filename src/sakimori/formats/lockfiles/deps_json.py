"""The .NET ``*.deps.json`` file written next to a built application: ``libraries`` lists every
library the application loads as ``"Name/Version": {"type": …}``.

``package`` libraries are NuGet packages; a ``runtimepack`` is the .NET runtime itself,
reported as its NuGet package (``Microsoft.NETCore.App.Runtime.linux-x64``). ``project`` and
``reference`` libraries are the application's own code or assemblies outside NuGet: skipped.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json
from sakimori.formats.lockfiles._common import (
    InventoryBuilder,
    head_text,
    mapping,
    optional_string,
)
from sakimori.model.inventory import Inventory

FORMAT: Final = "deps.json"
ECOSYSTEM: Final = "NuGet"

_MARK = re.compile(r'"(runtimeTarget|compilationOptions)"\s*:')
_TARGETS = re.compile(r'"(targets|libraries)"\s*:\s*\{')


def sniff(data: bytes) -> bool:
    head = head_text(data)
    return head.startswith("{") and bool(_MARK.search(head) and _TARGETS.search(head))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    document = mapping(load_json(data, limits), "deps.json")
    builder = InventoryBuilder(FORMAT, limits)
    for key, item in mapping(document.get("libraries", {}), "libraries").items():
        entry = mapping(item, f"library {key[:80]!r}")
        name, _, version = key.rpartition("/")
        if not name or not version:
            raise MalformedDocument(f"library {key[:80]!r} is not 'Name/Version'")
        kind = optional_string(entry.get("type"), f"type of {key[:80]!r}")
        if kind == "package":
            builder.add(ECOSYSTEM, name, version)
        elif kind == "runtimepack":
            builder.add(ECOSYSTEM, name.removeprefix("runtimepack."), version, note="runtime pack")
        else:
            builder.skip(f"{key[:200]}: a {kind or 'untyped'} library, not a NuGet package")
    return builder.build()
