"""Matching: advisories compiled into an index, inventories reduced and looked up. No I/O."""

from sakimori.matching.index import AdvisoryIndex, AffectedEntry, Hit, LookupResult, Unevaluated
from sakimori.matching.matcher import (
    ComponentResult,
    PackageVersion,
    match_components,
    match_package_versions,
    package_version_of,
)
from sakimori.matching.portfolio import Portfolio

__all__ = [
    "AdvisoryIndex",
    "AffectedEntry",
    "ComponentResult",
    "Hit",
    "LookupResult",
    "PackageVersion",
    "Portfolio",
    "Unevaluated",
    "match_components",
    "match_package_versions",
    "package_version_of",
]
