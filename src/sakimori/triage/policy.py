"""Deadline policies as versioned data, and the pure deadline computation.

A :class:`Policy` is a named, versioned, ordered list of :class:`Rule` s. A rule matches on any of
the BOD 26-04 outcome, the SSVC coordinator decision, the SSVC deployer priority, whether the
system is internet-facing, whether the vulnerability is KEV-listed and the asset's sector, and sets
a duration (``"24h"``, ``"14d"``), ``"kev_due_date"`` (KEV's ``dueDate`` itself) or ``"none"``,
plus an optional forensic-triage flag (BOD 26-04's "3 days & forensic investigation"). The first
matching rule wins; the last rule is a catch-all. A ``kev_due_date`` rule matches only findings
that carry a KEV due date.

Every check runs once, when the policy is constructed (:class:`~sakimori.errors.MalformedDocument`
names the rule): the last rule is a catch-all, no rule is shadowed by earlier ones, and every
value of an outcome the policy keys on reaches a rule other than the catch-all (a forgotten row of
a table is refused rather than silently caught). Construction also enumerates every combination of
the inputs the rules look at and stores the applicable rule with its explanation, so
:func:`deadline` is one attribute fetch, one dictionary lookup and one addition.

KEV's due date is a calendar day: the deadline is the **end of that day, UTC**. A finding first
seen after it — or with less than the policy's ``kev_grace`` left before it — is due ``kev_grace``
after it was first seen, so nobody is overdue the moment a finding appears. The same floor applies
when a policy caps KEV-listed findings at KEV's due date (``cap_at_kev_due_date``). See
``docs/policies.md``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter
from typing import Final, Literal

from sakimori.errors import InvalidInput, MalformedDocument
from sakimori.model import organisation

BOD_OUTCOMES: Final = ("FSU", "60D", "14D", "3D", "3DF")
DECISIONS: Final = ("Track", "Track*", "Attend", "Act")
PRIORITIES: Final = ("Defer", "Scheduled", "Out-of-Cycle", "Immediate")
#: Japan's critical-infrastructure sectors, as policy files spell them (the stored keys).
SECTORS: Final = tuple(organisation.SECTORS)
NO_DEADLINE: Final = "none"
KEV_DUE_DATE: Final = "kev_due_date"

DeadlineState = Literal["due", "overdue", "none"]

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,63}")
_DURATION = re.compile(r"([1-9][0-9]{0,5})([hd])")
_MAX_DURATION = timedelta(days=3650)
_UNITS = {"h": ("hour", timedelta(hours=1)), "d": ("day", timedelta(days=1))}
_OUTCOMES: Final = {"bod": BOD_OUTCOMES, "decision": DECISIONS, "priority": PRIORITIES}
_OUTCOME_LABEL: Final = {"bod": "BOD 26-04 outcome", "decision": "decision", "priority": "priority"}
#: Every input a rule can look at, in key order, with its possible values.
_DIMENSIONS: Final[dict[str, tuple[object, ...]]] = {
    "bod": BOD_OUTCOMES,
    "decision": DECISIONS,
    "priority": PRIORITIES,
    "internet_facing": (False, True),
    "kev": (False, True),
    "sector": (*SECTORS, None),
    "has_kev_due_date": (False, True),
}
_DURATION_KIND, _NONE_KIND, _KEV_KIND = 0, 1, 2


def parse_duration(text: str) -> timedelta:
    """``"24h"`` / ``"14d"`` -> timedelta (whole hours or days, at least 1h, at most 3650 days)."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as '24h' or '14d'")
    value = int(match[1]) * _UNITS[match[2]][1]
    if value > _MAX_DURATION:
        raise ValueError(f"{text!r} is longer than the maximum of 3650 days")
    return value


