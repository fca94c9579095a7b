"""What is due in the follow-up of a package, from a recipient's times and the policy (pure).

Acknowledgement: a recipient has ``ack_within`` from its delivery to acknowledge (the
package's ``acknowledge_within_hours``, else the instance's default). Past that deadline with no
acknowledgement it is **reminded** (once); still unacknowledged ``escalate_after`` after the
reminder, it is **escalated** to its admins and the coordinator (once). Escalation therefore
never comes before the reminder, however late the follow-up runs.

Reports: each report a package requires (``early_warning``, ``notification``, ``final``) has a
clock (default 24 h, 72 h, 30 days) that starts when the recipient receives the requirement.
An unfiled report is **reminded** once when a quarter of its clock remains, and **escalated**
once when it is overdue (a report first seen overdue is escalated without a reminder: its
deadline has passed). A filed report is never due, reminded or overdue.

Nothing here reads a clock or a database: ``now`` is always given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import orjson

from sakimori.errors import InvalidInput, LimitExceeded
from sakimori.packages.model import REPORT_KINDS, checked_text

#: The part of a report's clock left when its reminder goes out.
REMIND_AT_REMAINING: Final = 0.25


class Step(StrEnum):
    NOTHING = "nothing"
    REMIND = "remind"
    ESCALATE = "escalate"


def _default_clocks() -> dict[str, timedelta]:
    return {
        "early_warning": timedelta(hours=24),
        "notification": timedelta(hours=72),
        "final": timedelta(days=30),
    }


@dataclass(frozen=True, slots=True)
class Policy:
    """The instance's follow-up settings (``sakimori.config.Settings.package_*``)."""

    ack_within: timedelta = timedelta(hours=72)
    escalate_after: timedelta = timedelta(hours=24)
    report_clocks: Mapping[str, timedelta] = field(default_factory=_default_clocks)

    def __post_init__(self) -> None:
        if self.ack_within <= timedelta(0) or self.escalate_after <= timedelta(0):
            raise ValueError("the acknowledgement window and the grace must be positive")
        if set(self.report_clocks) != set(REPORT_KINDS):
            raise ValueError(f"report clocks must be given for {', '.join(REPORT_KINDS)}")
        if any(c <= timedelta(0) for c in self.report_clocks.values()):
            raise ValueError("report clocks must be positive")

    @classmethod
    def of_hours(cls, ack: float, escalation: float, reports: tuple[float, float, float]) -> Policy:
        return cls(
            timedelta(hours=ack),
            timedelta(hours=escalation),
            {kind: timedelta(hours=h) for kind, h in zip(REPORT_KINDS, reports, strict=True)},
        )

    def window(self, acknowledge_within_hours: int | None) -> timedelta:
        """The acknowledgement window of a package (its own, else the default)."""
        if acknowledge_within_hours is None:
            return self.ack_within
        return timedelta(hours=acknowledge_within_hours)

    def report_due(self, kind: str, started_at: datetime) -> datetime:
        return started_at + self.report_clocks[kind]


@dataclass(frozen=True, slots=True)
class Receipt:
    """A recipient's times, as the follow-up needs them."""

    delivered_at: datetime
    acknowledged_at: datetime | None = None
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None
    active: bool = True


def acknowledgement_due(receipt: Receipt, window: timedelta) -> datetime:
    return receipt.delivered_at + window


def acknowledgement_step(
    receipt: Receipt, window: timedelta, escalate_after: timedelta, now: datetime
) -> Step:
    """What the acknowledgement follow-up of one recipient calls for at ``now``."""
    if not receipt.active or receipt.acknowledged_at is not None:
        return Step.NOTHING
    if receipt.reminded_at is None:
        return Step.REMIND if now >= acknowledgement_due(receipt, window) else Step.NOTHING
    if receipt.escalated_at is None and now >= receipt.reminded_at + escalate_after:
        return Step.ESCALATE
    return Step.NOTHING


@dataclass(frozen=True, slots=True)
class ReportClock:
    kind: str
    started_at: datetime
    due_at: datetime
    filed_at: datetime | None = None
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None

    @property
    def filed(self) -> bool:
        return self.filed_at is not None

    def remaining(self, now: datetime) -> timedelta | None:
        """Time left until it is due (negative once overdue); None once filed."""
        return None if self.filed_at is not None else self.due_at - now

    def overdue(self, now: datetime) -> bool:
        return self.filed_at is None and now >= self.due_at

    def remind_at(self) -> datetime:
        return self.due_at - (self.due_at - self.started_at) * REMIND_AT_REMAINING


def report_step(clock: ReportClock, now: datetime) -> Step:
    """What one report's follow-up calls for at ``now``."""
    if clock.filed:
        return Step.NOTHING
    if clock.overdue(now):
        return Step.ESCALATE if clock.escalated_at is None else Step.NOTHING
    if clock.reminded_at is None and now >= clock.remind_at():
        return Step.REMIND
    return Step.NOTHING


@dataclass(frozen=True, slots=True)
class Countdown:
    """Time left (or overdue) in whole days, hours and minutes, for a person to read."""

    overdue: bool
    days: int
    hours: int
    minutes: int


def countdown(remaining: timedelta) -> Countdown:
    """``remaining`` rounded down to the minute (towards the deadline when overdue)."""
    overdue = remaining <= timedelta(0)
    seconds = int(abs(remaining).total_seconds())
    minutes_total = seconds // 60
    days, rest = divmod(minutes_total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    return Countdown(overdue, days, hours, minutes)


# -- the report form ------------------------------------------------------------------------------

#: The form's text fields and their longest length; ``exploitation_observed`` is a yes/no.
FORM_TEXTS: Final = {"summary": 5_000, "impact": 5_000, "measures": 5_000}
FORM_FIELDS: Final = (*FORM_TEXTS, "exploitation_observed")
#: The largest form accepted, as compact JSON.
MAX_FORM_BYTES: Final = 65_536


def report_form(value: Mapping[str, Any]) -> dict[str, Any]:
    """A filed report's fields, checked: ``summary`` (required), ``impact``, ``measures``
    (text) and ``exploitation_observed`` (true / false); anything else is refused."""
    if not isinstance(value, Mapping):
        raise InvalidInput("a report is an object of its fields")
    unknown = sorted(set(value) - set(FORM_FIELDS))
    if unknown:
        raise InvalidInput(
            f"a report has no field {', '.join(map(repr, unknown))}",
            hint=f"the fields are {', '.join(FORM_FIELDS)}",
        )
    size = len(orjson.dumps(dict(value), default=str))
    if size > MAX_FORM_BYTES:
        raise LimitExceeded(f"a report may hold at most {MAX_FORM_BYTES:,} bytes, not {size:,}")
    form: dict[str, Any] = {}
    for name, limit in FORM_TEXTS.items():
        form[name] = checked_text(value, name, limit, "report").strip()
    if not form["summary"]:
        raise InvalidInput("a report needs a summary", hint="say what happened, in a few lines")
    observed = value.get("exploitation_observed", False)
    if not isinstance(observed, bool):
        raise InvalidInput("report field 'exploitation_observed' must be true or false")
    form["exploitation_observed"] = observed
    return form
