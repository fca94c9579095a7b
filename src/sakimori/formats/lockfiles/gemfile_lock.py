"""Bundler's ``Gemfile.lock`` and ``gems.locked`` (the same format).

Source sections (``GEM``, ``GIT``, ``PATH``, ``PLUGIN SOURCE``) list their gems under
``specs:`` as ``    name (version[-platform])``; the platform suffix (``-x86_64-linux``) is not
part of the version, so a gem locked for several platforms is one component. Gems from a
``GIT`` source keep their version with the revision in ``note``; ``PATH`` gems are the
project's own code and are skipped. The other sections (``PLATFORMS``, ``DEPENDENCIES``,
``RUBY VERSION``, ``BUNDLED WITH``, ``CHECKSUMS``) add no package.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits
from sakimori.formats.lockfiles._common import InventoryBuilder, head_text, read_text
from sakimori.model.inventory import Inventory

FORMAT: Final = "Gemfile.lock"
ECOSYSTEM: Final = "RubyGems"

_SOURCES = frozenset({"GEM", "GIT", "PATH", "PLUGIN SOURCE"})
_MARK = re.compile(
    r"^(GEM|GIT|PATH|PLUGIN SOURCE)\r?\n  (remote|revision|specs|glob|ref|branch|tag):",
    re.MULTILINE,
)
# Bundler's own rule: the version is what precedes the first "-", the platform what follows.
_SPEC = re.compile(r" {4}([^ ()]+) \(([^-()]*)(?:-([^()]*))?\)")
_OPTION = re.compile(r" {2}([a-z_]+): ?(.*)")


def sniff(data: bytes) -> bool:
    return bool(_MARK.search(head_text(data)))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    builder = InventoryBuilder(FORMAT, limits)
    section = ""
    options: dict[str, str] = {}
    in_specs = False
    sources = 0
    for number, line in enumerate(read_text(data, limits).splitlines(), start=1):
        line = line.rstrip()
        if not line:
            continue
        if not line.startswith(" "):
            section, options, in_specs = line, {}, False
            sources += section in _SOURCES
            continue
        if section not in _SOURCES:
            continue
        option = _OPTION.fullmatch(line)
        if option is not None:
            options[option.group(1)] = option.group(2)
            in_specs = option.group(1) == "specs"
            continue
        if not in_specs or line.startswith("      "):
            continue  # a dependency of the gem above, or an option we do not need
        spec = _SPEC.fullmatch(line)
        if spec is None:
            raise MalformedDocument(f"line {number}: {line.strip()[:80]!r} is not 'name (version)'")
        _add(builder, section, options, spec.group(1), spec.group(2))
    if not sources:
        raise MalformedDocument("no GEM, GIT or PATH section")
    return builder.build()


def _add(
    builder: InventoryBuilder, section: str, options: dict[str, str], name: str, version: str
) -> None:
    remote = options.get("remote", "")
    if section == "PATH":
        builder.skip(
            f"{name} {version}: from the local path {remote[:200]}, the project's own code"
        )
    elif section == "GIT":
        revision = options.get("revision", "")
        note = f"git dependency {remote}" + (f" @ {revision}" if revision else "")
        builder.add(ECOSYSTEM, name, version, note=note)
    elif section == "PLUGIN SOURCE":
        builder.add(ECOSYSTEM, name, version, note=f"from the plugin source {remote}")
    else:
        builder.add(ECOSYSTEM, name, version)
