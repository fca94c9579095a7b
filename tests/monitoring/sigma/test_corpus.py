"""Every web rule of the SigmaHQ corpus in ../shared/data: an event it must match and a near miss
it must not, both built from the rule's own detection section (as pySigma parsed it).

The event: walk the rule's condition, take the first alternative of each OR, every operand of
each AND (leaving what is under NOT out), and write each field's values into a request — a
``contains`` value somewhere in the field, ``startswith`` first, ``endswith`` last, a plain value
as the whole field, wildcards filled. The near miss: the same request with one character of one
of those values changed, at a place where no other value of the rule on that field appears
afterwards (so no other alternative can match instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    SigmaCIDRExpression,
    SigmaExpansion,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from sakimori.monitoring.record import HTTP, Record
from sakimori.monitoring.sigma import CompiledRule, RuleSet, load_rule_paths
from sakimori.monitoring.sigma.fields import field_key
from tests.conftest import DATA, require_data

WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DEFAULTS = {
    "client": "203.0.113.9",
    "method": "GET",
    "path": "",
    "target": "",
    "status": "200",
    "agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    "referrer": "",
    "host": "",
    "user": "",
}


@dataclass
class Spec:
    """One value the event must hold in one field key."""

    key: str
    place: str  # exact, prefix, suffix, middle
    text: str
    literal: str  # the part a near miss may change ("" when none may be)
    parts: tuple[str, ...] = ()  # all the literal parts of the value, lowercased


@dataclass
class Event:
    specs: list[Spec] = field(default_factory=list)


def corpus_rules() -> list[CompiledRule]:
    root = require_data("weblogs", "sigma")
    load = load_rule_paths([root / "rules", root / "rules-emerging-threats"])
    return load.rules


RULES = corpus_rules() if (DATA / "weblogs" / "sigma").exists() else []


@pytest.fixture(scope="module")
def engine() -> RuleSet:
    return RuleSet(corpus_rules())


def sample(value: Any) -> tuple[str, str, str]:
    """(place, sample text, changeable literal) for one Sigma value (the first of an
    expansion)."""
    if isinstance(value, SigmaExpansion):
        return sample(value.values[0])
    if isinstance(value, SigmaString):
        parts = list(value.s)
        lead = bool(parts) and parts[0] is SpecialChars.WILDCARD_MULTI
        trail = len(parts) > int(lead) and parts[-1] is SpecialChars.WILDCARD_MULTI
        text = "".join(
            ""
            if p is SpecialChars.WILDCARD_MULTI
            else "x"
            if p is SpecialChars.WILDCARD_SINGLE
            else p
            for p in parts
        )
        literal = max((p for p in parts if isinstance(p, str)), key=len, default="")
        place = {(True, True): "middle", (True, False): "suffix", (False, True): "prefix"}.get(
            (lead, trail), "exact"
        )
        return place, text, literal
    if isinstance(value, SigmaNumber):
        return "exact", str(value.number), str(value.number)
    if isinstance(value, SigmaNull):
        return "exact", "", ""
    if isinstance(value, SigmaCIDRExpression):
        return "exact", str(next(iter(value.network.hosts()))), ""
    if isinstance(value, SigmaRegularExpression):
        for candidate in ("a" * 200, "0", "/"):
            import re

            if re.search(str(value.regexp), candidate):
                return "middle", candidate, ""
    raise AssertionError(f"no sample for {value!r}")


def parts(value: Any) -> tuple[str, ...]:
    if isinstance(value, SigmaExpansion):
        return parts(value.values[0])
    if isinstance(value, SigmaString):
        return tuple(p.lower() for p in value.s if isinstance(p, str) and p)
    return ()


def satisfy(item: Any, stem: bool = False) -> list[Spec]:
    """Values that make ``item`` hold; ``stem``: the rule tests ``cs-uri-stem`` too."""
    if isinstance(item, ConditionAND):
        return [spec for arg in item.args if arg is not None for spec in satisfy(arg, stem)]
    if isinstance(item, ConditionOR):
        options = [satisfy(arg, stem) for arg in item.args if arg is not None]
        return next((specs for specs in options if consistent(specs, stem)), options[0])
    if isinstance(item, ConditionNOT):  # the defaults hold none of a rule's values, but null
        arg = item.args[0]
        if isinstance(arg, ConditionFieldEqualsValueExpression) and isinstance(
            arg.value, SigmaNull
        ):
            key = field_key(arg.field)
            assert key is not None
            return [Spec(key, "exact", "https://example.org/", "")]
        return []
    if isinstance(item, ConditionFieldEqualsValueExpression):
        key = field_key(item.field)
        assert key is not None
        place, text, literal = sample(item.value)
        return [Spec(key, place, text, literal, parts(item.value))]
    if isinstance(item, ConditionValueExpression):  # a keyword: anywhere, say in the target
        _, text, literal = sample(item.value)
        return [Spec("target", "middle", text, literal, parts(item.value))]
    raise AssertionError(f"unexpected {item!r}")


def consistent(specs: list[Spec], stem: bool) -> bool:
    """Whether one request can hold them all: ``cs-uri-query`` is the whole target, so with a
    ``cs-uri-stem`` value it starts with that path (docs/monitoring.md, field mapping)."""
    stem = stem or any(s.key == "path" for s in specs)
    return not (stem and any(s.key == "target" and s.place in ("prefix", "exact") for s in specs))


def values(specs: list[Spec]) -> dict[str, str]:
    out = dict(DEFAULTS)
    for key in {s.key for s in specs}:
        mine = [s for s in specs if s.key == key]
        exact = [s.text for s in mine if s.place == "exact"]
        if exact:
            out[key] = exact[0]
            continue
        prefix = "".join(s.text for s in mine if s.place == "prefix")
        middle = "/".join(s.text for s in mine if s.place == "middle")
        suffix = "".join(s.text for s in mine if s.place == "suffix")
        out[key] = (
            "/".join(part for part in (prefix, middle, suffix) if part)
            if (prefix or suffix)
            else middle
        )
        if prefix and not out[key].startswith(prefix):
            out[key] = prefix + out[key]
    return out


def record(fields: dict[str, str]) -> Record:
    target, stem = fields["target"], fields["path"]
    if stem:
        path, query = stem, target
    else:
        path, _, query = (target or "/").partition("?")
    return Record(
        HTTP, WHEN, WHEN.timestamp(), fields["client"], fields["method"], path, query,
        int(fields["status"] or 0), 0, fields["referrer"], fields["agent"], fields["host"],
        fields["user"],
    )  # fmt: skip


def literals(rule: CompiledRule, key: str) -> set[str]:
    """Every literal of the rule that a value of ``key`` is tested against (lowercased)."""
    found: set[str] = set()

    def walk(item: Any) -> None:
        if isinstance(item, ConditionAND | ConditionOR | ConditionNOT):
            for arg in item.args:
                walk(arg)
        elif isinstance(item, ConditionValueExpression) or (
            isinstance(item, ConditionFieldEqualsValueExpression) and field_key(item.field) == key
        ):
            add(item.value)

    def add(value: Any) -> None:
        if isinstance(value, SigmaExpansion):
            for v in value.values:
                add(v)
        elif isinstance(value, SigmaString):
            found.update(p.lower() for p in value.s if isinstance(p, str) and p)
        elif isinstance(value, SigmaNumber):
            found.add(str(value.number))

    for condition in rule.rule.detection.parsed_condition:
        walk(condition.parse())
    return found


def near_misses(rule: CompiledRule, specs: list[Spec]) -> Iterator[dict[str, str]]:
    """Events with one character of one value changed, where nothing else of the rule shows."""
    for index, spec in enumerate(specs):
        if not spec.literal or spec.key in ("status",):
            continue
        others = literals(rule, spec.key)
        kept = {p for i, s in enumerate(specs) if i != index and s.key == spec.key for p in s.parts}
        kept.update(p for p in spec.parts if p != spec.literal.lower())
        start = spec.text.find(spec.literal)
        order = sorted(range(len(spec.literal)), key=lambda i: abs(i - len(spec.literal) // 2))
        for offset in order:
            old = spec.literal[offset]
            new = "q" if old.lower() != "q" else "z"
            if old.isdigit():
                new = "7" if old != "7" else "8"
            changed = spec.text[: start + offset] + new + spec.text[start + offset + 1 :]
            trial = [*specs[:index], Spec(spec.key, spec.place, changed, ""), *specs[index + 1 :]]
            fields = values(trial)
            text = fields[spec.key].lower()
            if any(lit in text for lit in others - kept):
                continue
            yield fields
            return


def rule_fields(rule: CompiledRule) -> set[str]:
    return {
        item.field
        for detection in rule.rule.detection.detections.values()
        for item in flat(detection)
        if item.field
    }


def flat(detection: Any) -> Iterator[Any]:
    for item in detection.detection_items:
        if hasattr(item, "detection_items"):
            yield from flat(item)
        else:
            yield item


def test_the_corpus_is_there_and_loads() -> None:
    rules = corpus_rules()
    assert len(rules) >= 80


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id or r.title)
def test_rule_matches_its_event_and_not_its_near_miss(rule: CompiledRule, engine: RuleSet) -> None:
    stem = "path" in {field_key(f) for f in rule_fields(rule)}
    specs = satisfy(rule.rule.detection.parsed_condition[0].parse(), stem)
    event = record(values(specs))
    assert rule in engine.match(event), (event, specs)
    miss = next(near_misses(rule, specs), None)
    assert miss is not None, f"no near miss could be built for {rule.title}"
    assert rule not in engine.match(record(miss)), (record(miss), specs)
