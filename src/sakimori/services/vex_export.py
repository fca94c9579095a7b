"""What an export says beyond the imported statements: the findings' own states (pure).

A finding's state becomes a statement about its vulnerability (id and aliases) in its package
(purl): ``not_affected`` (with its justification, the resolution note as impact statement) →
``not_affected``; ``fixed`` → ``fixed``; ``open`` → ``under_investigation`` (the operator has
not looked at it yet, so the export claims nothing: re-importing it moves no finding); every other
state → ``affected``, with an action statement saying where the remediation stands. A derived
statement is left out when an imported statement about the same vulnerability and package already
has its status (and, for ``not_affected``, its justification).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC
from typing import Any

import orjson

from sakimori.model.lifecycle import State
from sakimori.model.vex import (
    Justification,
    RemediationCategory,
    VexProduct,
    VexStatement,
    VexStatus,
)
from sakimori.services.vex_match import same_package, same_vulnerability, to_data
from sakimori.store import models

_ACTIONS = {
    State.ACKNOWLEDGED: "Acknowledged by the operator; remediation is being planned.",
    State.IN_PROGRESS: "Remediation is in progress.",
    State.FIX_APPLIED: "A fix has been applied; it is verified by the next inventory.",
    State.MITIGATED: "Mitigated.",
    State.RISK_ACCEPTED: "The risk is accepted for now.",
}
_CATEGORIES = {
    State.FIX_APPLIED: RemediationCategory.VENDOR_FIX,
    State.MITIGATED: RemediationCategory.MITIGATION,
    State.RISK_ACCEPTED: RemediationCategory.NO_FIX_PLANNED,
}


def derive(
    findings: Iterable[tuple[models.Finding, str | None]],
    imported: Sequence[VexStatement],
    author: str,
) -> list[VexStatement]:
    """Statements for ``(finding, purl)`` pairs not already said by ``imported``."""
    made: list[VexStatement] = []
    for finding, purl in findings:
        if purl is None:
            continue
        statement = _statement(finding, purl, author)
        if not any(_says(statement, other) for other in imported):
            made.append(statement)
    return made


def _statement(finding: models.Finding, purl: str, author: str) -> VexStatement:
    state = State(finding.state)
    when = finding.state_changed_at
    if when.tzinfo is None:  # SQLite hands back naive datetimes; they are stored as UTC
        when = when.replace(tzinfo=UTC)
    aliases = tuple(dict.fromkeys(a for a in finding.aliases if a != finding.vulnerability))
    justification = (
        Justification(finding.justification)
        if state is State.NOT_AFFECTED and finding.justification
        else None
    )
    if state is State.NOT_AFFECTED:
        status, impact, action = VexStatus.NOT_AFFECTED, finding.resolution, None
    elif state is State.FIXED:
        status, impact, action = VexStatus.FIXED, None, finding.resolution
    elif state is State.OPEN:
        status, impact, action = VexStatus.UNDER_INVESTIGATION, None, None
    else:
        status, impact, action = VexStatus.AFFECTED, None, _action(finding, state)
    return VexStatement(
        vulnerability=finding.vulnerability,
        aliases=aliases,
        products=(VexProduct(purl=purl),),
        status=status,
        justification=justification,
        impact_statement=impact,
        action_statement=action,
        remediation_category=_CATEGORIES.get(state),
        timestamp=when,
        author=author,
    )


def _action(finding: models.Finding, state: State) -> str:
    text = _ACTIONS[state]
    if state is State.RISK_ACCEPTED and finding.risk_accepted_until:
        text = (
            f"The risk is accepted until {finding.risk_accepted_until.isoformat()}"
            f" by {finding.risk_accepted_by or 'the operator'}."
        )
    if finding.resolution and state is State.MITIGATED:
        text = f"Mitigated: {finding.resolution}"
    if finding.fixed_versions and state not in (State.MITIGATED, State.RISK_ACCEPTED):
        text += f" Fixed in: {', '.join(finding.fixed_versions)}."
    return text


def _says(derived: VexStatement, imported: VexStatement) -> bool:
    """Whether ``imported`` says what ``derived`` would: same vulnerability, package, status
    and justification."""
    if derived.status is not imported.status or derived.justification != imported.justification:
        return False
    if not same_vulnerability(derived.vulnerability_ids, imported.vulnerability_ids):
        return False
    ours = derived.products[0].purl
    return ours is not None and any(
        p.purl is not None and same_package(p.purl, ours) and same_package(ours, p.purl)
        for p in imported.products
    )


def merge(statements: Iterable[VexStatement]) -> list[VexStatement]:
    """Drop repeated statements and join those that differ only in their product, in order."""
    joined: dict[bytes, tuple[VexStatement, dict[VexProduct, None]]] = {}
    for statement in statements:
        data: dict[str, Any] = to_data(statement)
        del data["products"]
        key = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        products = joined.setdefault(key, (statement, {}))[1]
        products.update(dict.fromkeys(statement.products))
    return [
        first if len(products) == len(first.products) else _with(first, tuple(products))
        for first, products in joined.values()
    ]


def _with(statement: VexStatement, products: tuple[VexProduct, ...]) -> VexStatement:
    return replace(statement, products=products)
