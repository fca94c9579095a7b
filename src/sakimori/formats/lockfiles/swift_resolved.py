"""SwiftPM's ``Package.resolved`` (JSON), versions 1 to 3.

Each pin is a source repository; OSV's ``SwiftURL`` ecosystem names a package by its URL
without scheme and ``.git`` (``github.com/apple/swift-nio``). A pin on a branch or revision
has no version: it is reported with the revision in ``note``. Local packages are skipped.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json
from sakimori.formats.lockfiles._common import (
    InventoryBuilder,
    head_text,
    mapping,
    optional_string,
    sequence,
)
from sakimori.model.inventory import Inventory

FORMAT: Final = "Package.resolved"
ECOSYSTEM: Final = "SwiftURL"

_PINS = re.compile(r'"pins"\s*:\s*\[')
_PIN_FIELD = re.compile(r'"(location|repositoryURL|identity)"\s*:')
_SCP = re.compile(r"[\w.-]+@([\w.-]+):(.+)")


def sniff(data: bytes) -> bool:
    head = head_text(data)
    return head.startswith("{") and bool(_PINS.search(head)) and bool(_PIN_FIELD.search(head))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    document = mapping(load_json(data, limits), "Package.resolved")
    holder = mapping(document.get("object"), "object") if "object" in document else document
    builder = InventoryBuilder(FORMAT, limits)
    for index, item in enumerate(sequence(holder.get("pins", []), "pins")):
        pin = mapping(item, f"pin #{index + 1}")
        location = optional_string(pin.get("location"), f"location of pin #{index + 1}")
        location = location or optional_string(pin.get("repositoryURL"), f"URL of pin #{index + 1}")
        if not location:
            raise MalformedDocument(f"pin #{index + 1} has no location")
        kind = optional_string(pin.get("kind"), f"kind of pin #{index + 1}")
        if kind in {"localSourceControl", "fileSystem"} or location.startswith(("/", "file:")):
            builder.skip(f"{location[:200]}: a local package, the project's own code")
            continue
        state = mapping(pin.get("state") or {}, f"state of pin #{index + 1}")
        version = optional_string(state.get("version"), f"version of {location[:80]!r}")
        name = package_name(location)
        if version:
            builder.add(ECOSYSTEM, name, version)
        else:
            revision = optional_string(state.get("revision"), f"revision of {location[:80]!r}")
            branch = optional_string(state.get("branch"), f"branch of {location[:80]!r}")
            pinned = " ".join(part for part in (branch, revision) if part) or "nothing"
            builder.add(
                ECOSYSTEM, name, None, note=f"pinned to a revision, not a version: {pinned}"
            )
    return builder.build()


def package_name(location: str) -> str:
    """``https://github.com/apple/swift-nio.git`` or ``git@github.com:apple/swift-nio.git`` ->
    ``github.com/apple/swift-nio``."""
    scp = _SCP.fullmatch(location)
    if scp and "://" not in location:
        location = f"{scp.group(1)}/{scp.group(2)}"
    location = location.split("://", 1)[-1]
    location = location.rsplit("@", 1)[-1] if "@" in location.split("/", 1)[0] else location
    return location.rstrip("/").removesuffix(".git")
