"""Recognise an inventory by its content (never by its file name) and parse it.

Every inventory format module offers ``(format, sniff, parse)`` readers: SBOM modules list theirs
in ``READERS``; lockfile modules are ``sakimori.formats.lockfiles.PARSERS``, most specific first.
SBOMs are tried first (their markers are unambiguous), then lockfiles in their own order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from types import ModuleType

from sakimori.errors import UnsupportedFormat
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, check_size
from sakimori.model.inventory import Inventory

Reader = tuple[str, Callable[[bytes], bool], Callable[[bytes, Limits], Inventory]]


def _module_readers(module: ModuleType) -> Iterator[Reader]:
    readers = getattr(module, "READERS", None)
    if readers is not None:
        yield from readers
    else:
        yield (module.FORMAT, module.sniff, module.parse)


@cache
def readers() -> tuple[Reader, ...]:
    from sakimori.formats import cyclonedx, spdx, spdx3, spdx_tagvalue
    from sakimori.formats.lockfiles import PARSERS

    found: list[Reader] = []
    for module in (cyclonedx, spdx3, spdx, spdx_tagvalue, *PARSERS):
        found.extend(_module_readers(module))
    return tuple(found)


def detect(data: bytes) -> Reader:
    """The reader whose sniffer recognises ``data``; ``UnsupportedFormat`` if none does."""
    for reader in readers():
        if reader[1](data):
            return reader
    raise UnsupportedFormat(
        "not an inventory format Sakimori reads",
        hint="supported: CycloneDX, SPDX, and the lockfiles listed in docs/formats.md",
    )


def parse_inventory(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    check_size(data, limits)
    _, _, parse = detect(data)
    return parse(data, limits)