def duration_words(text: str) -> str:
    """``"24h"`` -> ``"24 hours"``, ``"1d"`` -> ``"1 day"`` (the unit as the policy wrote it)."""
    match = _DURATION.fullmatch(text)
    if match is None:
        return text
    count = int(match[1])
    unit = _UNITS[match[2]][0]
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _span_words(delta: timedelta) -> str:
    """A time span for people: ``"2 days 3 hours"``, ``"45 minutes"``, ``"less than a minute"``."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [
        f"{count} {unit}" if count == 1 else f"{count} {unit}s"
        for count, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
        if count
    ]
    return " ".join(parts[:2]) if parts else "less than a minute"


@dataclass(frozen=True, slots=True)
class DeadlineInputs:
    """What a deadline depends on: the three triage outcomes and the finding's context.

    ``internet_facing`` is the asset's exposure; when it is unknown, pass ``True`` (the documented
    conservative default). ``kev_due_date`` is KEV's ``dueDate`` and requires ``kev``.
    """

    bod: str
    decision: str
    priority: str
    internet_facing: bool
    kev: bool = False
    kev_due_date: date | None = None
    sector: str | None = None

    def __post_init__(self) -> None:
        for name, values in _OUTCOMES.items():
            if getattr(self, name) not in values:
                raise InvalidInput(
                    f"unknown {_OUTCOME_LABEL[name]} {getattr(self, name)!r}; "
                    f"expected one of {', '.join(values)}"
                )
        if self.sector is not None and self.sector not in _SECTOR_SET:
            raise InvalidInput(f"unknown sector {self.sector!r}; expected one of {_SECTOR_LIST}")
        if self.kev_due_date is not None and not self.kev:
            raise InvalidInput("a KEV due date is given for a vulnerability that is not KEV-listed")

    @property
    def has_kev_due_date(self) -> bool:
        return self.kev_due_date is not None


_SECTOR_SET: Final = frozenset(SECTORS)
_SECTOR_LIST: Final = ", ".join(SECTORS)


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of a policy. An empty tuple or ``None`` condition matches any value.

    ``deadline`` is a duration (``"24h"``, ``"3d"``), ``"kev_due_date"`` or ``"none"``.
    """

    id: str
    deadline: str
    bod: tuple[str, ...] = ()
    decision: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    sector: tuple[str, ...] = ()
    internet_facing: bool | None = None
    kev: bool | None = None
    forensic_triage: bool = False
    note: str = ""

    @property
    def is_catch_all(self) -> bool:
        return not self.conditions()

    def conditions(self) -> dict[str, tuple[object, ...]]:
        """The inputs this rule looks at and the values it accepts (a kev_due_date rule also
        requires the finding to carry a KEV due date)."""
        found: dict[str, tuple[object, ...]] = {}
        for name in ("bod", "decision", "priority"):
            if getattr(self, name):
                found[name] = getattr(self, name)
        for name in ("internet_facing", "kev"):
            if getattr(self, name) is not None:
                found[name] = (getattr(self, name),)
        if self.sector:
            found["sector"] = self.sector
        if self.deadline == KEV_DUE_DATE:
            found["has_kev_due_date"] = (True,)
        return found

    def matches(self, inputs: DeadlineInputs) -> bool:
        """Whether this rule applies to ``inputs`` (the slow reference; policies use a table)."""
        return all(getattr(inputs, name) in values for name, values in self.conditions().items())


@dataclass(frozen=True, slots=True)
class _Entry:
    """The precompiled answer for one combination of the inputs a policy looks at."""

    rule: Rule
    kind: int
    duration: timedelta
    text: str  # "BOD 26-04 outcome 14D → 14 days"; for kev_due_date, the condition only
    forensic: str  # ", and a forensic triage of the asset" or ""
    ref: str  # " [policy cisa-bod-26-04 1.0.0, rule bod-14d]"


@dataclass(frozen=True, slots=True)
class _Compiled:
    key: Callable[[DeadlineInputs], object]
    table: dict[object, _Entry]
    grace: timedelta
    grace_words: str
    cap: bool


