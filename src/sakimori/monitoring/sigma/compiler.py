"""From a rule parsed by pySigma to our own condition tree over field tests (no I/O).

pySigma parses the YAML, applies the value modifiers (``contains`` puts wildcards around a
string, ``base64offset`` expands a value into its three shifted encodings, ``all`` links a
list with AND, ``cidr``/``re`` turn a value into a network / regular expression…) and resolves
the condition (``1 of selection_*``, ``all of them``, ``not``) into a tree of AND/OR/NOT over
"field equals value" and keyword items. This module turns that tree into ``Node``s whose leaves
are ``Leaf`` tests of one field key of ours (``fields.py``), with Sigma's semantics:

- strings match case-insensitively (``cased``: exactly); ``*`` is any run of characters, ``?``
  one character, ``\\*``/``\\?``/``\\\\`` the characters themselves; without wildcards a string
  is the whole value;
- ``re`` is a regular expression searched anywhere in the value, case-sensitive unless the
  ``i`` flag is given (``m`` and ``s`` flags too);
- ``cidr``: the value is an IP address inside the network;
- ``null``: the field is empty; ``exists``: it is (not) empty;
- numbers compare numerically with numeric fields (status, bytes), as text with the others;
  ``lt``/``lte``/``gt``/``gte`` compare numerically;
- a keyword (a value without a field) matches anywhere in any text field of the request;
- several conditions in one rule are OR-linked.

Anything else — a field we do not have, ``fieldref``, ``expand`` placeholders, timestamp
modifiers, ``re`` with ``startswith``/``endswith``, correlation and filter rules, a log source
other than ``webserver`` — raises ``Unsupported`` with the reason: the loader reports the rule
and does not run it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.modifiers import SigmaEndswithModifier, SigmaStartswithModifier
from sigma.rule import SigmaDetectionItem, SigmaRule, SigmaRuleBase
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

from sakimori.monitoring.sigma.fields import KEYWORD_KEYS, NUMERIC_KEYS, field_key

#: The log source categories whose rules run over our web server records.
CATEGORIES = frozenset({"webserver"})
_CVE_TAG = re.compile(r"[0-9]{4}-[0-9]{4,}", re.ASCII)

_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}
_OPS = {
    CompareOperators.LT: "lt",
    CompareOperators.LTE: "lte",
    CompareOperators.GT: "gt",
    CompareOperators.GTE: "gte",
    CompareOperators.NEQ: "neq",
}


class Unsupported(Exception):
    """The rule uses something this evaluator does not do; ``str()`` says what."""


class OtherLogSource(Unsupported):
    """The rule is written for another log source (a proxy, an error log): not one we read."""


@dataclass(frozen=True)
class Leaf:
    """One test of one field key.

    ``kind``: ``eq``/``prefix``/``suffix``/``contains`` (``text`` lowercased unless ``cased``),
    ``glob`` (``text`` is a regular expression made from a wildcard pattern, over the lowercased
    value unless ``cased``), ``regex`` (searched in the raw value with ``flags``), ``cidr``,
    ``null``, ``exists``/``absent``, ``any`` (``*``), ``num`` (``op`` one of eq, lt, lte, gt,
    gte, neq against the number ``text``).
    """

    key: str
    kind: str
    text: str = ""
    cased: bool = False
    flags: int = 0
    op: str = ""
    #: A lowercased piece of text every matching value holds ("" when there is none).
    anchor: str = field(default="", compare=False)


@dataclass(frozen=True)
class Node:
    """``op`` is ``leaf`` (with ``leaf``), ``and``/``or`` (with ``children``) or ``not``."""

    op: str
    children: tuple[Node, ...] = ()
    leaf: Leaf | None = None


def leaf(value: Leaf) -> Node:
    return Node("leaf", leaf=value)


def any_of(nodes: list[Node]) -> Node:
    return nodes[0] if len(nodes) == 1 else Node("or", tuple(nodes))


@dataclass(frozen=True)
class CompiledRule:
    """A Sigma rule ready to evaluate: what it is, where it came from, its condition, its
    version (``modified``, else ``date``) and the vulnerabilities it names (its ``cve.*`` tags,
    and those of the counter-measure package that carries it)."""

    id: str
    title: str
    level: str
    origin: str  # the file (or package) it was loaded from
    condition: Node
    rule: SigmaRule = field(compare=False, repr=False)  # as pySigma parsed it
    version: str = ""
    vulnerabilities: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"{self.title} [{self.id}] ({self.level})"


def rule_id(rule: SigmaRuleBase) -> str:
    return str(rule.id) if rule.id is not None else ""


def tagged_vulnerabilities(rule: SigmaRuleBase) -> tuple[str, ...]:
    """The CVE ids of a rule's ``cve.YYYY-NNNN`` tags, as ``CVE-YYYY-NNNN``."""
    return tuple(
        dict.fromkeys(
            f"CVE-{tag.name.upper()}"
            for tag in rule.tags
            if tag.namespace.lower() == "cve" and _CVE_TAG.fullmatch(tag.name)
        )
    )


