"""npm package specifiers as the npm-family lockfiles write them (npm, yarn, pnpm, bun).

A lockfile entry says ``name@spec``; the spec is a version (``1.2.3``), an alias
(``npm:real-name@1.2.3``), a local protocol (``file:``, ``link:``, ``workspace:``…), a git
source or a tarball URL. ``add_package`` turns one into a component or a skip reason.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.formats.lockfiles._common import InventoryBuilder

ECOSYSTEM: Final = "npm"

_VERSION = re.compile(r"v?\d+(\.\d+)*([-+][0-9A-Za-z.+-]*)?")
_LOCAL = ("file:", "link:", "workspace:", "portal:", "exec:")
_GIT = ("git+", "git:", "git@", "github:", "gitlab:", "bitbucket:", "gist:", "ssh://")
_MAX_ALIAS_DEPTH: Final = 4


def split_spec(key: str) -> tuple[str, str]:
    """``@scope/name@range`` -> (``@scope/name``, ``range``); a bare name has an empty range."""
    at = key.find("@", 1)
    if at < 0:
        return key, ""
    return key[:at], key[at + 1 :]


def is_version(spec: str) -> bool:
    return _VERSION.fullmatch(spec) is not None


def add_package(
    builder: InventoryBuilder,
    name: str,
    spec: str,
    *,
    scope: str | None = None,
    version: str | None = None,
) -> None:
    """Add ``name`` resolved as ``spec``; ``version`` is the one the file states, if any."""
    for _ in range(_MAX_ALIAS_DEPTH):
        if not spec.startswith("npm:"):
            break
        name, spec = split_spec(spec[4:])
    if spec.startswith(_LOCAL):
        builder.skip(f"{name}: local dependency {spec}")
    elif is_version(spec):
        builder.add(ECOSYSTEM, name, spec, scope=scope)
    elif spec.startswith(_GIT) or ".git#" in spec or spec.endswith(".git"):
        builder.add(ECOSYSTEM, name, version, scope=scope, note=f"git dependency {spec}")
    elif spec.startswith(("http://", "https://")):
        builder.add(ECOSYSTEM, name, version, scope=scope, note=f"tarball dependency {spec}")
    else:
        builder.add(ECOSYSTEM, name, version, scope=scope, note=f"not a pinned version: {spec}")
