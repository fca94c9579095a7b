"""Gradle's dependency lock file ``gradle.lockfile`` (and the per-configuration
``gradle/dependency-locks/*.lockfile``): one ``group:artifact:version=configurations`` a line.

``empty=…`` lists configurations without dependencies. A dependency locked only for test
configurations (``testCompileClasspath``…) is dev scope.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits
from sakimori.formats.lockfiles._common import (
    HEAD_BYTES,
    SCOPE_DEV,
    InventoryBuilder,
    head_text,
    read_text,
)
from sakimori.model.inventory import Inventory

FORMAT: Final = "gradle.lockfile"
ECOSYSTEM: Final = "Maven"

_LINE = re.compile(r"([^\s:=#]+):([^\s:=]+):([^\s:=]+)=([^\s=]*)")
_EMPTY = re.compile(r"empty=[^\s=]*")
_SNIFF_LINES: Final = 20


def sniff(data: bytes) -> bool:
    lines = head_text(data).splitlines()
    if len(data) > HEAD_BYTES:
        lines = lines[:-1]  # the last line may be cut in the middle
    seen = 0
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not (_LINE.fullmatch(line) or _EMPTY.fullmatch(line)):
            return False
        seen += 1
        if seen >= _SNIFF_LINES:
            break
    return seen > 0


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    builder = InventoryBuilder(FORMAT, limits)
    for number, line in enumerate(read_text(data, limits).splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#") or _EMPTY.fullmatch(line):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise MalformedDocument(
                f"line {number}: {line[:80]!r} is not 'group:artifact:version='"
            )
        group, artifact, version, configurations = match.groups()
        names = [name for name in configurations.split(",") if name]
        dev = bool(names) and all(name.startswith("test") for name in names)
        builder.add(ECOSYSTEM, f"{group}:{artifact}", version, scope=SCOPE_DEV if dev else None)
    return builder.build()
