"""OpenVEX 0.2.0 JSON (https://github.com/openvex/spec): parse and render.

Reading:

- ``@context`` must name the OpenVEX namespace (``https://openvex.dev/ns`` or a versioned one
  such as ``https://openvex.dev/ns/v0.2.0``). Statements written in the 0.0.x shape (the
  vulnerability and the products as bare strings) are read too.
- Every statement needs a vulnerability ``name``, a ``status`` and at least one product (a
  standalone document has no encapsulating document to inherit products from). Unknown statuses
  and justifications are refused.
- A product's ``@id`` that is a purl or a CPE is that identifier; ``identifiers.purl``,
  ``identifiers.cpe23`` / ``cpe22`` (also the ``@cpe23`` / ``@cpe22`` spelling of the published
  JSON schema) give them explicitly; an ``@id`` that is neither is kept as the product's ``ref``.
  ``hashes`` are not kept.
- A statement without a ``timestamp`` inherits the document's (the spec's inheritance rule);
  ``supplier`` is kept; ``status_notes`` and ``action_statement_timestamp`` are not.

Writing: the document needs an author and a timestamp, and every product an identifier (OpenVEX
requires them; ``InvalidInput`` otherwise); without an id one is derived from the content. A
``not_affected`` statement with neither justification nor impact statement, or an ``affected``
one without an action statement, gets our fixed placeholder text
(``_common.NO_IMPACT_STATEMENT`` / ``NO_ACTION_STATEMENT``), which this parser reads back as
absent.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from sakimori.errors import InvalidInput, UnsupportedFormat
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json
from sakimori.formats.vex import _common as c
from sakimori.model.vex import Justification, VexDocument, VexProduct, VexStatement, VexStatus

CONTEXT: Final = "https://openvex.dev/ns/v0.2.0"
_NAMESPACE: Final = "https://openvex.dev/ns"
_STATUSES: Final = frozenset(VexStatus)
_JUSTIFICATIONS: Final = frozenset(Justification)


def sniff(value: object) -> bool:
    """A decoded JSON object whose ``@context`` is the OpenVEX namespace."""
    if not isinstance(value, dict):
        return False
    context = value.get("@context")
    return isinstance(context, str) and context.startswith(_NAMESPACE)


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> VexDocument:
    """Parse an OpenVEX document; only ``InvalidInput`` errors escape."""
    return from_json(load_json(data, limits))


def from_json(value: object) -> VexDocument:
    """Read an already decoded OpenVEX document."""
    if not sniff(value):
        raise UnsupportedFormat("not an OpenVEX document (no OpenVEX @context)")
    document = c.obj(value, "document")
    author = c.opt_text(document, "author", "document")
    issued = c.timestamp(document, "timestamp", "document")
    updated = c.timestamp(document, "last_updated", "document")
    statements = document.get("statements")
    if not isinstance(statements, list):
        c.fail("document.statements must be an array of statements")
    return VexDocument(
        statements=tuple(
            _statement(item, f"statements[{index}]", author, issued or updated)
            for index, item in enumerate(statements)
        ),
        id=c.opt_text(document, "@id", "document"),
        author=author,
        timestamp=issued,
        last_updated=updated,
        version=c.version(document, "version", "document"),
    )


def _statement(item: object, where: str, author: str | None, issued: Any) -> VexStatement:
    statement = c.obj(item, where)
    raw = statement.get("vulnerability")
    if isinstance(raw, str):  # OpenVEX 0.0.x
        raw = {"name": raw}
    if raw is None:
        c.fail(f"{where}.vulnerability is missing")
    vulnerability = c.obj(raw, f"{where}.vulnerability")
    name = c.text(vulnerability, "name", f"{where}.vulnerability")
    place = f"{where}.vulnerability"
    aliases = c.strings(c.opt_list(vulnerability, "aliases", place), f"{place}.aliases")
    status = c.text(statement, "status", where)
    if status not in _STATUSES:
        c.fail(f"{where}.status {status!r} is not an OpenVEX status ({', '.join(VexStatus)})")
    justification = c.opt_text(statement, "justification", where)
    if justification is not None and justification not in _JUSTIFICATIONS:
        c.fail(f"{where}.justification {justification!r} is not an OpenVEX justification")
    products = c.opt_list(statement, "products", where)
    if not products:
        c.fail(f"{where} names no product (products is missing or empty)")
    return VexStatement(
        vulnerability=name,
        aliases=tuple(alias for alias in aliases if alias != name),
        products=tuple(
            _product(product, f"{where}.products[{index}]", nested=True)
            for index, product in enumerate(products)
        ),
        status=VexStatus(status),
        justification=Justification(justification) if justification else None,
        impact_statement=c.statement_text(statement, "impact_statement", where),
        action_statement=c.statement_text(statement, "action_statement", where),
        timestamp=c.timestamp(statement, "timestamp", where) or issued,
        author=author,
        supplier=c.opt_text(statement, "supplier", where),
    )


def _product(item: object, where: str, *, nested: bool) -> VexProduct:
    if isinstance(item, str):  # OpenVEX 0.0.x
        item = {"@id": item}
    product = c.obj(item, where)
    ident = c.opt_text(product, "@id", where)
    identifiers = c.opt_obj(product, "identifiers", where)
    place = f"{where}.identifiers"
    purl = c.opt_text(identifiers, "purl", place)
    cpe = (
        c.opt_text(identifiers, "cpe23", place)
        or c.opt_text(identifiers, "@cpe23", place)
        or c.opt_text(identifiers, "cpe22", place)
        or c.opt_text(identifiers, "@cpe22", place)
    )
    if purl is None and ident is not None and ident.startswith("pkg:"):
        purl = ident
    if cpe is None and ident is not None and ident.lower().startswith("cpe:"):
        cpe = ident
    ref = ident if ident is not None and ident not in (purl, cpe) else None
    if not (purl or cpe or ref):
        c.fail(f"{where} has neither @id nor a purl or CPE identifier")
    subcomponents: tuple[VexProduct, ...] = ()
    if nested:
        subs = c.opt_list(product, "subcomponents", where)
        subcomponents = tuple(
            _product(sub, f"{where}.subcomponents[{index}]", nested=False)
            for index, sub in enumerate(subs)
        )
    elif product.get("subcomponents"):
        c.fail(f"{where} is a subcomponent and cannot have subcomponents")
    return VexProduct(
        purl=c.purl(purl, f"{where} purl") if purl else None,
        cpe=c.cpe(cpe, f"{where} CPE") if cpe else None,
        ref=ref,
        subcomponents=subcomponents,
    )


def render(document: VexDocument) -> bytes:
    """Write an OpenVEX 0.2.0 document (UTF-8 JSON)."""
    if not document.author:
        raise InvalidInput("an OpenVEX document needs an author")
    if document.timestamp is None and document.last_updated is None:
        raise InvalidInput("an OpenVEX document needs a timestamp")
    statements = [_render_statement(statement) for statement in document.statements]
    issued = document.timestamp or document.last_updated
    assert issued is not None
    out: dict[str, Any] = {
        "@context": CONTEXT,
        "@id": document.id
        or c.derived_id(orjson.dumps(statements, option=orjson.OPT_SORT_KEYS).decode()),
        "author": document.author,
        "timestamp": c.format_time(issued),
    }
    if document.last_updated is not None and document.timestamp is not None:
        out["last_updated"] = c.format_time(document.last_updated)
    out["version"] = document.version
    out["statements"] = statements
    return orjson.dumps(out, option=orjson.OPT_INDENT_2)


def _render_statement(statement: VexStatement) -> dict[str, Any]:
    vulnerability: dict[str, Any] = {"name": statement.vulnerability}
    if statement.aliases:
        vulnerability["aliases"] = list(statement.aliases)
    out: dict[str, Any] = {"vulnerability": vulnerability}
    if statement.timestamp is not None:
        out["timestamp"] = c.format_time(statement.timestamp)
    out["products"] = [_render_product(product) for product in statement.products]
    out["status"] = statement.status.value
    if statement.supplier:
        out["supplier"] = statement.supplier
    if statement.justification is not None:
        out["justification"] = statement.justification.value
    impact = statement.impact_statement
    if (
        impact is None
        and statement.status is VexStatus.NOT_AFFECTED
        and not out.get("justification")
    ):
        impact = c.NO_IMPACT_STATEMENT
    if impact is not None:
        out["impact_statement"] = impact
    action = statement.action_statement
    if action is None and statement.status is VexStatus.AFFECTED:
        action = c.NO_ACTION_STATEMENT
    if action is not None:
        out["action_statement"] = action
    return out


def _render_product(product: VexProduct) -> dict[str, Any]:
    ident = product.ref or product.purl or product.cpe
    if ident is None:
        raise InvalidInput(
            f"OpenVEX cannot name product {product.label!r}: it has no purl, CPE or IRI",
            hint="OpenVEX products are identified by IRI; name-only products cannot be written",
        )
    out: dict[str, Any] = {"@id": ident}
    identifiers: dict[str, str] = {}
    if product.purl and product.purl != ident:
        identifiers["purl"] = product.purl
    if product.cpe and product.cpe != ident:
        identifiers["cpe23" if product.cpe.startswith("cpe:2.3:") else "cpe22"] = product.cpe
    if identifiers:
        out["identifiers"] = identifiers
    if product.subcomponents:
        out["subcomponents"] = [_render_product(sub) for sub in product.subcomponents]
    return out
