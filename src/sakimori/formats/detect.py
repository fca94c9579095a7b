"""Recognise an inventory by its content (never by its file name) and parse it.

Every inventory format module offers ``(format, sniff, parse)`` readers: SBOM modules list theirs
in ``READERS``; lockfile modules are ``sakimori.formats.lockfiles.PARSERS``, most specific first.
Container image archives (binary tar) are tried first, then SBOMs (their markers are
unambiguous), then lockfiles in their own order, then product lists (CSV: a header of known
column names is the least specific marker, so it comes last).
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
def sbom_readers() -> tuple[Reader, ...]:
    from sakimori.formats import cyclonedx, spdx, spdx3, spdx_tagvalue

    return tuple(
        r for module in (cyclonedx, spdx3, spdx, spdx_tagvalue) for r in _module_readers(module)
    )


@cache
def image_readers() -> tuple[Reader, ...]:
    """Container image archives: binary tar content, tried before every text format."""
    from sakimori.formats import image

    return ((image.FORMAT, image.sniff, image.parse),)


@cache
def lockfile_readers() -> tuple[Reader, ...]:
    from sakimori.formats.lockfiles import PARSERS

    return tuple(r for module in PARSERS for r in _module_readers(module))


@cache
def product_readers() -> tuple[Reader, ...]:
    """Product lists (``products_csv``): tried after every other reader."""
    from sakimori.formats import products_csv

    return ((products_csv.FORMAT, products_csv.sniff, products_csv.parse),)


def readers() -> tuple[Reader, ...]:
    """Every reader: container images, SBOMs (their markers are unambiguous), lockfiles,
    product lists."""
    return image_readers() + sbom_readers() + lockfile_readers() + product_readers()


def detect(data: bytes) -> Reader:
    """The reader whose sniffer recognises ``data``; ``UnsupportedFormat`` if none does.

    Lockfile parsers are imported only when no SBOM reader recognises the content."""
    for group in (image_readers, sbom_readers, lockfile_readers, product_readers):
        for reader in group():
            if reader[1](data):
                return reader
    raise UnsupportedFormat(
        "not an inventory format Sakimori reads",
        hint="supported: container images (docker save, OCI layout tar), CycloneDX, SPDX, "
        "the lockfiles listed in docs/formats.md, and product lists (CSV with a cpe or "
        "vendor,product,version header)",
    )


def parse_inventory(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    check_size(data, limits)
    _, _, parse = detect(data)
    return parse(data, limits)
