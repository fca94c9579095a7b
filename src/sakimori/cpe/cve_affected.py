"""The status of a product version under a CVE List V5 record's ``affected`` entries.

Follows the CVE JSON 5 schema's algorithm (cve-schema ``docs/versions.md``, "Version Status
Decisions"): the first ``versions`` item that matches the version decides, a range item's
status is changed by its ``changes`` at or below the version (sorted by the version type's
order), and a version no item matches takes ``defaultStatus`` (``unknown`` when absent). The
answer is one of ``affected``, ``unaffected``, ``unknown`` or **``needs-review``** — the last
whenever the record cannot be evaluated for that version, always with the reason:

* a range whose ``versionType`` we cannot order: ``git`` and other source-control types
  (commit ancestry needs the repository), a range without ``versionType``, a bound or a
  version the type's comparator refuses;
* a contradictory item: ``lessThan`` and ``lessThanOrEqual`` both given, a range whose start
  is above its end (or empty), a status that is not one of the three;
* the asset's version is not known (ANY);
* no item matches, some are placeholders (``"version": "n/a"`` / ``"unspecified"``, as
  converted CVE 4 records write) or prose (``"FortiOS 6.0.0 to 6.0.4, 5.6.3 to 5.6.7"``), and
  ``defaultStatus`` is absent (so it would be a silent ``unknown``).

Version types and orderings: ``semver``, ``maven``, ``rpm``, ``python``/``pypi``, ``npm``,
``deb``/``debian``, ``go``, ``nuget``, ``gem``/``rubygems``, ``composer``/``packagist`` use the
comparators of :mod:`sakimori.versions`; ``custom``, ``other`` and any type we do not know use
the generic ordering of :mod:`sakimori.cpe.version` (the schema calls ``custom`` unorderable;
this step orders it generically on purpose, as the vendors' dotted versions in the real data
order that way, and says so in the reason). By the schema's conventions ``"version": "0"`` is
"no lower bound" (and so, here, is a placeholder start such as ``"unspecified"`` or ``"n/a"``
before a ``lessThan``, as Apple, Microsoft, Chrome and others write it) and ``"*"`` as an
upper bound is "no upper bound"; ``"2.*"`` is "the whole 2 series" (compared on the leading
generic segments). Items of a source-control type are skipped
when the asked version is not a commit id, since they cannot match it.

Which entries concern a product: a CPE query matches an entry listing a ``cpes`` name with the
same part, vendor and product (case-insensitive), and any query matches an entry whose
``vendor`` and ``product`` equal its own once both are folded (lower case, everything but
letters and digits dropped). ``platforms`` do not restrict the match (not modelled yet).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from sakimori.cpe.name import ANY, Wfn, parse, unquote
from sakimori.cpe.version import generic_key
from sakimori.errors import InvalidInput
from sakimori.model.cve import CveRecord
from sakimori.versions import family_key

Status = Literal["affected", "unaffected", "unknown", "needs-review"]
_STATUSES: Final = frozenset({"affected", "unaffected", "unknown"})
_FAMILIES: Final = {
    "semver": "semver",
    "npm": "semver",
    "maven": "maven",
    "rpm": "rpm",
    "python": "pypi",
    "pypi": "pypi",
    "deb": "debian",
    "debian": "debian",
    "go": "go",
    "nuget": "nuget",
    "gem": "rubygems",
    "rubygems": "rubygems",
    "composer": "packagist",
    "packagist": "packagist",
}
_SOURCE_CONTROL: Final = frozenset({"git", "hg", "svn", "bzr", "cvs", "darcs", "fossil"})
_PLACEHOLDERS: Final = frozenset({"n/a", "unspecified", "unknown", "*", "-", "all", ""})
_COMMIT: Final = re.compile(r"[0-9a-f]{7,64}")
#: A single "version" that is a sentence: "FortiOS 6.0.0 to 6.0.4, 5.6.3 to 5.6.7 and before".
_PROSE: Final = re.compile(
    r"[,;<>]|\b(?:to|before|through|and|or|below|earlier|prior|later|above|versions?)\b",
    re.IGNORECASE,
)
_FOLD: Final = re.compile(r"[^0-9a-z]+")

Key = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class ProductQuery:
    """What to look up: a vendor and product (free text or CPE attribute values), the version,
    and the CPE name when the product is known by one."""

    vendor: str
    product: str
    version: str | None = None
    cpe: Wfn | None = None

    @classmethod
    def from_cpe(cls, name: Wfn | str) -> ProductQuery:
        wfn = parse(name) if isinstance(name, str) else name
        version = None if wfn.version is ANY else unquote(wfn.version)
        return cls(unquote(wfn.vendor), unquote(wfn.product), version, wfn)


@dataclass(frozen=True, slots=True)
class AffectedStatus:
    """The status of the asked version, why, and where in the record it was decided."""

    status: Status
    reason: str
    where: str = ""


@dataclass(frozen=True, slots=True)
class RecordStatus:
    """The answer for a whole record: the combined status and each entry's answer."""

    cve_id: str
    status: Status
    entries: tuple[AffectedStatus, ...]

    @property
    def reason(self) -> str:
        decisive = [e for e in self.entries if e.status == self.status]
        return decisive[0].reason if decisive else ""


