"""SSVC decision tables (CERT/CC SSVC JSON, ``schemaVersion`` 2.0.0): bytes in,
:class:`DecisionTable` out.

A decision table names its decision points (each with ordered values), which of them is the
outcome, and a ``mapping``: one row per combination of input values, giving the outcome value.
The parser checks the structure it relies on and that the table is **complete**: every
combination of input values appears in exactly one row. A missing combination, a repeated one, a
row with an unknown point or value: each is refused with :class:`MalformedDocument` naming the
row. Tables are data (``../shared/data/ssvc`` in tests, a data directory in a deployment), never
re-typed into code. The SSVC JSON Schema is not read at run time; the tests validate every table
against it as well.

Points are referred to by their id (the key of ``decision_points``, e.g. ``ssvc:E:1.1.0``) or by
their short key (``E``) when that key is unique within the table.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from sakimori.errors import InvalidInput, MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json

SCHEMA_VERSION = "2.0.0"
_HINT = "an SSVC decision table follows DecisionTable_2_0_0.schema.json"


@dataclass(frozen=True, slots=True)
class PointValue:
    """One value of a decision point: its short key (``A``) and name (``Active``)."""

    key: str
    name: str


@dataclass(frozen=True, slots=True)
class DecisionPoint:
    """A decision point with its values in the table's order (lowest first, as SSVC writes them)."""

    id: str
    namespace: str
    key: str
    version: str
    name: str
    values: tuple[PointValue, ...]

    def value(self, key: str) -> PointValue:
        """The value with this key; :class:`InvalidInput` if the point has none."""
        for candidate in self.values:
            if candidate.key == key:
                return candidate
        known = ", ".join(v.key for v in self.values)
        raise InvalidInput(f"decision point {self.id} has no value {key!r} (it has {known})")


@dataclass(frozen=True, slots=True)
class DecisionTable:
    """A complete SSVC decision table.

    ``inputs`` are the decision points the rows are keyed by, in the order of the document;
    ``rows`` maps a tuple of input value keys (in that order) to the outcome value key.
    """

    namespace: str
    key: str
    version: str
    name: str
    inputs: tuple[DecisionPoint, ...]
    outcome_point: DecisionPoint
    rows: Mapping[tuple[str, ...], str] = field(compare=False, hash=False, repr=False)
    _index: Mapping[str, int] = field(compare=False, hash=False, repr=False)
    _outcomes: Mapping[str, PointValue] = field(compare=False, hash=False, repr=False)

    @property
    def id(self) -> str:
        """``namespace:key:version``, e.g. ``cisa:DT_CO:2.0.3``."""
        return f"{self.namespace}:{self.key}:{self.version}"

    def position(self, point: str) -> int:
        """Index in :attr:`inputs` of a point given by id or unique short key."""
        try:
            return self._index[point]
        except KeyError:
            names = ", ".join(p.id for p in self.inputs)
            raise InvalidInput(
                f"decision table {self.id} has no input point {point!r} (it has {names})"
            ) from None

    def point(self, point: str) -> DecisionPoint:
        return self.inputs[self.position(point)]

    def outcome(self, values: Mapping[str, str]) -> PointValue:
        """The outcome for ``{point id or key: value key}``, naming every input exactly once."""
        keys: list[str | None] = [None] * len(self.inputs)
        for point, value in values.items():
            where = self.position(point)
            if keys[where] is not None:
                raise InvalidInput(f"decision point {self.inputs[where].id} is given twice")
            keys[where] = value
        missing = [p.id for p, k in zip(self.inputs, keys, strict=True) if k is None]
        if missing:
            raise InvalidInput(f"decision table {self.id} needs a value for {', '.join(missing)}")
        return self.outcome_of(tuple(k for k in keys if k is not None))

    def outcome_of(self, keys: tuple[str, ...]) -> PointValue:
        """The outcome for value keys given in the order of :attr:`inputs` (the fast path)."""
        found = self.rows.get(keys)
        if found is None:
            for point, key in zip(self.inputs, keys, strict=False):
                point.value(key)  # raises, naming the point and the value
            raise InvalidInput(
                f"decision table {self.id} takes {len(self.inputs)} values, got {len(keys)}"
            )
        return self._outcomes[found]


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> DecisionTable:
    """Parse and check one SSVC decision table (JSON)."""
    return table_from_dict(load_json(data, limits))


def table_from_dict(document: Any) -> DecisionTable:
    """Check a decoded decision table and build a :class:`DecisionTable`."""
    if not isinstance(document, dict):
        _fail("the document must be a JSON object")
    version = document.get("schemaVersion")
    if version != SCHEMA_VERSION:
        _fail(f"schemaVersion is {version!r}; only {SCHEMA_VERSION!r} is read")
    namespace = _text(document, "namespace", "namespace")
    key = _text(document, "key", "key")
    table_version = _text(document, "version", "version")
    name = _text(document, "name", "name")
    label = f"{namespace}:{key}:{table_version}"
    raw_points = document.get("decision_points")
    if not isinstance(raw_points, dict) or not raw_points:
        _fail("decision_points must be a non-empty object", label)
    points = {pid: _point(pid, raw, label) for pid, raw in raw_points.items()}
    outcome_id = document.get("outcome")
    if not isinstance(outcome_id, str) or outcome_id not in points:
        _fail(f"outcome {outcome_id!r} is not one of the decision points", label)
    inputs = tuple(p for pid, p in points.items() if pid != outcome_id)
    if not inputs:
        _fail("the table has no input decision points", label)
    outcome_point = points[outcome_id]
    rows = _rows(document.get("mapping"), inputs, outcome_point, label)
    return DecisionTable(
        namespace=namespace,
        key=key,
        version=table_version,
        name=name,
        inputs=inputs,
        outcome_point=outcome_point,
        rows=rows,
        _index=_index(inputs),
        _outcomes={v.key: v for v in outcome_point.values},
    )


