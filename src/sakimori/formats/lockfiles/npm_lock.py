"""npm's ``package-lock.json`` and ``npm-shrinkwrap.json``, lockfileVersion 1, 2 and 3.

Versions 2 and 3 list every installed copy under ``packages``, keyed by its path
(``node_modules/a/node_modules/b``); version 1 nests ``dependencies`` inside each other. Both
are read (``packages`` when present), so a package installed at several places is one
component per distinct version. Aliases (``"x": "npm:real@1.0.0"``, or a ``name`` field that
differs from the path) are reported under the real package name. ``link`` entries and packages
outside ``node_modules`` (workspace folders) are the project's own code and are skipped.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json
from sakimori.formats.lockfiles import _npm
from sakimori.formats.lockfiles._common import (
    SCOPE_DEV,
    SCOPE_OPTIONAL,
    InventoryBuilder,
    head_text,
    mapping,
    optional_string,
)
from sakimori.model.inventory import Inventory

FORMAT: Final = "package-lock.json"

_VERSION = re.compile(r'"lockfileVersion"\s*:\s*\d')
_BODY = re.compile(r'"(packages|dependencies|requires)"\s*:')
_NODE_MODULES = "node_modules/"


def sniff(data: bytes) -> bool:
    head = head_text(data)
    return head.startswith("{") and bool(_VERSION.search(head)) and bool(_BODY.search(head))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    document = mapping(load_json(data, limits), "package-lock.json")
    builder = InventoryBuilder(FORMAT, limits)
    if "packages" in document:
        _read_packages(builder, mapping(document["packages"], "packages"))
    else:
        _read_dependencies(builder, mapping(document.get("dependencies", {}), "dependencies"))
    return builder.build()


def _scope(entry: dict[str, object]) -> str | None:
    if entry.get("dev") is True or entry.get("devOptional") is True:
        return SCOPE_DEV
    if entry.get("optional") is True:
        return SCOPE_OPTIONAL
    return None


def _read_packages(builder: InventoryBuilder, packages: dict[str, object]) -> None:
    for path, item in packages.items():
        entry = mapping(item, f"package {path[:80]!r}")
        if path == "":
            continue
        if entry.get("link") is True or _NODE_MODULES not in path:
            builder.skip(f"{path[:200]}: workspace or linked folder, the project's own code")
            continue
        name = optional_string(entry.get("name"), f"name of {path[:80]!r}")
        name = name or path.rsplit(_NODE_MODULES, 1)[1]
        version = optional_string(entry.get("version"), f"version of {path[:80]!r}")
        resolved = optional_string(entry.get("resolved"), f"resolved of {path[:80]!r}") or ""
        scope = _scope(entry)
        if version is None:
            builder.add(_npm.ECOSYSTEM, name, None, scope=scope, note="no version in the lockfile")
        elif resolved and not resolved.startswith(("http://", "https://")):
            _npm.add_package(builder, name, resolved, scope=scope, version=version)
        else:
            _npm.add_package(builder, name, version, scope=scope)


def _read_dependencies(builder: InventoryBuilder, top: dict[str, object]) -> None:
    stack: list[tuple[str, dict[str, object]]] = [("", top)]
    while stack:
        parent, dependencies = stack.pop()
        for name, item in dependencies.items():
            where = f"{parent}{name}"
            entry = mapping(item, f"dependency {where[:80]!r}")
            version = optional_string(entry.get("version"), f"version of {where[:80]!r}")
            if version is None:
                builder.add(_npm.ECOSYSTEM, name, None, note="no version in the lockfile")
            else:
                _npm.add_package(builder, name, version, scope=_scope(entry))
            nested = entry.get("dependencies")
            if nested is not None:
                stack.append((f"{where} > ", mapping(nested, f"dependencies of {where[:80]!r}")))
