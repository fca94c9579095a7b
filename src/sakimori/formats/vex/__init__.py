"""VEX documents in and out: CycloneDX VEX, OpenVEX and CSAF 2.0 VEX (pure: bytes ↔ model).

``detect(data)`` names the format of a VEX document by its content; ``parse(data)`` reads any of
the three into a ``sakimori.model.vex.VexDocument``. Each format module has its own ``parse``
and ``render``:

- ``cyclonedx_vex`` — CycloneDX 1.4–1.6 JSON ``vulnerabilities[]``;
- ``openvex`` — OpenVEX 0.2.0 JSON;
- ``csaf_vex`` — CSAF 2.0 documents of category ``csaf_vex``;
- ``justification`` — CycloneDX's analysis vocabulary ↔ the CISA / OpenVEX / CSAF one.

Parsers read untrusted bytes through ``sakimori.formats.limits`` and raise only
``sakimori.errors.InvalidInput`` subclasses: ``UnsupportedFormat`` when the content is none of
the three, ``MalformedDocument`` (naming the document part) when it is one of them but broken.
See ``docs/vex.md`` for the mapping between formats.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sakimori.errors import UnsupportedFormat
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json
from sakimori.formats.vex import csaf_vex, cyclonedx_vex, openvex
from sakimori.model.vex import VexDocument


class VexFormat(StrEnum):
    CYCLONEDX = "cyclonedx-vex"
    OPENVEX = "openvex"
    CSAF = "csaf-vex"


_HINT = "Sakimori reads CycloneDX VEX (JSON), OpenVEX and CSAF 2.0 VEX documents"


def detect(data: bytes, limits: Limits = DEFAULT_LIMITS) -> VexFormat:
    """The VEX format of ``data``, recognised by content; ``UnsupportedFormat`` if none."""
    return _detect_value(load_json(data, limits))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> VexDocument:
    """Parse a VEX document in any of the three formats."""
    value = load_json(data, limits)
    return _READERS[_detect_value(value)](value)


def _detect_value(value: Any) -> VexFormat:
    if cyclonedx_vex.sniff(value):
        return VexFormat.CYCLONEDX
    if openvex.sniff(value):
        return VexFormat.OPENVEX
    if csaf_vex.sniff(value):
        return VexFormat.CSAF
    raise UnsupportedFormat("not a VEX document in a format Sakimori reads", hint=_HINT)


_READERS = {
    VexFormat.CYCLONEDX: cyclonedx_vex.from_json,
    VexFormat.OPENVEX: openvex.from_json,
    VexFormat.CSAF: csaf_vex.from_json,
}

__all__ = ["VexFormat", "detect", "parse"]
