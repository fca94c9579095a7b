"""SSVC decisions with explanations: :func:`decide` (evidence + asset context -> :class:`Decision`).

Each decision point is derived from named evidence, and records which evidence set it; where
evidence is missing the point takes a documented conservative default and says "unknown"
(``docs/triage.md`` has the rules and the reasons). Three outcomes come from three tables,
loaded by the caller as data (:class:`DecisionTables`):

- ``decision`` — CISA coordinator table (Track / Track* / Attend / Act): Exploitation,
  Automatable, Technical Impact, Mission & Well-being Impact;
- ``priority`` — SSVC deployer patch-application table (Defer / Scheduled / Out-of-Cycle /
  Immediate): Exploitation, System Exposure, Automatable, Human Impact;
- ``bod`` — CISA BOD 26-04 remediation timelines (FSU / 60D / 14D / 3D / 3DF): Publicly
  Exposed, In KEV, Automatable, Technical Impact.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from sakimori.errors import ConfigurationError, InvalidInput
from sakimori.formats.ssvc import DecisionTable
from sakimori.triage.config import TriageConfig
from sakimori.triage.derive import Because, Derived, derive_context, derive_vulnerability
from sakimori.triage.evidence import AssetContext, Evidence

#: The decision points each table must have, and the value keys Sakimori derives for them.
REQUIRED: dict[str, dict[str, tuple[str, ...]]] = {
    "coordinator": {
        "E": ("N", "P", "A"),
        "A": ("N", "Y"),
        "TI": ("P", "T"),
        "MWI": ("L", "M", "H"),
    },
    "deployer": {
        "E": ("N", "P", "A"),
        "EXP": ("C", "O"),
        "A": ("N", "Y"),
        "HI": ("L", "M", "H", "VH"),
    },
    "bod": {"PE": ("N", "Y"), "KEV": ("N", "Y"), "A": ("N", "Y"), "TI": ("P", "T")},
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """One table's outcome: value key (``AC``), name (``Act``), and the table's id."""

    key: str
    name: str
    table: str


@dataclass(frozen=True, slots=True)
class PointValue:
    """One decision point's value, the evidence behind it, and whether it is a default."""

    point: str
    point_name: str
    value: str
    value_name: str
    because: tuple[Because, ...]
    unknown: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "point": self.point,
            "name": self.point_name,
            "value": self.value,
            "value_name": self.value_name,
            "unknown": self.unknown,
            "because": [{"source": b.source, "detail": b.detail} for b in self.because],
        }


@dataclass(frozen=True, slots=True)
class DecisionTables:
    """The three decision tables a decision uses, checked once for the points Sakimori feeds.

    Construction precomputes every outcome by Sakimori's own point order, so a decision is a few
    dictionary look-ups. The bundle also memoises derived points per configuration (context
    points per asset context; vulnerability points per :class:`Evidence` object), bounded in
    size; it is safe to share between threads (a lost cache entry is only recomputed).
    """

    coordinator: DecisionTable
    deployer: DecisionTable
    bod: DecisionTable
    _lookup: dict[str, dict[tuple[str, ...], Outcome]] = field(
        init=False, compare=False, repr=False
    )
    _names: dict[tuple[str, str], tuple[str, str]] = field(init=False, compare=False, repr=False)
    _memo: dict[int, _Memo] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        lookup: dict[str, dict[tuple[str, ...], Outcome]] = {}
        names: dict[tuple[str, str], tuple[str, str]] = {}
        for role, points in REQUIRED.items():
            table: DecisionTable = getattr(self, role)
            if sorted(p.key for p in table.inputs) != sorted(points):
                raise ConfigurationError(
                    f"{role} table {table.id} has inputs "
                    f"{', '.join(p.key for p in table.inputs)}; expected {', '.join(points)}"
                )
            try:
                for key, values in points.items():
                    point = table.point(key)
                    for value in values:
                        names[(key, value)] = (point.name, point.value(value).name)
                plan = [list(points).index(p.key) for p in table.inputs]
                outcomes = {}
                for combination in itertools.product(*points.values()):
                    found = table.outcome_of(tuple(combination[i] for i in plan))
                    outcomes[combination] = Outcome(found.key, found.name, table.id)
            except InvalidInput as exc:
                raise ConfigurationError(
                    f"{role} table {table.id} cannot be used: {exc.message}"
                ) from None
            lookup[role] = outcomes
        object.__setattr__(self, "_lookup", lookup)
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_memo", {})

    @property
    def versions(self) -> dict[str, str]:
        """``{"coordinator": "cisa:DT_CO:2.0.3", ...}``: the id and version of each table."""
        return {
            "coordinator": self.coordinator.id,
            "deployer": self.deployer.id,
            "bod": self.bod.id,
        }

    def _point(self, key: str, derived: Derived) -> PointValue:
        point_name, value_name = self._names[(key, derived.value)]
        return PointValue(
            key, point_name, derived.value, value_name, derived.because, derived.unknown
        )

    def _prepared(self, config: TriageConfig) -> _Memo:
        memo = self._memo.get(id(config))
        if memo is None or memo.config is not config:
            if len(self._memo) >= 16:
                self._memo.clear()
            memo = _Memo(config, self)
            self._memo[id(config)] = memo
        return memo


