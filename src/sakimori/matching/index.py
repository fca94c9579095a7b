"""The advisory index: affected entries compiled per package into a bisectable segment table.

For each (base ecosystem, normalised name) the index holds, per comparator family used by the
package's ranges, the sorted boundary points of every interval of every advisory and, for each
region between two points, the tuple of entries affecting it. A lookup is one dictionary access,
one sort key (memoised per version string) and one ``bisect`` — it never scans advisories — plus
dictionary lookups for the enumerated ``versions`` lists.

Packages compile lazily, on their first lookup (``compile_all`` forces it), so a scan that holds a
few hundred packages never pays for the other hundreds of thousands.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field

from sakimori.errors import InvalidVersion
from sakimori.matching.ranges import EVALUATED_TYPES, Interval, Point, compile_range
from sakimori.model.advisory import AffectedPackage, Range
from sakimori.model.ecosystem import (
    COMPARATOR_FAMILY,
    base_ecosystem,
    normalize_name,
    release_of,
)
from sakimori.versions import KeyFunction, SortKey, family_key

_SEMVER_FAMILIES = frozenset({"semver", "go"})
_KEY_CACHE_LIMIT = 500_000


@dataclass(frozen=True, slots=True)
class AffectedEntry:
    """One ``affected`` entry of one advisory, as the index needs it."""

    advisory_id: str
    ecosystem: str  # base ecosystem, e.g. "Debian"
    name: str  # normalised
    release: str | None = None  # "12" for "Debian:12"
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()

    @classmethod
    def from_affected(cls, advisory_id: str, affected: AffectedPackage) -> AffectedEntry:
        return cls(
            advisory_id=advisory_id,
            ecosystem=base_ecosystem(affected.ecosystem),
            name=normalize_name(affected.ecosystem, affected.name),
            release=release_of(affected.ecosystem),
            ranges=affected.ranges,
            versions=affected.versions,
        )


@dataclass(frozen=True, slots=True)
class Hit:
    """An entry that affects a looked-up version, and the intervals that say so."""

    entry: AffectedEntry
    intervals: tuple[Interval, ...] = ()

    @property
    def fixed(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.fixed for i in self.intervals if i.fixed))


@dataclass(frozen=True, slots=True)
class Unevaluated:
    """An entry that could not be evaluated for a version, and why."""

    entry: AffectedEntry
    reason: str


@dataclass(frozen=True, slots=True)
class LookupResult:
    hits: tuple[Hit, ...] = ()
    unevaluated: tuple[Unevaluated, ...] = ()


_EMPTY = LookupResult()


def range_family(ecosystem: str, range_type: str) -> str | None:
    """The comparator family for a range: SEMVER ranges use SemVer unless the ecosystem's own
    comparator already is SemVer-compatible (Go accepts the ``v`` prefix)."""
    family = COMPARATOR_FAMILY.get(ecosystem)
    if range_type == "SEMVER":
        return family if family in _SEMVER_FAMILIES else "semver"
    return family


@dataclass(slots=True)
class _FamilyTable:
    """Segments of one package under one comparator family."""

    key: KeyFunction
    points: list[Point] = field(default_factory=list)
    segments: list[tuple[int, ...]] = field(default_factory=list)
    exact: dict[SortKey, tuple[int, ...]] = field(default_factory=dict)
    intervals: dict[int, tuple[Interval, ...]] = field(default_factory=dict)


class _CompiledPackage:
    __slots__ = ("entries", "exact_text", "tables", "unevaluable")

    def __init__(
        self, entries: Sequence[AffectedEntry], cache: dict[str, dict[str, SortKey]]
    ) -> None:
        self.entries = tuple(entries)
        self.tables: dict[str, _FamilyTable] = {}
        self.exact_text: dict[str, set[int]] = defaultdict(set)
        self.unevaluable: dict[int, str] = {}
        per_family: dict[str, list[tuple[int, Interval]]] = defaultdict(list)
        for index, entry in enumerate(self.entries):
            for rng in entry.ranges:
                if rng.type not in EVALUATED_TYPES:
                    continue
                family = range_family(entry.ecosystem, rng.type)
                if family is None:
                    self.unevaluable[index] = f"no version comparator for {entry.ecosystem}"
                    continue
                try:
                    compiled = compile_range(rng.events, _memoised(family, cache))
                except InvalidVersion as exc:
                    self.unevaluable[index] = f"advisory range has {exc.message}"
                    continue
                per_family[family].extend((index, interval) for interval in compiled)
                self._table(family)
            for version in entry.versions:
                self.exact_text[version].add(index)
        # Enumerated versions repeat across a package's advisories: key each string once.
        default_family = COMPARATOR_FAMILY.get(self.entries[0].ecosystem) if entries else None
        if default_family is not None and self.exact_text:
            key = _memoised(default_family, cache)
            keyed: dict[SortKey, set[int]] = defaultdict(set)
            for version, indices in self.exact_text.items():
                with suppress(InvalidVersion):
                    keyed[key(version)].update(indices)
            self._table(default_family).exact = {k: tuple(sorted(v)) for k, v in keyed.items()}
        for family, intervals in per_family.items():
            self._build_segments(self._table(family), intervals)

    def _table(self, family: str) -> _FamilyTable:
        table = self.tables.get(family)
        if table is None:
            table = self.tables[family] = _FamilyTable(family_key(family))
        return table

    @staticmethod
    def _build_segments(table: _FamilyTable, intervals: Sequence[tuple[int, Interval]]) -> None:
        starts_open: list[int] = []
        deltas: dict[Point, list[tuple[int, int]]] = defaultdict(list)
        per_entry: dict[int, list[Interval]] = defaultdict(list)
        for index, interval in intervals:
            per_entry[index].append(interval)
            if interval.lo is None:
                starts_open.append(index)
            else:
                deltas[interval.lo].append((index, 1))
            if interval.hi is not None:
                deltas[interval.hi].append((index, -1))
        table.intervals = {index: tuple(found) for index, found in per_entry.items()}
        table.points = sorted(deltas)
        active: dict[int, int] = defaultdict(int)
        for index in starts_open:
            active[index] += 1
        interned: dict[tuple[int, ...], tuple[int, ...]] = {}

        def snapshot() -> tuple[int, ...]:
            members = tuple(sorted(i for i, count in active.items() if count > 0))
            return interned.setdefault(members, members)

        segments = [snapshot()]
        for point in table.points:
            for index, change in deltas[point]:
                active[index] += change
            segments.append(snapshot())
        table.segments = segments

    def lookup(
        self, version: str, release: str | None, cache: dict[str, dict[str, SortKey]]
    ) -> LookupResult:
        found: dict[int, list[Interval]] = {}
        for index in self.exact_text.get(version, ()):
            found.setdefault(index, [])
        failures: dict[int, str] = {}
        for family, table in self.tables.items():
            family_cache = cache[family]
            key = family_cache.get(version)
            if key is None:
                try:
                    key = table.key(version)
                except InvalidVersion as exc:
                    for index in self._indices_of(table):
                        failures.setdefault(index, exc.message)
                    continue
                if len(family_cache) >= _KEY_CACHE_LIMIT:
                    family_cache.clear()
                family_cache[version] = key
            if table.segments:
                for index in table.segments[bisect_right(table.points, (key, 0))]:
                    intervals = found.setdefault(index, [])
                    intervals.extend(i for i in table.intervals[index] if i.contains(key))
            for index in table.exact.get(key, ()):
                found.setdefault(index, [])
        hits = tuple(
            Hit(self.entries[index], tuple(intervals))
            for index, intervals in found.items()
            if _release_matches(self.entries[index].release, release)
        )
        unevaluated = tuple(
            Unevaluated(self.entries[index], reason)
            for index, reason in (self.unevaluable | failures).items()
            if index not in found and _release_matches(self.entries[index].release, release)
        )
        if not hits and not unevaluated:
            return _EMPTY
        return LookupResult(hits, unevaluated)

    @staticmethod
    def _indices_of(table: _FamilyTable) -> set[int]:
        indices = set(table.intervals)
        for members in table.exact.values():
            indices.update(members)
        return indices


def _memoised(family: str, cache: dict[str, dict[str, SortKey]]) -> KeyFunction:
    """The family's sort key, remembering answers in ``cache[family]`` (bounded in size)."""
    memo = cache[family]
    compute = family_key(family)

    def key(version: str) -> SortKey:
        found = memo.get(version)
        if found is None:
            if len(memo) >= _KEY_CACHE_LIMIT:
                memo.clear()
            found = memo[version] = compute(version)
        return found

    return key


