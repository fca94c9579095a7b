"""uv's ``uv.lock`` (TOML): ``[[package]]`` tables whose ``source`` is an inline table saying
where the package comes from: ``registry``, ``git``, ``url``, or the project's own code
(``virtual``, ``editable``, ``directory``, ``path``), which is skipped.

uv records dependency groups on the project, not on each package, so components have no scope.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_toml
from sakimori.formats.lockfiles._common import (
    InventoryBuilder,
    mapping,
    optional_string,
    package_tables,
    sniff_package_tables,
    string,
)
from sakimori.model.inventory import Inventory

FORMAT: Final = "uv.lock"
ECOSYSTEM: Final = "PyPI"

_UV = re.compile(
    r"^source = \{ ?(registry|git|url|path|directory|editable|virtual) = "
    r"|^requires-python = |^revision = \d",
    re.MULTILINE,
)
_LOCAL = ("virtual", "editable", "directory", "path")


def sniff(data: bytes) -> bool:
    return sniff_package_tables(data, _UV)


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    document = load_toml(data, limits)
    builder = InventoryBuilder(FORMAT, limits)
    for entry, name in package_tables(document):
        version = optional_string(entry.get("version"), f"version of {name!r}")
        source = mapping(entry.get("source", {}), f"source of {name!r}")
        local = next((kind for kind in _LOCAL if kind in source), None)
        if local is not None:
            where = optional_string(source.get(local), f"source of {name!r}") or ""
            builder.skip(f"{name}: {local} source {where[:200]}, the project's own code")
        elif "git" in source:
            url = string(source["git"], f"git source of {name!r}")
            builder.add(ECOSYSTEM, name, version, note=f"git dependency {url}")
        elif "url" in source:
            url = string(source["url"], f"url source of {name!r}")
            builder.add(ECOSYSTEM, name, version, note=f"URL dependency {url}")
        elif version is None:
            builder.add(ECOSYSTEM, name, None, note="no version in the lockfile")
        else:
            builder.add(ECOSYSTEM, name, version)
    return builder.build()
