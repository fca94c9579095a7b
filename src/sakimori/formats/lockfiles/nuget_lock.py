"""NuGet's ``packages.lock.json``: ``dependencies`` per target framework (``net8.0``, or with a
runtime ``net8.0/win-x64``), each package with its ``type`` and ``resolved`` version.

A package resolved for several frameworks at one version is one component. ``Project``
entries are other projects of the same solution: the project's own code, skipped.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json
from sakimori.formats.lockfiles._common import (
    InventoryBuilder,
    head_text,
    mapping,
    optional_string,
)
from sakimori.model.inventory import Inventory

FORMAT: Final = "packages.lock.json"
ECOSYSTEM: Final = "NuGet"

_DEPENDENCIES = re.compile(r'"dependencies"\s*:\s*\{')
_TYPE = re.compile(r'"type"\s*:\s*"(Direct|Transitive|CentralTransitive|Project)"')


def sniff(data: bytes) -> bool:
    head = head_text(data)
    return head.startswith("{") and bool(_DEPENDENCIES.search(head) and _TYPE.search(head))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    document = mapping(load_json(data, limits), "packages.lock.json")
    builder = InventoryBuilder(FORMAT, limits)
    frameworks = mapping(document.get("dependencies", {}), "dependencies")
    for framework, packages in frameworks.items():
        for name, item in mapping(packages, f"framework {framework[:80]!r}").items():
            entry = mapping(item, f"package {name[:80]!r}")
            kind = optional_string(entry.get("type"), f"type of {name[:80]!r}")
            resolved = optional_string(entry.get("resolved"), f"resolved of {name[:80]!r}")
            if kind == "Project":
                builder.skip(f"{name}: a project of the same solution, the project's own code")
            elif resolved is None:
                builder.add(ECOSYSTEM, name, None, note="no resolved version in the lockfile")
            else:
                builder.add(ECOSYSTEM, name, resolved)
    return builder.build()