@dataclass(frozen=True, slots=True)
class Policy:
    """A versioned deadline policy; validated and compiled on construction.

    ``kev_grace`` (a duration) is required when a rule uses ``kev_due_date`` or when
    ``cap_at_kev_due_date`` is set, and refused otherwise. Changing a policy means a new version.
    """

    name: str
    version: str
    rules: tuple[Rule, ...]
    description: str = ""
    kev_grace: str | None = None
    cap_at_kev_due_date: bool = False
    _compiled: _Compiled = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", _compile(self))

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"

    def rule_for(self, inputs: DeadlineInputs) -> Rule:
        """The rule that applies to ``inputs`` (the first that matches)."""
        return self._compiled.table[self._compiled.key(inputs)].rule


def _rule_where(index: int, rule: Rule) -> str:
    return f"rules[{index}] {rule.id!r}"


def _fail(message: str) -> MalformedDocument:
    return MalformedDocument(message, hint="see docs/policies.md for the policy file format")


def _check_rule(index: int, rule: Rule, seen: set[str]) -> None:
    where = _rule_where(index, rule)
    if not _NAME.fullmatch(rule.id):
        raise _fail(f"rules[{index}].id {rule.id!r} must be lower-case letters, digits, - or _")
    if rule.id in seen:
        raise _fail(f"{where}: the rule id is used twice; rule ids are unique within a policy")
    seen.add(rule.id)
    for name, values in (*_OUTCOMES.items(), ("sector", SECTORS)):
        chosen: tuple[str, ...] = getattr(rule, name)
        for value in chosen:
            if value not in values:
                label = _OUTCOME_LABEL.get(name, "sector")
                raise _fail(
                    f"{where}.when.{name}: unknown {label} {value!r}; "
                    f"expected one of {', '.join(values)}"
                )
        if len(set(chosen)) != len(chosen):
            raise _fail(f"{where}.when.{name}: a value is listed twice")
    if rule.deadline not in (NO_DEADLINE, KEV_DUE_DATE):
        try:
            parse_duration(rule.deadline)
        except ValueError as exc:
            raise _fail(
                f"{where}.deadline: {exc} (hours or days), {KEV_DUE_DATE!r} or {NO_DEADLINE!r}"
            ) from None


def _compile(policy: Policy) -> _Compiled:
    if not _NAME.fullmatch(policy.name):
        raise _fail(f"policy.name {policy.name!r} must be lower-case letters, digits, - or _")
    if not _VERSION.fullmatch(policy.version):
        raise _fail(f"policy.version {policy.version!r} must be letters, digits, '.', '+', '-'")
    if not policy.rules:
        raise _fail("a policy needs at least one rule, ending with a catch-all")
    seen: set[str] = set()
    for index, rule in enumerate(policy.rules):
        _check_rule(index, rule, seen)
    *body, last = policy.rules
    for index, rule in enumerate(body):
        if rule.is_catch_all:
            raise _fail(
                f"{_rule_where(index, rule)} is a catch-all (no conditions) but not the last "
                "rule; every rule after it could never apply"
            )
    if last.deadline == KEV_DUE_DATE and tuple(last.conditions()) == ("has_kev_due_date",):
        raise _fail(
            f"{_rule_where(len(body), last)}: the catch-all rule cannot use {KEV_DUE_DATE!r}, "
            "which only applies to findings that carry a KEV due date; give it a duration or 'none'"
        )
    if not last.is_catch_all:
        raise _fail(
            f"{_rule_where(len(body), last)}: a policy must end with a catch-all rule "
            "(a rule with no `when`), so that every finding gets a deadline"
        )
    grace, grace_words = _check_grace(policy)
    return _build_table(policy, grace, grace_words)


def _check_grace(policy: Policy) -> tuple[timedelta, str]:
    uses_kev = policy.cap_at_kev_due_date or any(
        rule.deadline == KEV_DUE_DATE for rule in policy.rules
    )
    if policy.kev_grace is None:
        if uses_kev:
            raise _fail(
                "policy.kev_grace is required when a rule uses kev_due_date or "
                "cap_at_kev_due_date is true: it is the time a finding first seen after (or just "
                "before) KEV's due date gets"
            )
        return timedelta(0), ""
    if not uses_kev:
        raise _fail(
            "policy.kev_grace is set but no rule uses kev_due_date and cap_at_kev_due_date is "
            "false; remove it"
        )
    try:
        return parse_duration(policy.kev_grace), duration_words(policy.kev_grace)
    except ValueError as exc:
        raise _fail(f"policy.kev_grace: {exc} (hours or days)") from None