def fold(text: str) -> str:
    """A vendor or product name as compared here: lower case, letters and digits only.

    "Palo Alto Networks" / "PAN-OS" (a CNA's words) and ``paloaltonetworks`` / ``pan-os`` (the
    CPE dictionary's) fold alike, so a product known by its CPE name meets the CNA's entry.
    """
    return _FOLD.sub("", text.lower())


def entry_cpes(entry: Mapping[str, Any]) -> tuple[list[Wfn], list[str]]:
    """The CPE names an entry lists, and a message for each one that does not parse."""
    names: list[Wfn] = []
    problems: list[str] = []
    raw = entry.get("cpes", [])
    for text in raw if isinstance(raw, list) else []:
        if not isinstance(text, str):
            continue
        try:
            names.append(parse(text))
        except InvalidInput as exc:
            problems.append(exc.diagnostics())
    return names, problems


def names_product(entry: Mapping[str, Any], query: ProductQuery) -> bool:
    """True when the ``affected`` entry is about the queried product."""
    if query.cpe is not None:
        wanted = tuple(
            v.lower() if isinstance(v, str) else v
            for v in (query.cpe.part, query.cpe.vendor, query.cpe.product)
        )
        for name in entry_cpes(entry)[0]:
            got = tuple(
                v.lower() if isinstance(v, str) else v
                for v in (name.part, name.vendor, name.product)
            )
            if got == wanted:
                return True
    vendor, product = entry.get("vendor"), entry.get("product")
    return (
        isinstance(vendor, str)
        and isinstance(product, str)
        and fold(vendor) == fold(query.vendor)
        and fold(product) == fold(query.product)
    )


def evaluate_record(record: CveRecord, query: ProductQuery) -> RecordStatus | None:
    """The status of the queried product version under the record's CNA ``affected`` list;
    ``None`` when no entry names the product."""
    answers = [
        version_status(entry, query.version, where=f"affected[{index}]")
        for index, entry in enumerate(record.affected)
        if names_product(entry, query)
    ]
    if not answers:
        return None
    statuses = {a.status for a in answers}
    status: Status
    for status in ("affected", "needs-review", "unaffected", "unknown"):
        if status in statuses:
            break
    return RecordStatus(record.id, status, tuple(answers))


def version_status(
    entry: Mapping[str, Any], version: str | None, *, where: str = "affected"
) -> AffectedStatus:
    """The status of ``version`` under one ``affected`` entry (its ``versions`` and
    ``defaultStatus``)."""
    default = entry.get("defaultStatus", "unknown")
    if default not in _STATUSES:
        return _review(f"defaultStatus {default!r} is not affected/unaffected/unknown", where)
    items = entry.get("versions", [])
    if not isinstance(items, list):
        return _review("versions is not a list", where)
    if not items:
        return AffectedStatus(default, f"no versions listed; defaultStatus {default}", where)
    if version is None or version.strip() in {"", "*", "-"}:
        return _review("the asset's version is not known", where)
    version = version.strip()
    placeholder = ""
    for index, item in enumerate(items):
        at = f"{where}.versions[{index}]"
        if not isinstance(item, dict):
            return _review("a versions item is not an object", at)
        outcome = item_status(item, version)
        if outcome is None:
            continue
        if outcome == "placeholder":
            placeholder = placeholder or str(item.get("version"))
            continue
        if isinstance(outcome, AffectedStatus):
            return AffectedStatus(outcome.status, outcome.reason, at)
    if placeholder and "defaultStatus" not in entry:
        shown = placeholder if len(placeholder) <= 60 else placeholder[:57] + "..."
        return _review(f"the record states its versions as {shown!r}, not as versions", where)
    return AffectedStatus(
        default, f"{version} is in no listed version or range; defaultStatus {default}", where
    )


