"""CycloneDX 1.4–1.6 VEX in JSON (``vulnerabilities[]`` with ``analysis`` and ``affects``).

Reading (one statement per ``vulnerabilities[]`` entry):

- ``id`` is the vulnerability, ``references[].id`` its aliases.
- ``analysis.state`` gives the status and is required (an entry without it is a vulnerability
  report, not a VEX statement); ``analysis.justification`` the justification. Both go through
  ``justification.py``; a value that says more than our vocabulary is kept in ``source_status`` /
  ``source_justification``. Unknown values are refused.
- ``analysis.detail`` is the impact statement; ``recommendation`` (else ``workaround``) the action
  statement; ``analysis.response`` its remediation category (see ``_RESPONSES``).
- ``affects[].ref`` is resolved to a product through the BOM's own components and services
  (``metadata.component`` and nested ones included); a ref that is itself a purl or CPE is taken
  as that identifier, and a BOM-Link (``urn:cdx:…``) or other URI that names nothing in this BOM
  is kept as the product's ``ref``. Any other unresolved ref is refused. ``affects[].versions``
  is not read.
- The statement's time is ``analysis.lastUpdated``, else ``analysis.firstIssued``, else the
  entry's ``updated``, else ``metadata.timestamp``. The document's author is the first of
  ``metadata.authors``, ``metadata.manufacturer``, ``metadata.supplier`` with a name.
- Subcomponents, which CycloneDX has no field for, are written and read as entry properties named
  ``sakimori:vex:subcomponent`` whose value is the subcomponent's bom-ref.

Writing: a CycloneDX 1.6 BOM with one ``vulnerabilities[]`` entry per statement and subcomponent
set. A product known by a single identifier (only a purl, only a CPE, only an IRI) is referenced by
it directly, as the source documents do; any other product becomes a component (bom-ref: its purl,
else its CPE, else a generated one; its name, else one derived from its identifiers).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final

import orjson

from sakimori.errors import UnsupportedFormat
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json
from sakimori.formats.vex import _common as c
from sakimori.formats.vex import justification as mapping
from sakimori.model.vex import (
    RemediationCategory,
    VexDocument,
    VexProduct,
    VexStatement,
)

SPEC_VERSIONS: Final = frozenset({"1.4", "1.5", "1.6"})
SUBCOMPONENT_PROPERTY: Final = "sakimori:vex:subcomponent"
_SERIAL: Final = re.compile(r"urn:uuid:[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")

R = RemediationCategory
#: CycloneDX ``analysis.response`` → remediation category, most actionable first: when an entry
#: lists several responses, the first of this order that it lists decides.
_RESPONSES: Final[dict[str, RemediationCategory]] = {
    "update": R.VENDOR_FIX,
    "rollback": R.VENDOR_FIX,
    "workaround_available": R.WORKAROUND,
    "will_not_fix": R.NO_FIX_PLANNED,
    "can_not_fix": R.NONE_AVAILABLE,
}
_RESPONSE_OF: Final[dict[RemediationCategory, str]] = {
    R.VENDOR_FIX: "update",
    R.WORKAROUND: "workaround_available",
    R.MITIGATION: "workaround_available",
    R.NO_FIX_PLANNED: "will_not_fix",
    R.NONE_AVAILABLE: "can_not_fix",
}


def sniff(value: object) -> bool:
    """A decoded JSON object with ``"bomFormat": "CycloneDX"``."""
    return isinstance(value, dict) and value.get("bomFormat") == "CycloneDX"


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> VexDocument:
    """Parse a CycloneDX VEX (or a BOM with embedded VEX); only ``InvalidInput`` errors escape."""
    return from_json(load_json(data, limits))


def from_json(value: object) -> VexDocument:
    """Read an already decoded CycloneDX document."""
    if not sniff(value):
        raise UnsupportedFormat('not a CycloneDX document (no "bomFormat": "CycloneDX")')
    bom = c.obj(value, "bom")
    spec = bom.get("specVersion")
    if not isinstance(spec, str) or spec not in SPEC_VERSIONS:
        raise UnsupportedFormat(
            f"CycloneDX specVersion {spec!r} is not read as VEX",
            hint="CycloneDX VEX is read from specVersion 1.4, 1.5 and 1.6",
        )
    if not isinstance(bom.get("vulnerabilities"), list):
        c.fail("bom.vulnerabilities is missing: this is an SBOM without VEX statements")
    metadata = c.opt_obj(bom, "metadata", "bom")
    issued = c.timestamp(metadata, "timestamp", "metadata")
    author = _author(metadata)
    index = _index(bom, metadata)
    statements = tuple(
        _statement(item, f"vulnerabilities[{number}]", index, author, issued)
        for number, item in enumerate(bom["vulnerabilities"])
    )
    return VexDocument(
        statements=statements,
        id=c.opt_text(bom, "serialNumber", "bom"),
        author=author,
        timestamp=issued,
        version=c.version(bom, "version", "bom"),
    )


def _author(metadata: dict[str, Any]) -> str | None:
    for index, person in enumerate(c.opt_list(metadata, "authors", "metadata")):
        name = c.opt_text(c.obj(person, f"metadata.authors[{index}]"), "name", "metadata.authors")
        if name:
            return name
    for key in ("manufacturer", "supplier"):
        name = c.opt_text(c.opt_obj(metadata, key, "metadata"), "name", f"metadata.{key}")
        if name:
            return name
    return None


def _index(bom: dict[str, Any], metadata: dict[str, Any]) -> dict[str, VexProduct]:
    """bom-ref → product, for every component and service (walked iteratively)."""
    queue: list[tuple[object, str]] = []
    if metadata.get("component") is not None:
        queue.append((metadata["component"], "metadata.component"))
    for key in ("components", "services"):
        queue.extend((item, f"{key}[{n}]") for n, item in enumerate(c.opt_list(bom, key, "bom")))
    index: dict[str, VexProduct] = {}
    for raw, where in queue:  # the queue grows while it is walked: breadth first, no recursion
        item = c.obj(raw, where)
        for key in ("components", "services"):
            children = c.opt_list(item, key, where)
            queue.extend((child, f"{where}.{key}[{n}]") for n, child in enumerate(children))
        ref = c.opt_text(item, "bom-ref", where)
        if ref is None or ref in index:
            continue
        purl = c.opt_text(item, "purl", where)
        cpe = c.opt_text(item, "cpe", where)
        name = " ".join(
            part
            for part in (c.opt_text(item, "name", where), c.opt_text(item, "version", where))
            if part
        )
        index[ref] = VexProduct(
            purl=c.purl(purl, f"{where}.purl") if purl else None,
            cpe=c.cpe(cpe, f"{where}.cpe") if cpe else None,
            name=name or (None if (purl or cpe) else ref),
        )
    return index


def _resolve(ref: str, index: dict[str, VexProduct], where: str) -> VexProduct:
    if ref in index:
        return index[ref]
    if ref.startswith("pkg:"):
        return VexProduct(purl=c.purl(ref, where))
    if ref.lower().startswith("cpe:"):
        return VexProduct(cpe=c.cpe(ref, where))
    if not c.is_uri(ref):
        c.fail(f"{where} {ref!r} names no component or service of this BOM")
    return VexProduct(ref=ref)  # a BOM-Link into another BOM, or another IRI


def _statement(
    item: object,
    where: str,
    index: dict[str, VexProduct],
    author: str | None,
    issued: datetime | None,
) -> VexStatement:
    entry = c.obj(item, where)
    vulnerability = c.text(entry, "id", where)
    aliases = [
        c.text(c.obj(ref, f"{where}.references[{n}]"), "id", f"{where}.references[{n}]")
        for n, ref in enumerate(c.opt_list(entry, "references", where))
    ]
    analysis = c.opt_obj(entry, "analysis", where)
    state = c.opt_text(analysis, "state", f"{where}.analysis")
    if state is None:
        c.fail(f"{where}.analysis.state is missing: without it the entry is not a VEX statement")
    try:
        status, source_status = mapping.status_from_cyclonedx(state)
    except ValueError:
        c.fail(f"{where}.analysis.state {state!r} is not a CycloneDX analysis state")
    reason = c.opt_text(analysis, "justification", f"{where}.analysis")
    label = source_justification = None
    if reason is not None:
        try:
            label, source_justification = mapping.from_cyclonedx(reason)
        except ValueError:
            c.fail(f"{where}.analysis.justification {reason!r} is not a CycloneDX justification")
    place = f"{where}.analysis"
    responses = c.strings(c.opt_list(analysis, "response", place), f"{place}.response")
    unknown = [response for response in responses if response not in _RESPONSES]
    if unknown:
        c.fail(f"{where}.analysis.response {unknown[0]!r} is not a CycloneDX response")
    category = next((_RESPONSES[key] for key in _RESPONSES if key in responses), None)
    affects = c.opt_list(entry, "affects", where)
    if not affects:
        c.fail(f"{where} names no product (affects is missing or empty)")
    subcomponents = _subcomponents(entry, index, where)
    products: dict[VexProduct, None] = {}
    for n, affected in enumerate(affects):
        place = f"{where}.affects[{n}]"
        product = _resolve(c.text(c.obj(affected, place), "ref", place), index, f"{place}.ref")
        if subcomponents:
            product = VexProduct(
                purl=product.purl,
                cpe=product.cpe,
                name=product.name,
                ref=product.ref,
                subcomponents=subcomponents,
            )
        products[product] = None
    when = (
        c.timestamp(analysis, "lastUpdated", f"{where}.analysis")
        or c.timestamp(analysis, "firstIssued", f"{where}.analysis")
        or c.timestamp(entry, "updated", where)
        or issued
    )
    return VexStatement(
        vulnerability=vulnerability,
        aliases=tuple(dict.fromkeys(alias for alias in aliases if alias != vulnerability)),
        products=tuple(products),
        status=status,
        justification=label,
        impact_statement=c.statement_text(analysis, "detail", f"{where}.analysis"),
        action_statement=c.statement_text(entry, "recommendation", where)
        or c.statement_text(entry, "workaround", where),
        remediation_category=category,
        timestamp=when,
        author=author,
        source_status=source_status,
        source_justification=source_justification,
    )


def _subcomponents(
    entry: dict[str, Any], index: dict[str, VexProduct], where: str
) -> tuple[VexProduct, ...]:
    found: dict[VexProduct, None] = {}
    for n, raw in enumerate(c.opt_list(entry, "properties", where)):
        place = f"{where}.properties[{n}]"
        prop = c.obj(raw, place)
        if prop.get("name") == SUBCOMPONENT_PROPERTY:
            found[_resolve(c.text(prop, "value", place), index, f"{place}.value")] = None
    return tuple(found)


def render(document: VexDocument) -> bytes:
    """Write a CycloneDX 1.6 JSON BOM holding the statements as ``vulnerabilities[]``."""
    bom = _Components(document.statements)
    vulnerabilities: list[dict[str, Any]] = []
    for statement in document.statements:
        groups: dict[tuple[VexProduct, ...], list[VexProduct]] = {}
        for product in statement.products:
            groups.setdefault(product.subcomponents, []).append(product)
        for subcomponents, products in groups.items():
            entry = _entry(statement)
            entry["affects"] = [
                {"ref": bom.ref(_bare(product), "application")} for product in products
            ]
            if subcomponents:
                entry["properties"] = [
                    {"name": SUBCOMPONENT_PROPERTY, "value": bom.ref(sub, "library")}
                    for sub in subcomponents
                ]
            vulnerabilities.append(entry)
    out: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": _serial(document),
        "version": document.version,
    }
    metadata: dict[str, Any] = {}
    if document.issued is not None:
        metadata["timestamp"] = c.format_time(document.issued)
    if document.author:
        metadata["authors"] = [{"name": document.author}]
    if metadata:
        out["metadata"] = metadata
    out["components"] = bom.components
    out["vulnerabilities"] = vulnerabilities
    return orjson.dumps(out, option=orjson.OPT_INDENT_2)


def _direct(product: VexProduct) -> str | None:
    """The one identifier a product is referenced by in ``affects`` without a component: a
    product known only by its purl, only by its CPE, or only by a BOM-Link or other IRI."""
    if product.name or product.subcomponents:
        return None
    known = [value for value in (product.purl, product.cpe, product.ref) if value]
    if len(known) != 1 or (known[0] == product.ref and not c.is_uri(known[0])):
        return None
    return known[0]


class _Components:
    """The BOM's components: one per product that needs one, with a bom-ref never equal to an
    identifier that another product is referenced by directly."""

    def __init__(self, statements: tuple[VexStatement, ...]) -> None:
        every = [p for s in statements for p in s.products]
        every += [sub for p in every for sub in p.subcomponents]
        self.taken = {ref for p in every if (ref := _direct(_bare(p)))}
        self.refs: dict[VexProduct, str] = {}
        self.components: list[dict[str, Any]] = []
        self.generated = 0

    def ref(self, product: VexProduct, kind: str) -> str:
        if product in self.refs:
            return self.refs[product]
        direct = _direct(product)
        if direct is not None:
            self.refs[product] = direct
            return direct
        ref = next(
            (key for key in (product.purl, product.cpe) if key and key not in self.taken), None
        )
        while ref is None or ref in self.taken:
            self.generated += 1
            ref = f"sakimori-{self.generated}"
        self.taken.add(ref)
        self.refs[product] = ref
        component: dict[str, Any] = {
            "type": kind,
            "bom-ref": ref,
            "name": product.name or c.product_name(product.purl, product.cpe, product.ref),
        }
        if product.purl:
            component["purl"] = product.purl
        if product.cpe:
            component["cpe"] = product.cpe
        self.components.append(component)
        return ref


def _bare(product: VexProduct) -> VexProduct:
    if not product.subcomponents:
        return product
    return VexProduct(purl=product.purl, cpe=product.cpe, name=product.name, ref=product.ref)


def _entry(statement: VexStatement) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": statement.vulnerability}
    if statement.aliases:
        entry["references"] = [
            {"id": alias, "source": {"name": c.id_system(alias)}} for alias in statement.aliases
        ]
    if statement.action_statement:
        entry["recommendation"] = statement.action_statement
    analysis: dict[str, Any] = {
        "state": mapping.status_to_cyclonedx(statement.status, statement.source_status)
    }
    if statement.justification is not None:
        analysis["justification"] = mapping.to_cyclonedx(
            statement.justification, statement.source_justification
        )
    if statement.remediation_category is not None:
        analysis["response"] = [_RESPONSE_OF[statement.remediation_category]]
    if statement.impact_statement:
        analysis["detail"] = statement.impact_statement
    if statement.timestamp is not None:
        analysis["lastUpdated"] = c.format_time(statement.timestamp)
    entry["analysis"] = analysis
    return entry


def _serial(document: VexDocument) -> str:
    ident = document.id
    if ident and _SERIAL.fullmatch(ident):
        return ident
    seed = ident or "|".join(
        f"{s.vulnerability}:{s.status}:{','.join(p.label for p in s.products)}"
        for s in document.statements
    )
    return c.derived_id(seed)