def rule_version(rule: SigmaRuleBase) -> str:
    """When the rule was last changed (``modified``, else ``date``), ``YYYY-MM-DD``."""
    moment = rule.modified or rule.date
    return moment.isoformat() if moment is not None else ""


def compile_rule(
    rule: SigmaRule, origin: str, vulnerabilities: tuple[str, ...] = ()
) -> CompiledRule:
    """Our form of a parsed rule; raises ``Unsupported`` with the reason. ``vulnerabilities``:
    more than its tags name (those of the package that carries it)."""
    if rule.errors:
        raise Unsupported(f"pySigma could not parse it: {rule.errors[0]}")
    source = rule.logsource
    category = (source.category or "").lower()
    if category not in CATEGORIES:
        what = "/".join(
            f"{name} {value}"
            for name, value in (
                ("category", source.category),
                ("product", source.product),
                ("service", source.service),
            )
            if value
        )
        raise OtherLogSource(f"log source {what or 'none'} is not a web server access log")
    trees = []
    try:
        for condition in rule.detection.parsed_condition:
            trees.append(_node(condition.parse()))
    except Unsupported:
        raise
    except Exception as exc:  # pySigma's condition errors (pipes, unknown identifiers)
        raise Unsupported(f"condition: {exc}") from None
    return CompiledRule(
        id=rule_id(rule),
        title=rule.title,
        level=str(rule.level) if rule.level is not None else "",
        origin=origin,
        condition=any_of(trees),
        rule=rule,
        version=rule_version(rule),
        vulnerabilities=tuple(dict.fromkeys((*tagged_vulnerabilities(rule), *vulnerabilities))),
    )


def _node(item: Any) -> Node:
    if isinstance(item, ConditionAND | ConditionOR):
        children = [_node(arg) for arg in item.args if arg is not None]
        if not children:
            raise Unsupported("an empty condition")
        if len(children) == 1:
            return children[0]
        return Node("and" if isinstance(item, ConditionAND) else "or", tuple(children))
    if isinstance(item, ConditionNOT):
        return Node("not", (_node(item.args[0]),))
    if isinstance(item, ConditionFieldEqualsValueExpression):
        key = field_key(item.field)
        if key is None:
            raise Unsupported(f"field {item.field!r} is not in the web server logs we read")
        _check_modifiers(item)
        return _field_value(key, item.value)
    if isinstance(item, ConditionValueExpression):
        _check_modifiers(item)
        return _keyword(item.value)
    raise Unsupported(f"condition item {type(item).__name__}")


def _check_modifiers(item: Any) -> None:
    parent = item.parent
    if isinstance(parent, SigmaDetectionItem) and isinstance(
        next(iter(parent.value), None), SigmaRegularExpression
    ):
        names = {m.__name__ for m in parent.modifiers}
        if names & {SigmaStartswithModifier.__name__, SigmaEndswithModifier.__name__}:
            raise Unsupported("re with startswith/endswith (anchoring is backend-specific)")