def _combinations(dimensions: tuple[str, ...]) -> Iterator[tuple[object, ...]]:
    """Every consistent combination of the given inputs (no KEV due date without KEV)."""
    kev = dimensions.index("kev") if "kev" in dimensions else None
    due = dimensions.index("has_kev_due_date") if "has_kev_due_date" in dimensions else None
    for values in itertools.product(*(_DIMENSIONS[name] for name in dimensions)):
        if due is not None and kev is not None and values[due] and not values[kev]:
            continue
        yield values


def _condition_text(rule: Rule, combination: Mapping[str, object]) -> str:
    parts: list[str] = []
    for name in rule.conditions():
        value = combination[name]
        if name in _OUTCOME_LABEL:
            parts.append(f"{_OUTCOME_LABEL[name]} {value}")
        elif name == "internet_facing":
            parts.append("internet-facing" if value else "not internet-facing")
        elif name == "kev":
            parts.append("KEV-listed" if value else "not KEV-listed")
        elif name == "sector":
            parts.append(f"sector {value}")
    if rule.deadline == KEV_DUE_DATE and "kev" not in rule.conditions():
        parts.append("KEV-listed")
    return ", ".join(parts) if parts else "no earlier rule applies"


def _entry(policy: Policy, rule: Rule, combination: Mapping[str, object]) -> _Entry:
    condition = _condition_text(rule, combination)
    forensic = ", and a forensic triage of the asset" if rule.forensic_triage else ""
    ref = f" [policy {policy.label}, rule {rule.id}]"
    if rule.deadline == NO_DEADLINE:
        return _Entry(rule, _NONE_KIND, timedelta(0), f"{condition} → no deadline", forensic, ref)
    if rule.deadline == KEV_DUE_DATE:
        return _Entry(rule, _KEV_KIND, timedelta(0), condition, forensic, ref)
    text = f"{condition} → {duration_words(rule.deadline)}"
    return _Entry(rule, _DURATION_KIND, parse_duration(rule.deadline), text, forensic, ref)


def _build_table(policy: Policy, grace: timedelta, grace_words: str) -> _Compiled:
    used = {name for rule in policy.rules for name in rule.conditions()}
    dimensions = tuple(name for name in _DIMENSIONS if name in used)
    # Each rule's conditions as (position in the combination, accepted values).
    tests = [
        tuple((dimensions.index(name), values) for name, values in rule.conditions().items())
        for rule in policy.rules
    ]
    outcomes = [(name, dimensions.index(name)) for name in _OUTCOMES if name in dimensions]
    table: dict[object, _Entry] = {}
    entries: dict[tuple[int, tuple[object, ...]], _Entry] = {}
    reached: set[int] = set()
    beyond_catch_all: dict[str, set[object]] = {name: set() for name in _OUTCOMES}
    last = len(policy.rules) - 1
    for values in _combinations(dimensions):
        index = next(
            i
            for i, test in enumerate(tests)
            if all(values[position] in accepted for position, accepted in test)
        )
        reached.add(index)
        if index != last:
            for name, position in outcomes:
                beyond_catch_all[name].add(values[position])
        seen = (index, tuple(values[position] for position, _ in tests[index]))
        entry = entries.get(seen)
        if entry is None:
            combination = dict(zip(dimensions, values, strict=True))
            entry = entries[seen] = _entry(policy, policy.rules[index], combination)
        table[values[0] if len(values) == 1 else values] = entry
    for index, rule in enumerate(policy.rules[:-1]):
        if index not in reached:
            raise _fail(
                f"{_rule_where(index, rule)} never applies: no finding can match it, or earlier "
                "rules take every finding it matches; reorder or remove it"
            )
    for name in dimensions:
        if name not in _OUTCOMES:
            continue
        for value in _OUTCOMES[name]:
            if value not in beyond_catch_all[name]:
                raise _fail(
                    f"no rule covers {_OUTCOME_LABEL[name]} {value!r}: findings with it would "
                    f"always fall through to the catch-all rule {policy.rules[-1].id!r}; add a "
                    f"rule that names {value!r}"
                )
    key: Callable[[DeadlineInputs], object]
    if dimensions:
        key = attrgetter(*dimensions)
    else:
        table = {None: table[()]}

        def key(_inputs: DeadlineInputs) -> object:
            return None

    return _Compiled(key, table, grace, grace_words, policy.cap_at_kev_due_date)


