"""CSAF 2.0 VEX documents (``document.category`` ``csaf_vex``): parse and render.

Reading:

- Only CSAF 2.0 ``csaf_vex`` documents; other CSAF profiles (security advisories…) are refused
  with ``UnsupportedFormat``, since they do not carry the VEX profile's guarantees.
- Every product id is resolved through ``product_tree``: ``branches`` (walked iteratively),
  ``full_product_names`` and ``relationships``. A product takes its ``name`` and the purl and CPE
  of its ``product_identification_helper``. A relationship's product is the product it relates to
  (``relates_to_product_reference``), named by the relationship, with the referenced product
  (``product_reference``) as its subcomponent. ``group_ids`` are expanded through
  ``product_groups``. An id the tree does not define, or defines twice, is refused.
- ``product_status``: ``known_not_affected`` → not_affected; ``known_affected``,
  ``first_affected``, ``last_affected`` → affected; ``fixed``, ``first_fixed`` → fixed;
  ``under_investigation``; the ``first_``/``last_`` groups are kept as ``source_status``.
  ``recommended`` is not a status and is not read. A product in two contradicting groups is
  refused (CSAF mandatory test 6.1.6).
- Per product: the ``flags`` label is the justification, ``threats`` of category ``impact`` the
  impact statement, ``remediations`` the action statement and its category; the statement's time
  is the flag's date, else the threat's, else the remediation's, else ``current_release_date``.
  Products whose statements agree on all of that form one statement. A flag on a product that is
  not ``known_not_affected`` is not read (it would justify a status the product does not have).
- The vulnerability is ``cve``, else the first of ``ids``; the other ids are aliases. Two entries
  for one vulnerability are refused (CSAF mandatory test 6.1.23).

Writing: a ``csaf_vex`` document that validates against the CSAF 2.0 JSON schema and meets the VEX
profile: a product tree built from the statements' products (purl/CPE in the identification
helper; subcomponents as ``default_component_of`` relationships), one vulnerability per id,
an impact statement for every not-affected product (flag or threat) and an action statement for
every affected one (our placeholder text when the statement has none). When several statements
give one product a status for one vulnerability, the latest one (by timestamp, then by order)
is written, since CSAF allows one status per product.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final, NamedTuple

from sakimori.errors import UnsupportedFormat
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json
from sakimori.formats.vex import _common as c
from sakimori.model.vex import (
    Justification,
    RemediationCategory,
    VexDocument,
    VexProduct,
    VexStatement,
    VexStatus,
)

S = VexStatus
#: ``product_status`` groups in the order they are read and written, with their status.
GROUPS: Final[tuple[tuple[str, VexStatus], ...]] = (
    ("known_not_affected", S.NOT_AFFECTED),
    ("known_affected", S.AFFECTED),
    ("first_affected", S.AFFECTED),
    ("last_affected", S.AFFECTED),
    ("fixed", S.FIXED),
    ("first_fixed", S.FIXED),
    ("under_investigation", S.UNDER_INVESTIGATION),
)
GROUP_STATUS: Final = dict(GROUPS)
DEFAULT_GROUP: Final = {
    S.NOT_AFFECTED: "known_not_affected",
    S.AFFECTED: "known_affected",
    S.FIXED: "fixed",
    S.UNDER_INVESTIGATION: "under_investigation",
}
#: Remediation category written for an action statement that has none.
DEFAULT_CATEGORY: Final = {
    S.NOT_AFFECTED: RemediationCategory.NO_FIX_PLANNED,
    S.AFFECTED: RemediationCategory.NONE_AVAILABLE,
    S.FIXED: RemediationCategory.VENDOR_FIX,
    S.UNDER_INVESTIGATION: RemediationCategory.NONE_AVAILABLE,
}
TLP_LABELS: Final = frozenset({"WHITE", "GREEN", "AMBER", "RED"})
PUBLISHER_CATEGORIES: Final = frozenset(
    {"coordinator", "discoverer", "other", "translator", "user", "vendor"}
)
CVE: Final = re.compile(r"CVE-[0-9]{4}-[0-9]{4,}")
_INTEGER_OR_SEMVER: Final = re.compile(r"(0|[1-9][0-9]*)(?:\.[0-9]+\.[0-9]+(?:[-+].*)?)?")


def sniff(value: object) -> bool:
    """A decoded JSON object with a ``document.csaf_version``."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("document"), dict)
        and "csaf_version" in value["document"]
    )


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> VexDocument:
    """Parse a CSAF 2.0 VEX document; only ``InvalidInput`` errors escape."""
    return from_json(load_json(data, limits))