def _field_value(key: str, value: Any) -> Node:
    if isinstance(value, SigmaExpansion):
        return any_of([_field_value(key, v) for v in value.values])
    if isinstance(value, SigmaString):  # SigmaCasedString too
        return leaf(string_leaf(key, list(value.s), cased=isinstance(value, SigmaCasedString)))
    if isinstance(value, SigmaRegularExpression):
        return leaf(regex_leaf(key, value))
    if isinstance(value, SigmaCIDRExpression):
        return leaf(Leaf(key, "cidr", str(value.network)))
    if isinstance(value, SigmaNull):
        return leaf(Leaf(key, "null"))
    if isinstance(value, SigmaExists):
        return leaf(Leaf(key, "exists" if value.exists else "absent"))
    if isinstance(value, SigmaCompareExpression):
        return leaf(Leaf(key, "num", _number(value.number.number), op=_OPS[value.op]))
    if isinstance(value, SigmaTimestampPart):
        raise Unsupported("timestamp modifiers (minute, hour, day…)")
    if isinstance(value, SigmaNumber):
        if key in NUMERIC_KEYS:
            return leaf(Leaf(key, "num", _number(value.number), op="eq"))
        return leaf(string_leaf(key, [str(value.number)], cased=False))
    if isinstance(value, SigmaBool):
        return leaf(string_leaf(key, [str(value.boolean).lower()], cased=False))
    if isinstance(value, SigmaFieldReference):
        raise Unsupported("fieldref (comparing two fields)")
    raise Unsupported(f"value type {type(value).__name__}")


def _keyword(value: Any) -> Node:
    if isinstance(value, SigmaExpansion):
        return any_of([_keyword(v) for v in value.values])
    if isinstance(value, SigmaNumber) and not isinstance(value, SigmaTimestampPart):
        value = SigmaString(str(value.number))
    if isinstance(value, SigmaString):
        parts = list(value.s)
        if not parts or parts[0] is not SpecialChars.WILDCARD_MULTI:
            parts.insert(0, SpecialChars.WILDCARD_MULTI)
        if parts[-1] is not SpecialChars.WILDCARD_MULTI:
            parts.append(SpecialChars.WILDCARD_MULTI)
        cased = isinstance(value, SigmaCasedString)
        return any_of([leaf(string_leaf(key, parts, cased=cased)) for key in KEYWORD_KEYS])
    if isinstance(value, SigmaRegularExpression):
        return any_of([leaf(regex_leaf(key, value)) for key in KEYWORD_KEYS])
    raise Unsupported(f"keyword of type {type(value).__name__}")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(float(value))


def string_leaf(key: str, parts: list[Any], *, cased: bool) -> Leaf:
    """The test of a Sigma string given as its parts: text, ``*`` and ``?``."""
    if any(isinstance(part, Placeholder) for part in parts):
        raise Unsupported("placeholders (%name%, the expand modifier)")

    def norm(text: str) -> str:
        return text if cased else text.lower()

    lead = bool(parts) and parts[0] is SpecialChars.WILDCARD_MULTI
    trail = len(parts) > int(lead) and parts[-1] is SpecialChars.WILDCARD_MULTI
    inner = parts[int(lead) : len(parts) - int(trail)]
    if all(isinstance(part, str) for part in inner) and len(inner) <= 1:
        text = norm(inner[0]) if inner else ""
        if not text and (lead or trail):
            return Leaf(key, "any")
        kind = {(True, True): "contains", (True, False): "suffix", (False, True): "prefix"}.get(
            (lead, trail), "eq"
        )
        return Leaf(key, kind, text, cased, anchor=text.lower())
    pattern = []
    literals = []
    for part in parts:
        if part is SpecialChars.WILDCARD_MULTI:
            pattern.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            pattern.append(".")
        else:
            pattern.append(re.escape(norm(part)))
            literals.append(part.lower())
    anchor = max(literals, key=len, default="")
    return Leaf(key, "glob", "".join(pattern), cased, anchor=anchor)


def regex_leaf(key: str, value: SigmaRegularExpression) -> Leaf:
    flags = 0
    for flag in value.flags:
        flags |= _FLAGS[flag]
    text = str(value.regexp)
    try:
        re.compile(text, flags)
    except re.error as exc:
        raise Unsupported(f"regular expression {text!r}: {exc}") from None
    return Leaf(key, "regex", text, flags=flags)
