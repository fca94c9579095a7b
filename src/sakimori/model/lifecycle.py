"""The finding lifecycle: states, who may move a finding where, and what each move requires.

::

    open ──► acknowledged ──► in_progress ──► fix_applied ──► fixed
      │            │               │               │
      └────────────┴───────────────┴──► mitigated | not_affected (VEX justification)
                                        | risk_accepted (expiry date and who accepted)

A finding whose vulnerable component is gone from the asset's newest inventory is closed as
``fixed`` ("verified by inventory") from any state; when the vulnerable version comes back, a
closed finding reopens. An accepted risk reopens when its acceptance expires. Pure rules: the
services apply them inside a transaction and record every transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sakimori.errors import Conflict, InvalidInput


class State(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    FIX_APPLIED = "fix_applied"
    FIXED = "fixed"
    MITIGATED = "mitigated"
    NOT_AFFECTED = "not_affected"
    RISK_ACCEPTED = "risk_accepted"


#: States that count as closed (no deadline runs for them).
CLOSED = frozenset({State.FIXED, State.MITIGATED, State.NOT_AFFECTED, State.RISK_ACCEPTED})

_WORKING = (State.ACKNOWLEDGED, State.IN_PROGRESS, State.FIX_APPLIED)
_ENDINGS = (State.MITIGATED, State.NOT_AFFECTED, State.RISK_ACCEPTED)

#: Transitions a person may make.
ALLOWED: dict[State, frozenset[State]] = {
    State.OPEN: frozenset({*_WORKING, *_ENDINGS}),
    State.ACKNOWLEDGED: frozenset({State.IN_PROGRESS, State.FIX_APPLIED, *_ENDINGS}),
    State.IN_PROGRESS: frozenset({State.FIX_APPLIED, *_ENDINGS}),
    State.FIX_APPLIED: frozenset({State.FIXED, State.IN_PROGRESS, *_ENDINGS}),
    State.FIXED: frozenset({State.OPEN}),
    State.MITIGATED: frozenset({State.OPEN, State.FIXED}),
    State.NOT_AFFECTED: frozenset({State.OPEN}),
    State.RISK_ACCEPTED: frozenset({State.OPEN}),
}

#: VEX justifications (the five OpenVEX / CSAF labels) a "not affected" declaration may carry.
JUSTIFICATIONS = frozenset(
    {
        "component_not_present",
        "vulnerable_code_not_present",
        "vulnerable_code_not_in_execute_path",
        "vulnerable_code_cannot_be_controlled_by_adversary",
        "inline_mitigations_already_exist",
    }
)


@dataclass(frozen=True, slots=True)
class Move:
    """A requested transition with what it carries."""

    to: State
    actor: str
    note: str = ""
    justification: str | None = None
    expires: date | None = None


def parse_state(text: str) -> State:
    try:
        return State(text.strip().lower().replace("-", "_").replace(" ", "_"))
    except ValueError:
        names = ", ".join(s.value for s in State)
        raise InvalidInput(f"unknown state {text!r}", hint=f"one of: {names}") from None


def check(current: State, move: Move, today: date) -> None:
    """Refuse an illegal move with a clear message; pure, so callers refuse before writing."""
    if not move.actor.strip():
        raise InvalidInput("a transition needs the person who makes it", hint="give --by")
    if move.to not in ALLOWED[current]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[current])) or "none"
        raise Conflict(
            f"a finding cannot go from {current.value} to {move.to.value}",
            hint=f"from {current.value} it may go to: {allowed}",
        )
    if move.to is State.NOT_AFFECTED:
        if move.justification not in JUSTIFICATIONS:
            raise InvalidInput(
                "'not affected' needs a VEX justification",
                hint="one of: " + ", ".join(sorted(JUSTIFICATIONS)),
            )
    elif move.justification is not None:
        raise InvalidInput("a justification belongs only to a 'not affected' declaration")
    if move.to is State.RISK_ACCEPTED:
        if move.expires is None:
            raise InvalidInput("accepting a risk needs an expiry date", hint="give --expires")
        if move.expires <= today:
            raise InvalidInput(f"the expiry date {move.expires} is not in the future")
    elif move.expires is not None:
        raise InvalidInput("an expiry date belongs only to an accepted risk")
