"""A portfolio: every unique package-version held by any inventory, grouped by package.

It answers the question a new or changed advisory raises — who is affected now? — without a
rescan: the advisory's entries are compiled into a small index and only the portfolio's
versions of the packages it names are looked up, a few thousand checks instead of millions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from sakimori.matching.batch import cyclic_gc_paused
from sakimori.matching.index import AdvisoryIndex, AffectedEntry, LookupResult
from sakimori.matching.matcher import PackageVersion


class Portfolio:
    """Unique package-versions, grouped by (base ecosystem, normalised name). Pure: no I/O."""

    def __init__(self, packages: Iterable[PackageVersion] = ()) -> None:
        self._by_package: dict[tuple[str, str], set[PackageVersion]] = defaultdict(set)
        with cyclic_gc_paused():
            for package in packages:
                self.add(package)

    def add(self, package: PackageVersion) -> None:
        self._by_package[(package.ecosystem, package.name)].add(package)

    def __len__(self) -> int:
        return sum(len(versions) for versions in self._by_package.values())

    def __iter__(self) -> Iterator[PackageVersion]:
        for versions in self._by_package.values():
            yield from versions

    def versions_of(self, ecosystem: str, name: str) -> set[PackageVersion]:
        return self._by_package.get((ecosystem, name), set())

    def match(self, index: AdvisoryIndex) -> dict[PackageVersion, LookupResult]:
        """Every package-version with hits or unevaluated entries in ``index``."""
        if len(index) < len(self._by_package):
            held = (v for p in index.packages for v in self._by_package.get(p, ()))
        else:
            held = (v for p, versions in self._by_package.items() if p in index for v in versions)
        return dict(index.lookup_all(held))

    def match_entries(self, entries: Iterable[AffectedEntry]) -> dict[PackageVersion, LookupResult]:
        """Re-match one new or changed advisory (its affected entries) against the portfolio."""
        return self.match(AdvisoryIndex(entries))
