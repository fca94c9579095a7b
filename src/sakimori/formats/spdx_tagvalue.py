"""SPDX 2.x tag-value documents (``SPDXVersion: SPDX-2.3``, ``PackageName: …`` lines).

API: ``FORMAT = "spdx-tag-value"``, ``sniff(data)``, ``parse(data, limits)``, and ``READERS``
with that one triple (the same shape as the other format modules).

The format is a sequence of ``Tag: value`` lines; ``#`` starts a comment line; a value may span
lines between ``<text>`` and ``</text>``. A package starts at ``PackageName`` and its fields
(``SPDXID``, ``PackageVersion``, ``ExternalRef: CATEGORY TYPE LOCATOR``) follow until the next
``PackageName``, ``FileName``, ``SnippetSPDXID`` or ``LicenseID``. Tags we do not use (licences,
checksums, relationships, annotations) are skipped. A line that is not ``Tag: value``, an
unclosed ``<text>``, or a package field outside a package is a ``MalformedDocument`` naming the
line. Packages become components exactly as in the JSON serialisation
(``sakimori.formats.spdx.package_component``); files and snippets are counted in ``skipped``.

The sniffer shares ``sakimori.formats.spdx.key_style`` with the YAML sniffer, which tells
PascalCase tags from camelCase YAML keys, so the two never both claim a document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from sakimori.errors import MalformedDocument, UnsupportedFormat
from sakimori.formats.limits import (
    DEFAULT_LIMITS,
    Limits,
    check_components,
    check_size,
    decode_text,
)
from sakimori.formats.spdx import head, key_style, not_components, package_component, ref_kind
from sakimori.model.inventory import Component, Inventory

FORMAT: Final = "spdx-tag-value"

_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_EVIDENCE = re.compile(rb"^SPDXVersion:[ \t]*SPDX-|SPDXRef-", re.MULTILINE)
_OPEN, _CLOSE = "<text>", "</text>"
#: Tags that end the current package's section.
_SECTION_TAGS: Final = frozenset({"FileName", "SnippetSPDXID", "LicenseID"})


def sniff(data: bytes) -> bool:
    """``Tag: value`` lines (``SPDXVersion:``…) with SPDX identifiers near the start."""
    start = head(data)
    return key_style(start) == "tag-value" and _EVIDENCE.search(start) is not None


def _entries(text: str) -> Iterator[tuple[int, str, str]]:
    """``(line number, tag, value)`` for each entry, with ``<text>`` values joined."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        tag, colon, value = line.partition(":")
        tag, value = tag.strip(), value.strip()
        if not colon or not _TAG.fullmatch(tag):
            raise MalformedDocument(f"line {number}: expected 'Tag: value', found {line[:60]!r}")
        if value.startswith(_OPEN):
            parts = [value[len(_OPEN) :]]
            while _CLOSE not in parts[-1]:
                if index >= len(lines):
                    raise MalformedDocument(f"line {number}: {_OPEN} of {tag} is never closed")
                parts.append(lines[index])
                index += 1
            value = "\n".join(parts)
            value = value[: value.index(_CLOSE)].strip()
        yield number, tag, value


@dataclass(slots=True)
class _Package:
    line: int
    name: str
    version: str | None = None
    spdx_id: str | None = None
    purls: list[str] = field(default_factory=list)
    cpe23: list[str] = field(default_factory=list)
    cpe22: list[str] = field(default_factory=list)

    def add_ref(self, number: int, value: str) -> None:
        parts = value.split(None, 2)
        if len(parts) != 3:
            raise MalformedDocument(
                f"line {number}: ExternalRef is 'CATEGORY TYPE LOCATOR', found {value[:60]!r}"
            )
        found = ref_kind(parts[1])
        if found == "purl":
            self.purls.append(parts[2].strip())
        elif found == "cpe23":
            self.cpe23.append(parts[2].strip())
        elif found == "cpe22":
            self.cpe22.append(parts[2].strip())

    def component(self) -> Component:
        return package_component(
            where=f"line {self.line}: package",
            name=self.name or None,
            version=self.version or None,
            purls=self.purls,
            cpes=self.cpe23 + self.cpe22,
            spdx_id=self.spdx_id or None,
        )


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    """Read an SPDX 2.x tag-value document."""
    check_size(data, limits)
    spdx_version: str | None = None
    packages: list[_Package] = []
    current: _Package | None = None
    files = snippets = 0
    for number, tag, value in _entries(decode_text(data)):
        if tag == "SPDXVersion":
            spdx_version = spdx_version or value
        elif tag == "PackageName":
            current = _Package(number, value)
            packages.append(current)
            check_components(len(packages), limits)
        elif tag in _SECTION_TAGS:
            current = None
            files += tag == "FileName"
            snippets += tag == "SnippetSPDXID"
        elif tag in {"PackageVersion", "ExternalRef"} and current is None:
            raise MalformedDocument(f"line {number}: {tag} outside a package")
        elif current is None:
            continue
        elif tag == "SPDXID":
            current.spdx_id = current.spdx_id or value
        elif tag == "PackageVersion":
            current.version = current.version or value
        elif tag == "ExternalRef":
            current.add_ref(number, value)
    if spdx_version is None:
        raise MalformedDocument("SPDX tag-value document without SPDXVersion")
    if not spdx_version.startswith("SPDX-2."):
        raise UnsupportedFormat(f"{spdx_version[:40]} is not SPDX 2.x")
    return Inventory(
        format=FORMAT,
        components=tuple(package.component() for package in packages),
        skipped=not_components(files, snippets),
    )


#: ``(format, sniff, parse)``: the one serialisation this module reads.
Reader = tuple[str, Callable[[bytes], bool], Callable[[bytes, Limits], Inventory]]
READERS: Final[tuple[Reader, ...]] = ((FORMAT, sniff, parse),)