def _release_matches(entry_release: str | None, component_release: str | None) -> bool:
    """A record for one release (``Debian:12``) applies to components of that release, or to
    components whose release the inventory does not state."""
    return entry_release is None or component_release is None or entry_release == component_release


class AdvisoryIndex:
    """Affected entries grouped by package, compiled on demand. Pure: no I/O."""

    def __init__(self, entries: Iterable[AffectedEntry] = ()) -> None:
        self._entries: dict[tuple[str, str], list[AffectedEntry]] = defaultdict(list)
        self._compiled: dict[tuple[str, str], _CompiledPackage] = {}
        self._key_cache: dict[str, dict[str, SortKey]] = defaultdict(dict)
        for entry in entries:
            self.add(entry)

    @classmethod
    def from_advisories(cls, advisories: Iterable[object]) -> AdvisoryIndex:
        from sakimori.model.advisory import Advisory

        index = cls()
        for advisory in advisories:
            assert isinstance(advisory, Advisory)
            if advisory.withdrawn:
                continue
            for affected in advisory.affected:
                index.add(AffectedEntry.from_affected(advisory.id, affected))
        return index

    def add(self, entry: AffectedEntry) -> None:
        package = (entry.ecosystem, entry.name)
        self._entries[package].append(entry)
        self._compiled.pop(package, None)

    def remove_advisory(self, advisory_id: str, packages: Iterable[tuple[str, str]]) -> None:
        """Drop an advisory's entries from the named packages (before re-adding a new version)."""
        for package in packages:
            entries = self._entries.get(package)
            if entries is None:
                continue
            entries[:] = [e for e in entries if e.advisory_id != advisory_id]
            self._compiled.pop(package, None)

    def __contains__(self, package: tuple[str, str]) -> bool:
        return package in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def packages(self) -> Iterable[tuple[str, str]]:
        return self._entries.keys()

    def compile_all(self) -> None:
        for package in self._entries:
            self._compiled_package(package)

    def _compiled_package(self, package: tuple[str, str]) -> _CompiledPackage | None:
        compiled = self._compiled.get(package)
        if compiled is None:
            entries = self._entries.get(package)
            if not entries:
                return None
            compiled = self._compiled[package] = _CompiledPackage(entries, self._key_cache)
        return compiled

    def lookup(
        self, ecosystem: str, name: str, version: str, release: str | None = None
    ) -> LookupResult:
        """Which entries affect ``version`` of the package (``ecosystem`` is the base ecosystem,
        ``name`` the normalised name)."""
        compiled = self._compiled.get((ecosystem, name))
        if compiled is None:
            compiled = self._compiled_package((ecosystem, name))
            if compiled is None:
                return _EMPTY
        return compiled.lookup(version, release, self._key_cache)