def from_json(value: object) -> VexDocument:
    """Read an already decoded CSAF document."""
    if not sniff(value):
        raise UnsupportedFormat("not a CSAF document (no document.csaf_version)")
    root = c.obj(value, "csaf")
    document = c.obj(root["document"], "document")
    if document.get("csaf_version") != "2.0":
        raise UnsupportedFormat(f"CSAF version {document.get('csaf_version')!r} is not read")
    category = c.text(document, "category", "document")
    if category != "csaf_vex":
        raise UnsupportedFormat(
            f"CSAF document category {category!r} is not the VEX profile",
            hint="only csaf_vex documents are read as VEX",
        )
    tracking = c.obj(document.get("tracking"), "document.tracking")
    author = c.text(c.obj(document.get("publisher"), "document.publisher"), "name", "publisher")
    issued = c.timestamp(tracking, "current_release_date", "document.tracking", required=True)
    products, groups = _tree(c.obj(root.get("product_tree"), "product_tree"))
    statements: list[VexStatement] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(c.opt_list(root, "vulnerabilities", "csaf")):
        where = f"vulnerabilities[{index}]"
        primary = _ids(c.obj(item, where), where)[0]
        if primary in seen:  # CSAF mandatory test 6.1.23 (for CVE ids)
            c.fail(f"{where}: {primary} already has an entry (vulnerabilities[{seen[primary]}])")
        seen[primary] = index
        statements.extend(
            _vulnerability(c.obj(item, where), where, products, groups, author, issued)
        )
    return VexDocument(
        statements=tuple(statements),
        id=c.text(tracking, "id", "document.tracking"),
        author=author,
        timestamp=c.timestamp(tracking, "initial_release_date", "document.tracking", required=True),
        last_updated=issued,
        version=_version(tracking),
    )


def _version(tracking: dict[str, Any]) -> int:
    """An integer version as is; a semantic version by its major number (at least 1)."""
    written = c.text(tracking, "version", "document.tracking")
    match = _INTEGER_OR_SEMVER.fullmatch(written)
    if match is None:
        c.fail(f"document.tracking.version {written!r} is neither an integer nor a semver")
    return max(1, int(match.group(1)))


def _tree(tree: dict[str, Any]) -> tuple[dict[str, VexProduct], dict[str, tuple[str, ...]]]:
    products: dict[str, VexProduct] = {}

    def define(raw: object, where: str) -> tuple[str, str, str | None, str | None]:
        name = c.obj(raw, where)
        pid = c.text(name, "product_id", where)
        if pid in products:
            c.fail(f"{where}.product_id {pid!r} is defined twice")
        helper = c.opt_obj(name, "product_identification_helper", where)
        purl = c.opt_text(helper, "purl", f"{where}.product_identification_helper")
        cpe = c.opt_text(helper, "cpe", f"{where}.product_identification_helper")
        return (
            pid,
            c.text(name, "name", where),
            c.purl(purl, f"{where} purl") if purl else None,
            c.cpe(cpe, f"{where} CPE") if cpe else None,
        )

    queue = [
        (b, f"product_tree.branches[{n}]")
        for n, b in enumerate(c.opt_list(tree, "branches", "product_tree"))
    ]
    for raw, where in queue:  # grows while walked: breadth first, no recursion
        branch = c.obj(raw, where)
        if branch.get("product") is not None:
            pid, name, purl, cpe = define(branch["product"], f"{where}.product")
            products[pid] = VexProduct(purl=purl, cpe=cpe, name=name)
        queue.extend(
            (b, f"{where}.branches[{n}]")
            for n, b in enumerate(c.opt_list(branch, "branches", where))
        )
    for n, raw in enumerate(c.opt_list(tree, "full_product_names", "product_tree")):
        pid, name, purl, cpe = define(raw, f"product_tree.full_product_names[{n}]")
        products[pid] = VexProduct(purl=purl, cpe=cpe, name=name)
    pending = list(enumerate(c.opt_list(tree, "relationships", "product_tree")))
    while pending:  # a relationship may build on another one, defined in any order
        waiting = []
        for n, raw in pending:
            where = f"product_tree.relationships[{n}]"
            link = c.obj(raw, where)
            part, whole = (
                c.text(link, "product_reference", where),
                c.text(link, "relates_to_product_reference", where),
            )
            if part not in products or whole not in products:
                waiting.append((n, raw))
                continue
            pid, name, purl, cpe = define(
                link.get("full_product_name"), f"{where}.full_product_name"
            )
            base, sub = products[whole], products[part]
            products[pid] = VexProduct(
                purl=purl or base.purl,
                cpe=cpe or base.cpe,
                name=name,
                ref=base.ref,
                subcomponents=(*base.subcomponents, _bare(sub)),
            )
        if len(waiting) == len(pending):
            n = waiting[0][0]
            c.fail(f"product_tree.relationships[{n}] refers to a product the tree does not define")
        pending = waiting
    groups: dict[str, tuple[str, ...]] = {}
    for n, raw in enumerate(c.opt_list(tree, "product_groups", "product_tree")):
        where = f"product_tree.product_groups[{n}]"
        group = c.obj(raw, where)
        groups[c.text(group, "group_id", where)] = _known(
            c.strings(c.opt_list(group, "product_ids", where), f"{where}.product_ids"),
            products,
            where,
        )
    return products, groups


