"""Evaluate NVD CPE applicability configurations against an asset's products.

An asset is a :class:`ProductSet`: the CPE names of what runs on it (an application, the OS it
runs on, the hardware). A record **applies** to the asset when one of its configurations is
true *and* at least one ``vulnerable: true`` criterion took part in making it true; the answer
names those criteria and the products they matched (:class:`Hit`).

Truth is three-valued (Kleene logic), so that what cannot be decided is said, not guessed:

* a criterion is TRUE for a product when the criterion's name is a superset of, or equal to,
  the product's name (NISTIR 7696 ``CPE_SUPERSET``; see :mod:`sakimori.cpe.matching`) and the
  product's version is within the bounds (:mod:`sakimori.cpe.version`, the generic ordering);
  UNKNOWN when the name matches but the product's version is ANY (not given) and the criterion
  has bounds; FALSE otherwise (an NA version is outside every range);
* a node is the OR / AND of its criteria, each taken over all the asset's products (so an AND
  node of two criteria may be met by two different products); ``negate`` inverts it;
* a configuration is the AND / OR of its nodes ("running on / with": the application node AND
  the platform node), inverted by its own ``negate``;
* a record applies (TRUE), needs review (UNKNOWN), or does not apply (FALSE) as the OR of its
  configurations.

Criteria in negated nodes never count as the reason an asset is vulnerable.

:class:`ApplicabilityIndex` keys every criterion by (part, vendor, product) so an asset is only
evaluated against records that name one of its products (criteria whose vendor or product is
ANY or a wildcard are kept apart and always tried). That pruning is exact: a record with no
matching vulnerable criterion cannot apply.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from sakimori.cpe.matching import has_wildcards, wildcard_pattern
from sakimori.cpe.name import ANY, NA, Value, Wfn, parse, unquote
from sakimori.cpe.nvd import Configuration, CpeMatch, Node, NvdRecord
from sakimori.cpe.version import GenericKey, generic_key
from sakimori.errors import InvalidInput
from sakimori.matching.batch import cyclic_gc_paused

Key = tuple[str, str, str]


class Truth(enum.Enum):
    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"

    def negated(self) -> Truth:
        if self is Truth.TRUE:
            return Truth.FALSE
        if self is Truth.FALSE:
            return Truth.TRUE
        return Truth.UNKNOWN


@dataclass(frozen=True, slots=True)
class Product:
    """One CPE name of an asset, with what matching needs computed once."""

    name: Wfn
    lowered: tuple[Value, ...]
    key: Key

    @classmethod
    def of(cls, name: Wfn | str) -> Product:
        wfn = parse(name) if isinstance(name, str) else name
        for value in wfn.values():
            if has_wildcards(value):
                raise InvalidInput(
                    f"an asset's CPE names one product; {wfn} holds a wildcard",
                    hint="write the exact version, or * if it is not known",
                )
        lowered = tuple(v.lower() if isinstance(v, str) else v for v in wfn.values())
        return cls(
            wfn, lowered, (_key_part(lowered[0]), _key_part(lowered[1]), _key_part(lowered[2]))
        )

    @property
    def version(self) -> Value:
        return self.name.version


def _key_part(value: Value) -> str:
    return value if isinstance(value, str) else ("*" if value is ANY else "-")


@dataclass(frozen=True, slots=True)
class ProductSet:
    """The products of one asset, grouped by (part, vendor, product)."""

    products: tuple[Product, ...]
    by_key: dict[Key, tuple[Product, ...]]

    @classmethod
    def of(cls, names: Iterable[Wfn | str | Product]) -> ProductSet:
        products = tuple(p if isinstance(p, Product) else Product.of(p) for p in names)
        grouped: dict[Key, list[Product]] = defaultdict(list)
        for product in products:
            grouped[product.key].append(product)
        return cls(products, {k: tuple(v) for k, v in grouped.items()})


@dataclass(frozen=True, slots=True)
class Hit:
    """A vulnerable criterion and the asset product it matched."""

    match: CpeMatch
    product: Wfn


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a record applies to an asset, why, and what is undecided."""

    record_id: str
    truth: Truth
    hits: tuple[Hit, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def applies(self) -> bool:
        return self.truth is Truth.TRUE


class _Compiled:
    """A criterion reduced to fast checks: its key, the other attributes to test, bounds."""

    __slots__ = ("checks", "key", "keyed", "match")

    def __init__(self, match: CpeMatch) -> None:
        self.match = match
        lowered = tuple(v.lower() if isinstance(v, str) else v for v in match.name.values())
        self.keyed = all(isinstance(v, str) and not has_wildcards(v) for v in lowered[:3])
        self.key: Key = (_key_part(lowered[0]), _key_part(lowered[1]), _key_part(lowered[2]))
        start = 3 if self.keyed else 0
        self.checks = tuple(
            (index, value, wildcard_pattern(value) if has_wildcards(value) else None)
            for index, value in enumerate(lowered)
            if index >= start and value is not ANY
        )

    def truth(self, products: ProductSet, hits: list[Hit]) -> tuple[Truth, str]:
        candidates = products.by_key.get(self.key, ()) if self.keyed else products.products
        result, reason = Truth.FALSE, ""
        for product in candidates:
            if not self._name_ok(product):
                continue
            verdict = self._version_ok(product)
            if verdict is Truth.TRUE:
                hits.append(Hit(self.match, product.name))
                return Truth.TRUE, ""
            if verdict is Truth.UNKNOWN:
                result = Truth.UNKNOWN
                reason = f"{product.name} has no version, and {self.match.describe()} bounds it"
        return result, reason

    def _name_ok(self, product: Product) -> bool:
        lowered = product.lowered
        for index, value, pattern in self.checks:
            target = lowered[index]
            if value is NA:
                if target is not NA:
                    return False
            elif not isinstance(target, str) or (
                target != value and (pattern is None or pattern.fullmatch(unquote(target)) is None)
            ):
                return False
        return True

    def _version_ok(self, product: Product) -> Truth:
        keys = self.match.bound_keys
        if not keys or all(k is None for k in keys):
            return Truth.TRUE
        version = product.version
        if version is ANY:
            return Truth.UNKNOWN
        if version is NA:
            return Truth.FALSE
        assert isinstance(version, str)
        try:
            key = generic_key(unquote(version))
        except InvalidInput:
            return Truth.FALSE  # no letter or digit: not a version any bound speaks of
        return Truth.TRUE if _within(key, keys) else Truth.FALSE


def _within(key: GenericKey, bounds: Sequence[GenericKey | None]) -> bool:
    start_in, start_ex, end_in, end_ex = bounds
    if start_in is not None and key < start_in:
        return False
    if start_ex is not None and key <= start_ex:
        return False
    if end_in is not None and key > end_in:
        return False
    return not (end_ex is not None and key >= end_ex)


def _all(truths: Iterable[Truth]) -> Truth:
    result = Truth.TRUE
    for truth in truths:
        if truth is Truth.FALSE:
            return Truth.FALSE
        if truth is Truth.UNKNOWN:
            result = Truth.UNKNOWN
    return result


def _any(truths: Iterable[Truth]) -> Truth:
    result = Truth.FALSE
    for truth in truths:
        if truth is Truth.TRUE:
            return Truth.TRUE
        if truth is Truth.UNKNOWN:
            result = Truth.UNKNOWN
    return result


class CompiledRecord:
    """An NVD record ready for evaluation (each criterion compiled once)."""

    __slots__ = ("compiled", "keys", "nodes", "record", "wildcard")

    def __init__(self, record: NvdRecord) -> None:
        self.record = record
        self.compiled: dict[int, _Compiled] = {}
        for match in record.matches():
            self.compiled.setdefault(id(match), _Compiled(match))
        self.nodes: dict[int, tuple[_Compiled, ...]] = {
            id(n): tuple(self.compiled[id(m)] for m in n.matches)
            for c in record.configurations
            for n in c.nodes
        }
        vulnerable = [c for c in self.compiled.values() if c.match.vulnerable]
        self.keys = frozenset(c.key for c in vulnerable if c.keyed)
        self.wildcard = any(not c.keyed for c in vulnerable)

    def evaluate(self, products: ProductSet) -> Verdict:
        truths: list[Truth] = []
        hits: list[Hit] = []
        reasons: list[str] = []
        for configuration in self.record.configurations:
            truth, config_hits, config_reasons = self._configuration(configuration, products)
            truths.append(truth)
            if truth is Truth.TRUE:
                hits.extend(config_hits)
            elif truth is Truth.UNKNOWN:
                reasons.extend(config_reasons)
        overall = _any(truths)
        if overall is not Truth.UNKNOWN:
            reasons = []
        return Verdict(self.record.id, overall, tuple(hits), tuple(dict.fromkeys(reasons)))

    def _configuration(
        self, configuration: Configuration, products: ProductSet
    ) -> tuple[Truth, list[Hit], list[str]]:
        hits: list[Hit] = []
        reasons: list[str] = []
        node_truths = [self._node(node, products, hits, reasons) for node in configuration.nodes]
        combine = _all if configuration.operator == "AND" else _any
        truth = combine(node_truths)
        if configuration.negate:
            truth = truth.negated()
            hits = []
        if truth is Truth.TRUE and not hits:
            return (
                Truth.FALSE,
                [],
                [],
            )  # true only through platforms or negation: nothing vulnerable
        if truth is Truth.UNKNOWN and not any(
            c.match.vulnerable for n in configuration.nodes if not n.negate for c in self._of(n)
        ):
            return Truth.FALSE, [], []
        return truth, hits, reasons

    def _of(self, node: Node) -> tuple[_Compiled, ...]:
        return self.nodes[id(node)]

    def _node(self, node: Node, products: ProductSet, hits: list[Hit], reasons: list[str]) -> Truth:
        node_hits: list[Hit] = []
        truths = []
        by_key = products.by_key
        for compiled in self._of(node):
            if compiled.keyed and compiled.key not in by_key:
                truths.append(Truth.FALSE)  # no product of that name: nothing to compare
                continue
            found: list[Hit] = []
            truth, reason = compiled.truth(products, found)
            truths.append(truth)
            if reason:
                reasons.append(reason)
            if compiled.match.vulnerable:
                node_hits.extend(found)
        truth = (_all if node.operator == "AND" else _any)(truths)
        if node.negate:
            return truth.negated()
        if truth is Truth.TRUE:
            hits.extend(node_hits)
        return truth


class ApplicabilityIndex:
    """NVD records indexed by the (part, vendor, product) of their vulnerable criteria."""

    def __init__(self, records: Iterable[NvdRecord]) -> None:
        self.records: list[CompiledRecord] = []
        self.by_id: dict[str, NvdRecord] = {}
        self._by_key: dict[Key, list[int]] = defaultdict(list)
        self._wildcard: list[int] = []
        for record in records:
            compiled = CompiledRecord(record)
            position = len(self.records)
            self.records.append(compiled)
            self.by_id[record.id] = record
            for key in compiled.keys:
                self._by_key[key].append(position)
            if compiled.wildcard:
                self._wildcard.append(position)

    def __len__(self) -> int:
        return len(self.records)

    def candidates(self, products: ProductSet) -> list[CompiledRecord]:
        """The records that name one of the products in a vulnerable criterion."""
        positions: set[int] = set(self._wildcard)
        for key in products.by_key:
            positions.update(self._by_key.get(key, ()))
        return [self.records[p] for p in sorted(positions)]

    def evaluate(self, products: ProductSet | Iterable[Wfn | str]) -> list[Verdict]:
        """The verdicts that are not FALSE: records that apply, and those needing review."""
        product_set = products if isinstance(products, ProductSet) else ProductSet.of(products)
        out = []
        for record in self.candidates(product_set):
            verdict = record.evaluate(product_set)
            if verdict.truth is not Truth.FALSE:
                out.append(verdict)
        return out

    def evaluate_many(self, assets: Iterable[ProductSet]) -> list[list[Verdict]]:
        """:meth:`evaluate` for many assets, with the cyclic garbage collector paused (the
        verdicts hold no cycles; see ``matching/batch.py``)."""
        with cyclic_gc_paused():
            return [self.evaluate(asset) for asset in assets]

    def evaluate_naive(self, products: ProductSet) -> list[Verdict]:
        """The same answer by evaluating every record (the baseline the index is measured
        against, and a check that the index prunes nothing it should not)."""
        out = []
        for record in self.records:
            verdict = record.evaluate(products)
            if verdict.truth is not Truth.FALSE:
                out.append(verdict)
        return out


def evaluate(record: NvdRecord, products: ProductSet | Iterable[Wfn | str]) -> Verdict:
    """The verdict of one record for one asset (compiles the record; use
    :class:`ApplicabilityIndex` for many)."""
    product_set = products if isinstance(products, ProductSet) else ProductSet.of(products)
    return CompiledRecord(record).evaluate(product_set)


__all__: Final = [
    "ApplicabilityIndex",
    "CompiledRecord",
    "Hit",
    "Product",
    "ProductSet",
    "Truth",
    "Verdict",
    "evaluate",
]
