"""CocoaPods' ``Podfile.lock`` (YAML): ``PODS`` lists each installed pod as ``Name (version)``,
subspecs as ``Name/Subspec (version)``.

CocoaPods has no OSV ecosystem, so the pods are reported with ``ecosystem=None`` (listed, not
matched) and a ``pkg:cocoapods`` purl; a subspec is the same pod release, so it is one
component. Pods installed from a local ``:path`` (``EXTERNAL SOURCES``) are skipped.
"""

from __future__ import annotations

import re
from typing import Final

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_yaml
from sakimori.formats.lockfiles._common import (
    InventoryBuilder,
    head_text,
    mapping,
    purl_with,
    sequence,
    string,
)
from sakimori.model.inventory import Inventory

FORMAT: Final = "Podfile.lock"
NOTE: Final = "CocoaPods has no OSV ecosystem: listed, not matched"

_MARK = re.compile(r"\APODS:\s*\n\s+- ")
_POD = re.compile(r"([^\s()]+) \(([^\s()]+)\)")


def sniff(data: bytes) -> bool:
    return bool(_MARK.match(head_text(data)))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    document = mapping(load_yaml(data, limits), "Podfile.lock")
    external = mapping(document.get("EXTERNAL SOURCES") or {}, "EXTERNAL SOURCES")
    builder = InventoryBuilder(FORMAT, limits)
    for index, item in enumerate(sequence(document.get("PODS") or [], "PODS")):
        if isinstance(item, dict) and len(item) == 1:
            item = next(iter(item))
        match = _POD.fullmatch(string(item, f"pod #{index + 1}"))
        if match is None:
            raise MalformedDocument(f"pod #{index + 1} is not 'Name (version)'")
        pod, version = match.group(1).split("/", 1)[0], match.group(2)
        source = external.get(pod)
        if isinstance(source, dict) and ":path" in source:
            builder.skip(f"{pod}: from the local path {str(source[':path'])[:200]}")
            continue
        purl = purl_with("cocoapods", None, pod, version, {})
        builder.add(None, pod, version, purl=purl, note=NOTE)
    return builder.build()