def _known(pids: tuple[str, ...], products: dict[str, VexProduct], where: str) -> tuple[str, ...]:
    for pid in pids:
        if pid not in products:
            c.fail(f"{where} names product {pid!r}, which the product_tree does not define")
    return pids


def _bare(product: VexProduct) -> VexProduct:
    return VexProduct(purl=product.purl, cpe=product.cpe, name=product.name, ref=product.ref)


def _ids(entry: dict[str, Any], where: str) -> tuple[str, tuple[str, ...]]:
    cve = c.opt_text(entry, "cve", where)
    if cve is not None and not CVE.fullmatch(cve):
        c.fail(f"{where}.cve {cve!r} is not a CVE id")
    ids = [
        c.text(c.obj(item, f"{where}.ids[{n}]"), "text", f"{where}.ids[{n}]")
        for n, item in enumerate(c.opt_list(entry, "ids", where))
    ]
    every = list(dict.fromkeys([cve, *ids] if cve else ids))
    if not every:
        c.fail(f"{where} has neither cve nor ids")
    return every[0], tuple(every[1:])


def _targets(
    item: dict[str, Any],
    where: str,
    products: dict[str, VexProduct],
    groups: dict[str, tuple[str, ...]],
) -> tuple[str, ...]:
    pids = _known(
        c.strings(c.opt_list(item, "product_ids", where), f"{where}.product_ids"), products, where
    )
    for group in c.strings(c.opt_list(item, "group_ids", where), f"{where}.group_ids"):
        if group not in groups:
            c.fail(
                f"{where}.group_ids names group {group!r}, which the product_tree does not define"
            )
        pids += groups[group]
    return pids


class _Part(NamedTuple):
    """What a vulnerability entry says about one product; equal parts make one statement."""

    status: VexStatus
    source_status: str | None
    justification: Justification | None
    impact: str | None
    action: str | None
    category: RemediationCategory | None
    when: datetime | None


_Dated = tuple[str | None, datetime | None]
_Remedy = tuple[RemediationCategory | None, str | None, datetime | None]


