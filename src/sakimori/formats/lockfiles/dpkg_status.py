"""Debian's dpkg database, ``/var/lib/dpkg/status``: one stanza per package, RFC 822 style.

Only packages whose state (the third word of ``Status``) is ``installed`` are reported: a package
on hold (``hold ok installed``) or marked for removal but still there is installed too; a
removed package that left its configuration (``deinstall ok config-files``) is not, and goes to
``skipped``. The source package and its version (``Source: glibc (2.36-9)``; the binary's own
name and version when absent), which Debian advisories are written against, are in ``note`` and
in the purl's ``upstream`` qualifier. The status file does not say the Debian release.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits
from sakimori.formats.lockfiles._common import InventoryBuilder, head_text, purl_with, read_text
from sakimori.model.inventory import Inventory

FORMAT: Final = "dpkg-status"
ECOSYSTEM: Final = "Debian"

_PACKAGE = re.compile(r"\APackage: ?\S+\s*$", re.MULTILINE)
_STATUS = re.compile(r"^Status: ?\S+ \S+ \S+\s*$", re.MULTILINE)
_FIELD = re.compile(r"([!-9;-~][!-9;-~]*):[ \t]*(.*)")
_SOURCE = re.compile(r"(\S+)(?:\s+\((\S+)\))?")


def sniff(data: bytes) -> bool:
    head = head_text(data)
    return bool(_PACKAGE.search(head)) and bool(_STATUS.search(head))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    builder = InventoryBuilder(FORMAT, limits)
    stanzas = 0
    for number, fields in stanzas_of(read_text(data, limits)):
        stanzas += 1
        name = fields.get("Package")
        if not name:
            raise MalformedDocument(f"the stanza at line {number} has no Package field")
        status = fields.get("Status", "").split()
        if len(status) != 3:
            raise MalformedDocument(
                f"{name[:80]}: Status {fields.get('Status', '')[:80]!r} is not valid"
            )
        if status[2] != "installed":
            builder.skip(f"{name}: not installed ({' '.join(status)})")
            continue
        version = fields.get("Version")
        if not version:
            raise MalformedDocument(f"{name[:80]}: an installed package without a Version")
        source_field = fields.get("Source", name)
        source = _SOURCE.fullmatch(source_field)
        if source is None:
            raise MalformedDocument(f"{name[:80]}: Source {source_field[:80]!r} is not valid")
        source_name, source_version = source.group(1), source.group(2) or version
        # syft's convention: "upstream=glibc", or "glibc@2.36-9" when the versions differ.
        upstream = source_name if source_version == version else f"{source_name}@{source_version}"
        arch = fields.get("Architecture", "")
        purl = purl_with("deb", "debian", name, version, {"arch": arch, "upstream": upstream})
        note = f"source package {source_name} {source_version}"
        builder.add(ECOSYSTEM, name, version, purl=purl, note=note)
    if not stanzas:
        raise MalformedDocument("no package stanza")
    return builder.build()


def stanzas_of(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(first line number, fields) per stanza; continuation lines are kept out of the values."""
    fields: dict[str, str] = {}
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if fields:
                yield start, fields
            fields = {}
            continue
        if line[0] in " \t":
            if not fields:
                raise MalformedDocument(f"line {number}: a continuation line outside a field")
            continue
        match = _FIELD.fullmatch(line)
        if match is None:
            raise MalformedDocument(f"line {number}: {line[:80]!r} is not 'Field: value'")
        if not fields:
            start = number
        fields[match.group(1)] = match.group(2).strip()
    if fields:
        yield start, fields
