"""Policy files (TOML): bytes in, :class:`~sakimori.triage.policy.Policy` out; the built-in presets.

A policy file has a ``[policy]`` table and ``[[rules]]``; a policy-set file has a ``[policy_set]``
table and a ``[sectors]`` table naming a policy per sector (``"name"`` or ``"name@version"``).
Loading is strict: an unknown key, a value of the wrong type, an invalid duration, an unknown
outcome or sector name, a missing catch-all, a shadowed rule or an outcome value no rule covers
raises :class:`~sakimori.errors.MalformedDocument` naming the part of the file. The format is
described in ``docs/policies.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any, NoReturn

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import Limits, load_toml
from sakimori.triage.policy import Policy, PolicySet, Rule

#: Policy files are a few kilobytes; anything near this is not a policy.
POLICY_LIMITS = Limits(max_bytes=1024 * 1024, max_depth=8, max_nodes=100_000)

_HINT = "see docs/policies.md for the policy file format"
_POLICY_KEYS = ("name", "version", "description", "kev_grace", "cap_at_kev_due_date")
_RULE_KEYS = ("id", "when", "deadline", "forensic_triage", "note")
_WHEN_KEYS = ("bod", "decision", "priority", "internet_facing", "kev", "sector")
_SET_KEYS = ("name", "version", "description", "default")


def _fail(message: str) -> NoReturn:
    raise MalformedDocument(message, hint=_HINT)


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(f"{where} must be a table")
    return value


def _only(table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in allowed:
            _fail(f"{where}: unknown key {key!r}; expected one of {', '.join(allowed)}")


def _text(table: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            _fail(f"{where}.{key} is missing")
        return None
    if not isinstance(value, str):
        _fail(f"{where}.{key} must be a string")
    return value


def _flag(table: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = table.get(key)
    if value is not None and not isinstance(value, bool):
        _fail(f"{where}.{key} must be true or false (omit it to match either)")
    return value


def _names(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        _fail(f"{where}.{key} must be a name or a non-empty list of names")
    return tuple(value)


def _rule(value: object, index: int) -> Rule:
    where = f"rules[{index}]"
    table = _table(value, where)
    rule_id = _text(table, "id", where) or ""
    where = f"{where} {rule_id!r}"
    _only(table, _RULE_KEYS, where)
    when = _table(table.get("when", {}), f"{where}.when")
    _only(when, _WHEN_KEYS, f"{where}.when")
    forensic = table.get("forensic_triage", False)
    if not isinstance(forensic, bool):
        _fail(f"{where}.forensic_triage must be true or false")
    return Rule(
        id=rule_id,
        deadline=_text(table, "deadline", where) or "",
        bod=_names(when, "bod", f"{where}.when"),
        decision=_names(when, "decision", f"{where}.when"),
        priority=_names(when, "priority", f"{where}.when"),
        sector=_names(when, "sector", f"{where}.when"),
        internet_facing=_flag(when, "internet_facing", f"{where}.when"),
        kev=_flag(when, "kev", f"{where}.when"),
        forensic_triage=forensic,
        note=_text(table, "note", where, required=False) or "",
    )


def load_policy(data: bytes, *, where: str | None = None) -> Policy:
    """Parse and validate one policy file; ``where`` (a file name) locates any error."""
    try:
        document = load_toml(data, POLICY_LIMITS)
        _only(document, ("policy", "rules"), "the policy file")
        head = _table(document.get("policy"), "[policy]")
        _only(head, _POLICY_KEYS, "[policy]")
        rules = document.get("rules")
        if not isinstance(rules, list) or not rules:
            _fail("[[rules]] is missing: a policy needs rules, ending with a catch-all")
        cap = head.get("cap_at_kev_due_date", False)
        if not isinstance(cap, bool):
            _fail("[policy].cap_at_kev_due_date must be true or false")
        return Policy(
            name=_text(head, "name", "[policy]") or "",
            version=_text(head, "version", "[policy]") or "",
            description=_text(head, "description", "[policy]", required=False) or "",
            kev_grace=_text(head, "kev_grace", "[policy]", required=False),
            cap_at_kev_due_date=cap,
            rules=tuple(_rule(rule, index) for index, rule in enumerate(rules)),
        )
    except MalformedDocument as exc:
        if where:
            exc.located(where)
        raise


def _resolve(reference: str, policies: Mapping[str, Policy], where: str) -> Policy:
    name, _, version = reference.partition("@")
    policy = policies.get(name)
    if policy is None:
        known = ", ".join(sorted(policies)) or "none"
        _fail(f"{where}: unknown policy {name!r}; known policies: {known}")
    if version and version != policy.version:
        _fail(
            f"{where}: pins {name} version {version!r}, but the available {name} is version "
            f"{policy.version!r}"
        )
    return policy


def load_policy_set(
    data: bytes, policies: Mapping[str, Policy] | None = None, *, where: str | None = None
) -> PolicySet:
    """Parse a policy-set file; policy names resolve against ``policies`` (default: built-ins)."""
    available = builtin_policies() if policies is None else policies
    try:
        document = load_toml(data, POLICY_LIMITS)
        _only(document, ("policy_set", "sectors"), "the policy-set file")
        head = _table(document.get("policy_set"), "[policy_set]")
        _only(head, _SET_KEYS, "[policy_set]")
        sectors = _table(document.get("sectors", {}), "[sectors]")
        chosen: dict[str, Policy] = {}
        for sector, reference in sectors.items():
            if not isinstance(reference, str):
                _fail(f"[sectors].{sector} must be a policy name (or name@version)")
            chosen[sector] = _resolve(reference, available, f"[sectors].{sector}")
        default = _text(head, "default", "[policy_set]") or ""
        return PolicySet(
            name=_text(head, "name", "[policy_set]") or "",
            version=_text(head, "version", "[policy_set]") or "",
            description=_text(head, "description", "[policy_set]", required=False) or "",
            default=_resolve(default, available, "[policy_set].default"),
            sectors=chosen,
        )
    except MalformedDocument as exc:
        if where:
            exc.located(where)
        raise


@cache
def _builtin() -> tuple[Policy, ...]:
    folder = files("sakimori.triage").joinpath("policies")
    loaded: list[Policy] = []
    for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if not item.name.endswith(".toml"):
            continue
        where = f"sakimori/triage/policies/{item.name}"
        policy = load_policy(item.read_bytes(), where=where)
        if f"{policy.name}.toml" != item.name:
            raise MalformedDocument(f"the file holds policy {policy.name!r}", where=where)
        loaded.append(policy)
    return tuple(loaded)


def builtin_policies() -> dict[str, Policy]:
    """The packaged presets by name: ``cisa-bod-26-04``, ``kev-due-date``,
    ``critical-infrastructure``."""
    return {policy.name: policy for policy in _builtin()}
