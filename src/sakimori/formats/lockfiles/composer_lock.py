"""Composer's ``composer.lock`` (JSON): ``packages`` and ``packages-dev`` lists.

A development branch (``dev-main``, ``1.x-dev``) is not a release: it is reported without a
version, with the branch and commit in ``note``. ``path`` packages are the project's own code
and are skipped.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json
from sakimori.formats.lockfiles._common import (
    SCOPE_DEV,
    InventoryBuilder,
    head_text,
    mapping,
    optional_string,
    sequence,
    string,
)
from sakimori.model.inventory import Inventory

FORMAT: Final = "composer.lock"
ECOSYSTEM: Final = "Packagist"

_PACKAGES = re.compile(r'"packages(-dev)?"\s*:\s*\[')
_COMPOSER = re.compile(r'"(content-hash|_readme|plugin-api-version|minimum-stability)"\s*:')


def sniff(data: bytes) -> bool:
    head = head_text(data)
    return head.startswith("{") and bool(_PACKAGES.search(head) and _COMPOSER.search(head))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    document = mapping(load_json(data, limits), "composer.lock")
    builder = InventoryBuilder(FORMAT, limits)
    for section, scope in (("packages", None), ("packages-dev", SCOPE_DEV)):
        for index, item in enumerate(sequence(document.get(section) or [], section)):
            entry = mapping(item, f"{section} #{index + 1}")
            _add(builder, entry, scope, f"{section} #{index + 1}")
    return builder.build()


def _add(
    builder: InventoryBuilder, entry: dict[str, object], scope: str | None, where: str
) -> None:
    name = string(entry.get("name"), f"name of {where}")
    version = string(entry.get("version"), f"version of {name!r}")
    dist = mapping(entry.get("dist") or {}, f"dist of {name!r}")
    source = mapping(entry.get("source") or {}, f"source of {name!r}")
    if optional_string(dist.get("type"), f"dist type of {name!r}") == "path":
        url = optional_string(dist.get("url"), f"dist url of {name!r}") or ""
        builder.skip(f"{name}: local path package {url[:200]}, the project's own code")
    elif version.startswith("dev-") or version.endswith("-dev"):
        commit = optional_string(source.get("reference"), f"source reference of {name!r}")
        note = f"development branch {version}" + (f" @ {commit}" if commit else "")
        builder.add(ECOSYSTEM, name, None, scope=scope, note=note)
    else:
        builder.add(ECOSYSTEM, name, version, scope=scope)
