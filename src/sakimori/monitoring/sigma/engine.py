"""Evaluate many compiled Sigma rules over records, fast (pure, bounded caches).

Every distinct field test (``Leaf``) of every rule gets one bit. For each record, the engine
reads the value of each field key the rules use and looks up, in a per-key cache, the bits of
the tests that value passes (a request target, a user agent or an address repeats a lot in
real logs); a value not seen yet is tested once:

- every test with an *anchor* (a lowercased text a matching value must hold: the literal of
  ``contains``/``startswith``/``endswith``/equality, the longest literal of a wildcard pattern)
  is skipped unless one regular expression of all the key's anchors, shaped as a trie, finds
  one in the lowercased value — most values hold none, and are done after that one search;
- the others (regular expressions, CIDR, null, numbers) are run every time.

The bits of all keys together say which tests hold for the record. Each rule has a *trigger*:
a set of its tests one of which must hold whenever the rule matches (for an AND, the most
selective operand's; for an OR, the union of its operands'; never through a NOT), preferring
rare tests over ``cs-method: GET``. A rule whose trigger bits are all clear is not looked at;
the others (and the few with no trigger, e.g. ``not filter``) evaluate their condition over the
bits. The result is exact: triggers only skip rules that cannot match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from ipaddress import ip_address, ip_network
from operator import attrgetter
from typing import Any

from sakimori.monitoring.record import Record
from sakimori.monitoring.sigma.compiler import CompiledRule, Leaf, Node
from sakimori.monitoring.sigma.fields import ACCESS, COMMON_KEYS, GROUPS

#: Distinct values remembered per field key (the cache is emptied when full).
CACHE_MAX = 65536

Test = Callable[[str, str], bool]  # (raw value, lowercased value) -> passes?
Truth = Callable[[int], bool]  # the leaf bits of a record -> condition holds?


def leaf_test(leaf: Leaf) -> Test:
    """The test of one leaf over (raw value, lowercased value)."""
    kind, text = leaf.kind, leaf.text
    if kind == "any":
        return lambda raw, low: True
    if kind == "null":
        return lambda raw, low: raw == ""
    if kind in ("exists", "absent"):
        want = kind == "exists"
        return lambda raw, low: (raw != "") is want
    if kind in ("eq", "prefix", "suffix", "contains"):
        return _string_test(kind, text, leaf.cased)
    if kind == "glob":
        glob = re.compile(text, re.DOTALL).fullmatch
        if leaf.cased:
            return lambda raw, low: glob(raw) is not None
        return lambda raw, low: glob(low) is not None
    if kind == "regex":
        search = re.compile(text, leaf.flags).search
        return lambda raw, low: search(raw) is not None
    if kind == "cidr":
        return _cidr_test(text)
    if kind == "num":
        return _number_test(leaf.op, float(text))
    raise ValueError(f"unknown leaf kind {kind!r}")


def _string_test(kind: str, text: str, cased: bool) -> Test:
    if cased:
        if kind == "eq":
            return lambda raw, low: raw == text
        if kind == "prefix":
            return lambda raw, low: raw.startswith(text)
        if kind == "suffix":
            return lambda raw, low: raw.endswith(text)
        return lambda raw, low: text in raw
    if kind == "eq":
        return lambda raw, low: low == text
    if kind == "prefix":
        return lambda raw, low: low.startswith(text)
    if kind == "suffix":
        return lambda raw, low: low.endswith(text)
    return lambda raw, low: text in low


def _cidr_test(text: str) -> Test:
    network = ip_network(text)

    def test(raw: str, low: str) -> bool:
        try:
            return ip_address(raw.strip("[]")) in network
        except ValueError:
            return False

    return test


def _number_test(op: str, number: float) -> Test:
    compare: Callable[[float], bool] = {
        "eq": lambda v: v == number,
        "neq": lambda v: v != number,
        "lt": lambda v: v < number,
        "lte": lambda v: v <= number,
        "gt": lambda v: v > number,
        "gte": lambda v: v >= number,
    }[op]

    def test(raw: str, low: str) -> bool:
        try:
            return compare(float(raw))
        except ValueError:
            return False

    return test


def trie_pattern(words: Sequence[str]) -> str:
    """A regular expression that finds any of ``words``, shaped as a trie (shared prefixes are
    tried once); a word that has another as a prefix is dropped (the shorter one suffices)."""
    root: dict[str, Any] = {}
    for word in sorted(set(words)):
        node = root
        for char in word:
            if "" in node:
                break
            node = node.setdefault(char, {})
        else:
            node.clear()
            node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        if "" in node:
            return ""
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items())]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(root)


class _Key:
    """The tests of one field key, and the cache of their bits per distinct value."""

    def __init__(self, key: str, leaves: list[tuple[int, Leaf]]) -> None:
        self.key = key
        self.attributes, self.text = ACCESS[key]
        self.cache: dict[tuple[Any, ...], int] = {}
        self.always = [(1 << bit, leaf_test(leaf)) for bit, leaf in leaves if not leaf.anchor]
        anchored = [(bit, leaf) for bit, leaf in leaves if leaf.anchor]
        self.anchored = [(1 << bit, leaf.anchor, leaf_test(leaf)) for bit, leaf in anchored]
        self.gate = (
            re.compile(trie_pattern([leaf.anchor for _, leaf in anchored])).search
            if anchored
            else None
        )

    def bits(self, value: tuple[Any, ...]) -> int:
        """The bits of the tests the value (the key's attribute values) passes."""
        mask = self.cache.get(value)
        if mask is not None:
            return mask
        raw = self.text(*value)
        low = raw.lower()
        mask = 0
        for bit, test in self.always:
            if test(raw, low):
                mask |= bit
        if self.gate is not None and self.gate(low) is not None:
            for bit, anchor, test in self.anchored:
                if anchor in low and test(raw, low):
                    mask |= bit
        cache = self.cache
        if len(cache) >= CACHE_MAX:
            cache.clear()
        cache[value] = mask
        return mask


class _Group:
    """Keys whose attributes are read together, and the cache of their bits per combination."""

    def __init__(self, attributes: tuple[str, ...], keys: list[_Key]) -> None:
        self.read = attrgetter(*attributes)
        self.single = len(attributes) == 1
        self.parts = [
            (tuple(attributes.index(a) for a in key.attributes), key.bits) for key in keys
        ]
        self.cache: dict[Any, int] = {}

    def bits(self, value: Any) -> int:
        values = (value,) if self.single else value
        mask = 0
        for indexes, bits in self.parts:
            mask |= bits(tuple(values[i] for i in indexes))
        cache = self.cache
        if len(cache) >= CACHE_MAX:
            cache.clear()
        cache[value] = mask
        return mask


def flatten(node: Node) -> Node:
    """The same condition with nested ANDs (ORs) of ANDs (ORs) made one."""
    if node.op == "leaf":
        return node
    children = [flatten(child) for child in node.children]
    if node.op in ("and", "or"):
        merged: list[Node] = []
        for child in children:
            merged.extend(child.children if child.op == node.op else (child,))
        children = merged
    return Node(node.op, tuple(children))


def _truth(node: Node, bits: dict[Leaf, int]) -> Truth:
    """The condition as a function of the leaf bits (of a flattened tree)."""
    if node.op == "leaf":
        assert node.leaf is not None
        bit = 1 << bits[node.leaf]
        return lambda t: t & bit != 0
    if node.op == "not":
        inner = _truth(node.children[0], bits)
        return lambda t: not inner(t)
    if all(child.op == "leaf" for child in node.children):
        mask = 0
        for child in node.children:
            assert child.leaf is not None
            mask |= 1 << bits[child.leaf]
        if node.op == "and":
            return lambda t: t & mask == mask
        return lambda t: t & mask != 0
    leaves = [child for child in node.children if child.op == "leaf"]
    others = [child for child in node.children if child.op != "leaf"]
    parts = tuple(_truth(child, bits) for child in others)
    if leaves:  # the leaves together, first: one mask test
        parts = (_truth(Node(node.op, tuple(leaves)), bits), *parts)
    if len(parts) == 1:
        return parts[0]
    if node.op == "and":
        return lambda t: all(part(t) for part in parts)
    return lambda t: any(part(t) for part in parts)


def _cost(leaf: Leaf) -> float:
    """How often a test holds, roughly (lower: rarer, a better trigger)."""
    if leaf.kind in ("any", "null", "exists", "absent", "num") or (
        leaf.key in COMMON_KEYS and leaf.kind == "eq"  # cs-method: GET, sc-status: '200'
    ):
        return 0.9
    if leaf.anchor:
        return 0.2 ** min(len(leaf.anchor), 16)
    return 0.25


def _trigger(node: Node, bits: dict[Leaf, int]) -> tuple[int, float] | None:
    """(leaf bits one of which holds whenever ``node`` does, their cost); ``None``: none."""
    if node.op == "leaf":
        assert node.leaf is not None
        return 1 << bits[node.leaf], _cost(node.leaf)
    if node.op == "not":
        return None
    found = [_trigger(child, bits) for child in node.children]
    if node.op == "or":
        if any(item is None for item in found):
            return None
        mask, cost = 0, 0.0
        for item in found:
            assert item is not None
            mask |= item[0]
            cost += item[1]
        return mask, cost
    candidates = [item for item in found if item is not None]
    return min(candidates, key=lambda item: item[1]) if candidates else None


def _leaves(node: Node) -> list[Leaf]:
    if node.op == "leaf":
        assert node.leaf is not None
        return [node.leaf]
    return [leaf for child in node.children for leaf in _leaves(child)]


class RuleSet:
    """Compiled rules, evaluated together; ``match`` returns the rules a record matches."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self.rules = tuple(rules)
        bits: dict[Leaf, int] = {}
        for rule in self.rules:
            for item in _leaves(rule.condition):
                bits.setdefault(item, len(bits))
        per_key: dict[str, list[tuple[int, Leaf]]] = {}
        for item, bit in bits.items():
            per_key.setdefault(item.key, []).append((bit, item))
        self._keys = [_Key(key, leaves) for key, leaves in sorted(per_key.items())]
        groups = []
        for attributes in GROUPS:
            keys = [k for k in self._keys if set(k.attributes) <= set(attributes)]
            if keys:  # read only the attributes some key needs
                used = {a for k in keys for a in k.attributes}
                groups.append(_Group(tuple(a for a in attributes if a in used), keys))
        self._fields = [(g.read, g.cache, g.bits) for g in groups]
        self._truths = [_truth(flatten(rule.condition), bits) for rule in self.rules]
        self._by_bit: dict[int, list[int]] = {}
        self._always: list[int] = []
        self._triggers = 0
        for index, rule in enumerate(self.rules):
            trigger = _trigger(rule.condition, bits)
            if trigger is None:
                self._always.append(index)
                continue
            mask = trigger[0]
            self._triggers |= mask
            while mask:
                low = mask & -mask
                self._by_bit.setdefault(low.bit_length() - 1, []).append(index)
                mask ^= low
        self.leaf_count = len(bits)

    def __len__(self) -> int:
        return len(self.rules)

    def match(self, record: Record) -> Sequence[CompiledRule]:
        """The rules ``record`` matches (most often none: an empty tuple)."""
        truth = 0
        for read, cache, compute in self._fields:
            value = read(record)
            mask = cache.get(value)
            if mask is None:
                mask = compute(value)
            truth |= mask
        if truth & self._triggers or self._always:
            return self._evaluate(truth)
        return ()

    def _evaluate(self, truth: int) -> list[CompiledRule]:
        """The rules whose trigger holds and whose condition holds, given the leaf bits."""
        trig = truth & self._triggers
        candidates = set(self._always)
        by_bit = self._by_bit
        while trig:
            low = trig & -trig
            candidates.update(by_bit[low.bit_length() - 1])
            trig ^= low
        truths = self._truths
        rules = self.rules
        return [rules[i] for i in sorted(candidates) if truths[i](truth)]
