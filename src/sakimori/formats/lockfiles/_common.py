"""What every lockfile parser shares: the head the sniffers read, typed access to decoded
documents, and the builder that deduplicates components and enforces the limits.

Conventions every parser follows (so that inventories from different formats compare):

- A package from a registry becomes a ``Component`` with its OSV ecosystem, the name as the
  ecosystem writes it, the pinned version, and a purl (``to_purl``) unless the file gives one.
- Third-party code from elsewhere (a git repository, a tarball URL) is still a component: its
  version is kept when the file states one, else ``None``, and ``note`` says where it came from.
- The project's own code (workspace members, local path dependencies, ``link:``/``file:``
  entries) is not a dependency: it goes to ``skipped`` with the reason, never silently dropped.
- ``scope`` is ``None`` for what the application needs at run time, ``"dev"`` for development
  and test dependencies, ``"optional"`` for optional or extra groups.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Final

from packageurl import PackageURL

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import Limits, check_components, check_size, decode_text
from sakimori.model.ecosystem import normalize_name, to_purl
from sakimori.model.inventory import Component, Inventory

#: How much of the input a sniffer reads.
HEAD_BYTES: Final = 8192

SCOPE_DEV: Final = "dev"
SCOPE_OPTIONAL: Final = "optional"

_BAD_NAME = re.compile(r"[\x00-\x1f\x7f]")
_BAD_VERSION = re.compile(r"[\s\x00-\x1f\x7f]")


def head_text(data: bytes) -> str:
    """The first few KB as text, for sniffing: never raises, a BOM and leading blanks removed."""
    return data[:HEAD_BYTES].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")


def read_text(data: bytes, limits: Limits) -> str:
    """The whole input as text, after the size check; ``MalformedDocument`` if not UTF-8."""
    check_size(data, limits)
    return decode_text(data)


def mapping(value: object, what: str) -> dict[str, object]:
    """``value`` as a dict with string keys, or ``MalformedDocument`` naming ``what`` (cut to 200
    characters, like every name quoted in an error: the input may be hostile)."""
    if not isinstance(value, dict):
        raise MalformedDocument(f"{what[:200]} must be an object, not {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise MalformedDocument(f"{what[:200]} has a key that is not a string: {key!r:.80}")
    return value


def sequence(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise MalformedDocument(f"{what[:200]} must be a list, not {_kind(value)}")
    return value


def string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise MalformedDocument(f"{what[:200]} must be a string, not {_kind(value)}")
    return value


def optional_string(value: object, what: str) -> str | None:
    return None if value is None else string(value, what)


def scalar(value: object, what: str) -> str:
    """A string, or a number written without quotes in YAML (``version: 2``), as text."""
    if isinstance(value, bool):
        raise MalformedDocument(f"{what[:200]} must be a string, not a boolean")
    if isinstance(value, int | float):
        return str(value)
    return string(value, what)


_PACKAGE_TABLE = re.compile(r"^\[\[package\]\]", re.MULTILINE)


def sniff_package_tables(data: bytes, marker: re.Pattern[str]) -> bool:
    """A TOML lockfile made of ``[[package]]`` tables (Cargo, Poetry, PDM, uv), told apart by
    ``marker``, a pattern only that tool writes."""
    head = head_text(data)
    return bool(_PACKAGE_TABLE.search(head)) and bool(marker.search(head))


def package_tables(document: dict[str, object]) -> Iterator[tuple[dict[str, object], str]]:
    """Each ``[[package]]`` table of a decoded TOML lockfile, with its (required) name."""
    for index, item in enumerate(sequence(document.get("package", []), "package")):
        entry = mapping(item, f"package #{index + 1}")
        yield entry, string(entry.get("name"), f"name of package #{index + 1}")


def _kind(value: object) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
    }.get(type(value), "null" if value is None else type(value).__name__)


class InventoryBuilder:
    """Collects components for one inventory: validates them, removes duplicates, counts them.

    The same package at the same version is kept once (lockfiles repeat nested copies, and
    several sections may list it); a run-time occurrence wins over a dev or optional one.
    """

    def __init__(self, fmt: str, limits: Limits) -> None:
        self._format = fmt
        self._limits = limits
        self._components: list[Component] = []
        self._index: dict[tuple[str | None, str, str | None, str | None], int] = {}
        self._skipped: list[str] = []
        self._includes: list[str] = []

    def add(
        self,
        ecosystem: str | None,
        name: str,
        version: str | None,
        *,
        scope: str | None = None,
        note: str | None = None,
        purl: str | None = None,
    ) -> None:
        name = name.strip()
        if not name or _BAD_NAME.search(name):
            raise MalformedDocument(f"package name {name!r:.80} is empty or has control characters")
        if version is not None:
            version = version.strip()
            if not version or _BAD_VERSION.search(version):
                raise MalformedDocument(
                    f"{name[:80]}: version {version!r:.80} is empty or has spaces"
                )
        key_name = normalize_name(ecosystem, name) if ecosystem else name
        key = (ecosystem, key_name, version, None if version else note)
        found = self._index.get(key)
        if found is not None:
            if scope is None and self._components[found].scope is not None:
                self._components[found] = replace(self._components[found], scope=None)
            return
        check_components(len(self._components) + 1, self._limits)
        if purl is None and ecosystem is not None:
            purl = build_purl(ecosystem, name, version)
        self._index[key] = len(self._components)
        self._components.append(
            Component(
                name=name,
                version=version,
                ecosystem=ecosystem,
                purl=purl,
                scope=scope,
                note=note,
            )
        )

    def skip(self, reason: str) -> None:
        check_components(len(self._skipped) + 1, self._limits)
        self._skipped.append(reason)

    def include(self, path: str) -> None:
        check_components(len(self._includes) + 1, self._limits)
        self._includes.append(path)

    def build(self) -> Inventory:
        return Inventory(
            format=self._format,
            components=tuple(self._components),
            skipped=tuple(self._skipped),
            includes=tuple(self._includes),
        )


def build_purl(ecosystem: str, name: str, version: str | None) -> str | None:
    """``to_purl``, with a name the purl library refuses reported as a broken document.

    packageurl-python raises ``ValueError`` for an empty name and ``TypeError`` for a name that
    is only a ``/``; both are the document's fault here.
    """
    try:
        return to_purl(ecosystem, name, version)
    except (ValueError, TypeError) as exc:
        raise MalformedDocument(
            f"{ecosystem} package {name!r:.80} has no valid purl: {exc}"
        ) from None


def purl_with(
    ptype: str,
    namespace: str | None,
    name: str,
    version: str | None,
    qualifiers: dict[str, str],
) -> str:
    """A purl with qualifiers (``arch``, ``upstream``), which ``to_purl`` does not take."""
    try:
        return str(
            PackageURL(
                type=ptype,
                namespace=namespace,
                name=name,
                version=version,
                qualifiers={k: v for k, v in qualifiers.items() if v} or None,
            )
        )
    except (ValueError, TypeError) as exc:
        raise MalformedDocument(f"package {name!r:.80} has no valid purl: {exc}") from None