@dataclass(frozen=True, slots=True)
class Deadline:
    """When a finding is due (UTC, or ``None``), by which rule of which policy, and why."""

    due: datetime | None
    forensic_triage: bool
    policy_name: str
    policy_version: str
    rule: Rule
    reason: str


def _kev_end(due_date: date) -> datetime:
    """KEV's dueDate is a whole day: due at its end, UTC."""
    return datetime.combine(due_date + timedelta(days=1), time(), UTC)


def _kev_due(
    due_date: date, created_at: datetime, grace: timedelta, grace_words: str, first_seen: str
) -> tuple[datetime, str]:
    end = _kev_end(due_date)
    floor = created_at + grace
    if floor <= end:
        return end, f"KEV due date {due_date.isoformat()} (end of day UTC)"
    situation = "had passed by then" if created_at >= end else "was less than that away"
    return floor, (
        f"{grace_words} grace from first seen {first_seen}, as KEV due date "
        f"{due_date.isoformat()} {situation}"
    )


@dataclass(frozen=True, slots=True)
class DeadlineSpec:
    """What a policy decided for one set of inputs, before the first-seen time is known: the
    rule's kind and duration, its words, and the KEV due date, grace and cap that apply.

    Plain data (:meth:`to_dict` / :meth:`from_dict`), so that it can be stored with a triage
    rule and a finding's deadline and reason rebuilt later from its first-seen time alone
    (:func:`render`), exactly as :func:`deadline` computes them.
    """

    kind: Literal["duration", "none", "kev_due_date"]
    seconds: int
    text: str
    forensic: str
    ref: str
    forensic_triage: bool
    kev_due_date: date | None
    grace_seconds: int
    grace_words: str
    cap: bool

    def terms(self) -> DeadlineTerms:
        """The :class:`DeadlineTerms` this spec sets for any first-seen time."""
        duration = timedelta(seconds=self.seconds) if self.kind == "duration" else None
        if self.kev_due_date is None or not (self.kind == "kev_due_date" or self.cap):
            return DeadlineTerms(duration)
        return DeadlineTerms(
            duration, _kev_end(self.kev_due_date), timedelta(seconds=self.grace_seconds)
        )

    def to_dict(self) -> dict[str, object]:
        data = {name: getattr(self, name) for name in self.__slots__}
        data["kev_due_date"] = self.kev_due_date.isoformat() if self.kev_due_date else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> DeadlineSpec:
        due = data.get("kev_due_date")
        values = {name: data[name] for name in cls.__slots__ if name != "kev_due_date"}
        return cls(kev_due_date=date.fromisoformat(str(due)) if due else None, **values)  # type: ignore[arg-type]


_KIND_NAMES: Final = {
    _DURATION_KIND: "duration",
    _NONE_KIND: "none",
    _KEV_KIND: "kev_due_date",
}


def spec(policy: Policy, inputs: DeadlineInputs) -> DeadlineSpec:
    """The :class:`DeadlineSpec` ``policy`` sets for ``inputs``."""
    compiled = policy._compiled
    entry = compiled.table[compiled.key(inputs)]
    return DeadlineSpec(
        kind=_KIND_NAMES[entry.kind],  # type: ignore[arg-type]
        seconds=_whole_seconds(entry.duration),
        text=entry.text,
        forensic=entry.forensic,
        ref=entry.ref,
        forensic_triage=entry.rule.forensic_triage,
        kev_due_date=inputs.kev_due_date,
        grace_seconds=_whole_seconds(compiled.grace),
        grace_words=compiled.grace_words,
        cap=compiled.cap,
    )


