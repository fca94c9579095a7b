"""How product entries are named and keyed. Pure, and free of the evaluation machinery so the
package matcher can name product entries without importing it (``matching.products``).

A product entry is an inventory component of ecosystem ``CPE`` with a CPE 2.3 name. Its
*package* is ``part:vendor:product`` (lower case, unquoted) and its *version* the rest of the
name from the version on, trailing ANYs dropped (``7.0.1``; ``10.2.12:h1`` when NVD keeps the
hotfix in ``update``). *Keys* say which records can concern a product: ``part:vendor:product``
for CPE names (a part not known is tried as a, o and h) and ``text:vendor:product`` with both
names folded (``cpe.cve_affected.fold``) for the words of CVE ``affected`` entries.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Final

from sakimori.cpe.cve_affected import entry_cpes, fold
from sakimori.cpe.name import ANY, NA, Value, Wfn, parse, unquote
from sakimori.errors import InvalidInput
from sakimori.model.cve import CveRecord
from sakimori.model.inventory import Component

if TYPE_CHECKING:  # cpe.nvd imports matching (batch) itself: the name is for annotations only
    from sakimori.cpe.nvd import NvdRecord

PRODUCT_ECOSYSTEM: Final = "CPE"
_PARTS: Final = ("a", "o", "h")


def _text(value: Value) -> str:
    if value is ANY:
        return "*"
    if value is NA:
        return "-"
    return unquote(value).lower()


def key_of(name: Wfn) -> str:
    return f"{_text(name.part)}:{_text(name.vendor)}:{_text(name.product)}"


def identity(name: Wfn) -> tuple[str, str]:
    """(package, version) of a product entry: ``o:fortinet:fortios``, ``7.0.1``."""
    rest = [_text(v) for v in name.values()[3:]]
    while rest and rest[-1] == "*":
        rest.pop()
    return key_of(name), ":".join(rest) or "*"


def variants(name: Wfn) -> tuple[Wfn, ...]:
    """The name, or one name per CPE part when its part is not known."""
    if name.part is ANY:
        return tuple(replace(name, part=part) for part in _PARTS)
    return (name,)


def product_keys(name: Wfn) -> set[str]:
    """The keys under which records naming this product are stored."""
    keys = {key_of(v) for v in variants(name)}
    keys.add(f"text:{fold(unquote(name.vendor))}:{fold(unquote(name.product))}")
    return keys


def nvd_record_keys(record: NvdRecord) -> set[str]:
    """Every product an NVD record's criteria name (vulnerable ones and platforms: an asset
    holding only the platform must be re-read when the record changes)."""
    return {key_of(match.name) for match in record.matches()}


def cve_record_keys(record: CveRecord) -> set[str]:
    """Every product a CVE record's ``affected`` entries name, by CPE and by folded names."""
    keys: set[str] = set()
    for entry in record.affected:
        for name in entry_cpes(entry)[0]:
            keys.add(key_of(name))
        vendor, product = entry.get("vendor"), entry.get("product")
        if isinstance(vendor, str) and isinstance(product, str):
            keys.add(f"text:{fold(vendor)}:{fold(product)}")
    return keys


def product_name(component: Component) -> Wfn | None:
    """The CPE name of a product entry (None for any other component, or a bad name)."""
    if component.ecosystem != PRODUCT_ECOSYSTEM or not component.cpe:
        return None
    try:
        return parse(component.cpe)
    except InvalidInput:
        return None


def package_version(component: Component) -> tuple[str, str]:
    """(package, version) of a product entry, as findings and storage name it."""
    name = product_name(component)
    if name is None:
        raise ValueError(f"not a product entry: {component!r}")
    return identity(name)


def as_product_entry(component: Component) -> Component:
    """An SBOM component known only by its CPE name (no package URL, so no ecosystem) becomes
    a product entry; every other component is returned as it is (one with a package URL is
    matched as a package: package advisories are the more exact source for it)."""
    if component.ecosystem is not None or not component.cpe:
        return component
    try:
        name = parse(component.cpe)
    except InvalidInput:
        return component
    version = None if name.version in (ANY, NA) else unquote(name.version)
    return replace(
        component,
        ecosystem=PRODUCT_ECOSYSTEM,
        cpe=name.to_fs(),
        version=component.version or version,
    )


__all__: Final = [
    "PRODUCT_ECOSYSTEM",
    "as_product_entry",
    "cve_record_keys",
    "identity",
    "key_of",
    "nvd_record_keys",
    "package_version",
    "product_keys",
    "product_name",
    "variants",
]
