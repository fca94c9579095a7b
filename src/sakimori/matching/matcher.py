"""Match inventories against the advisory index: reduce, look up, fan out. Pure: no I/O.

Components are first reduced to unique package-versions — a national portfolio of 50 million
component rows holds about 2 million of them — and each unique package-version is looked up once.
Components that cannot be evaluated (no ecosystem, no version) are returned with the reason,
never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sakimori.errors import InvalidInput
from sakimori.matching.index import AdvisoryIndex, LookupResult
from sakimori.matching.product_names import PRODUCT_ECOSYSTEM, identity, product_name
from sakimori.model.ecosystem import (
    SOURCE_KEYED,
    PackageRef,
    base_ecosystem,
    normalize_name,
    normalize_release,
    parse_purl,
)
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
    """The package-version to look up, or the reason the component cannot be evaluated.

    Distribution packages (``SOURCE_KEYED``: Debian, Ubuntu, Alpine…) are looked up under their
    source / origin package and its version, read from the purl's ``upstream`` qualifier
    (``pkg:deb/debian/libc6@2.36-9?upstream=glibc``), because that is what the distribution's
    advisories name; their release comes from the component or the purl's ``distro``
    qualifier. A component whose release is unknown matches every release's advisories.
    """
    if component.ecosystem is None:
        return component.note or "the inventory gives no ecosystem or package URL for it"
    if component.ecosystem == PRODUCT_ECOSYSTEM:
        cpe = product_name(component)
        if cpe is None:
            return component.note or "the product entry has no valid CPE name"
        package, version = identity(cpe)
        return PackageVersion(ecosystem=PRODUCT_ECOSYSTEM, name=package, version=version)
    if not component.version:
        return component.note or "the inventory gives no version for it"
    base = base_ecosystem(component.ecosystem)
    name, version, release = component.name, component.version.strip(), component.release
    if base in SOURCE_KEYED:
        ref = _distro_ref(component.purl)
        if ref is not None:
            name = ref.source_name or name
            version = ref.source_version or version
            release = release or ref.release
        release = normalize_release(base, release)
    return PackageVersion(
        ecosystem=base,
        name=normalize_name(component.ecosystem, name),
        version=version,
        release=release,
    )


def _distro_ref(purl: str | None) -> PackageRef | None:
    if not purl:
        return None
    try:
        ref = parse_purl(purl)
    except InvalidInput:
        return None  # the component's own name and version still stand
    return ref if ref.purl_type in {"deb", "apk"} else None


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
