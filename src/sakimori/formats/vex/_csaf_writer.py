"""The CSAF 2.0 VEX writer behind ``csaf_vex.render`` (kept apart to keep modules small)."""

from __future__ import annotations

from typing import Any

import orjson

from sakimori import __version__
from sakimori.errors import InvalidInput
from sakimori.formats.vex import _common as c
from sakimori.formats.vex.csaf_vex import (
    CVE,
    DEFAULT_CATEGORY,
    DEFAULT_GROUP,
    GROUP_STATUS,
    GROUPS,
    PUBLISHER_CATEGORIES,
    TLP_LABELS,
)
from sakimori.model.vex import VexDocument, VexProduct, VexStatement, VexStatus

S = VexStatus


def write(
    document: VexDocument,
    *,
    tlp: str,
    publisher_namespace: str,
    publisher_category: str = "coordinator",
    title: str | None = None,
    status: str = "final",
) -> bytes:
    """Write a CSAF 2.0 ``csaf_vex`` document; see ``csaf_vex.render``."""
    label = tlp.upper()
    if label not in TLP_LABELS:
        raise InvalidInput(f"TLP label {tlp!r} is not one of {', '.join(sorted(TLP_LABELS))}")
    if publisher_category not in PUBLISHER_CATEGORIES:
        raise InvalidInput(f"CSAF publisher category {publisher_category!r} is not valid")
    if not c.is_uri(publisher_namespace):
        raise InvalidInput(f"CSAF publisher namespace {publisher_namespace!r} is not a URL")
    if status not in {"draft", "interim", "final"}:
        raise InvalidInput(f"CSAF document status {status!r} is not draft, interim or final")
    if not document.statements:  # the schema requires a product and a vulnerability
        raise InvalidInput("a CSAF VEX document needs at least one statement; this one has none")
    if not document.author:
        raise InvalidInput("a CSAF document needs a publisher: the VEX document has no author")
    current, initial = document.issued, document.timestamp or document.issued
    if current is None or initial is None:
        raise InvalidInput("a CSAF document needs a release date: the VEX document has none")
    tree = _Tree()
    vulnerabilities = [
        _render_vulnerability(vulnerability, statements, tree, document.author)
        for vulnerability, statements in _by_vulnerability(document.statements).items()
    ]
    tracking_id = document.id or c.derived_id(orjson.dumps(vulnerabilities).decode())
    history = [
        {
            "date": c.format_time(initial if n == 1 else current),
            "number": str(n),
            "summary": ("Initial version." if n == 1 else f"Version {n}."),
        }
        for n in range(1, document.version + 1)
    ]
    out = {
        "document": {
            "category": "csaf_vex",
            "csaf_version": "2.0",
            "distribution": {"tlp": {"label": label, "url": "https://www.first.org/tlp/"}},
            "publisher": {
                "category": publisher_category,
                "name": document.author,
                "namespace": publisher_namespace,
            },
            "title": title or f"VEX statements by {document.author}",
            "tracking": {
                "current_release_date": c.format_time(current),
                "generator": {"engine": {"name": "Sakimori", "version": __version__}},
                "id": tracking_id,
                "initial_release_date": c.format_time(initial),
                "revision_history": history,
                "status": status,
                "version": str(document.version),
            },
        },
        "product_tree": tree.render(),
        "vulnerabilities": vulnerabilities,
    }
    return orjson.dumps(out, option=orjson.OPT_INDENT_2)


