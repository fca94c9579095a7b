"""Benchmark: matching throughput on one core, version parsing included, against all shared OSV.

Unique package-versions matched per second with ``match_package_versions`` against an
``AdvisoryIndex`` of every OSV record in ../shared/data/osv, for two workloads:

* **real inventories** — every unique package-version of every SBOM and lockfile in
  ../shared/data that ``parse_inventory`` accepts (most miss the index: that is the real mix);
* **advisory-dense** — every (package, version) named in an OSV record's ``versions`` list or
  range events (``introduced: 0`` and GIT commits excepted), so nearly every lookup hits.

Each run builds a fresh index (build and ``compile_all`` timed separately). ``compile_all``
memoises the sort key of every version the advisories name and lookups share that memo; the
headline figure empties it before matching, so every lookup parses its version, and a second
column keeps it, as the product does. The baseline, measured in the same run, is the "naive" way
VulnerableCode evaluates OSV data with univers: per package-version, every affected entry of that
package (grouped in a dict, not a scan of all advisories) is tested with univers ``VersionRange``
objects built from the range events (``introduced`` → ``>=``, ``fixed`` → ``<``,
``last_affected`` → ``<=``) and with ``VersionRange.from_versions`` for the ``versions`` list,
as VulnerableCode's OSV importer does.
Both answers are compared wherever univers can evaluate; disagreements are listed with a reason.

Run: ``.venv/bin/python benchmarks/bench_matching.py [--runs N]``
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from _common import (
    fmt,
    inventory_package_versions,
    load_advisories,
    load_note,
    machine,
    print_targets,
    stats,
    table,
    target,
    write_result,
)
from _univers_baseline import NaiveIndex, Result, agreement
from sakimori.errors import InvalidInput
from sakimori.matching import AdvisoryIndex, AffectedEntry, PackageVersion, match_package_versions


def dense_mix(entries: Iterable[AffectedEntry]) -> list[PackageVersion]:
    found: set[PackageVersion] = set()
    for e in entries:
        named = [*e.versions]
        named += [ev.version for r in e.ranges if r.type != "GIT" for ev in r.events]
        found.update(
            PackageVersion(e.ecosystem, e.name, v, e.release) for v in named if v not in {"0", "*"}
        )
    return shuffled(found)


def shuffled(packages: Iterable[PackageVersion]) -> list[PackageVersion]:
    ordered = sorted(packages, key=lambda p: (p.ecosystem, p.name, p.version, p.release or ""))
    random.Random(0).shuffle(ordered)  # the order a set would give, but the same every time
    return ordered


def timed_ours(
    entries: Sequence[AffectedEntry], packages: Sequence[PackageVersion], *, cold_keys: bool = True
) -> dict:
    """Build, compile and match on a fresh index. ``compile_all`` memoises the sort key of every
    version the advisories name, and lookups share that memo; ``cold_keys`` empties it before
    matching (a private attribute: no public way exists), so every lookup parses its version."""
    gc.collect()
    started = time.perf_counter()
    index = AdvisoryIndex(entries)
    built = time.perf_counter()
    index.compile_all()
    compiled = time.perf_counter()
    if cold_keys:
        for memo in index._key_cache.values():
            memo.clear()
    gc.collect()
    collections = gc.get_stats()[2]["collections"]
    started_match = time.perf_counter()
    found = match_package_versions(packages, index)
    match = time.perf_counter() - started_match
    return {
        "build": built - started,
        "compile": compiled - built,
        "match": match,
        "gen2_gc_during_match": gc.get_stats()[2]["collections"] - collections,
        "found": found,
    }


def timed_naive(index: NaiveIndex, packages: Sequence[PackageVersion]) -> tuple[float, dict]:
    gc.collect()
    started = time.perf_counter()
    results = {p: index.lookup(p) for p in packages}
    return time.perf_counter() - started, results


class Workload:
    """One workload's package-versions, grouped by ecosystem, and the samples taken on it."""

    def __init__(self, name: str, packages: list[PackageVersion], entries: list[AffectedEntry]):
        self.name, self.packages, self.entries = name, packages, entries
        self.by_eco: dict[str, list[PackageVersion]] = defaultdict(list)
        for package in packages:
            self.by_eco[package.ecosystem].append(package)
        self.entries_by_eco: dict[str, list[AffectedEntry]] = defaultdict(list)
        for entry in entries:
            self.entries_by_eco[entry.ecosystem].append(entry)
        self.overall: dict[str, list[float]] = {
            "build": [],
            "compile": [],
            "match": [],
            "match_keys_from_compile": [],
            "naive": [],
        }
        self.eco_ours: dict[str, list[float]] = defaultdict(list)
        self.eco_naive: dict[str, list[float]] = defaultdict(list)
        self.gc_runs: list[int] = []
        self.found: dict[PackageVersion, Any] = {}
        self.naive_results: dict[PackageVersion, Result] = {}

    def run_ours(self, runs: int) -> None:
        for _ in range(runs):
            run = timed_ours(self.entries, self.packages)
            self.found = run["found"]
            for phase in ("build", "compile", "match"):
                self.overall[phase].append(run[phase])
            self.gc_runs.append(run["gen2_gc_during_match"])
            warm = timed_ours(self.entries, self.packages, cold_keys=False)
            self.overall["match_keys_from_compile"].append(warm["match"])
            for eco, subset in self.by_eco.items():
                own = self.entries_by_eco.get(eco, [])
                self.eco_ours[eco].append(timed_ours(own, subset)["match"])

    def run_naive(self, naive_index: NaiveIndex, runs: int) -> None:
        for _ in range(runs):
            total = 0.0
            for eco, subset in self.by_eco.items():
                seconds, results = timed_naive(naive_index, subset)
                self.eco_naive[eco].append(seconds)
                total += seconds
                self.naive_results.update(results)
            self.overall["naive"].append(total)

    def result(self) -> dict[str, Any]:
        by_package: dict[tuple[str, str], list[AffectedEntry]] = defaultdict(list)
        for entry in self.entries:
            by_package[(entry.ecosystem, entry.name)].append(entry)
        n = len(self.packages)
        match_s = stats(self.overall["match"])["median"]
        naive_s = stats(self.overall["naive"])["median"]
        per_eco = {}
        for eco, subset in sorted(self.by_eco.items(), key=lambda kv: -len(kv[1])):
            ours_s = stats(self.eco_ours[eco])["median"]
            theirs_s = stats(self.eco_naive[eco])["median"]
            per_eco[eco] = {
                "package_versions": len(subset),
                "ours_ops": len(subset) / ours_s,
                "naive_ops": len(subset) / theirs_s,
                "ratio": theirs_s / ours_s,
                "ours_seconds": stats(self.eco_ours[eco]),
                "naive_seconds": stats(self.eco_naive[eco]),
            }
        found = self.found
        return {
            "workload": self.name,
            "package_versions": n,
            "in_index": sum((p.ecosystem, p.name) in by_package for p in self.packages),
            "with_hits": sum(1 for r in found.values() if r.hits),
            "hits": sum(len(r.hits) for r in found.values()),
            "ours_ops": n / match_s,
            "ours_ops_keys_from_compile": n
            / stats(self.overall["match_keys_from_compile"])["median"],
            "naive_ops": n / naive_s,
            "ratio": naive_s / match_s,
            "seconds": {k: stats(v) for k, v in self.overall.items()},
            "gen2_gc_during_match": self.gc_runs,
            "per_ecosystem": per_eco,
            "agreement": agreement(self.packages, found, self.naive_results, by_package),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs (>= 5)")
    args = parser.parse_args()
    runs = max(5, args.runs)
    info = machine()
    advisories = load_advisories()
    entries = [
        AffectedEntry.from_affected(a.id, affected)
        for a in advisories
        if not a.withdrawn
        for affected in a.affected
    ]
    found, used, refused = inventory_package_versions()
    real = shuffled(found)
    dense = dense_mix(entries)
    with_advisories = {(e.ecosystem, e.name) for e in entries}
    # Most of the real mix names packages no advisory mentions: one dictionary miss each, for
    # both approaches. This subset is where the two engines actually differ.
    real_in_index = [p for p in real if (p.ecosystem, p.name) in with_advisories]
    workloads = [
        Workload("real inventories", real, entries),
        Workload("real, packages with advisories", real_in_index, entries),
        Workload("advisory-dense", dense, entries),
    ]
    count = len(advisories)
    del advisories  # a matcher holds affected entries, not whole records
    for workload in workloads:  # ours first, without the naive index inflating the heap
        workload.run_ours(runs)
    gc.collect()
    started = time.perf_counter()
    naive_index = NaiveIndex(entries)
    naive_build = time.perf_counter() - started
    for workload in workloads:
        workload.run_naive(naive_index, runs)
    del naive_index
    results = [workload.result() for workload in workloads]
    print(
        f"index: {count:,} OSV records, {len(entries):,} affected entries; "
        f"real mix from {used} inventory files ({refused} refused); {runs} runs, medians\n"
    )
    rows = []
    for r in results:
        s = r["seconds"]
        rows.append(
            (
                r["workload"],
                f"{r['package_versions']:,}",
                f"{r['in_index']:,}",
                f"{r['with_hits']:,}",
                fmt(r["ours_ops"]),
                fmt(r["ours_ops_keys_from_compile"]),
                fmt(r["naive_ops"]),
                f"{r['ratio']:.1f}x",
                f"{s['match']['median'] * 1000:.1f}",
                f"{s['compile']['median'] * 1000:.0f}",
            )
        )
    print(
        table(
            [
                "workload",
                "pkg-versions",
                "in index",
                "with hits",
                "ours/s",
                "ours/s, keys from compile",
                "naive/s",
                "ratio",
                "match ms",
                "compile_all ms",
            ],
            rows,
        )
    )
    print(
        "ours/s: every lookup parses its version (key memo emptied after compile_all); keys "
        "from compile: the memo compile_all left is used, as the product does.\n"
        f"(naive index build with univers objects: {naive_build:.1f} s, once)\n"
    )
    eco_rows = [
        (
            r["workload"][:4] + " " + eco,
            f"{e['package_versions']:,}",
            fmt(e["ours_ops"]),
            fmt(e["naive_ops"]),
            f"{e['ratio']:.1f}x",
        )
        for r in results
        for eco, e in r["per_ecosystem"].items()
    ]
    print(table(["ecosystem", "pkg-versions", "ours/s", "naive/s", "ratio"], eco_rows))
    print()
    agree_rows = [
        (
            r["workload"],
            f"{a['compared']:,}",
            f"{a['agree']:,}",
            f"{a['disagree']:,}",
            f"{a['univers_unevaluable_pairs']:,}",
            f"{a['sakimori_unevaluated_pairs']:,}",
        )
        for r in results
        for a in [r["agreement"]]
    ]
    print(
        table(
            [
                "agreement",
                "compared",
                "agree",
                "disagree",
                "univers can't (pairs)",
                "sakimori unevaluated (pairs)",
            ],
            agree_rows,
        )
    )
    for r in results:
        for example in r["agreement"]["examples"][:6]:
            said = "hit" if example["sakimori"] else "miss"
            print(
                f"  {example['package']} {example['advisory']}: sakimori {said}; "
                f"{example['reason']}"
            )
        failures = r["agreement"]["univers_failures"]
        if failures:
            top = ", ".join(f"{kind} {count}" for kind, count in list(failures.items())[:4])
            print(f"  {r['workload']}: univers could not evaluate: {top}")
    targets = []
    for r in results:
        targets.append(
            target(f"matching ops/s, {r['workload']}", r["ours_ops"], "/s", 300_000, at_least=True)
        )
        targets.append(target(f"ours/naive, {r['workload']}", r["ratio"], "x", 20, at_least=True))
    print()
    print_targets(targets)
    note = load_note(info)
    if note:
        print(note)
    path = write_result(
        "matching",
        {
            "advisories": count,
            "entries": len(entries),
            "inventory_files": {"used": used, "refused": refused},
            "naive_build_seconds": naive_build,
            "workloads": results,
            "targets": targets,
        },
        info,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    try:
        main()
    except InvalidInput as exc:
        raise SystemExit(f"bad data: {exc}") from None