def item_status(
    item: Mapping[str, Any], version: str
) -> AffectedStatus | Literal["placeholder"] | None:
    """One ``versions`` item against a version: its status when it matches, ``None`` when it
    does not, ``"placeholder"`` for an ``n/a`` item, or a needs-review answer."""
    status = item.get("status")
    if status not in _STATUSES:
        return _review(f"status {status!r} is not affected/unaffected/unknown")
    start = item.get("version")
    if not isinstance(start, str):
        return _review("an item without a version")
    start = start.strip()
    less_than, less_equal = item.get("lessThan"), item.get("lessThanOrEqual")
    version_type = item.get("versionType")
    kind = version_type.strip().lower() if isinstance(version_type, str) else None
    if kind in _SOURCE_CONTROL:
        if not _COMMIT.fullmatch(version.lower()):
            return None  # commit ranges cannot match a release version
        return _review(f"{kind} ranges need the repository's commit graph")
    if less_than is None and less_equal is None:
        if start.lower() in _PLACEHOLDERS or _PROSE.search(start):
            return "placeholder"
        return _single(item, start, version, kind)
    if less_than is not None and less_equal is not None:
        return _review("contradictory item: both lessThan and lessThanOrEqual")
    if kind is None:
        return _review("a range without versionType (the schema requires one)")
    upper = less_than if less_than is not None else less_equal
    if not isinstance(upper, str) or not upper.strip():
        return _review("an empty upper bound")
    return _range(item, start, upper.strip(), less_equal is not None, version, kind)


def _single(
    item: Mapping[str, Any], start: str, version: str, kind: str | None
) -> AffectedStatus | None:
    status = item["status"]
    if start == version or start.lower() == version.lower():
        return AffectedStatus(status, f"version {start} is listed as {status}")
    if kind is None:
        return None
    key, _ = _key_for(kind)
    try:
        same = key(start) == key(version)
    except InvalidInput:
        return None  # a single version that does not parse cannot be equal to one that does
    return AffectedStatus(status, f"version {start} is listed as {status}") if same else None


def _range(
    item: Mapping[str, Any], start: str, upper: str, inclusive: bool, version: str, kind: str
) -> AffectedStatus | None:
    key, label = _key_for(kind)
    try:
        asked = key(version)
    except InvalidInput as exc:
        return _review(f"{version} cannot be ordered as {label}: {exc.message}")
    try:
        low = None if start == "0" or start.lower() in _PLACEHOLDERS else key(start)
        high = _Upper.of(upper, inclusive, key)
    except InvalidInput as exc:
        return _review(f"a bound cannot be ordered as {label}: {exc.message}")
    op = "<=" if inclusive else "<"
    if low is not None and high is not None and not high.admits(low, start):
        return _review(
            f"contradictory range: version {start} is not {op} {upper}, so no version is in it"
        )
    if (low is not None and asked < low) or (high is not None and not high.admits(asked, version)):
        return None
    status: str = item["status"]
    reason = f"{version} is in [{start}, {op} {upper}] ({label}): {status}"
    changes = item.get("changes", [])
    if changes:
        try:
            ordered = sorted(
                ((key(c["at"]), c["at"], c["status"]) for c in changes), key=lambda c: c[0]
            )
        except (InvalidInput, KeyError, TypeError) as exc:
            return _review(f"a status change cannot be read or ordered: {exc}")
        for at_key, at, changed in ordered:
            if changed not in _STATUSES:
                return _review(f"status change to {changed!r}")
            if at_key <= asked:
                status = changed
                reason = f"{reason}; changed to {changed} at {at}"
    return AffectedStatus(cast(Status, status), reason)


@dataclass(frozen=True, slots=True)
class _Upper:
    """An upper bound: a version (``<`` or ``<=``), or ``X.*`` — the whole ``X`` series,
    compared on the leading segments of the generic key whatever the version type."""

    bound: Any
    inclusive: bool
    series: tuple[Any, ...] | None = None

    @classmethod
    def of(cls, upper: str, inclusive: bool, key: Key) -> _Upper | None:
        if upper == "*":
            return None
        if upper.endswith("*"):
            prefix = upper.rstrip("*").rstrip(".") or "0"
            return cls(None, True, generic_key(prefix))
        return cls(key(upper), inclusive)

    def admits(self, asked: Any, text: str) -> bool:
        if self.series is not None:
            try:
                head = generic_key(text)[: len(self.series)]
            except InvalidInput:
                return False
            return head <= self.series
        return bool(asked <= self.bound) if self.inclusive else bool(asked < self.bound)


def _key_for(kind: str) -> tuple[Key, str]:
    family = _FAMILIES.get(kind)
    if family is None:
        return generic_key, f"{kind}, ordered generically"
    return family_key(family), kind


def _review(reason: str, where: str = "") -> AffectedStatus:
    return AffectedStatus("needs-review", reason, where)