class _Tree:
    """Product ids for the statements' products, and the product tree that defines them."""

    def __init__(self) -> None:
        self.ids: dict[VexProduct, str] = {}
        self.names: list[dict[str, Any]] = []
        self.relationships: list[dict[str, Any]] = []

    def id_of(self, product: VexProduct) -> str:
        """The product id that carries the product's status.

        A product with subcomponents is a chain of ``default_component_of`` relationships: the
        first subcomponent in the product, the next one in that combination, and so on; the
        last combination carries the status and the product's name.
        """
        if not product.subcomponents:
            return self._define(product)
        if product in self.ids:
            return self.ids[product]
        whole = (
            VexProduct(purl=product.purl, cpe=product.cpe, ref=product.ref)
            if product.purl or product.cpe or product.ref
            else VexProduct(name=product.name)
        )
        whole_id, whole_name = self._define(whole), _name(whole)
        for number, sub in enumerate(product.subcomponents, start=1):
            part_id = self._define(sub)
            last = number == len(product.subcomponents)
            step = (
                product
                if last
                else VexProduct(  # unnamed: its name is the one derived below
                    purl=product.purl,
                    cpe=product.cpe,
                    ref=product.ref,
                    subcomponents=product.subcomponents[:number],
                )
            )
            if step not in self.ids:
                self.ids[step] = self._next()
                name = f"{_name(sub)} in {whole_name}"
                if last and product.name:
                    name = product.name
                self.relationships.append(
                    {
                        "category": "default_component_of",
                        "full_product_name": {"name": name, "product_id": self.ids[step]},
                        "product_reference": part_id,
                        "relates_to_product_reference": whole_id,
                    }
                )
            whole_id, whole_name = self.ids[step], _name(sub) + " in " + whole_name
        return whole_id

    def _next(self) -> str:
        return f"CSAFPID-{len(self.ids) + 1:04d}"

    def _define(self, product: VexProduct) -> str:
        if product not in self.ids:
            self.ids[product] = self._next()
            name: dict[str, Any] = {"name": _name(product), "product_id": self.ids[product]}
            helper = {
                key: value for key, value in (("cpe", product.cpe), ("purl", product.purl)) if value
            }
            if helper:
                name["product_identification_helper"] = helper
            self.names.append(name)
        return self.ids[product]

    def render(self) -> dict[str, Any]:
        tree: dict[str, Any] = {"full_product_names": self.names}
        if self.relationships:
            tree["relationships"] = self.relationships
        return tree


def _name(product: VexProduct) -> str:
    return product.name or c.product_name(product.purl, product.cpe, product.ref)


def _by_vulnerability(statements: tuple[VexStatement, ...]) -> dict[str, list[VexStatement]]:
    grouped: dict[str, list[VexStatement]] = {}
    for statement in statements:
        grouped.setdefault(statement.vulnerability, []).append(statement)
    return grouped


def _render_vulnerability(
    vulnerability: str, statements: list[VexStatement], tree: _Tree, author: str
) -> dict[str, Any]:
    latest: dict[str, VexStatement] = {}  # product id -> the statement that decides its status
    for statement in statements:
        for product in statement.products:
            pid = tree.id_of(product)
            held = latest.get(pid)
            if (
                held is None
                or held.timestamp is None
                or statement.timestamp is None
                or statement.timestamp >= held.timestamp
            ):
                latest[pid] = statement
    aliases = list(dict.fromkeys(a for s in statements for a in s.aliases if a != vulnerability))
    out: dict[str, Any] = {}
    if CVE.fullmatch(vulnerability):
        out["cve"] = vulnerability
        ids = aliases
    else:
        ids = [vulnerability, *aliases]
    if ids:
        out["ids"] = [{"system_name": c.id_system(i), "text": i} for i in ids]
    status_lists: dict[str, list[str]] = {}
    flags: dict[tuple[str, str | None], list[str]] = {}
    threats: dict[tuple[str, str | None], list[str]] = {}
    remedies: dict[tuple[str, str, str | None], list[str]] = {}
    for pid, s in latest.items():
        group = s.source_status if GROUP_STATUS.get(s.source_status or "") is s.status else None
        status_lists.setdefault(group or DEFAULT_GROUP[s.status], []).append(pid)
        when = c.format_time(s.timestamp) if s.timestamp is not None else None
        if s.status is S.NOT_AFFECTED and s.justification is not None:
            flags.setdefault((s.justification.value, when), []).append(pid)
        impact = s.impact_statement
        if impact is None and s.status is S.NOT_AFFECTED and s.justification is None:
            impact = c.NO_IMPACT_STATEMENT
        if impact is not None:
            threats.setdefault((impact, when), []).append(pid)
        action = s.action_statement
        if action is None and s.status is S.AFFECTED:
            action = c.NO_ACTION_STATEMENT
        if action is not None:
            kind = s.remediation_category or DEFAULT_CATEGORY[s.status]
            remedies.setdefault((kind.value, action, when), []).append(pid)
    out["notes"] = [
        {
            "category": "general",
            "title": "VEX statement",
            "text": f"The status of {vulnerability} in the products below, as stated by {author}.",
        }
    ]
    out["product_status"] = {g: status_lists[g] for g, _ in GROUPS if g in status_lists}
    if flags:
        out["flags"] = [_dated({"label": k, "product_ids": v}, d) for (k, d), v in flags.items()]
    if threats:
        out["threats"] = [
            _dated({"category": "impact", "details": t, "product_ids": v}, d)
            for (t, d), v in threats.items()
        ]
    if remedies:
        out["remediations"] = [
            _dated({"category": k, "details": t, "product_ids": v}, d)
            for (k, t, d), v in remedies.items()
        ]
    return out


def _dated(item: dict[str, Any], when: str | None) -> dict[str, Any]:
    if when is not None:
        item["date"] = when
    return item