def _whole_seconds(span: timedelta) -> int:
    seconds = span.total_seconds()
    if seconds != int(seconds):  # parse_duration gives hours and days only
        raise ValueError(f"a policy duration is not a whole number of seconds: {span}")
    return int(seconds)


def render(found: DeadlineSpec, created_at: datetime) -> tuple[datetime | None, str]:
    """(due, reason) of ``found`` for a finding first seen at ``created_at`` (aware)."""
    if created_at.tzinfo is not UTC:
        if created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        created_at = created_at.astimezone(UTC)
    first_seen = created_at.isoformat()
    grace = timedelta(seconds=found.grace_seconds)
    due: datetime | None
    if found.kind == "duration":
        due = created_at + timedelta(seconds=found.seconds)
        reason = f"{found.text} from first seen {first_seen}{found.forensic}"
    elif found.kind == "none":
        due = None
        reason = f"{found.text}{found.forensic}"
    else:
        assert found.kev_due_date is not None  # the table only sends findings with one here
        due, text = _kev_due(found.kev_due_date, created_at, grace, found.grace_words, first_seen)
        reason = f"{found.text} → {text}{found.forensic}"
    if found.cap and found.kev_due_date is not None:
        capped, text = _kev_due(
            found.kev_due_date, created_at, grace, found.grace_words, first_seen
        )
        if due is None or capped < due:
            due = capped
            reason = f"{reason}; KEV-listed, so capped at {text}"
    return due, reason + found.ref


def deadline(policy: Policy, inputs: DeadlineInputs, created_at: datetime) -> Deadline:
    """The deadline ``policy`` sets for a finding first created (for its asset) at ``created_at``.

    ``created_at`` must be timezone-aware; the result is in UTC and never before ``created_at``.
    """
    compiled = policy._compiled
    entry = compiled.table[compiled.key(inputs)]
    due, reason = render(spec(policy, inputs), created_at)
    return Deadline(
        due, entry.rule.forensic_triage, policy.name, policy.version, entry.rule, reason
    )


@dataclass(frozen=True, slots=True)
class DeadlineTerms:
    """A deadline as a function of the first-seen time, in the two terms every policy reduces to.

    Every deadline :func:`deadline` sets is the earlier of ``first seen + duration`` and
    ``max(KEV end of day, first seen + grace)``, either of which may be absent (a ``none`` rule
    sets neither). The earliest of several policies' deadlines (an asset in several sectors) is
    again of this form: the shortest duration and, KEV's due date being one date per
    vulnerability, the shortest grace. So a stored (duration, KEV end, grace) triple lets the
    database compute any finding's deadline from its first-seen time (``store.triage_view``),
    and :func:`due_from_terms` is the same computation in Python.
    """

    duration: timedelta | None = None
    kev_end: datetime | None = None
    grace: timedelta | None = None

    def __post_init__(self) -> None:
        if (self.kev_end is None) != (self.grace is None):
            raise ValueError("a KEV term needs both the KEV end of day and the grace")

    def earliest(self, other: DeadlineTerms) -> DeadlineTerms:
        """The terms of the earlier of two deadlines (for the same vulnerability)."""
        if self.kev_end and other.kev_end and self.kev_end != other.kev_end:
            raise ValueError("the KEV due dates of one vulnerability differ")
        return DeadlineTerms(
            _least(self.duration, other.duration),
            self.kev_end or other.kev_end,
            _least(self.grace, other.grace),
        )


def _least(a: timedelta | None, b: timedelta | None) -> timedelta | None:
    return b if a is None else a if b is None else min(a, b)


def due_from_terms(terms: DeadlineTerms, first_seen: datetime) -> datetime | None:
    """The deadline ``terms`` set for a finding first seen at ``first_seen`` (aware)."""
    if first_seen.tzinfo is None:
        raise ValueError("first_seen must be timezone-aware")
    first_seen = first_seen.astimezone(UTC)
    found = None if terms.duration is None else first_seen + terms.duration
    if terms.kev_end is not None and terms.grace is not None:
        floor = max(terms.kev_end, first_seen + terms.grace)
        found = floor if found is None else min(found, floor)
    return found