def _point(pid: object, raw: object, label: str) -> DecisionPoint:
    where = f"decision_points[{pid!r}]"
    if not isinstance(pid, str) or not pid:
        _fail(f"{where}: a decision point id must be a non-empty string", label)
    if not isinstance(raw, dict):
        _fail(f"{where} must be an object", label)
    values_raw = raw.get("values")
    if not isinstance(values_raw, list) or not values_raw:
        _fail(f"{where}.values must be a non-empty list", label)
    values: list[PointValue] = []
    for index, item in enumerate(values_raw):
        if not isinstance(item, dict):
            _fail(f"{where}.values[{index}] must be an object", label)
        value = PointValue(
            _text(item, "key", f"{where}.values[{index}].key", label),
            _text(item, "name", f"{where}.values[{index}].name", label),
        )
        if any(v.key == value.key for v in values):
            _fail(f"{where}.values repeats the key {value.key!r}", label)
        values.append(value)
    version = raw.get("version", "0.0.1")
    if not isinstance(version, str) or not version:
        _fail(f"{where}.version must be a non-empty string", label)
    return DecisionPoint(
        id=pid,
        namespace=_text(raw, "namespace", f"{where}.namespace", label),
        key=_text(raw, "key", f"{where}.key", label),
        version=version,
        name=_text(raw, "name", f"{where}.name", label),
        values=tuple(values),
    )


def _rows(
    mapping: object, inputs: tuple[DecisionPoint, ...], outcome: DecisionPoint, label: str
) -> dict[tuple[str, ...], str]:
    if not isinstance(mapping, list):
        _fail("mapping must be a list of rows", label)
    expected = {p.id for p in inputs} | {outcome.id}
    allowed = {p.id: {v.key for v in p.values} for p in (*inputs, outcome)}
    rows: dict[tuple[str, ...], str] = {}
    first_row: dict[tuple[str, ...], int] = {}
    for index, row in enumerate(mapping):
        where = f"mapping[{index}]"
        if not isinstance(row, dict):
            _fail(f"{where} must be an object", label)
        if set(row) != expected:
            extra = sorted(str(k) for k in set(row) - expected)
            absent = sorted(expected - set(row))
            problem = "; ".join(
                part
                for part in (
                    f"unknown points {', '.join(extra)}" if extra else "",
                    f"no value for {', '.join(absent)}" if absent else "",
                )
                if part
            )
            _fail(f"{where}: {problem}", label)
        for pid, value in row.items():
            if not isinstance(value, str) or value not in allowed[pid]:
                known = ", ".join(sorted(allowed[pid]))
                _fail(f"{where}: {pid} has no value {value!r} (it has {known})", label)
        keys = tuple(row[p.id] for p in inputs)
        if keys in rows:
            _fail(
                f"{where} repeats the inputs of mapping[{first_row[keys]}] "
                f"({_describe(inputs, keys)})",
                label,
            )
        rows[keys] = row[outcome.id]
        first_row[keys] = index
    # Every combination must be present. At most len(rows) combinations can be found before the
    # first missing one, so this loop is bounded by the document's size, however many points.
    for combination in itertools.product(*(tuple(v.key for v in p.values) for p in inputs)):
        if combination not in rows:
            _fail(f"mapping has no row for {_describe(inputs, combination)}", label)
    return rows


def _describe(inputs: tuple[DecisionPoint, ...], keys: tuple[str, ...]) -> str:
    return ", ".join(f"{p.key}={k}" for p, k in zip(inputs, keys, strict=True))


def _index(inputs: tuple[DecisionPoint, ...]) -> dict[str, int]:
    index = {p.id: i for i, p in enumerate(inputs)}
    short: dict[str, list[int]] = {}
    for i, p in enumerate(inputs):
        short.setdefault(p.key, []).append(i)
    for key, where in short.items():
        if len(where) == 1:
            index.setdefault(key, where[0])
    return index


def _text(obj: Mapping[str, Any], key: str, path: str, label: str = "") -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        _fail(f"{path} must be a non-empty string", label)
    return value


def _fail(problem: str, label: str = "") -> NoReturn:
    prefix = f"SSVC decision table {label}" if label else "SSVC decision table"
    raise MalformedDocument(f"{prefix}: {problem}", hint=_HINT)


def sniff(data: bytes) -> bool:
    """True if ``data`` looks like an SSVC decision table (decision_points, outcome, mapping)."""
    head = data[:4096]
    if b'"decision_points"' not in head and b'"schemaVersion"' not in head:
        return False
    try:
        document = load_json(data)
    except InvalidInput:
        return False
    return (
        isinstance(document, dict)
        and isinstance(document.get("decision_points"), dict)
        and "outcome" in document
        and isinstance(document.get("mapping"), list)
    )
