"""Benchmark: the national scale of DESIGN.md: 2,000,000 package-versions, 500,000 advisories.

The data is synthetic but shaped like ../shared/data/osv (see ``_synthetic.py``: ecosystem mix,
name and version shapes, entries per package and per advisory, ranges per entry, events per range
and ``versions`` lists are sampled from the real records with a fixed seed); the shape of both is
printed side by side. Half of the portfolio's package-versions belong to packages that have
advisories (``--overlap``). Two fresh subprocesses do the work, so that each one's peak memory
(``ru_maxrss``) is its own:

* **engine** — generate; build ``AdvisoryIndex`` + ``compile_all`` and the ``Portfolio``; one full
  ``Portfolio.match`` with a cold sort-key cache (target ≤ 10 s) and a few more warm, with the
  time spent in the garbage collector, and one more after ``gc.freeze()`` (a mitigation, not
  what the product does); one new and one changed advisory on the most-held package re-matched
  with ``Portfolio.match_entries`` (median of 50, target ≤ 100 ms); peak RSS (target ≤ 2 GiB).
* **store** — generate the same advisories as full records; ``store_advisories`` into a fresh
  PostgreSQL database in one transaction, then the identical load again on the same connection
  pool and on a new one (nothing to write either time).

Run: ``.venv/bin/python benchmarks/bench_national.py [--scale 0.1] [--skip-store]``
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import (
    PYTHON,
    GcTimer,
    fmt,
    inventory_package_versions,
    load_advisories,
    load_note,
    machine,
    peak_rss,
    postgres_database,
    print_targets,
    stats,
    table,
    target,
    timed,
    write_result,
)
from _synthetic import Generator, ShapeStats, measure, moved_fix
from sakimori.matching import AdvisoryIndex, AffectedEntry, PackageVersion, Portfolio
from sakimori.model.ecosystem import base_ecosystem, normalize_name

GIB = 1024**3


def engine(gen: Generator, match_runs: int, rematch_runs: int) -> dict[str, Any]:
    shape = ShapeStats()
    entries: list[AffectedEntry] = []
    held: list[PackageVersion] = []
    top: Any = None
    started = time.perf_counter()
    for item, versions, line, item_entries in gen.packages():
        eco, name = item.ecosystem, normalize_name(item.ecosystem, item.name)
        held.extend(PackageVersion(eco, name, v) for v in versions)
        shape.package_count += bool(item_entries)
        for advisory_id, ranges, listed in item_entries:
            entries.append(AffectedEntry(advisory_id, eco, name, None, ranges, listed))
            shape.add(advisory_id, (eco, name), ranges, listed)
        if item_entries and (top is None or item.portfolio > top[0].portfolio):
            top = (item, name, line, item_entries[0])
    generated = time.perf_counter() - started
    gc.collect()
    build, index = timed(AdvisoryIndex, entries)
    compile_all, _ = timed(index.compile_all)
    portfolio_build, portfolio = timed(Portfolio, held)
    in_index = sum(1 for p in held if (p.ecosystem, p.name) in index)
    del entries, held
    gc.collect()
    match_samples, gc_samples, found_hits, found, with_hits = [], [], 0, 0, 0
    timer = GcTimer()
    for run in range(match_runs + 1):
        if run == 0:  # cold: empty the key memo that compile_all filled (private attribute)
            for memo in index._key_cache.values():
                memo.clear()
        if run == match_runs:  # the mitigation: long-lived objects out of the collector's way
            gc.freeze()
        timer.seconds = 0.0
        seconds, result = timed(portfolio.match, index)
        if run == match_runs:
            freeze_seconds, freeze_gc = seconds, timer.seconds
            gc.unfreeze()
        else:
            match_samples.append(seconds)
            gc_samples.append(timer.seconds)
        found, found_hits = len(result), sum(len(r.hits) for r in result.values())
        with_hits = sum(1 for r in result.values() if r.hits)
        del result
        gc.collect()
    timer.close()
    item, name, line, (top_id, top_ranges, top_listed) = top
    eco = item.ecosystem
    with_fix = [  # a new advisory that names a fix, as most do
        s for s in gen.dist["entry_shapes"][eco] if any(k == "fixed" for r in s[0] for k, _ in r[1])
    ]
    shape_of = gen.rng.choice(with_fix or gen.dist["entry_shapes"][eco])
    new_ranges, new_listed = gen._entry(eco, shape_of, line)
    new = [AffectedEntry("SYN-NEW", eco, name, None, new_ranges, new_listed)]
    changed = [AffectedEntry(top_id, eco, name, None, moved_fix(top_ranges, line), top_listed)]
    rematch: dict[str, Any] = {}
    for label, entries_now in (("new", new), ("changed", changed)):
        samples, hits = [], 0
        for _ in range(rematch_runs):
            seconds, result = timed(portfolio.match_entries, entries_now)
            samples.append(seconds)
            hits = len(result)
        rematch[label] = {**stats(samples), "affected_package_versions": hits}
    update_started = time.perf_counter()  # the big index takes the changed advisory in
    index.remove_advisory(top_id, [(eco, name)])
    index.add(changed[0])
    index.lookup(eco, name, line[0])  # recompiles that one package
    index_update = time.perf_counter() - update_started
    return {
        "generate_seconds": generated,
        "index_build_seconds": build,
        "compile_all_seconds": compile_all,
        "portfolio_build_seconds": portfolio_build,
        "packages_in_index": len(index),
        "package_versions": len(portfolio),
        "package_versions_in_index_packages": in_index,
        "versions_generated": gen.versions_made,
        "match_seconds": stats(match_samples),
        "match_cold_seconds": match_samples[0],
        "match_gc_seconds": gc_samples,
        "match_with_gc_freeze_seconds": freeze_seconds,
        "match_with_gc_freeze_gc_seconds": freeze_gc,
        "matched_with_results": found,
        "hits": found_hits,
        "rematch_package": f"{eco}/{name}",
        "rematch_candidates": len(portfolio.versions_of(eco, name)),
        "rematch_seconds": rematch,
        "index_update_seconds": index_update,
        "shape": {
            **shape.figures(),
            "hits per looked-up package-version": found_hits / in_index,
            "% looked-up package-versions with hits": 100 * with_hits / in_index,
        },
        "peak_rss_bytes": peak_rss(),
    }


def store(gen: Generator, url: str) -> dict[str, Any]:
    """Load once, load the same again on the same connection pool (what a long-running worker
    does), then once more on a new pool (what a new ``sakimori intel load`` process does).

    Big loads read every stored hash in one query and end with ANALYZE, so the same-pool reload
    no longer goes through a plan cached while the table was empty (which made it take hours
    at full scale before that fix); it is now timed for real."""
    from sakimori.store import intel as store_intel
    from sakimori.store.db import open_database

    started = time.perf_counter()
    advisories = [gen.advisory(i, group) for i, group in gen.advisory_groups()]
    generated = time.perf_counter() - started
    loads: dict[str, dict[str, Any]] = {}
    db = open_database(url)
    for phase in ("first_load", "second_load_same_pool", "second_load_new_pool"):
        if phase == "second_load_new_pool":
            db.dispose()
            db = open_database(url)
        now = datetime.now(UTC)
        started = time.perf_counter()
        with db.transaction() as session:
            changes = store_intel.store_advisories(session, "bench:national", advisories, now)
        seconds = time.perf_counter() - started
        loads[phase] = {"seconds": seconds, "changes": dataclasses.asdict(changes)}
    with db.transaction() as session:
        counts = store_intel.counts(session)
    db.dispose()
    return {
        "generate_seconds": generated,
        "advisories": len(advisories),
        **loads,
        "counts": counts,
        "peak_rss_bytes": peak_rss(),
    }


def child(args: argparse.Namespace) -> None:
    dist = json.loads(Path(args.dist).read_text())
    gen = Generator(
        dist, args.scale, args.seed, args.overlap, args.recency, args.history, args.popularity
    )
    if args.child == "engine":
        result = engine(gen, args.match_runs, args.rematch_runs)
    else:
        result = store(gen, args.url)
    print(json.dumps(result))


def run_child(kind: str, args: argparse.Namespace, dist: Path, url: str = "") -> dict[str, Any]:
    command = [str(PYTHON), __file__, "--child", kind, "--dist", str(dist), "--url", url]
    knobs = ("scale", "seed", "overlap", "recency", "history", "popularity")
    for flag in (*knobs, "match_runs", "rematch_runs"):
        command += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{kind} subprocess failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def real_shape(advisories: list[Any]) -> dict[str, Any]:
    shape = ShapeStats(unique_packages=True)
    entries = []
    for advisory in advisories:
        if advisory.withdrawn:
            continue
        for a in advisory.affected:
            eco = base_ecosystem(a.ecosystem)
            shape.add(advisory.id, (eco, normalize_name(eco, a.name)), a.ranges, a.versions)
            entries.append(AffectedEntry.from_affected(advisory.id, a))
    figures = shape.figures()
    held, _, _ = inventory_package_versions()  # the real inventories, for the hit density
    index = AdvisoryIndex(entries)
    looked_up = sum(1 for p in held if (p.ecosystem, p.name) in index)
    found = Portfolio(held).match(index)
    figures["hits per looked-up package-version"] = (
        sum(len(r.hits) for r in found.values()) / looked_up
    )
    figures["% looked-up package-versions with hits"] = (
        100 * sum(1 for r in found.values() if r.hits) / looked_up
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 2M versions, 500k advs")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--overlap", type=float, default=0.5, help="share of versions in packages")
    parser.add_argument("--recency", type=float, default=4.0, help="bias to recent releases")
    parser.add_argument("--history", type=int, default=4, help="releases per version held")
    parser.add_argument("--popularity", type=float, default=0.0, help="versions ~ entries^this")
    parser.add_argument("--match-runs", type=int, default=3, help="full matches (first is cold)")
    parser.add_argument("--rematch-runs", type=int, default=50)
    parser.add_argument("--skip-store", action="store_true", help="no PostgreSQL load")
    parser.add_argument("--child", choices=["engine", "store"], help=argparse.SUPPRESS)
    parser.add_argument("--dist", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    info = machine()
    advisories = load_advisories()
    real = real_shape(advisories)
    with tempfile.TemporaryDirectory(prefix="sakimori-bench-national-") as scratch:
        dist = Path(scratch) / "distributions.json"
        dist.write_text(json.dumps(measure(advisories)))
        del advisories
        eng = run_child("engine", args, dist)
        stored = None
        if not args.skip_store:
            with postgres_database() as url:
                stored = run_child("store", args, dist, url)
    print(f"national scale x{args.scale}: shape of the real OSV data and of the synthetic set")
    rows = []
    for key, value in real.items():
        if key == "ecosystem mix %":
            continue
        rows.append((key, fmt(value), fmt(eng["shape"][key])))
    mix_real, mix_syn = real["ecosystem mix %"], eng["shape"]["ecosystem mix %"]
    for eco in mix_real:
        rows.append((f"  % entries {eco}", f"{mix_real[eco]}", f"{mix_syn.get(eco, 0)}"))
    print(table(["figure", "real", "synthetic"], rows))
    m = eng["match_seconds"]
    r_new, r_changed = eng["rematch_seconds"]["new"], eng["rematch_seconds"]["changed"]
    print()
    steps = [
        ("generate (not a target)", f"{eng['generate_seconds']:.1f} s", ""),
        ("AdvisoryIndex(entries)", f"{eng['index_build_seconds']:.2f} s", ""),
        (
            "compile_all()",
            f"{eng['compile_all_seconds']:.1f} s",
            f"{eng['packages_in_index']:,} packages",
        ),
        (
            "Portfolio(package-versions)",
            f"{eng['portfolio_build_seconds']:.1f} s",
            f"{eng['package_versions']:,} unique",
        ),
        (
            "full match, cold key cache",
            f"{eng['match_cold_seconds']:.1f} s",
            f"{eng['package_versions_in_index_packages']:,} looked up",
        ),
        (
            "  of which garbage collection",
            f"{eng['match_gc_seconds'][0]:.1f} s",
            f"later runs: {', '.join(f'{x:.1f}' for x in eng['match_gc_seconds'][1:])} s",
        ),
        (
            "full match after gc.freeze() (mitigation)",
            f"{eng['match_with_gc_freeze_seconds']:.1f} s",
            f"{eng['match_with_gc_freeze_gc_seconds']:.1f} s in the collector",
        ),
        (
            f"full match, median of {m['runs']} runs",
            f"{m['median']:.1f} s",
            f"{eng['matched_with_results']:,} with results, {eng['hits']:,} hits",
        ),
        (
            "re-match new advisory (median of 50)",
            f"{r_new['median'] * 1000:.1f} ms",
            f"{eng['rematch_candidates']:,} candidates, {r_new['affected_package_versions']} hit",
        ),
        (
            "re-match changed advisory (median 50)",
            f"{r_changed['median'] * 1000:.1f} ms",
            f"{r_changed['affected_package_versions']} hit",
        ),
        ("big index takes the change (once)", f"{fmt(eng['index_update_seconds'] * 1000)} ms", ""),
        ("engine peak RSS", f"{eng['peak_rss_bytes'] / GIB:.2f} GiB", ""),
    ]
    if stored:
        first, same = stored["first_load"], stored["second_load_same_pool"]
        new_pool = stored["second_load_new_pool"]
        steps += [
            (
                "PostgreSQL load, one transaction",
                f"{first['seconds']:.1f} s",
                f"{stored['counts']['advisories']:,} advisories, "
                f"{stored['counts']['affected_packages']:,} affected rows",
            ),
            (
                "identical load again, same pool"
                + (" (estimate)" if same.get("estimated") else ""),
                f"{same['seconds']:.1f} s",
                f"{same['changes']['unchanged']:,} unchanged",
            ),
            (
                "identical load again, new pool",
                f"{new_pool['seconds']:.1f} s",
                f"{new_pool['changes']['unchanged']:,} unchanged",
            ),
            ("store process peak RSS", f"{stored['peak_rss_bytes'] / GIB:.2f} GiB", ""),
        ]
    print(table(["step", "time / size", "detail"], steps))
    targets = [
        target("national full match (cold)", eng["match_cold_seconds"], "s", 10),
        target("re-match one new advisory", r_new["median"] * 1000, "ms", 100),
        target("re-match one changed advisory", r_changed["median"] * 1000, "ms", 100),
        target("engine peak memory", eng["peak_rss_bytes"] / GIB, "GiB", 2),
    ]
    if args.scale != 1.0:
        for row in targets:
            row["figure"] += f" (scale {args.scale})"
    print()
    print_targets(targets)
    note = load_note(info)
    if note:
        print(note)
    name = "national" if args.scale == 1.0 else f"national_scale_{args.scale}"
    path = write_result(
        name,
        {
            "scale": args.scale,
            "seed": args.seed,
            "overlap": args.overlap,
            "real_shape": real,
            "engine": eng,
            "store": stored,
            "targets": targets,
        },
        info,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
