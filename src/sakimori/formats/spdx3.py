"""SPDX 3.0 documents in their JSON-LD serialisation.

API: ``FORMAT = "spdx3-jsonld"``, ``sniff(data)``, ``parse(data, limits)``, and ``READERS`` with
that one triple (the same shape as the other format modules).

An SPDX 3 document is compact JSON-LD with the SPDX context
(``"@context": "https://spdx.org/rdf/3.0.x/spdx-context.jsonld"``) and its elements in
``@graph``. The sniffer looks for that context near the start; the parser refuses a document
whose ``@context`` does not name SPDX 3 (expanded JSON-LD, with full IRIs for every property, is
not read: the serialisation spec requires the compact form).

Components are the package elements: ``software_Package`` and its subclasses ``ai_AIPackage``
and ``dataset_DatasetPackage`` (also when written as full IRIs). They are found by an iterative
walk of the whole document, so a package written inline inside another element counts too, once
per ``spdxId``. Each becomes a component as in SPDX 2 (``sakimori.formats.spdx.package_component``):
``name``; ``software_packageVersion``; the purl from ``software_packageUrl`` or an
``externalIdentifier`` of type ``packageUrl``; the CPE from one of type ``cpe23`` (else
``cpe22``); ``spdxId`` as ``bom_ref``. Files and snippets are counted in ``skipped``. The
``rootElement`` of the document (the product) is a component too, as in SPDX 2.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from sakimori.errors import MalformedDocument, UnsupportedFormat
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, check_components, load_json
from sakimori.formats.spdx import (
    get_dict,
    get_list,
    get_str,
    head,
    kind,
    not_components,
    package_component,
)
from sakimori.model.inventory import Component, Inventory

FORMAT: Final = "spdx3-jsonld"

_CONTEXT = re.compile(r"https?://spdx\.org/rdf/3\.\d+(?:\.\d+)?/spdx-context\.jsonld")
_SNIFF_CONTEXT = re.compile(rb'"@context"\s*:\s*\[?\s*"https?://spdx\.org/rdf/3\.')
#: Package classes, compact and as the tail of their IRI (``…/terms/Software/Package``).
_PACKAGE_TYPES: Final = frozenset(
    {
        "software_Package",
        "ai_AIPackage",
        "dataset_DatasetPackage",
        "Software/Package",
        "AI/AIPackage",
        "Dataset/DatasetPackage",
    }
)
_FILE_TYPES: Final = frozenset({"software_File", "Software/File"})
_SNIPPET_TYPES: Final = frozenset({"software_Snippet", "Software/Snippet"})


def sniff(data: bytes) -> bool:
    """A JSON object whose ``@context`` is the SPDX 3 context."""
    start = head(data)
    return start.startswith(b"{") and _SNIFF_CONTEXT.search(start) is not None


def _short(name: str) -> str:
    """``software_Package`` as is; ``https://spdx.org/rdf/3.0.1/terms/Software/Package`` to its
    ``Software/Package`` tail; enum IRIs (``…/ExternalIdentifierType/packageUrl``) to the last part.
    """
    return name.rpartition("/terms/")[2] if "/terms/" in name else name


def _types(element: dict[str, Any], where: str) -> set[str]:
    value = element.get("type", element.get("@type"))
    if isinstance(value, str):
        return {_short(value)}
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return {_short(item) for item in value}
    if value is None:
        return set()
    raise MalformedDocument(f"{where}.type is {kind(value)}, expected a string")


def _check_context(doc: dict[str, Any]) -> None:
    context = doc.get("@context")
    entries = context if isinstance(context, list) else [context]
    if not any(isinstance(entry, str) and _CONTEXT.fullmatch(entry) for entry in entries):
        raise UnsupportedFormat(
            "JSON-LD without the SPDX 3 context is not read",
            hint='SPDX 3 documents start with "@context": '
            '"https://spdx.org/rdf/3.0.1/spdx-context.jsonld"',
        )


def _package(element: dict[str, Any], where: str) -> Component:
    purls: list[str] = []
    cpe23: list[str] = []
    cpe22: list[str] = []
    purl = get_str(element, "software_packageUrl", where)
    if purl is not None:
        purls.append(purl)
    for j, item in enumerate(get_list(element, "externalIdentifier", where)):
        item_where = f"{where}.externalIdentifier[{j}]"
        identifier = get_dict(item, item_where)
        id_type = get_str(identifier, "externalIdentifierType", item_where)
        value = get_str(identifier, "identifier", item_where)
        if id_type is None or value is None:
            continue
        short = id_type.rpartition("/")[2]
        if short == "packageUrl":
            purls.append(value)
        elif short == "cpe23":
            cpe23.append(value)
        elif short == "cpe22":
            cpe22.append(value)
    return package_component(
        where=where,
        name=get_str(element, "name", where),
        version=get_str(element, "software_packageVersion", where),
        purls=purls,
        cpes=cpe23 + cpe22,
        spdx_id=get_str(element, "spdxId", where) or get_str(element, "@id", where),
    )


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    """Read an SPDX 3.0 JSON-LD document."""
    doc = get_dict(load_json(data, limits), "$")
    _check_context(doc)
    get_list(doc, "@graph", "$")  # present or not, but never anything else than an array
    components: list[Component] = []
    seen: set[str] = set()
    files = snippets = 0
    # Iterative walk over every object of the document (load_json has bounded its depth).
    stack: list[tuple[str, Any]] = [("$", doc)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, list):
            stack.extend((f"{where}[{i}]", item) for i, item in reversed(list(enumerate(node))))
            continue
        if not isinstance(node, dict):
            continue
        types = _types(node, where)
        if types & _PACKAGE_TYPES:
            component = _package(node, where)
            key = component.bom_ref or where
            if key not in seen:
                seen.add(key)
                components.append(component)
                check_components(len(components), limits)
        files += bool(types & _FILE_TYPES)
        snippets += bool(types & _SNIPPET_TYPES)
        stack.extend(
            (f"{where}.{key}", value)
            for key, value in reversed(node.items())
            if isinstance(value, dict | list) and key != "@context"
        )
    return Inventory(
        format=FORMAT, components=tuple(components), skipped=not_components(files, snippets)
    )


#: ``(format, sniff, parse)``: the one serialisation this module reads.
Reader = tuple[str, Callable[[bytes], bool], Callable[[bytes, Limits], Inventory]]
READERS: Final[tuple[Reader, ...]] = ((FORMAT, sniff, parse),)
