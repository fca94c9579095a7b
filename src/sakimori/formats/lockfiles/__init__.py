"""Lockfile, manifest and OS package-database parsers: bytes in, ``Inventory`` out.

Each module reads one format and exposes ``FORMAT`` (the format's usual file name),
``sniff(data)`` (a cheap look at the first few KB; the file name is never needed) and
``parse(data, limits)``. ``PARSERS`` orders them so that the first module whose ``sniff`` says
yes is the right one: the most specific sniffers come first, ``requirements`` (a list of
``name==version`` lines looks like little else) comes last.

Common rules for every parser are in ``_common``'s docstring. All of them read untrusted input
through ``sakimori.formats.limits`` and raise only ``sakimori.errors.InvalidInput`` subclasses.
"""

from __future__ import annotations

from types import ModuleType
from typing import Protocol, cast

from sakimori.errors import UnsupportedFormat
from sakimori.formats.limits import DEFAULT_LIMITS, Limits
from sakimori.formats.lockfiles import (
    apk_installed,
    bun_lock,
    cabal_freeze,
    cargo_lock,
    composer_lock,
    deps_json,
    dpkg_status,
    gemfile_lock,
    go_mod,
    gradle_lock,
    maven_pom,
    npm_lock,
    nuget_config,
    nuget_lock,
    pdm_lock,
    pipfile_lock,
    pnpm_lock,
    podfile_lock,
    poetry_lock,
    requirements,
    stack_lock,
    swift_resolved,
    uv_lock,
    yarn_lock,
)
from sakimori.model.inventory import Inventory


class LockfileParser(Protocol):
    """What each module of this package provides."""

    @property
    def FORMAT(self) -> str: ...  # a module constant

    def sniff(self, data: bytes) -> bool: ...

    def parse(self, data: bytes, limits: Limits = ...) -> Inventory: ...


#: Most specific first. JSON formats by their distinctive keys, then TOML by their tables,
#: XML by the root element, YAML and line formats by their first lines, pip requirements last.
#: Typed as modules (``sakimori.formats.detect`` chains them with the SBOM modules); the tests
#: check that each one provides ``LockfileParser``.
PARSERS: tuple[ModuleType, ...] = (
    deps_json,
    swift_resolved,
    pipfile_lock,
    composer_lock,
    nuget_lock,
    bun_lock,
    npm_lock,
    cargo_lock,
    uv_lock,
    pdm_lock,
    poetry_lock,
    maven_pom,
    nuget_config,
    pnpm_lock,
    stack_lock,
    podfile_lock,
    gemfile_lock,
    dpkg_status,
    apk_installed,
    cabal_freeze,
    gradle_lock,
    go_mod,
    yarn_lock,
    requirements,
)


def detect(data: bytes) -> LockfileParser:
    """The first parser whose sniffer recognises ``data``, or ``UnsupportedFormat``."""
    for parser in PARSERS:
        if parser.sniff(data):
            return cast(LockfileParser, parser)
    raise UnsupportedFormat(
        "not a lockfile, manifest or package database we read",
        hint="supported: " + ", ".join(parser.FORMAT for parser in PARSERS),
    )


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    """Detect the format of ``data`` and parse it."""
    return detect(data).parse(data, limits)


__all__ = ["PARSERS", "LockfileParser", "detect", "parse"]