def _vulnerability(
    entry: dict[str, Any],
    where: str,
    products: dict[str, VexProduct],
    groups: dict[str, tuple[str, ...]],
    author: str,
    issued: datetime | None,
) -> list[VexStatement]:
    vulnerability, aliases = _ids(entry, where)
    flags: dict[str, tuple[Justification, datetime | None]] = {}
    for n, flag in _items(entry, "flags", where):
        label = c.text(flag, "label", f"{where}.flags[{n}]")
        if label not in frozenset(Justification):
            c.fail(f"{where}.flags[{n}].label {label!r} is not a CSAF flag label")
        when = c.timestamp(flag, "date", f"{where}.flags[{n}]")
        for pid in _targets(flag, f"{where}.flags[{n}]", products, groups):
            flags.setdefault(pid, (Justification(label), when))
    impacts: dict[str, list[_Dated]] = {}
    for n, threat in _items(entry, "threats", where):
        place = f"{where}.threats[{n}]"
        if c.text(threat, "category", place) == "impact":
            said = (
                c.statement_text(threat, "details", place, required=True),
                c.timestamp(threat, "date", place),
            )
            for pid in _targets(threat, place, products, groups):
                impacts.setdefault(pid, []).append(said)
    actions: dict[str, list[_Remedy]] = {}
    for n, remedy in _items(entry, "remediations", where):
        place = f"{where}.remediations[{n}]"
        category = c.text(remedy, "category", place)
        if category not in frozenset(RemediationCategory):
            c.fail(f"{place}.category {category!r} is not a CSAF remediation category")
        action = c.statement_text(remedy, "details", place, required=True)
        kind: RemediationCategory | None = RemediationCategory(category)
        if action is None and kind is DEFAULT_CATEGORY[S.AFFECTED]:
            kind = None  # our own placeholder: nothing was given
        done = (kind, action, c.timestamp(remedy, "date", place))
        for pid in _targets(remedy, place, products, groups):
            actions.setdefault(pid, []).append(done)
    together: dict[_Part, dict[VexProduct, None]] = {}
    for pid, (status, group) in _statuses(entry, where, products).items():
        # A flag justifies "not affected"; on a product with another status it is not read.
        justification, flagged = (
            flags.get(pid, (None, None)) if status is S.NOT_AFFECTED else (None, None)
        )
        said_all, remedies = impacts.get(pid, []), actions.get(pid, [])
        dates = [flagged, *(d for _, d in said_all), *(d for _, _, d in remedies)]
        part = _Part(
            status=status,
            source_status=None if group == DEFAULT_GROUP[status] else group,
            justification=justification,
            impact="\n".join(text for text, _ in said_all if text) or None,
            action="\n".join(text for _, text, _ in remedies if text) or None,
            category=next((kind for kind, _, _ in remedies if kind), None),
            when=next((d for d in dates if d is not None), issued),
        )
        together.setdefault(part, {})[products[pid]] = None
    return [
        VexStatement(
            vulnerability=vulnerability,
            aliases=aliases,
            products=tuple(members),
            status=part.status,
            source_status=part.source_status,
            justification=part.justification,
            impact_statement=part.impact,
            action_statement=part.action,
            remediation_category=part.category,
            timestamp=part.when,
            author=author,
        )
        for part, members in together.items()
    ]


def _items(entry: dict[str, Any], key: str, where: str) -> list[tuple[int, dict[str, Any]]]:
    return [
        (n, c.obj(raw, f"{where}.{key}[{n}]"))
        for n, raw in enumerate(c.opt_list(entry, key, where))
    ]


def _statuses(
    entry: dict[str, Any], where: str, products: dict[str, VexProduct]
) -> dict[str, tuple[VexStatus, str]]:
    """Product id → (status, product_status group), in group order; contradictions refused."""
    states = c.obj(entry.get("product_status"), f"{where}.product_status")
    for key in states:
        if key not in GROUP_STATUS and key != "recommended":
            c.fail(f"{where}.product_status.{key} is not a CSAF product status")
    found: dict[str, tuple[VexStatus, str]] = {}
    for group, status in GROUPS:
        place = f"{where}.product_status.{group}"
        for pid in _known(c.strings(c.opt_list(states, group, place), place), products, place):
            if pid in found and found[pid][0] is not status:
                c.fail(f"{place}: product {pid!r} is also {found[pid][1]} (a contradiction)")
            found.setdefault(pid, (status, group))
    return found


def render(
    document: VexDocument,
    *,
    tlp: str,
    publisher_namespace: str,
    publisher_category: str = "coordinator",
    title: str | None = None,
    status: str = "final",
) -> bytes:
    """Write a CSAF 2.0 ``csaf_vex`` document (see ``_csaf_writer.write``).

    ``tlp`` is the TLP 1.0 label CSAF 2.0 uses (WHITE, GREEN, AMBER, RED); ``publisher_namespace``
    the publisher's URL (CSAF ``publisher.namespace``); the publisher's name is the document's
    author. The document needs an author and a timestamp (``InvalidInput`` otherwise).
    """
    # Imported here: the writer imports this module's vocabulary.
    from sakimori.formats.vex._csaf_writer import write

    return write(
        document,
        tlp=tlp,
        publisher_namespace=publisher_namespace,
        publisher_category=publisher_category,
        title=title,
        status=status,
    )
