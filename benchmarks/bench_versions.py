"""Benchmark: ``sakimori.versions`` sort keys against the library alternatives.

For every comparator family this times ``sort_key`` over the real version strings of its
ecosystem (every version named in the ordering test vectors, plus the versions of the OSV
advisories kept in ../shared/data/osv for PyPI, Go, crates.io/npm, Maven and RubyGems), as the
median of several runs, in microseconds per version. Where a library offers the same ordering
(``packaging.version.Version`` for PyPI, ``univers.versions.*`` for most others) it times
building the library's version object over the same strings, and counts how many lines of the
ordering vectors each side gets right. It prints a table and writes
``benchmarks/results/versions.json``.

Run: ``.venv/bin/python benchmarks/bench_versions.py [--runs N]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from sakimori.errors import InvalidVersion  # noqa: E402
from sakimori.versions import family_key  # noqa: E402

DATA = Path(os.environ.get("SAKIMORI_TEST_DATA", ROOT.parent / "shared" / "data"))
VECTORS = DATA / "version-ordering"
OSV = DATA / "osv"
RESULTS = ROOT / "benchmarks" / "results" / "versions.json"

#: family -> vector files (the same mapping as tests/versions/test_ordering_vectors.py)
VECTOR_FILES: dict[str, list[str]] = {
    "alpine": ["alpine-versions.txt", "alpine-versions-generated.txt"],
    "cran": ["cran-versions.txt", "cran-versions-generated.txt"],
    "debian": ["debian-versions.txt", "debian-versions-generated.txt"],
    "go": ["semver-versions.txt"],
    "hackage": ["hackage-versions.txt"],
    "maven": ["maven-versions.txt", "maven-versions-generated.txt"],
    "nuget": ["nuget-versions.txt"],
    "packagist": ["packagist-versions.txt", "packagist-versions-generated.txt"],
    "pub": ["pub-versions.txt"],
    "pypi": ["pypi-versions.txt", "pypi-versions-generated.txt"],
    "rpm": ["redhat-versions.txt"],
    "rubygems": ["rubygems-versions.txt", "rubygems-versions-generated.txt"],
    "semver": ["semver-versions.txt"],
}
#: family -> OSV ecosystems whose advisory versions are added to the timed strings
OSV_ECOSYSTEMS: dict[str, set[str]] = {
    "pypi": {"PyPI"},
    "go": {"Go"},
    "semver": {"npm", "crates.io"},
    "maven": {"Maven"},
    "rubygems": {"RubyGems"},
}
#: family -> (label, factory) of the library alternative
LIBRARIES: dict[str, tuple[str, str]] = {
    "pypi": ("packaging.version.Version", "packaging.version:Version"),
    "semver": ("univers SemverVersion", "univers.versions:SemverVersion"),
    "go": ("univers GolangVersion", "univers.versions:GolangVersion"),
    "maven": ("univers MavenVersion", "univers.versions:MavenVersion"),
    "nuget": ("univers NugetVersion", "univers.versions:NugetVersion"),
    "packagist": ("univers ComposerVersion", "univers.versions:ComposerVersion"),
    "rubygems": ("univers RubygemsVersion", "univers.versions:RubygemsVersion"),
    "debian": ("univers DebianVersion", "univers.versions:DebianVersion"),
    "rpm": ("univers RpmVersion", "univers.versions:RpmVersion"),
    "alpine": ("univers AlpineLinuxVersion", "univers.versions:AlpineLinuxVersion"),
}
#: the common plain shape of each family, timed alone against the ~1.5 µs target
PLAIN: dict[str, str] = {"debian": "1.2.3-1", "rpm": "1.2.3-1", "alpine": "1.2.3-r1"}
EXTRA_LIBRARIES: dict[str, tuple[str, str]] = {
    "pypi": ("univers PypiVersion", "univers.versions:PypiVersion"),
}


def vector_lines(family: str) -> list[tuple[str, str, str]]:
    lines = []
    for name in VECTOR_FILES[family]:
        for raw in (VECTORS / name).read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", "//")):
                continue
            left, op, right = line.split(" ")
            lines.append((left, op, right))
    return lines


def osv_versions(ecosystems: set[str]) -> set[str]:
    found: set[str] = set()
    for path in OSV.rglob("*"):
        if path.suffix not in {".json", ".yaml", ".yml"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
            document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError, UnicodeDecodeError):
            continue
        if not isinstance(document, dict):
            continue
        for affected in document.get("affected") or []:
            package = affected.get("package") or {}
            if package.get("ecosystem") not in ecosystems:
                continue
            found.update(str(v) for v in affected.get("versions") or [])
            for events in affected.get("ranges") or []:
                if events.get("type") == "GIT":
                    continue
                for event in events.get("events") or []:
                    found.update(str(v) for v in event.values())
    return found


def load_factory(spec: str) -> Callable[[str], Any]:
    module_name, _, attribute = spec.partition(":")
    module = __import__(module_name, fromlist=[attribute])
    factory: Callable[[str], Any] = getattr(module, attribute)
    return factory


def accepted(function: Callable[[str], Any], versions: Iterable[str]) -> list[str]:
    ok = []
    for version in versions:
        try:
            function(version)
        except Exception:  # a library may raise anything on a string it refuses
            continue
        ok.append(version)
    return ok


def _run_once(function: Callable[[str], Any], versions: list[str]) -> float:
    start = time.perf_counter()
    for version in versions:
        function(version)
    return time.perf_counter() - start


def _sort_once(function: Callable[[str], Any], versions: list[str], keyed: bool) -> float:
    start = time.perf_counter()
    if keyed:
        sorted(versions, key=function)
    else:
        sorted([function(version) for version in versions])
    return time.perf_counter() - start


def timings(
    key: Callable[[str], Any], factory: Callable[[str], Any] | None, versions: list[str], runs: int
) -> dict[str, float | None]:
    """Medians over ``runs`` in µs per version, ours and the library's interleaved run by run
    (the machine is shared, so both see the same load): building keys / objects, and sorting
    the whole list (building included), which is what a matcher pays for."""
    samples: dict[str, list[float]] = {"ours": [], "ours_sort": [], "lib": [], "lib_sort": []}
    sortable = factory is not None
    for _ in range(runs):
        samples["ours"].append(_run_once(key, versions))
        samples["ours_sort"].append(_sort_once(key, versions, keyed=True))
        if factory is not None:
            samples["lib"].append(_run_once(factory, versions))
            if sortable:
                try:
                    samples["lib_sort"].append(_sort_once(factory, versions, keyed=False))
                except Exception:  # the library's objects may not be mutually comparable
                    sortable = False
    scale = 1e6 / len(versions)
    return {
        name: statistics.median(values) * scale
        if values and (name != "lib_sort" or sortable)
        else None
        for name, values in samples.items()
    }


def correctness(
    function: Callable[[str], Any], lines: list[tuple[str, str, str]]
) -> tuple[int, int]:
    """How many vector lines ``function`` (a key or a version class) orders correctly."""
    right = 0
    for left, op, other in lines:
        try:
            a, b = function(left), function(other)
            got = "<" if a < b else ">" if a > b else "=" if a == b else "?"
        except Exception:  # a library may raise anything
            continue
        right += got == op
    return right, len(lines)


def bench_family(family: str, runs: int) -> dict[str, Any]:
    key = family_key(family)
    lines = vector_lines(family)
    if family == "go":  # the SemVer vectors, where both sides are valid Go versions
        lines = [line for line in lines if len(accepted(key, (line[0], line[2]))) == 2]
    strings = {v for left, _, right in lines for v in (left, right)}
    sources = [f"vectors: {', '.join(VECTOR_FILES[family])}"]
    if family in OSV_ECOSYSTEMS:
        strings |= osv_versions(OSV_ECOSYSTEMS[family])
        sources.append(f"OSV advisories: {', '.join(sorted(OSV_ECOSYSTEMS[family]))}")
    ours = accepted(key, sorted(strings))
    own = timings(key, None, ours, runs)
    plain = PLAIN.get(family, "1.2.3")
    plain_us = timings(key, None, [plain] * 20_000, runs)["ours"]
    result: dict[str, Any] = {
        "sources": sources,
        "strings": len(strings),
        "accepted": len(ours),
        "vector_lines": len(lines),
        "plain_version": plain,
        "plain_us": plain_us,
        "sakimori_us": own["ours"],
        "sakimori_sort_us": own["ours_sort"],
        "sakimori_correct": correctness(key, lines)[0],
        "alternatives": [],
    }
    for label, spec in filter(None, [LIBRARIES.get(family), EXTRA_LIBRARIES.get(family)]):
        factory = load_factory(spec)
        theirs = accepted(factory, ours)  # both sides timed on the strings both accept
        entry: dict[str, Any] = {
            "library": label,
            "accepted": len(theirs),
            "library_correct": correctness(factory, lines)[0],
        }
        if theirs:
            both = timings(key, factory, theirs, runs)
            entry.update(
                sakimori_us=both["ours"],
                library_us=both["lib"],
                sakimori_sort_us=both["ours_sort"],
                library_sort_us=both["lib_sort"],
            )
            if both["lib"] and both["ours"]:
                entry["build_speedup"] = both["lib"] / both["ours"]
            if both["lib_sort"] and both["ours_sort"]:
                entry["sort_speedup"] = both["lib_sort"] / both["ours_sort"]
        result["alternatives"].append(entry)
    return result


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per measurement (>= 5)")
    parser.add_argument("families", nargs="*", default=sorted(VECTOR_FILES))
    args = parser.parse_args()
    runs = max(5, args.runs)
    if not VECTORS.is_dir():
        sys.exit(f"test vectors not found at {VECTORS}")
    try:
        family_key("pypi")("1.0")
    except InvalidVersion:  # pragma: no cover - sanity check
        sys.exit("sakimori.versions is broken")

    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "runs": runs,
        "unit": "microseconds per version (median of runs)",
        "families": {},
    }
    header = (
        f"{'family':<10} {'1.2.3':>5} {'strings':>7} {'µs/ver':>6} {'sort':>6} {'vectors ok':>13}  "
        f"{'alternative':<26} {'µs/ver':>6} {'sort':>6} {'sort x':>6} {'vectors ok':>13}"
    )
    print(header)
    print("-" * len(header))
    for family in args.families:
        row = bench_family(family, runs)
        report["families"][family] = row
        ours = f"{row['sakimori_correct']}/{row['vector_lines']}"
        first = (
            f"{family:<10} {row['plain_us']:>5.2f} {row['accepted']:>7} {row['sakimori_us']:>6.2f} "
            f"{row['sakimori_sort_us']:>6.2f} {ours:>13}"
        )
        if not row["alternatives"]:
            print(f"{first}  {'(no library)':<26}")
        for index, alt in enumerate(row["alternatives"]):
            theirs = f"{alt['library_correct']}/{row['vector_lines']}"
            lib_us = _fmt(alt.get("library_us"))
            lib_sort = _fmt(alt.get("library_sort_us"))
            ratio = f"{alt['sort_speedup']:.1f}x" if "sort_speedup" in alt else "n/a"
            lead = first if index == 0 else " " * len(first)
            print(f"{lead}  {alt['library']:<26} {lib_us:>6} {lib_sort:>6} {ratio:>6} {theirs:>13}")
    print(
        "\n1.2.3: µs for sort_key('1.2.3') (Debian/RPM '1.2.3-1', Alpine '1.2.3-r1');"
        " strings: real versions timed; µs/ver: building one key / library object;"
        "\nsort: sorting all those strings, building included, µs per version;"
        " sort x: library sort time / ours, on the strings both accept"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
