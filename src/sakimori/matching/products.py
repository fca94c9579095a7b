"""Products matched against NVD applicability configurations and CVE ``affected`` entries. Pure.

A *product entry* is an inventory component of ecosystem ``CPE`` carrying a CPE 2.3 name (an
appliance, an operating system, commercial software: see ``formats/products_csv.py``). Its
identity for findings and storage is ``part:vendor:product`` (lower case, unquoted; the
"package") and the rest of the name from the version on (the "version": ``7.0.1``,
``10.2.12:h1`` when NVD keeps the hotfix in the ``update`` field).

Two kinds of record can say a product is affected, and both are evaluated exactly:

* an **NVD record**: its ``configurations`` are evaluated over *all* the asset's products at
  once (``cpe.applicability``: a firmware criterion AND its hardware platform may be met by two
  entries). TRUE names the vulnerable criteria and the products they matched; UNKNOWN (the
  entry gives no version, say) is reported for review, never as a finding;
* a **CVE List V5 record**: the CNA's ``affected`` entries naming the product (by ``cpes``, or
  by vendor and product folded) decide the version's status (``cpe.cve_affected``);
  ``needs-review`` is reported with its reason.

A product entry whose CPE part is not known (``*``: the person typed a vendor and a product)
is tried as an application, an operating system and a device; only the part some record names
can match. One vulnerability found by both kinds of record is one finding listing both.

Keys (:func:`product_keys`, :func:`cve_record_keys`, :func:`nvd_record_keys`) say which
records can concern a product, so storage hands this module only those.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from sakimori.cpe.applicability import ApplicabilityIndex, Product, ProductSet, Truth
from sakimori.cpe.cve_affected import ProductQuery, evaluate_record
from sakimori.cpe.name import ANY, Wfn
from sakimori.errors import InvalidInput
from sakimori.matching import aliases
from sakimori.matching.product_names import (
    PRODUCT_ECOSYSTEM,
    cve_record_keys,
    key_of,
    nvd_record_keys,
    package_version,
    product_keys,
    product_name,
    variants,
)
from sakimori.model.cve import CveRecord
from sakimori.model.finding import Finding
from sakimori.model.intel import EpssScore, KevEntry
from sakimori.model.inventory import Component
from sakimori.triage.severity import overall, scores

#: Record ids in a finding's ``records``: which kind of record said so.
NVD_RECORD: Final = "NVD:"
CVE_RECORD: Final = "CVE:"


@dataclass(frozen=True, slots=True)
class ProductHit:
    """A product entry affected by a vulnerability, and the records that say so."""

    component: Component
    package: str
    version: str
    vulnerability: str
    records: tuple[str, ...]
    #: Upper bounds that end the vulnerable ranges (``versionEndExcluding``, ``lessThan``).
    fixed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProductReview:
    """A record that may concern a product entry but cannot be decided, and why."""

    component: Component
    vulnerability: str
    reason: str


@dataclass(slots=True)
class _Hits:
    component: Component
    records: set[str]
    fixed: list[str]


def match_products(
    components: Sequence[Component],
    nvd: ApplicabilityIndex,
    cve: Iterable[CveRecord] = (),
) -> tuple[list[ProductHit], list[ProductReview]]:
    """What the NVD records (indexed) and the CVE records say about one asset's products."""
    names: dict[Wfn, Component] = {}
    for component in components:
        name = product_name(component)
        if name is not None:
            for variant in variants(name):
                names.setdefault(variant, component)
    if not names:
        return [], []
    found: dict[tuple[str, str], _Hits] = {}
    reviews: dict[tuple[str, str], ProductReview] = {}

    def hit(component: Component, vulnerability: str, record: str, fixed: str | None) -> None:
        package = _identity_of(component)
        slot = found.setdefault((package, vulnerability), _Hits(component, set(), []))
        slot.records.add(record)
        if fixed is not None and fixed not in slot.fixed:
            slot.fixed.append(fixed)

    usable: list[Product] = []
    for name, component in names.items():
        try:
            usable.append(Product.of(name))
        except InvalidInput as exc:  # a wildcard: a pattern, not one product
            reviews.setdefault(
                (_identity_of(component), ""), ProductReview(component, "", exc.message)
            )
    for verdict in nvd.evaluate(ProductSet.of(usable)):
        if verdict.truth is Truth.TRUE:
            said = NVD_RECORD + verdict.record_id
            for h in verdict.hits:
                hit(names[h.product], verdict.record_id, said, h.match.end_excluding)
            continue
        # Unknown only arises from a product without a version that a bounded criterion names.
        named = nvd_record_keys(nvd.by_id[verdict.record_id])
        concerned = [p for p in usable if key_of(p.name) in named]
        unversioned = [p for p in concerned if p.version is ANY]
        reason = "; ".join(verdict.reasons) or "the configuration cannot be decided"
        for product in unversioned or concerned:
            component = names[product.name]
            reviews.setdefault(
                (_identity_of(component), verdict.record_id),
                ProductReview(component, verdict.record_id, reason),
            )
    by_key: dict[str, list[CveRecord]] = {}
    for record in cve:
        for key in cve_record_keys(record):
            by_key.setdefault(key, []).append(record)
    for name, component in names.items():
        candidates = {r.id: r for key in product_keys(name) for r in by_key.get(key, ())}
        query = ProductQuery.from_cpe(name)
        for record in candidates.values():
            status = evaluate_record(record, query)
            if status is None:
                continue
            if status.status == "affected":
                hit(component, record.id, CVE_RECORD + record.id, None)
            elif status.status == "needs-review":
                reviews.setdefault(
                    (_identity_of(component), record.id),
                    ProductReview(component, record.id, status.reason),
                )
    hits = [
        ProductHit(
            slot.component,
            *package_version(slot.component),
            vulnerability,
            tuple(sorted(slot.records)),
            tuple(slot.fixed),
        )
        for (_, vulnerability), slot in sorted(found.items())
    ]
    decided = set(found)
    return hits, [r for key, r in sorted(reviews.items()) if key not in decided]


