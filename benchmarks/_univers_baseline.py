"""The baseline for bench_matching: OSV evaluated with univers the way VulnerableCode does it.

Per package-version, every affected entry of that package (grouped in a dict) is tested with
univers ``VersionRange`` objects built from the range events (``introduced`` → ``>=``, ``fixed``
→ ``<``, ``last_affected`` → ``<=``; ``introduced: 0`` gives no lower bound) and with
``VersionRange.from_versions`` for the ``versions`` list, as VulnerableCode's OSV importer
(``vulnerabilities/importers/osv.py``) builds them. ``agreement`` compares its answers with
sakimori's and explains each disagreement.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from univers.version_constraint import VersionConstraint
from univers.version_range import RANGE_CLASS_BY_SCHEMES

from sakimori.matching import AffectedEntry, PackageVersion
from sakimori.versions import key_function

UNIVERS_SCHEME = {
    "npm": "npm",
    "PyPI": "pypi",
    "Maven": "maven",
    "NuGet": "nuget",
    "Packagist": "composer",
    "RubyGems": "gem",
    "Go": "golang",
    "Hex": "hex",
    "crates.io": "cargo",
}
COMPARATOR = {"introduced": ">=", "fixed": "<", "last_affected": "<="}
Result = tuple[set[str], dict[str, str]]  # advisory ids hit, advisory ids not evaluable -> why


@dataclass(slots=True)
class NaiveEntry:
    advisory_id: str
    release: str | None
    version_class: Any = None
    ranges: list[Any] = field(default_factory=list)  # univers VersionRange; None = every version
    versions: Any = None
    error: str | None = None


class NaiveIndex:
    """VulnerableCode-style evaluation with univers, entries grouped by package in a dict."""

    def __init__(self, entries: Iterable[AffectedEntry]) -> None:
        self.by_package: dict[tuple[str, str], list[NaiveEntry]] = defaultdict(list)
        for entry in entries:
            self.by_package[(entry.ecosystem, entry.name)].append(self._compile(entry))

    @staticmethod
    def _compile(entry: AffectedEntry) -> NaiveEntry:
        naive = NaiveEntry(entry.advisory_id, entry.release)
        range_class = RANGE_CLASS_BY_SCHEMES.get(UNIVERS_SCHEME.get(entry.ecosystem, ""))
        if range_class is None:
            naive.error = f"univers has no scheme for {entry.ecosystem}"
            return naive
        naive.version_class = range_class.version_class
        try:
            if entry.versions:
                naive.versions = range_class.from_versions(entry.versions)
            for rng in entry.ranges:
                if rng.type not in {"ECOSYSTEM", "SEMVER"}:
                    continue
                constraints = [
                    VersionConstraint(
                        COMPARATOR[e.kind.value], range_class.version_class(e.version)
                    )
                    for e in rng.events
                    if e.kind.value in COMPARATOR
                    and not (e.kind == "introduced" and e.version == "0")
                ]
                naive.ranges.append(range_class(constraints=constraints) if constraints else None)
        except Exception as exc:  # univers raises many kinds of error on input it refuses
            naive.error = f"{type(exc).__name__}: {exc}"
        return naive

    def lookup(self, package: PackageVersion) -> Result:
        hits: set[str] = set()
        failed: dict[str, str] = {}
        versions: dict[Any, Any] = {}
        for entry in self.by_package.get((package.ecosystem, package.name), ()):
            if entry.release and package.release and entry.release != package.release:
                continue
            if entry.error:
                failed[entry.advisory_id] = entry.error
                continue
            try:
                version = versions.get(entry.version_class)
                if version is None:
                    version = versions[entry.version_class] = entry.version_class(package.version)
                if (entry.versions is not None and version in entry.versions) or any(
                    r is None or version in r for r in entry.ranges
                ):
                    hits.add(entry.advisory_id)
            except Exception as exc:  # univers raises many kinds of error on input it refuses
                failed[entry.advisory_id] = f"{type(exc).__name__}: {exc}"
        return hits, failed


def ours_result(found: dict[PackageVersion, Any], package: PackageVersion) -> Result:
    result = found.get(package)
    if result is None:
        return set(), {}
    return {h.entry.advisory_id for h in result.hits}, {
        u.entry.advisory_id: u.reason for u in result.unevaluated
    }


def reason(package: PackageVersion, entries: Sequence[AffectedEntry]) -> str:
    """Why sakimori and univers answer differently for this version and these entries."""
    key = key_function(package.ecosystem)
    version_class = RANGE_CLASS_BY_SCHEMES[UNIVERS_SCHEME[package.ecosystem]].version_class
    for entry in entries:
        for rng in entry.ranges:
            events = [e for e in rng.events if e.version != "0" and rng.type != "GIT"]
            seen: dict[str, str] = {}
            for event in events:
                if event.version in seen and seen[event.version] != event.kind.value:
                    return (
                        f"range has {seen[event.version]} and {event.kind.value} at "
                        f"{event.version} (an empty interval): OSV evaluation in record order "
                        "says not affected, univers' vers containment counts the >= bound"
                    )
                seen[event.version] = event.kind.value
            for event in events:
                if key is None:
                    break
                ours = _sign(key(package.version), key(event.version))
                theirs = _sign(version_class(package.version), version_class(event.version))
                if ours != theirs:
                    return (
                        f"ordering of {package.version} vs {event.version}: sakimori "
                        f"{'<=>'[ours + 1]}, univers {'<=>'[theirs + 1]}"
                    )
    return "unexplained"


def _sign(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def agreement(
    packages: Sequence[PackageVersion],
    ours: dict[PackageVersion, Any],
    naive: dict[PackageVersion, Result],
    by_package: dict[tuple[str, str], list[AffectedEntry]],
) -> dict[str, Any]:
    agree = disagree = naive_failed = ours_failed = 0
    examples: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    univers_failures: Counter[str] = Counter()
    univers_examples: dict[str, str] = {}
    for package in packages:
        hits, failed = ours_result(ours, package)
        naive_hits, naive_failed_ids = naive[package]
        naive_failed += len(naive_failed_ids)
        for why in naive_failed_ids.values():
            kind = f"{package.ecosystem}: {why.split(':')[0]}"
            univers_failures[kind] += 1
            univers_examples.setdefault(kind, why[:140])
        ours_failed += len(failed)
        skip = failed.keys() | naive_failed_ids.keys()
        if hits - skip == naive_hits - skip:
            agree += 1
            continue
        disagree += 1
        for advisory in sorted((hits ^ naive_hits) - skip):
            entries = [
                e
                for e in by_package[(package.ecosystem, package.name)]
                if e.advisory_id == advisory
            ]
            why = reason(package, entries)
            reasons[why.split(":")[0] if why.startswith("ordering") else why[:40]] += 1
            if len(examples) < 12:
                examples.append(
                    {
                        "package": f"{package.ecosystem}/{package.name}@{package.version}",
                        "advisory": advisory,
                        "sakimori": advisory in hits,
                        "univers": advisory in naive_hits,
                        "reason": why,
                    }
                )
    return {
        "compared": len(packages),
        "agree": agree,
        "disagree": disagree,
        "univers_unevaluable_pairs": naive_failed,
        "sakimori_unevaluated_pairs": ours_failed,
        "reasons": dict(reasons),
        "univers_failures": dict(univers_failures.most_common()),
        "univers_failure_examples": univers_examples,
        "examples": examples,
    }
