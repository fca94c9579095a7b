"""Yarn's ``yarn.lock``: the classic v1 format and the YAML of Yarn Berry (v2 and later).

v1 is its own indented format: an unindented header lists the requested specifiers
(``"a@^1.0.0", a@^1.1.0:``), the indented fields below give ``version`` and ``resolved``.
Berry is YAML with a ``__metadata`` entry; each entry's ``resolution`` (``a@npm:1.2.3``) names
the package actually installed, so aliases resolve to the real name. ``workspace:``, ``link:``,
``portal:`` and ``file:`` resolutions are the project's own code and are skipped; a ``patch:``
resolution is the patched registry package, reported with a note.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_yaml
from sakimori.formats.lockfiles import _npm
from sakimori.formats.lockfiles._common import (
    InventoryBuilder,
    head_text,
    mapping,
    optional_string,
    read_text,
    scalar,
)
from sakimori.model.inventory import Inventory

FORMAT: Final = "yarn.lock"

_V1_MARK = re.compile(r"^# yarn lockfile v1\s*$", re.MULTILINE)
_BERRY_MARK = re.compile(r"^__metadata:\s*$", re.MULTILINE)
_ENTRY = re.compile(r'^"?[^\s#"][^\n]*:\r?\n  (version|resolution)[ :]', re.MULTILINE)
_V1_FIELD = re.compile(r'  ([A-Za-z]+)[ \t]+"?([^"\r\n]*)"?[ \t]*')


def sniff(data: bytes) -> bool:
    head = head_text(data)
    return bool(_V1_MARK.search(head) or _BERRY_MARK.search(head) or _ENTRY.search(head))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    text = read_text(data, limits)
    builder = InventoryBuilder(FORMAT, limits)
    if _BERRY_MARK.search(text[:65536]):
        _parse_berry(builder, data, limits)
    else:
        _parse_v1(builder, text)
    return builder.build()


def _parse_v1(builder: InventoryBuilder, text: str) -> None:
    header: str | None = None
    fields: dict[str, str] = {}
    entries = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            if header is not None:
                _add_v1(builder, header, fields)
                entries += 1
            if not line.rstrip().endswith(":"):
                raise MalformedDocument(f"line {number}: an entry header must end with ':'")
            header, fields = line.rstrip()[:-1], {}
        elif header is None:
            raise MalformedDocument(f"line {number}: an indented line before any entry")
        elif not line.startswith("   "):
            match = _V1_FIELD.fullmatch(line.rstrip())
            if match:
                fields[match.group(1)] = match.group(2)
    if header is not None:
        _add_v1(builder, header, fields)
        entries += 1
    if not entries and text.strip() and not _V1_MARK.search(text):
        raise MalformedDocument("no yarn.lock entry found")


def _add_v1(builder: InventoryBuilder, header: str, fields: dict[str, str]) -> None:
    first = header.split(",", 1)[0].strip().strip('"')
    name, spec = _npm.split_spec(first)
    if spec.startswith("npm:"):
        name, spec = _npm.split_spec(spec[4:])
    version = fields.get("version")
    if not name:
        raise MalformedDocument(f"entry {header[:80]!r} has no package name")
    if version is None:
        raise MalformedDocument(f"entry {header[:80]!r} has no version")
    resolved = fields.get("resolved", "")
    if spec.startswith(("file:", "link:", "portal:", "workspace:")):
        builder.skip(f"{name}: local dependency {spec[:200]}")
    elif (resolved and not resolved.startswith(("http://", "https://"))) or _is_git(spec):
        _npm.add_package(builder, name, resolved or spec, version=version)
    else:
        _npm.add_package(builder, name, version)


def _is_git(spec: str) -> bool:
    return spec.startswith(("git+", "git:", "github:", "ssh://")) or ".git#" in spec


def _parse_berry(builder: InventoryBuilder, data: bytes, limits: Limits) -> None:
    document = mapping(load_yaml(data, limits), "yarn.lock")
    for key, item in document.items():
        if key == "__metadata":
            continue
        entry = mapping(item, f"entry {key[:80]!r}")
        resolution = optional_string(entry.get("resolution"), f"resolution of {key[:80]!r}")
        version_field = entry.get("version")
        version = None if version_field is None else scalar(version_field, "version")
        name, spec = _npm.split_spec(resolution or key.split(",", 1)[0].strip())
        protocol, _, rest = spec.partition(":")
        if not name or not rest:
            raise MalformedDocument(f"entry {key[:80]!r}: resolution {spec[:80]!r} is not valid")
        if protocol == "npm":
            # The resolution's own version is exact; the YAML "version" may have been a number.
            _npm.add_package(builder, name, unquote(rest))
        elif protocol == "patch":
            inner = unquote(rest.split("#", 1)[0])
            inner_name, inner_spec = _npm.split_spec(inner)
            inner_version = inner_spec.removeprefix("npm:")
            if _npm.is_version(inner_version):
                builder.add(
                    _npm.ECOSYSTEM, inner_name or name, inner_version, note="patched locally"
                )
            else:
                builder.skip(f"{name}: patch of {inner[:200]}, not a registry package")
        elif protocol in {"workspace", "link", "portal", "file", "exec"}:
            builder.skip(f"{name}: {protocol}: {rest[:200]}, the project's own code")
        else:
            _npm.add_package(builder, name, spec, version=version)