class _Memo:
    """Per-configuration memo of one :class:`DecisionTables`: derived points, shared."""

    _LIMIT = 65_536

    def __init__(self, config: TriageConfig, tables: DecisionTables) -> None:
        self.config = config
        self.tables = tables
        self.versions = tuple(tables.versions.items())
        kev_yes = Derived("Y", (Because("KEV", "listed in CISA's KEV catalog"),))
        kev_no = Derived("N", (Because("KEV", "not listed in CISA's KEV catalog (as loaded)"),))
        self.kev = {True: tables._point("KEV", kev_yes), False: tables._point("KEV", kev_no)}
        self.contexts: dict[AssetContext, tuple[PointValue, ...]] = {}
        self.vulnerabilities: dict[int, tuple[Evidence, tuple[PointValue, ...]]] = {}

    def context(self, context: AssetContext) -> tuple[PointValue, ...]:
        found = self.contexts.get(context)
        if found is None:
            keys = ("MWI", "EXP", "HI", "PE")
            derived = derive_context(context, self.config)
            found = tuple(self.tables._point(k, d) for k, d in zip(keys, derived, strict=True))
            if len(self.contexts) >= self._LIMIT:
                self.contexts.clear()
            self.contexts[context] = found
        return found

    def vulnerability(self, evidence: Evidence) -> tuple[PointValue, ...]:
        # Keyed by identity: hashing a large Evidence costs as much as deriving it, while a
        # batch reuses one Evidence object for every finding of the vulnerability.
        found = self.vulnerabilities.get(id(evidence))
        if found is not None and found[0] is evidence:
            return found[1]
        derived = derive_vulnerability(evidence, self.config)
        points = tuple(
            self.tables._point(k, d) for k, d in zip(("E", "A", "TI"), derived, strict=True)
        )
        if len(self.vulnerabilities) >= self._LIMIT:
            self.vulnerabilities.clear()
        self.vulnerabilities[id(evidence)] = (evidence, points)
        return points


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of triage for one vulnerability on one asset, with every input explained."""

    vulnerability: str
    decision: Outcome
    priority: Outcome
    bod: Outcome
    points: tuple[PointValue, ...]
    tables: tuple[tuple[str, str], ...]
    config_version: str
    context_unknown: bool

    def point(self, key: str) -> PointValue:
        for item in self.points:
            if item.point == key:
                return item
        raise KeyError(key)

    def explain(self) -> str:
        """A readable, multi-line explanation: the outcomes, then each point and its evidence."""
        lines = [
            f"{self.vulnerability}: decision {self.decision.name}, priority {self.priority.name}, "
            f"BOD 26-04 {self.bod.name} ({self.bod.key})"
        ]
        if self.context_unknown:
            lines.append(
                "  asset context unknown (bare file scan): exposure and criticality take their "
                "documented defaults"
            )
        for item in self.points:
            flag = " [unknown, default]" if item.unknown else ""
            lines.append(f"  {item.point_name} ({item.point}): {item.value_name}{flag}")
            lines.extend(f"    - {b.source}: {b.detail}" for b in item.because)
        tables = ", ".join(table for _, table in self.tables)
        lines.append(f"  tables: {tables}; triage configuration {self.config_version}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary of everything in the decision."""

        def outcome(o: Outcome) -> dict[str, str]:
            return {"key": o.key, "name": o.name, "table": o.table}

        return {
            "vulnerability": self.vulnerability,
            "decision": outcome(self.decision),
            "priority": outcome(self.priority),
            "bod": outcome(self.bod),
            "points": [p.to_dict() for p in self.points],
            "tables": dict(self.tables),
            "config_version": self.config_version,
            "context_unknown": self.context_unknown,
        }


def decide(
    evidence: Evidence, context: AssetContext, tables: DecisionTables, config: TriageConfig
) -> Decision:
    """Derive every SSVC decision point and look up the three outcomes."""
    memo = tables._prepared(config)
    exploitation, automatable, impact = memo.vulnerability(evidence)
    mwi, exposure, human, public = memo.context(context)
    kev = memo.kev[evidence.kev]
    e, a, ti = exploitation.value, automatable.value, impact.value
    lookup = tables._lookup
    return Decision(
        vulnerability=evidence.id,
        decision=lookup["coordinator"][(e, a, ti, mwi.value)],
        priority=lookup["deployer"][(e, exposure.value, a, human.value)],
        bod=lookup["bod"][(public.value, kev.value, a, ti)],
        points=(exploitation, automatable, impact, mwi, exposure, human, public, kev),
        tables=memo.versions,
        config_version=config.version,
        context_unknown=context.is_unknown,
    )
