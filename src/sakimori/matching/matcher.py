"""Match inventories against the advisory index: reduce, look up, fan out. Pure: no I/O.

Components are first reduced to unique package-versions — a national portfolio of 50 million
component rows holds about 2 million of them — and each unique package-version is looked up once.
Components that cannot be evaluated (no ecosystem, no version) are returned with the reason,
never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sakimori.matching.index import AdvisoryIndex, LookupResult
from sakimori.model.ecosystem import base_ecosystem, normalize_name
from sakimori.model.inventory import Component


@dataclass(frozen=True, slots=True)
class PackageVersion:
    """The unit of matching: base ecosystem, normalised name, version, optional OS release."""

    ecosystem: str
    name: str
    version: str
    release: str | None = None


@dataclass(frozen=True, slots=True)
class ComponentResult:
    """What matching found for one component (by its position in the input)."""

    index: int
    component: Component
    package: PackageVersion | None
    result: LookupResult
    #: Why the component could not be evaluated at all (no ecosystem, no version), else None.
    not_evaluated: str | None = None


def package_version_of(component: Component) -> PackageVersion | str:
    """The package-version to look up, or the reason the component cannot be evaluated."""
    if component.ecosystem is None:
        return component.note or "the inventory gives no ecosystem or package URL for it"
    if not component.version:
        return component.note or "the inventory gives no version for it"
    return PackageVersion(
        ecosystem=base_ecosystem(component.ecosystem),
        name=normalize_name(component.ecosystem, component.name),
        version=component.version.strip(),
        release=component.release,
    )


def match_package_versions(
    packages: Iterable[PackageVersion], index: AdvisoryIndex
) -> dict[PackageVersion, LookupResult]:
    """Look up each package-version once; only those with hits or problems are returned."""
    return dict(index.lookup_all(packages))


def match_components(
    components: Sequence[Component],
    index: AdvisoryIndex,
    packages: Sequence[PackageVersion | str] | None = None,
) -> list[ComponentResult]:
    """Results for every component with a hit, an unevaluated entry, or no way to evaluate it.

    ``packages`` may carry ``package_version_of`` of each component, when the caller has it.
    """
    resolved = packages if packages is not None else [package_version_of(c) for c in components]
    results: list[ComponentResult] = []
    empty = LookupResult()
    unique: set[PackageVersion] = set()
    for position, package in enumerate(resolved):
        if isinstance(package, str):
            results.append(ComponentResult(position, components[position], None, empty, package))
        else:
            unique.add(package)
    found = match_package_versions(unique, index)
    if found:
        for position, package in enumerate(resolved):
            if not isinstance(package, str):
                result = found.get(package)
                if result is not None:
                    results.append(ComponentResult(position, components[position], package, result))
    results.sort(key=lambda r: r.index)
    return results