def _identity_of(component: Component) -> str:
    package, version = package_version(component)
    return f"{package}@{version}"


def product_findings(
    inventory: str,
    hits: Iterable[ProductHit],
    kev: Mapping[str, KevEntry],
    epss: Mapping[str, EpssScore],
    cvss: Mapping[str, Sequence[tuple[str, str]]],
    aliases_of: Mapping[str, Sequence[str]] | None = None,
) -> list[Finding]:
    """Findings (as package matching makes them) for product hits: CVSS from the CVE records,
    KEV and EPSS by CVE id, the other ids a vulnerability is known by in ``aliases_of``."""
    out: list[Finding] = []
    for item in hits:
        ids = aliases.ordered([item.vulnerability, *(aliases_of or {}).get(item.vulnerability, ())])
        primary = ids[0]
        statements = [s for i in ids for s in cvss.get(i, ())]
        severity = scores(statements)
        best, rating = overall(severity)
        cves = [i for i in ids if i.startswith("CVE-")]
        kev_entry = next((kev[c] for c in cves if c in kev), None)
        top = max((epss[c] for c in cves if c in epss), key=lambda s: s.epss, default=None)
        out.append(
            Finding(
                vulnerability=primary,
                aliases=tuple(i for i in ids if i != primary),
                ecosystem=PRODUCT_ECOSYSTEM,
                package=item.package,
                version=item.version,
                purl=None,
                fixed=item.fixed,
                severity=severity,
                score=best,
                rating=rating,
                kev=kev_entry is not None,
                kev_due_date=kev_entry.due_date if kev_entry else None,
                epss=top.epss if top else None,
                epss_percentile=top.percentile if top else None,
                summary="",
                inventory=inventory,
                records=item.records,
            )
        )
    return out


__all__: Final = [
    "CVE_RECORD",
    "NVD_RECORD",
    "ProductHit",
    "ProductReview",
    "match_products",
    "product_findings",
]
