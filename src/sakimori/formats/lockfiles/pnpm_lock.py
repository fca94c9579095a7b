"""pnpm's ``pnpm-lock.yaml`` (YAML), lockfileVersion 5.x, 6.x and 9.x.

Each key of ``packages`` names one resolved package: ``/name/1.2.3`` (v5, peer suffix after
``_``), ``/name@1.2.3(peer@2.0.0)`` (v6), ``name@1.2.3`` (v9, peer suffixes only under
``snapshots``). An entry that is not from the registry (git, tarball) carries ``name`` and
``version`` fields and a ``resolution`` saying where it came from. ``file:`` and ``link:``
entries are the project's own code and are skipped. v5 and v6 entries say ``dev: true`` and
``optional: true``; v9 moved that to the importers, so v9 components have no scope.
See https://github.com/pnpm/spec/tree/master/lockfile.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_yaml
from sakimori.formats.lockfiles import _npm
from sakimori.formats.lockfiles._common import (
    SCOPE_DEV,
    SCOPE_OPTIONAL,
    InventoryBuilder,
    head_text,
    mapping,
    optional_string,
    scalar,
)
from sakimori.model.inventory import Inventory

FORMAT: Final = "pnpm-lock.yaml"

_MARK = re.compile(r"^lockfileVersion: ?['\"]?\d", re.MULTILINE)


def sniff(data: bytes) -> bool:
    return bool(_MARK.search(head_text(data)))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    document = mapping(load_yaml(data, limits), "pnpm-lock.yaml")
    builder = InventoryBuilder(FORMAT, limits)
    major = _major(scalar(document.get("lockfileVersion"), "lockfileVersion"))
    packages = document.get("packages")
    if packages is None:
        packages = document.get("snapshots", {})
    for key, item in mapping(packages, "packages").items():
        entry = mapping(item if item is not None else {}, f"package {key[:80]!r}")
        _add(builder, key, entry, major)
    return builder.build()


def _major(version: str) -> int:
    head = version.split(".", 1)[0]
    if not head.isdigit():
        raise MalformedDocument(f"lockfileVersion {version[:40]!r} is not a number")
    return int(head)


def _add(builder: InventoryBuilder, key: str, entry: dict[str, object], major: int) -> None:
    scope = None
    if entry.get("dev") is True:
        scope = SCOPE_DEV
    elif entry.get("optional") is True:
        scope = SCOPE_OPTIONAL
    name_field = optional_string(entry.get("name"), f"name of {key[:80]!r}")
    version_value = entry.get("version")
    version_field = None if version_value is None else scalar(version_value, "version")
    path = key.removeprefix("/")
    if path.startswith(("file:", "link:")) or "@file:" in path or "@link:" in path:
        builder.skip(f"{key[:200]}: local dependency, the project's own code")
        return
    resolution = mapping(entry.get("resolution") or {}, f"resolution of {key[:80]!r}")
    source = _source(resolution, key)
    if name_field and version_field:
        if source is None:
            _npm.add_package(builder, name_field, version_field, scope=scope)
        else:
            builder.add(_npm.ECOSYSTEM, name_field, version_field, scope=scope, note=source)
        return
    name, version = _split_key(path, major)
    if not name or not version:
        raise MalformedDocument(f"package key {key[:80]!r} names no package and version")
    if source is not None and not _npm.is_version(version):
        builder.add(_npm.ECOSYSTEM, name, None, scope=scope, note=source)
    else:
        _npm.add_package(builder, name, version, scope=scope)


def _split_key(path: str, major: int) -> tuple[str, str]:
    if major >= 6:
        name, version = _npm.split_spec(path.split("(", 1)[0])
        return name, version
    name, _, version = path.rpartition("/")
    return name, version.split("_", 1)[0]


def _source(resolution: dict[str, object], key: str) -> str | None:
    """Where a package not from the registry came from, or ``None`` for the registry."""
    repo = optional_string(resolution.get("repo"), f"repo of {key[:80]!r}")
    if repo:
        commit = optional_string(resolution.get("commit"), f"commit of {key[:80]!r}")
        return f"git dependency {repo}" + (f" @ {commit}" if commit else "")
    tarball = optional_string(resolution.get("tarball"), f"tarball of {key[:80]!r}")
    if tarball:
        return f"tarball dependency {tarball}"
    return None
