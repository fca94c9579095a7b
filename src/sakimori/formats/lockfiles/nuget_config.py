"""NuGet's ``packages.config`` (XML, the pre-PackageReference format): one
``<package id="…" version="…"/>`` per package. ``developmentDependency="true"`` is dev scope.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, parse_xml
from sakimori.formats.lockfiles._common import SCOPE_DEV, InventoryBuilder, head_text
from sakimori.model.inventory import Inventory

FORMAT: Final = "packages.config"
ECOSYSTEM: Final = "NuGet"

_ROOT = re.compile(r"<packages[\s>/]")
_PACKAGE = re.compile(r"<package\s")


def sniff(data: bytes) -> bool:
    head = head_text(data)
    return head.startswith("<") and bool(_ROOT.search(head)) and bool(_PACKAGE.search(head))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    root = parse_xml(data, limits)
    if _local(root.tag) != "packages":
        raise MalformedDocument(f"the root element is <{_local(root.tag)[:40]}>, not <packages>")
    builder = InventoryBuilder(FORMAT, limits)
    for index, element in enumerate(root, start=1):
        if _local(element.tag) != "package":
            continue
        name = element.get("id")
        version = element.get("version")
        if not name:
            raise MalformedDocument(f"<package> #{index} has no id")
        if not version:
            raise MalformedDocument(f"<package id={name[:80]!r}> has no version")
        dev = element.get("developmentDependency", "").lower() == "true"
        builder.add(ECOSYSTEM, name, version, scope=SCOPE_DEV if dev else None)
    return builder.build()


def _local(tag: object) -> str:
    """The tag without its ``{namespace}``; comments and processing instructions give ``""``."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
