"""NVD CVE API 2.0 records reduced to their CPE applicability ``configurations``.

Pure: a decoded ``cve`` object (or an API response envelope) in, :class:`NvdRecord` out. Each
``cpeMatch`` criterion is parsed into a :class:`~sakimori.cpe.name.Wfn` and its version bounds
are checked here, so evaluation never meets a malformed criterion. What is refused, with
:class:`~sakimori.errors.MalformedDocument`: a record without an ``id``, a configuration or
node that is not an object, an operator other than AND/OR, a criterion that is not a CPE 2.3
formatted string, and **contradictory bounds** (a start above the end, or an empty range such
as ``versionStartIncluding == versionEndExcluding``).

Shape (NVD API 2.0 schema ``cve_api_json_2.0``): ``configurations[]`` each with an optional
``operator`` (AND/OR, default OR) and ``negate``, and ``nodes[]`` each with ``operator``,
``negate`` and ``cpeMatch[]`` (``vulnerable``, ``criteria``, ``matchCriteriaId``,
``versionStartIncluding``/``Excluding``, ``versionEndIncluding``/``Excluding``).

The seam for later steps: the NVD API sync (``intel/sources``) hands each
``vulnerabilities[].cve`` object to :func:`record_from_dict` or a whole page to
:func:`parse`; storage keeps the records and rebuilds the
:class:`~sakimori.cpe.applicability.ApplicabilityIndex` from them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from sakimori.cpe.name import ANY, Wfn, parse_fs, unquote
from sakimori.cpe.version import GenericKey, generic_key
from sakimori.errors import InvalidInput, MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json
from sakimori.matching.batch import cyclic_gc_paused

Operator = Literal["AND", "OR"]
_NO_BOUND = frozenset({"-", "*"})
_HINT = "an NVD CVE API 2.0 record (https://nvd.nist.gov/developers/vulnerabilities)"
_BOUNDS = (
    "versionStartIncluding",
    "versionStartExcluding",
    "versionEndIncluding",
    "versionEndExcluding",
)


@dataclass(frozen=True, slots=True)
class CpeMatch:
    """One ``cpeMatch`` criterion: a CPE name pattern, optional version bounds, and whether a
    product it matches is the vulnerable one (``vulnerable: false`` marks a platform)."""

    criteria: str
    name: Wfn
    vulnerable: bool
    match_id: str = ""
    start_including: str | None = None
    start_excluding: str | None = None
    end_including: str | None = None
    end_excluding: str | None = None
    #: Generic sort keys of the four bounds (same order), computed once at parse time.
    bound_keys: tuple[GenericKey | None, ...] = field(default=(), compare=False, repr=False)

    @property
    def has_bounds(self) -> bool:
        return any(k is not None for k in self.bound_keys)

    def describe(self) -> str:
        """The criterion and its bounds as one line (``criteria [>= 7.0.0, <= 7.0.11]``)."""
        parts = [
            f"{op} {v}"
            for op, v in (
                (">=", self.start_including),
                (">", self.start_excluding),
                ("<=", self.end_including),
                ("<", self.end_excluding),
            )
            if v is not None
        ]
        return f"{self.criteria} [{', '.join(parts)}]" if parts else self.criteria


@dataclass(frozen=True, slots=True)
class Node:
    operator: Operator
    negate: bool
    matches: tuple[CpeMatch, ...]


@dataclass(frozen=True, slots=True)
class Configuration:
    operator: Operator
    negate: bool
    nodes: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class NvdRecord:
    id: str
    configurations: tuple[Configuration, ...]
    vuln_status: str = ""

    def matches(self) -> tuple[CpeMatch, ...]:
        """Every ``cpeMatch`` of every node, in document order."""
        return tuple(m for c in self.configurations for n in c.nodes for m in n.matches)


@dataclass(frozen=True, slots=True)
class NvdDocument:
    """A record as loaded: the parsed record, its ``configurations`` as NVD wrote them (what is
    stored), ``lastModified`` and a hash of what is stored (to skip unchanged records)."""

    record: NvdRecord
    configurations: tuple[Any, ...]
    last_modified: str
    content_hash: str


def sniff(data: bytes) -> bool:
    """True if ``data`` looks like an NVD CVE API 2.0 record or response page."""
    head = data[:8192]
    if b'"NVD_CVE"' not in head and b'"sourceIdentifier"' not in head:
        return False
    try:
        document = load_json(data)
    except InvalidInput:
        return False
    if not isinstance(document, dict):
        return False
    if document.get("format") == "NVD_CVE" and isinstance(document.get("vulnerabilities"), list):
        return True
    inner = document.get("cve", document)
    return (
        isinstance(inner, dict)
        and isinstance(inner.get("id"), str)
        and "sourceIdentifier" in inner
        and ("vulnStatus" in inner or "configurations" in inner)
    )


def documents(data: bytes, limits: Limits = DEFAULT_LIMITS) -> list[NvdDocument]:
    """Like :func:`parse`, keeping what storage needs of each record."""
    document = load_json(data, limits)
    items = document.get("vulnerabilities") if isinstance(document, dict) else None
    raws = items if isinstance(items, list) else [document]
    out = []
    # Thousands of small frozen objects with no cycles: the cycle collector only slows this.
    with cyclic_gc_paused():
        for index, raw in enumerate(raws):
            try:
                out.append(document_from_dict(raw))
            except InvalidInput as exc:
                raise (exc.located(f"vulnerabilities[{index}]") if items is raws else exc) from None
    return out


def document_from_dict(raw: Any) -> NvdDocument:
    record = record_from_dict(raw)
    inner = raw["cve"] if isinstance(raw.get("cve"), dict) else raw
    configurations = tuple(inner.get("configurations", []))
    modified = inner.get("lastModified")
    last_modified = modified if isinstance(modified, str) else ""
    canonical = json.dumps(
        [configurations, record.vuln_status, last_modified], sort_keys=True, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return NvdDocument(record, configurations, last_modified, digest)


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> list[NvdRecord]:
    """One record (a ``cve`` object, or ``{"cve": {...}}``) or an API response page
    (``vulnerabilities[].cve``), as JSON bytes."""
    document = load_json(data, limits)
    if isinstance(document, dict) and isinstance(document.get("vulnerabilities"), list):
        records = []
        for index, item in enumerate(document["vulnerabilities"]):
            try:
                records.append(record_from_dict(item))
            except InvalidInput as exc:
                raise exc.located(f"vulnerabilities[{index}]") from None
        return records
    return [record_from_dict(document)]


def record_from_dict(document: Any) -> NvdRecord:
    """Build an :class:`NvdRecord` from a decoded ``cve`` object (or ``{"cve": {...}}``)."""
    if isinstance(document, dict) and isinstance(document.get("cve"), dict):
        document = document["cve"]
    if not isinstance(document, dict):
        raise _malformed("", "the record must be a JSON object")
    cve_id = document.get("id")
    if not isinstance(cve_id, str) or not cve_id.startswith("CVE-"):
        raise _malformed("", f"id {cve_id!r} is not a CVE id")
    raw = document.get("configurations", [])
    if not isinstance(raw, list):
        raise _malformed(cve_id, "configurations must be a list")
    configurations = tuple(
        _configuration(cve_id, f"configurations[{i}]", c) for i, c in enumerate(raw)
    )
    status = document.get("vulnStatus")
    return NvdRecord(cve_id, configurations, status if isinstance(status, str) else "")


def _configuration(cve_id: str, where: str, raw: Any) -> Configuration:
    if not isinstance(raw, dict):
        raise _malformed(cve_id, f"{where} is not an object")
    nodes = raw.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise _malformed(cve_id, f"{where}.nodes must be a non-empty list")
    return Configuration(
        operator=_operator(cve_id, where, raw.get("operator", "OR")),
        negate=_flag(cve_id, where, raw, "negate"),
        nodes=tuple(_node(cve_id, f"{where}.nodes[{i}]", n) for i, n in enumerate(nodes)),
    )


def _node(cve_id: str, where: str, raw: Any) -> Node:
    if not isinstance(raw, dict):
        raise _malformed(cve_id, f"{where} is not an object")
    matches = raw.get("cpeMatch")
    if not isinstance(matches, list) or not matches:
        raise _malformed(cve_id, f"{where}.cpeMatch must be a non-empty list")
    return Node(
        operator=_operator(cve_id, where, raw.get("operator", "OR")),
        negate=_flag(cve_id, where, raw, "negate"),
        matches=tuple(
            _cpe_match(cve_id, f"{where}.cpeMatch[{i}]", m) for i, m in enumerate(matches)
        ),
    )


def _cpe_match(cve_id: str, where: str, raw: Any) -> CpeMatch:
    if not isinstance(raw, dict):
        raise _malformed(cve_id, f"{where} is not an object")
    criteria = raw.get("criteria")
    if not isinstance(criteria, str):
        raise _malformed(cve_id, f"{where}.criteria is missing")
    try:
        name = parse_fs(criteria)
    except InvalidInput as exc:
        raise _malformed(cve_id, f"{where}.criteria: {exc.diagnostics()}") from None
    vulnerable = raw.get("vulnerable")
    if not isinstance(vulnerable, bool):
        raise _malformed(cve_id, f"{where}.vulnerable must be true or false")
    bounds: list[str | None] = []
    for key in _BOUNDS:
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise _malformed(cve_id, f"{where}.{key} must be a non-empty string")
        text = value.strip() if isinstance(value, str) else None
        # A few real records write "-" (CVE-2022-4064: versionStartIncluding "-"): no bound.
        bounds.append(None if text in _NO_BOUND else text)
    keys = tuple(_bound_key(cve_id, where, v) for v in bounds)
    _check_range(cve_id, where, criteria, bounds, keys)
    if any(k is not None for k in keys) and name.version is not ANY:
        raise _malformed(
            cve_id,
            f"{where}: criteria {criteria} names version {unquote(name.version)} and also has "
            "version bounds",
        )
    match_id = raw.get("matchCriteriaId")
    return CpeMatch(
        criteria=criteria,
        name=name,
        vulnerable=vulnerable,
        match_id=match_id if isinstance(match_id, str) else "",
        start_including=bounds[0],
        start_excluding=bounds[1],
        end_including=bounds[2],
        end_excluding=bounds[3],
        bound_keys=keys,
    )


def _bound_key(cve_id: str, where: str, value: str | None) -> GenericKey | None:
    if value is None:
        return None
    try:
        return generic_key(value)
    except InvalidInput as exc:
        raise _malformed(cve_id, f"{where}: version bound {exc.message}") from None


def _check_range(
    cve_id: str,
    where: str,
    criteria: str,
    bounds: list[str | None],
    keys: tuple[GenericKey | None, ...],
) -> None:
    """Refuse both start bounds, both end bounds, or a start that leaves the range empty."""
    if bounds[0] is not None and bounds[1] is not None:
        raise _malformed(cve_id, f"{where}: both versionStartIncluding and ...Excluding")
    if bounds[2] is not None and bounds[3] is not None:
        raise _malformed(cve_id, f"{where}: both versionEndIncluding and ...Excluding")
    start = keys[0] if keys[0] is not None else keys[1]
    end = keys[2] if keys[2] is not None else keys[3]
    if start is None or end is None:
        return
    both_inclusive = keys[0] is not None and keys[2] is not None
    if start > end or (start == end and not both_inclusive):
        low = bounds[0] or bounds[1]
        high = bounds[2] or bounds[3]
        raise _malformed(
            cve_id,
            f"{where}: contradictory version range for {criteria}: it starts at {low} and ends "
            f"at {high}, so no version is in it",
        )


def _operator(cve_id: str, where: str, value: Any) -> Operator:
    if value == "AND":
        return "AND"
    if value == "OR":
        return "OR"
    raise _malformed(cve_id, f"{where}.operator {value!r} is not AND or OR")


def _flag(cve_id: str, where: str, raw: dict[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise _malformed(cve_id, f"{where}.{key} must be true or false")
    return value


def _malformed(cve_id: str, problem: str) -> MalformedDocument:
    prefix = f"NVD record {cve_id}" if cve_id else "NVD record"
    return MalformedDocument(f"{prefix}: {problem}", hint=_HINT)
