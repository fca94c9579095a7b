"""Pipenv's ``Pipfile.lock`` (JSON): ``default`` and ``develop`` sections, and any other
package category (pipenv >= 2023.2), each mapping a name to ``{"version": "==1.2.3", ...}``.

An entry without a version is a git, path or URL install: a git one is reported without a
version and with its source in ``note``; a local path or an editable local install is skipped.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json
from sakimori.formats.lockfiles._common import (
    SCOPE_DEV,
    SCOPE_OPTIONAL,
    InventoryBuilder,
    head_text,
    mapping,
    optional_string,
)
from sakimori.model.inventory import Inventory

FORMAT: Final = "Pipfile.lock"
ECOSYSTEM: Final = "PyPI"

_META = re.compile(r'"_meta"\s*:\s*\{')
_SPEC = re.compile(r'"pipfile-spec"\s*:|"(default|develop)"\s*:\s*\{')


def sniff(data: bytes) -> bool:
    head = head_text(data)
    return head.startswith("{") and bool(_META.search(head)) and bool(_SPEC.search(head))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    document = mapping(load_json(data, limits), "Pipfile.lock")
    builder = InventoryBuilder(FORMAT, limits)
    for category, section in document.items():
        if category == "_meta":
            continue
        scope = {"default": None, "develop": SCOPE_DEV}.get(category, SCOPE_OPTIONAL)
        for name, entry in mapping(section, f"section {category!r}").items():
            _add(builder, name, mapping(entry, f"package {name!r}"), scope)
    return builder.build()


def _add(builder: InventoryBuilder, name: str, entry: dict[str, object], scope: str | None) -> None:
    version = optional_string(entry.get("version"), f"version of {name!r}")
    if version is not None and version.startswith("=="):
        builder.add(ECOSYSTEM, name, version.lstrip("="), scope=scope)
        return
    git = optional_string(entry.get("git"), f"git of {name!r}")
    ref = optional_string(entry.get("ref"), f"ref of {name!r}")
    if git:
        note = f"git dependency {git}" + (f" @ {ref}" if ref else "")
        builder.add(ECOSYSTEM, name, None, scope=scope, note=note)
        return
    for key in ("path", "file"):
        where = optional_string(entry.get(key), f"{key} of {name!r}")
        if where:
            builder.skip(f"{name}: local or URL install {where[:200]}, not a registry package")
            return
    builder.skip(f"{name}: no pinned version ({version or 'none'})")
