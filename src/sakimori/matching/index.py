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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from sakimori.errors import InvalidVersion
from sakimori.matching.batch import cyclic_gc_paused
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


class _PackageLike(Protocol):
    @property
    def ecosystem(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def release(self) -> str | None: ...


P = TypeVar("P", bound=_PackageLike)


_KEY_CACHE_LIMIT = 200_000


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
    #: The entry's intervals that contain the version (empty for an enumerated-version hit).
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
    """One package's advisories under one comparator family, precomputed per region.

    ``points`` are the sorted interval boundaries; ``results[i]`` is the lookup result for every
    version in the region before ``points[i]`` (``results[-1]``: after the last point), so a
    lookup allocates nothing. ``exact`` holds only the enumerated versions that an entry's own
    ranges do not already cover (an upstream enumeration that disagrees with its ranges).
    """

    key: KeyFunction
    #: The family's key memo (shared by the whole index), read inline on the hot path.
    memo: dict[str, SortKey]
    points: list[Point] = field(default_factory=list)
    results: list[LookupResult] = field(default_factory=lambda: [_EMPTY])
    exact: dict[SortKey, tuple[int, ...]] = field(default_factory=dict)


class _CompiledPackage:
    __slots__ = ("entries", "exact_text", "simple", "tables", "unevaluable")

    def __init__(
        self, entries: Sequence[AffectedEntry], cache: dict[str, dict[str, SortKey]]
    ) -> None:
        self.entries = tuple(entries)
        self.tables: dict[str, _FamilyTable] = {}
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
        exact, self.exact_text = self._enumerated(per_family, cache)
        for family, intervals in per_family.items():
            self.tables[family] = self._segments(family, intervals, cache)
        if exact:
            family = COMPARATOR_FAMILY[self.entries[0].ecosystem]
            table = self.tables.get(family)
            if table is None:
                table = self.tables[family] = _FamilyTable(_memoised(family, cache), cache[family])
            table.exact = {k: tuple(sorted(v)) for k, v in exact.items()}
        #: The only table, when lookups need nothing but it (no release-specific entries, no
        #: unevaluable ranges, no enumerated versions compared as text); else None.
        self.simple: _FamilyTable | None = None
        if (
            len(self.tables) == 1
            and not self.exact_text
            and not self.unevaluable
            and all(entry.release is None for entry in self.entries)
        ):
            (self.simple,) = self.tables.values()

    def _enumerated(
        self,
        per_family: dict[str, list[tuple[int, Interval]]],
        cache: dict[str, dict[str, SortKey]],
    ) -> tuple[dict[SortKey, set[int]], dict[str, tuple[int, ...]]]:
        """Key the enumerated ``versions`` and keep only those the entry's own ranges do not
        already cover (by the schema, a version is affected if listed *or* in a range, so a
        covered listing adds nothing). The entries are slimmed to the versions kept, which is
        most of the index's memory at national scale."""
        family = COMPARATOR_FAMILY.get(self.entries[0].ecosystem) if self.entries else None
        own: dict[int, list[Interval]] = defaultdict(list)
        for index, interval in per_family.get(family or "", ()):
            own[index].append(interval)
        key = _memoised(family, cache) if family else None
        exact: dict[SortKey, set[int]] = defaultdict(set)
        text: dict[str, set[int]] = defaultdict(set)
        slim: list[AffectedEntry] = []
        for index, entry in enumerate(self.entries):
            kept: list[str] = []
            covering = own.get(index, ())
            for version in entry.versions:
                try:
                    if key is None:
                        raise InvalidVersion(version, entry.ecosystem)
                    point = (key(version), 0)
                except InvalidVersion:
                    text[version].add(index)  # compared as written
                    kept.append(version)
                    continue
                for interval in covering:
                    lo, hi = interval.lo, interval.hi
                    if (lo is None or lo <= point) and (hi is None or point < hi):
                        break
                else:
                    exact[point[0]].add(index)
                    kept.append(version)
            same = len(kept) == len(entry.versions)
            slim.append(entry if same else replace(entry, versions=tuple(kept)))
        self.entries = tuple(slim)
        return exact, {version: tuple(sorted(v)) for version, v in text.items()}

    def _segments(
        self,
        family: str,
        intervals: Sequence[tuple[int, Interval]],
        cache: dict[str, dict[str, SortKey]],
    ) -> _FamilyTable:
        """Sweep the boundary points once, recording the hits of every region."""
        opening: dict[Point, list[tuple[int, Interval]]] = defaultdict(list)
        closing: dict[Point, list[tuple[int, Interval]]] = defaultdict(list)
        active: dict[int, list[Interval]] = defaultdict(list)
        for index, interval in intervals:
            if interval.lo is None:
                active[index].append(interval)
            else:
                opening[interval.lo].append((index, interval))
            if interval.hi is not None:
                closing[interval.hi].append((index, interval))
        # Interned by object identity: hashing entries and sort keys by value would cost more
        # than the whole sweep (every object here lives until the sweep ends).
        hits: dict[tuple[int, tuple[int, ...]], Hit] = {}
        results: dict[tuple[int, ...], LookupResult] = {(): _EMPTY}

        def snapshot() -> LookupResult:
            found = []
            for index in sorted(active):
                covering = active[index]
                if covering:
                    identity = (index, tuple(map(id, covering)))
                    hit = hits.get(identity)
                    if hit is None:
                        hit = hits[identity] = Hit(self.entries[index], tuple(covering))
                    found.append(hit)
            identities = tuple(map(id, found))
            result = results.get(identities)
            if result is None:
                result = results[identities] = LookupResult(tuple(found))
            return result

        points = sorted(opening.keys() | closing.keys())
        table = _FamilyTable(_memoised(family, cache), cache[family], points, [snapshot()])
        for point in points:
            for index, interval in closing.get(point, ()):
                still = active[index]
                still.remove(interval)
                if not still:
                    del active[index]
            for index, interval in opening.get(point, ()):
                active[index].append(interval)
            table.results.append(snapshot())
        return table

    def lookup(self, version: str, release: str | None) -> LookupResult:
        simple = self.simple
        if simple is None:
            return self._general(version, release)
        # The hot path: one table, read the key memo inline, one bisect, a precomputed result.
        key = simple.memo.get(version)
        if key is None:
            try:
                key = simple.key(version)
            except InvalidVersion as exc:
                return self._general(version, release, failed=(simple, exc))
        result = simple.results[bisect_right(simple.points, (key, 0))]
        exact = simple.exact
        if exact and key in exact:
            return self._with_exact(result, exact[key])
        return result

    def _with_exact(self, result: LookupResult, indices: Sequence[int]) -> LookupResult:
        present = {id(hit.entry) for hit in result.hits}
        extra = tuple(Hit(self.entries[i]) for i in indices if id(self.entries[i]) not in present)
        return LookupResult(result.hits + extra, result.unevaluated) if extra else result

    def _general(
        self,
        version: str,
        release: str | None,
        failed: tuple[_FamilyTable, InvalidVersion] | None = None,
    ) -> LookupResult:
        found: dict[int, Hit] = {}
        failures: dict[int, str] = {}
        positions = {id(entry): index for index, entry in enumerate(self.entries)}
        for index in self.exact_text.get(version, ()):
            found.setdefault(index, Hit(self.entries[index]))
        for table in self.tables.values():
            try:
                if failed is not None and failed[0] is table:
                    raise failed[1]
                key = table.key(version)
            except InvalidVersion as exc:
                members = {i for indices in table.exact.values() for i in indices}
                members.update(
                    positions[id(hit.entry)] for result in table.results for hit in result.hits
                )
                for index in members:
                    failures.setdefault(index, exc.message)
                continue
            for hit in table.results[bisect_right(table.points, (key, 0))].hits:
                found.setdefault(positions[id(hit.entry)], hit)
            for index in table.exact.get(key, ()):
                found.setdefault(index, Hit(self.entries[index]))
        hits = tuple(
            hit for index, hit in sorted(found.items())
            if _release_matches(self.entries[index].release, release)
        )  # fmt: skip
        unevaluated = tuple(
            Unevaluated(self.entries[index], reason)
            for index, reason in (self.unevaluable | failures).items()
            if index not in found and _release_matches(self.entries[index].release, release)
        )
        if not hits and not unevaluated:
            return _EMPTY
        return LookupResult(hits, unevaluated)


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
        """Compile every package now (otherwise each compiles on its first lookup), with the
        cyclic garbage collector paused (see ``batch.py``)."""
        with cyclic_gc_paused():
            for package in list(self._entries):
                self._compiled_package(package)

    def _compiled_package(self, package: tuple[str, str]) -> _CompiledPackage | None:
        compiled = self._compiled.get(package)
        if compiled is None:
            entries = self._entries.get(package)
            if not entries:
                return None
            compiled = self._compiled[package] = _CompiledPackage(entries, self._key_cache)
            # Keep the slimmed entries: a recompile (after ``add``) gives the same answers.
            self._entries[package] = list(compiled.entries)
        return compiled

    def lookup_all(self, packages: Iterable[P]) -> Iterator[tuple[P, LookupResult]]:
        """``(package, result)`` for each package-version with hits or unevaluated entries.

        The hot loop of matching: most package-versions of a real portfolio name packages no
        advisory mentions, so a miss costs one tuple and one dictionary probe.
        """
        compiled = self._compiled
        known = self._entries
        for package in packages:
            key = (package.ecosystem, package.name)
            found = compiled.get(key)
            if found is None:
                if key not in known:
                    continue
                found = self._compiled_package(key)
                if found is None:
                    continue
            result = found.lookup(package.version, package.release)
            if result is not _EMPTY:
                yield package, result

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
        return compiled.lookup(version, release)