@dataclass(frozen=True, slots=True)
class DeadlineStatus:
    """``due`` (with the time left), ``overdue`` (with by how much) or ``none``."""

    state: DeadlineState
    time_left: timedelta | None = None
    overdue_by: timedelta | None = None

    @property
    def text(self) -> str:
        if self.time_left is not None:
            return f"due in {_span_words(self.time_left)}"
        if self.overdue_by is not None:
            return f"overdue by {_span_words(self.overdue_by)}"
        return "no deadline"


def status(deadline: Deadline, now: datetime) -> DeadlineStatus:
    """Due or overdue at ``now`` (timezone-aware); due exactly at ``now`` is still due."""
    return due_status(deadline.due, now)


def due_status(due: datetime | None, now: datetime) -> DeadlineStatus:
    """:func:`status` of a stored due time (``None``: the policy set no deadline)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if due is None:
        return DeadlineStatus("none")
    if due.tzinfo is None:  # SQLite returns naive datetimes; Sakimori stores UTC
        due = due.replace(tzinfo=UTC)
    left = due - now
    if left >= timedelta(0):
        return DeadlineStatus("due", time_left=left)
    return DeadlineStatus("overdue", overdue_by=-left)


@dataclass(frozen=True, slots=True)
class DeadlineChange:
    """A finding's deadline under an old and a new policy, and why it changed (or did not)."""

    old: Deadline
    new: Deadline
    reason: str

    @property
    def changed(self) -> bool:
        return (self.old.due, self.old.forensic_triage) != (self.new.due, self.new.forensic_triage)


def _due_text(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "no deadline"


def explain_change(
    old_policy: Policy, new_policy: Policy, inputs: DeadlineInputs, created_at: datetime
) -> DeadlineChange:
    """Recompute a finding's deadline under ``new_policy`` and say what changed and why."""
    old = deadline(old_policy, inputs, created_at)
    new = deadline(new_policy, inputs, created_at)
    head = f"policy {old_policy.label} → {new_policy.label}"
    if old.due == new.due:
        what = f"deadline unchanged ({_due_text(new.due)})"
    elif old.due is None:
        what = f"a deadline is now set: {_due_text(new.due)}"
    elif new.due is None:
        what = f"the deadline {_due_text(old.due)} is removed"
    else:
        shift = new.due - old.due
        direction = "later" if shift > timedelta(0) else "earlier"
        what = (
            f"due {_due_text(old.due)} → {_due_text(new.due)} "
            f"({_span_words(abs(shift))} {direction})"
        )
    if old.forensic_triage != new.forensic_triage:
        what += "; forensic triage " + ("now" if new.forensic_triage else "no longer") + " required"
    return DeadlineChange(old, new, f"{head}: {what}. Before: {old.reason}. Now: {new.reason}")


@dataclass(frozen=True, slots=True)
class PolicySet:
    """A coordinator's choice of policy per sector, with a default for every other finding."""

    name: str
    version: str
    default: Policy
    sectors: Mapping[str, Policy] = field(default_factory=dict, hash=False)
    description: str = ""

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise _fail(f"policy_set.name {self.name!r} must be lower-case letters, digits, - or _")
        if not _VERSION.fullmatch(self.version):
            raise _fail(
                f"policy_set.version {self.version!r} must be letters, digits, '.', '+', '-'"
            )
        for sector in self.sectors:
            if sector not in _SECTOR_SET:
                raise _fail(f"sectors: unknown sector {sector!r}; expected one of {_SECTOR_LIST}")

    def policy_for(self, sector: str | None) -> Policy:
        """The policy for a finding of an asset in ``sector`` (``None``: the default)."""
        if sector is None:
            return self.default
        if sector not in _SECTOR_SET:
            raise InvalidInput(f"unknown sector {sector!r}; expected one of {_SECTOR_LIST}")
        return self.sectors.get(sector, self.default)
