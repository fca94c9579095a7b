"""Maven's ``pom.xml``: the dependencies a project declares, without resolving the transitive
graph or fetching parent POMs.

Read: ``dependencies``, ``dependencyManagement`` and both of these inside ``profiles``.
Versions are interpolated from ``properties`` and the project model (``${project.version}``,
``${project.parent.version}``, ``${project.groupId}``…), repeatedly, so properties may refer to
properties. A dependency without a version takes the one its ``dependencyManagement`` gives.
A version that stays uninterpolated (its property lives in a parent POM we do not fetch), a
version range (``[1.0,2.0)``) or a missing version keeps the component, without a version and
with the reason in ``note``. A managed version of an artifact the project also declares is not
reported twice: the declared version is the one Maven uses for it. ``test`` scope is dev.
"""

from __future__ import annotations

import re
from typing import Final
from xml.etree.ElementTree import Element

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, parse_xml
from sakimori.formats.lockfiles._common import (
    SCOPE_DEV,
    SCOPE_OPTIONAL,
    InventoryBuilder,
    head_text,
)
from sakimori.model.inventory import Inventory

FORMAT: Final = "pom.xml"
ECOSYSTEM: Final = "Maven"

_ROOT = re.compile(r"<(\w+:)?project[\s>]")
_PROPERTY = re.compile(r"\$\{([^${}]+)\}")
_MAX_PASSES: Final = 10
_MAX_LENGTH: Final = 1000
_RANGE_CHARS = frozenset("[](),")


def sniff(data: bytes) -> bool:
    head = head_text(data)
    return head.startswith("<") and bool(_ROOT.search(head))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    root = parse_xml(data, limits)
    if _local(root.tag) != "project":
        raise MalformedDocument(f"the root element is <{_local(root.tag)[:40]}>, not <project>")
    properties = _properties(root)
    builder = InventoryBuilder(FORMAT, limits)
    parent = _child(root, "parent")
    if parent is not None:
        coordinates = ":".join(
            _text(parent, tag) or "?" for tag in ("groupId", "artifactId", "version")
        )
        builder.skip(f"parent POM {coordinates[:200]}: what it declares is not read here")

    scopes: list[tuple[Element, str]] = [(root, "")]
    scopes += [
        (profile, f"profile {_text(profile, 'id') or '?'}")
        for profile in _children(_child(root, "profiles"), "profile")
    ]
    declared: list[tuple[Element, str]] = []
    managed: list[tuple[Element, str]] = []
    for holder, where in scopes:
        declared += [(d, where) for d in _dependencies(_child(holder, "dependencies"))]
        management = _child(_child(holder, "dependencyManagement"), "dependencies")
        managed += [(d, where) for d in _dependencies(management)]

    managed_versions: dict[str, str] = {}
    for dependency, _ in managed:
        key, version = _key(dependency, properties), _text(dependency, "version")
        if key and version:
            managed_versions.setdefault(key, version)
    declared_keys: set[str] = set()
    for dependency, where in declared:
        key = _key(dependency, properties)
        if key is None:
            builder.skip(f"a dependency without groupId or artifactId {where}".strip())
            continue
        declared_keys.add(key)
        version = _text(dependency, "version") or managed_versions.get(key)
        _add(builder, key, version, properties, _scope(dependency), where)
    for dependency, where in managed:
        key = _key(dependency, properties)
        if key is None:
            builder.skip(f"a managed dependency without groupId or artifactId {where}".strip())
        elif key in declared_keys:
            version = _text(dependency, "version") or "?"
            builder.skip(f"{key[:200]} {version[:80]}: managed version, the declared one is used")
        else:
            context = f"dependencyManagement of {where}" if where else "dependencyManagement"
            _add(
                builder, key, _text(dependency, "version"), properties, _scope(dependency), context
            )
    return builder.build()


def _add(
    builder: InventoryBuilder,
    key: str,
    raw: str | None,
    properties: dict[str, str],
    scope: str | None,
    context: str,
) -> None:
    """``context`` says where the dependency was declared when not in the project's own list."""
    suffix = f" ({context})" if context else ""
    if raw is None:
        note = f"version not declared: it comes from a parent POM or a BOM{suffix}"
        builder.add(ECOSYSTEM, key, None, scope=scope, note=note)
        return
    version = interpolate(raw, properties)
    if "${" in version:
        note = f"version {raw[:200]} could not be interpolated{suffix}"
        builder.add(ECOSYSTEM, key, None, scope=scope, note=note)
    elif _RANGE_CHARS.intersection(version):
        note = f"version range {version[:200]}, not pinned{suffix}"
        builder.add(ECOSYSTEM, key, None, scope=scope, note=note)
    else:
        builder.add(ECOSYSTEM, key, version, scope=scope, note=context or None)


def interpolate(text: str, properties: dict[str, str]) -> str:
    """Replace each ``${name}`` by its property, pass after pass so that properties may refer to
    properties. Bounded: at most ``_MAX_PASSES`` passes and ``_MAX_LENGTH`` characters, so a
    cycle or a property that doubles at each pass ends with the text left uninterpolated."""
    for _ in range(_MAX_PASSES):
        if "${" not in text:
            break
        parts: list[str] = []
        size = last = 0
        for match in _PROPERTY.finditer(text):
            value = properties.get(match.group(1).strip(), match.group(0))
            parts += (text[last : match.start()], value)
            size += match.start() - last + len(value)
            last = match.end()
            if size > _MAX_LENGTH:
                return text
        parts.append(text[last:])
        replaced = "".join(parts)
        if replaced == text:
            break
        text = replaced
    return text


def _properties(root: Element) -> dict[str, str]:
    properties: dict[str, str] = {}
    parent = _child(root, "parent")
    for tag in ("groupId", "artifactId", "version"):
        parent_value = _text(parent, tag) if parent is not None else None
        value = _text(root, tag) or (parent_value if tag != "artifactId" else None)
        if parent_value:
            properties[f"project.parent.{tag}"] = parent_value
            properties[f"parent.{tag}"] = parent_value
        if value:
            properties[f"project.{tag}"] = value
            properties[f"pom.{tag}"] = value
            properties[tag] = value
    for element in _children(_child(root, "properties"), None):
        properties[_local(element.tag)] = (element.text or "").strip()
    return properties


def _key(dependency: Element, properties: dict[str, str]) -> str | None:
    group, artifact = _text(dependency, "groupId"), _text(dependency, "artifactId")
    if not group or not artifact:
        return None
    return f"{interpolate(group, properties)}:{interpolate(artifact, properties)}"


def _scope(dependency: Element) -> str | None:
    if (_text(dependency, "optional") or "").lower() == "true":
        return SCOPE_OPTIONAL
    return SCOPE_DEV if _text(dependency, "scope") == "test" else None


def _dependencies(holder: Element | None) -> list[Element]:
    return _children(holder, "dependency")


def _children(element: Element | None, tag: str | None) -> list[Element]:
    if element is None:
        return []
    return [child for child in element if tag is None or _local(child.tag) == tag]


def _child(element: Element | None, tag: str) -> Element | None:
    found = _children(element, tag)
    return found[0] if found else None


def _text(element: Element | None, tag: str) -> str | None:
    child = _child(element, tag)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
