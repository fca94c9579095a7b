"""The pure half of the VEX service: statements as stored rows, and which findings they match.

- ``to_data`` / ``from_data``: a ``VexStatement`` as a JSON-ready dict and back, losing nothing
  (every field, products and subcomponents included), so an exported statement is the one that
  was imported.
- ``same_package``: do two package URLs name the same package version? Type, namespace, name
  and version are compared after the purl spec's normalisation (``packageurl``: lower-case type,
  per-type name rules such as PyPI's); a statement purl without a version names every version.
  Qualifiers count only where both sides give the same qualifier: ``?arch=amd64`` on one side
  and none on the other still match, ``?arch=amd64`` against ``?arch=arm64`` does not.
- ``same_vulnerability``: do two id lists (an id and its aliases) share an id (case-insensitive)?
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from packageurl import PackageURL

from sakimori.model.vex import (
    Justification,
    RemediationCategory,
    VexProduct,
    VexStatement,
    VexStatus,
)

_TEXT_FIELDS = (
    "impact_statement",
    "action_statement",
    "author",
    "supplier",
    "source_status",
    "source_justification",
)


def to_data(statement: VexStatement) -> dict[str, Any]:
    """The statement as a JSON-ready dict (``None`` fields left out)."""
    data: dict[str, Any] = {
        "vulnerability": statement.vulnerability,
        "aliases": list(statement.aliases),
        "products": [_product_data(product) for product in statement.products],
        "status": statement.status.value,
    }
    if statement.justification is not None:
        data["justification"] = statement.justification.value
    if statement.remediation_category is not None:
        data["remediation_category"] = statement.remediation_category.value
    if statement.timestamp is not None:
        data["timestamp"] = statement.timestamp.isoformat()
    for name in _TEXT_FIELDS:
        value = getattr(statement, name)
        if value is not None:
            data[name] = value
    return data


def from_data(data: dict[str, Any]) -> VexStatement:
    """The statement ``to_data`` wrote."""
    justification = data.get("justification")
    category = data.get("remediation_category")
    moment = data.get("timestamp")
    texts: dict[str, str | None] = {name: data.get(name) for name in _TEXT_FIELDS}
    return VexStatement(
        vulnerability=data["vulnerability"],
        aliases=tuple(data.get("aliases", ())),
        products=tuple(_product(item) for item in data["products"]),
        status=VexStatus(data["status"]),
        justification=Justification(justification) if justification else None,
        remediation_category=RemediationCategory(category) if category else None,
        timestamp=datetime.fromisoformat(moment) if moment else None,
        impact_statement=texts["impact_statement"],
        action_statement=texts["action_statement"],
        author=texts["author"],
        supplier=texts["supplier"],
        source_status=texts["source_status"],
        source_justification=texts["source_justification"],
    )


def _product_data(product: VexProduct) -> dict[str, Any]:
    data: dict[str, Any] = {
        key: value
        for key, value in (
            ("purl", product.purl),
            ("cpe", product.cpe),
            ("name", product.name),
            ("ref", product.ref),
        )
        if value is not None
    }
    if product.subcomponents:
        data["subcomponents"] = [_product_data(sub) for sub in product.subcomponents]
    return data


def _product(data: dict[str, Any]) -> VexProduct:
    return VexProduct(
        purl=data.get("purl"),
        cpe=data.get("cpe"),
        name=data.get("name"),
        ref=data.get("ref"),
        subcomponents=tuple(_product(sub) for sub in data.get("subcomponents", ())),
    )


@dataclass(frozen=True, slots=True)
class Purl:
    """A package URL reduced to what identifies a package version."""

    type: str
    namespace: str | None
    name: str
    version: str | None
    qualifiers: tuple[tuple[str, str], ...]


@lru_cache(maxsize=4096)
def purl_key(value: str) -> Purl | None:
    """``value`` normalised by the purl spec's rules, or ``None`` when it is not a purl."""
    try:
        parsed = PackageURL.from_string(value.strip())
    except ValueError:
        return None
    qualifiers = parsed.qualifiers if isinstance(parsed.qualifiers, dict) else {}
    return Purl(
        type=parsed.type.lower(),
        namespace=parsed.namespace or None,
        name=parsed.name,
        version=parsed.version or None,
        qualifiers=tuple(sorted((k.lower(), str(v)) for k, v in qualifiers.items())),
    )


def same_package(stated: str, component: str) -> bool:
    """Whether the statement's purl ``stated`` names the package version ``component``."""
    left, right = purl_key(stated), purl_key(component)
    if left is None or right is None:
        return False
    if (left.type, left.namespace, left.name) != (right.type, right.namespace, right.name):
        return False
    if left.version is not None and left.version != right.version:
        return False
    theirs = dict(right.qualifiers)
    return all(theirs.get(key, value) == value for key, value in left.qualifiers)


def same_vulnerability(ours: Iterable[str], theirs: Iterable[str]) -> bool:
    """Whether two lists of vulnerability ids (an id and its aliases) share one."""
    wanted = {value.strip().casefold() for value in ours}
    return any(value.strip().casefold() in wanted for value in theirs)


def product_purls(product: VexProduct) -> tuple[str, ...]:
    """The purls a product is matched by: its own (subcomponents narrow a statement down to
    a part of the product; they do not make it about other packages)."""
    return (product.purl,) if product.purl else ()
