"""Limits on untrusted input, and loaders for JSON, YAML, TOML and XML that enforce them.

Every parser in ``sakimori.formats`` reads untrusted bytes through these loaders, so that size,
nesting depth, node count (which also stops YAML alias bombs), DTDs and entity expansion are
handled in one place. They raise only our own errors (``sakimori.errors``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import orjson
import yaml
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as _defused_fromstring

from sakimori.errors import LimitExceeded, MalformedDocument


@dataclass(frozen=True, slots=True)
class Limits:
    """Safe limits for one input document. The defaults suit a national-scale SBOM."""

    max_bytes: int = 256 * 1024 * 1024
    max_depth: int = 200
    max_nodes: int = 20_000_000
    max_components: int = 1_000_000
    #: Archives (OSV ``all.zip``): total uncompressed bytes, per-member ratio, member count.
    max_archive_bytes: int = 8 * 1024 * 1024 * 1024
    max_archive_ratio: int = 200
    max_archive_members: int = 2_000_000


DEFAULT_LIMITS = Limits()


def check_size(data: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
    if len(data) > limits.max_bytes:
        raise LimitExceeded(
            f"input is {len(data):,} bytes, more than the limit of {limits.max_bytes:,}",
            hint="raise SAKIMORI_MAX_INPUT_BYTES if the file is genuine",
        )


def check_tree(value: object, limits: Limits = DEFAULT_LIMITS) -> None:
    """Walk a decoded document level by level, without recursion; refuse it if too deep or large.

    Shared sub-objects (YAML aliases) are counted every time they are reached, so an alias bomb
    hits ``max_nodes`` instead of exhausting memory later.
    """
    level: list[object] = [value]
    nodes = 0
    depth = 0
    while level:
        depth += 1
        nodes += len(level)
        if nodes > limits.max_nodes:
            raise LimitExceeded(f"document has more than {limits.max_nodes:,} values")
        if depth > limits.max_depth:
            raise LimitExceeded(f"document is nested deeper than {limits.max_depth} levels")
        below: list[object] = []
        budget = limits.max_nodes - nodes  # stop building the next level once it is too big
        for item in level:
            if isinstance(item, dict):
                below.extend(item.values())
            elif isinstance(item, list):
                below.extend(item)
            else:
                continue
            if len(below) > budget:
                raise LimitExceeded(f"document has more than {limits.max_nodes:,} values")
        level = below


def load_json(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Decode JSON. JSON has no aliases, so the value is never larger than the (size-checked)
    input, and orjson refuses nesting beyond 1,024 levels; no further walk is needed (walking a
    2 MB SBOM would cost more than decoding it). Consumers traverse iteratively."""
    check_size(data, limits)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc).lower() or "recursion" in str(exc).lower():
            raise LimitExceeded("JSON document is nested deeper than 1,024 levels") from None
        raise MalformedDocument(f"invalid JSON: {exc}") from None


class _NoAliasLoader(yaml.CSafeLoader):
    """libyaml's safe loader; aliases are counted by ``check_tree`` after loading."""


def load_yaml(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    check_size(data, limits)
    try:
        value = yaml.load(data, Loader=_NoAliasLoader)  # noqa: S506 - a subclass of CSafeLoader
    except yaml.YAMLError as exc:
        raise MalformedDocument(f"invalid YAML: {_first_line(str(exc))}") from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise MalformedDocument(f"invalid YAML: {exc}") from None
    check_tree(value, limits)
    return value


def load_toml(data: bytes, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    check_size(data, limits)
    try:
        value = tomllib.loads(decode_text(data))
    except tomllib.TOMLDecodeError as exc:
        raise MalformedDocument(f"invalid TOML: {exc}") from None
    except RecursionError:
        raise LimitExceeded("TOML document is nested too deeply") from None
    check_tree(value, limits)
    return value


def parse_xml(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Element:
    """Parse XML with no DTD at all (so no entity of any kind is ever expanded)."""
    check_size(data, limits)
    try:
        root: Element = _defused_fromstring(data, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException as exc:
        raise MalformedDocument(
            f"XML with a DTD or entity declarations is refused ({type(exc).__name__})",
            hint="remove the DOCTYPE; SBOMs never need one",
        ) from None
    except ParseError as exc:
        raise MalformedDocument(f"invalid XML: {exc}") from None
    except (LookupError, ValueError, UnicodeError) as exc:  # e.g. encoding="rot13" in the prolog
        raise MalformedDocument(f"XML that cannot be decoded: {exc}") from None
    depth_stack: list[tuple[Element, int]] = [(root, 1)]
    nodes = 0
    while depth_stack:
        element, depth = depth_stack.pop()
        nodes += 1
        if depth > limits.max_depth:
            raise LimitExceeded(f"XML is nested deeper than {limits.max_depth} levels")
        if nodes > limits.max_nodes:
            raise LimitExceeded(f"XML has more than {limits.max_nodes:,} elements")
        depth_stack.extend((child, depth + 1) for child in element)
    return root


def decode_text(data: bytes) -> str:
    """Decode UTF-8 text (a BOM is allowed); refuse anything else with a clear message."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedDocument(
            f"not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r})"
        ) from None


def check_components(count: int, limits: Limits = DEFAULT_LIMITS) -> None:
    if count > limits.max_components:
        raise LimitExceeded(
            f"inventory has {count:,} components, more than the limit of {limits.max_components:,}"
        )


def _first_line(text: str) -> str:
    return " ".join(text.split())
