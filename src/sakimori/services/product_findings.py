"""Product entries (appliances, operating systems, commercial software) as findings.

An asset's product entries — inventory components of ecosystem ``CPE`` — are matched against
the NVD configurations and CVE ``affected`` entries that name them (``store.products`` finds
those records by product key; ``matching.products`` decides), and their findings join the
asset's other findings: same reconciliation, same triage, same lifecycle. A finding's package
is the product (``o:fortinet:fortios``), its version the rest of the CPE name (``7.0.1``).

NVD configurations are evaluated over all of an asset's products together (a firmware
criterion AND its hardware platform), so re-matching after an intel change reads every product
entry of each asset concerned, not only the entries the changed records name.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from sakimori.cpe.name import Wfn, quote
from sakimori.cpe.normalise import Suggestion, Vocabulary
from sakimori.matching.product_names import (
    PRODUCT_ECOSYSTEM,
    package_version,
    product_keys,
    product_name,
)
from sakimori.matching.products import ProductHit, ProductReview, match_products, product_findings
from sakimori.model.finding import Finding
from sakimori.model.inventory import Component
from sakimori.services.assessment import assess_findings, policy_set
from sakimori.services.reconcile import Package, SyncCounts, reconcile
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.store.db import Database
from sakimori.store.inventories import is_current
from sakimori.store.jvn import jvn_ids_for
from sakimori.store.products import cve_records_of as records_for_ids
from sakimori.store.products import product_index
from sakimori.triage.policy import PolicySet


def is_product(component: Component) -> bool:
    return component.ecosystem == PRODUCT_ECOSYSTEM


def keys_of(components: Sequence[Component]) -> set[str]:
    keys: set[str] = set()
    for component in components:
        name = product_name(component)
        if name is not None:
            keys |= product_keys(name)
    return keys


def match_assets(
    session: Session, assets: Mapping[int, Sequence[Component]], source: str
) -> tuple[dict[int, list[Finding]], list[ProductReview]]:
    """Product findings of each asset (its product entries only), and what needs review.

    Assets holding the same products are evaluated once.
    """
    products = {a: [c for c in cs if is_product(c)] for a, cs in assets.items()}
    wanted = keys_of([c for cs in products.values() for c in cs])
    found: dict[int, list[Finding]] = {asset_id: [] for asset_id in assets}
    if not wanted:
        return found, []
    index, cve_records = product_index(session, wanted)
    matched: dict[frozenset[Component], tuple[list[ProductHit], list[ProductReview]]] = {}
    for held in products.values():
        shape = frozenset(held)
        if shape and shape not in matched:
            matched[shape] = match_products(sorted(held, key=_order), index, cve_records)
    cves = {h.vulnerability for hits, _ in matched.values() for h in hits}
    kev = store.kev_entries(session, cves)
    epss = store.epss_scores(session, cves)
    cvss = store.cve_severity(session, cves)
    jvn = jvn_ids_for(session, cves)
    results = {
        shape: (product_findings(source, hits, kev, epss, cvss, jvn), reviews)
        for shape, (hits, reviews) in matched.items()
    }
    reviews_out: list[ProductReview] = []
    for asset_id, held in products.items():
        if held:
            findings, reviews = results[frozenset(held)]
            found[asset_id] = list(findings)
            reviews_out.extend(reviews)
    return found, reviews_out


def unknown_products(session: Session, components: Sequence[Component]) -> list[Component]:
    """The product entries that no loaded record names (by CPE or by the CNA's words): most
    likely a vendor or product spelled otherwise than NVD and the CNAs spell it."""
    entries = [c for c in components if is_product(c) and product_name(c) is not None]
    wanted = keys_of(entries)
    known: set[str] = set()
    for part in store.chunks(sorted(wanted), 900):
        known.update(
            session.scalars(select(models.ProductKey.key).where(models.ProductKey.key.in_(part)))
        )
    unknown = []
    for component in entries:
        name = product_name(component)
        assert name is not None  # filtered above
        if not product_keys(name) & known:
            unknown.append(component)
    return unknown


def vocabulary(session: Session) -> Vocabulary:
    """The vendor/product pairs the loaded records name, with the CNAs' words as aliases."""
    words = Vocabulary()
    rows = session.execute(
        select(models.ProductKey.key, models.ProductKey.cve_id).where(
            ~models.ProductKey.key.startswith("text:")
        )
    )
    for key, cve_id in rows:
        part, vendor, product = key.split(":", 2)
        words.add(Wfn(part, quote(vendor), quote(product)), cve_id)
    cve_ids = session.scalars(
        select(models.ProductKey.cve_id).where(models.ProductKey.kind == "cve").distinct()
    ).all()
    for cve in records_for_ids(session, cve_ids):
        for entry in cve.affected:
            words.add_entry(entry, cve.id)
    return words


def suggest(
    db: Database, text: str, *, vendor: str | None = None, limit: int = 5
) -> list[Suggestion]:
    """Ranked, explained CPE vendor/product suggestions for a product named in free text."""
    with db.transaction() as session:
        return vocabulary(session).suggest(text, vendor=vendor, limit=limit)


def _order(component: Component) -> tuple[str, str]:
    return component.cpe or "", component.name


def held_products(session: Session, keys: Collection[str]) -> dict[int, list[Component]]:
    """Every product entry of the current inventories of the assets holding a product named
    by ``keys`` (each asset's whole product set: configurations combine products).

    CPE keys go through the package index (a product entry's ``name`` column is its
    ``part:vendor:product``, or ``*:vendor:product`` when typed without a part); the CNAs'
    word keys (``text:…``) cannot, and read every current product entry instead.
    """
    wanted = set(keys)
    names = {k for k in wanted if not k.startswith("text:")}
    names |= {"*:" + k.split(":", 1)[1] for k in names if k[:2] in {"a:", "o:", "h:"}}
    by_name = _current_products(session, names=names) if names else {}
    by_words = (
        _current_products(session, names=None) if any(k.startswith("text:") for k in wanted) else {}
    )
    concerned = set(by_name)
    named: dict[str | None, bool] = {}
    for asset_id, items in by_words.items():
        for item in items:
            if item.cpe not in named:
                name = product_name(item)
                named[item.cpe] = name is not None and bool(product_keys(name) & wanted)
            if named[item.cpe]:
                concerned.add(asset_id)
                break
    if not concerned:
        return {}
    whole = by_words or _current_products(session, assets=concerned)
    return {asset_id: whole[asset_id] for asset_id in sorted(concerned)}


def _any_products(session: Session) -> bool:
    """Whether any inventory holds a product entry (an NVD load before any product list is
    uploaded re-matches nothing, at the cost of one indexed probe)."""
    component = models.InventoryComponent
    probe = select(component.id).where(component.ecosystem == PRODUCT_ECOSYSTEM).limit(1)
    return session.execute(probe).first() is not None


def _current_products(
    session: Session, *, names: Collection[str] | None = None, assets: Collection[int] = ()
) -> dict[int, list[Component]]:
    """The product entries of current inventories: of these package names, of these assets,
    or (neither) all of them."""
    inventory: Table = models.Inventory.__table__  # type: ignore[assignment]
    component: Table = models.InventoryComponent.__table__  # type: ignore[assignment]
    query = (
        select(inventory.c.asset_id, component.c.display_name, component.c.version, component.c.cpe)
        .select_from(component.join(inventory, inventory.c.id == component.c.inventory_id))
        .where(component.c.ecosystem == PRODUCT_ECOSYSTEM, is_current(inventory))
        .order_by(inventory.c.asset_id, component.c.id)
    )
    if names is not None:
        parts = [query.where(component.c.name.in_(p)) for p in store.chunks(sorted(names), 500)]
    elif assets:
        ids = sorted(assets)
        parts = [query.where(inventory.c.asset_id.in_(p)) for p in store.chunks(ids, 500)]
    else:
        parts = [query]
    found: dict[int, list[Component]] = {}
    for part in parts:
        for asset_id, display, version, cpe in session.execute(part):
            found.setdefault(asset_id, []).append(
                Component(name=display, version=version, ecosystem=PRODUCT_ECOSYSTEM, cpe=cpe)
            )
    return found


def refresh_products(
    session: Session,
    keys: Collection[str],
    now: datetime,
    why: str,
    policies: PolicySet | None = None,
) -> SyncCounts:
    """Re-match the product entries of the assets holding a product named by ``keys`` (after
    NVD or CVE records naming them changed), and re-assess what changed."""
    if not keys or not _any_products(session):
        return SyncCounts()
    held = held_products(session, keys)
    if not held:
        return SyncCounts()
    found, _ = match_assets(session, held, why)
    scope: set[Package] = {
        (PRODUCT_ECOSYSTEM, package_version(c)[0])
        for cs in held.values()
        for c in cs
        if product_name(c) is not None
    }
    result = reconcile(session, found, now, why, scope, scope)
    if result.changed:
        assess_findings(session, result.changed, policies or policy_set(None), now, why)
    return result.counts


__all__ = [
    "held_products",
    "is_product",
    "keys_of",
    "match_assets",
    "refresh_products",
    "suggest",
    "unknown_products",
    "vocabulary",
]
