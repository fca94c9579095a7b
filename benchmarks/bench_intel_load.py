"""Benchmark: ``load_paths`` of all shared intel (OSV, KEV, EPSS) into SQLite and PostgreSQL.

Per backend and run, into a fresh database (a new SQLite file; a new, uniquely named PostgreSQL
database, dropped afterwards):

* **first load** — every file read, parsed and stored in one transaction (target ≤ 60 s);
* **second load, nothing changed** — same paths again (target ≤ 5 s): files whose size and
  modification time are unchanged are skipped;
* **reload after touch** — every file's modification time bumped, content unchanged: each file
  is read and hashed again, but nothing is parsed or written (no target; what a re-synced mirror
  costs).

The files are copied once into a scratch directory so that they can be touched. Each load runs
on a new connection pool, as a new ``sakimori intel load`` process would. Three runs per backend
(a first load takes a while); medians reported.

Run: ``.venv/bin/python benchmarks/bench_intel_load.py [--runs N] [--backend sqlite|postgresql]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    DATA,
    load_note,
    machine,
    postgres_database,
    print_targets,
    stats,
    table,
    target,
    write_result,
)
from sakimori.formats.limits import Limits
from sakimori.services.intel import LoadReport, load_paths
from sakimori.store import intel as store_intel
from sakimori.store.db import open_database

SOURCES = [
    DATA / "osv",
    DATA / "kev" / "known_exploited_vulnerabilities.json",
    DATA / "epss" / "EPSS_CVE_data",
]
PHASES = ("first load", "second load, nothing changed", "reload after touch")


def copy_sources(scratch: Path) -> list[Path]:
    copies = []
    for source in SOURCES:
        destination = scratch / source.name
        if source.is_dir():
            shutil.copytree(source, destination)
        else:
            shutil.copy2(source, destination)
        copies.append(destination)
    return copies


def touch(paths: list[Path]) -> None:
    now = time.time_ns()
    for path in paths:
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        for file in files:
            os.utime(file, ns=(now, now))


def timed_load(url: str, paths: list[Path]) -> tuple[float, LoadReport]:
    db = open_database(url)  # migrates a fresh database: not timed
    try:
        started = time.perf_counter()
        report = load_paths(db, paths, Limits())
        return time.perf_counter() - started, report
    finally:
        db.dispose()


def one_run(url: str, paths: list[Path]) -> dict[str, Any]:
    run: dict[str, Any] = {}
    for phase in PHASES:
        if phase == "reload after touch":
            touch(paths)
        seconds, report = timed_load(url, paths)
        run[phase] = {
            "seconds": seconds,
            "files_read": report.files_read,
            "files_skipped": report.files_skipped,
            "ignored": len(report.ignored),
            "sources": {
                s.name.rsplit("/", 1)[-1]: {
                    "status": s.status,
                    "records": s.records,
                    "added": s.changes.added if s.changes else None,
                }
                for s in report.sources
            },
        }
    db = open_database(url)
    with db.transaction() as session:
        run["counts"] = store_intel.counts(session)
    db.dispose()
    return run


def bench_backend(backend: str, paths: list[Path], runs: int) -> dict[str, Any]:
    results = []
    for _ in range(runs):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="sakimori-bench-load-") as home:
                results.append(one_run(f"sqlite:///{home}/sakimori.db", paths))
        else:
            with postgres_database() as url:
                results.append(one_run(url, paths))
    return {
        "phases": {p: stats([r[p]["seconds"] for r in results]) for p in PHASES},
        "runs": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per backend")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql"], action="append", help="default: both"
    )
    args = parser.parse_args()
    backends = args.backend or ["sqlite", "postgresql"]
    info = machine()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sakimori-bench-intel-") as scratch:
        paths = copy_sources(Path(scratch))
        for backend in backends:
            results[backend] = bench_backend(backend, paths, args.runs)
    print(f"intel load of {', '.join(str(s) for s in SOURCES)}; median of {args.runs} runs (s)")
    rows = []
    for backend, result in results.items():
        last = result["runs"][-1]
        for phase in PHASES:
            s = result["phases"][phase]
            detail = f"{last[phase]['files_read']} read, {last[phase]['files_skipped']} skipped"
            rows.append(
                (
                    f"{backend}: {phase}",
                    f"{s['median']:.2f}",
                    f"{s['min']:.2f}",
                    f"{s['max']:.2f}",
                    detail,
                )
            )
    print(table(["backend: phase", "median", "min", "max", "files"], rows))
    counts = next(iter(results.values()))["runs"][-1]["counts"]
    print("stored: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    targets = []
    for backend, result in results.items():
        phases = result["phases"]
        targets.append(target(f"intel load, {backend}", phases["first load"]["median"], "s", 60))
        targets.append(
            target(
                f"intel reload unchanged, {backend}",
                phases["second load, nothing changed"]["median"],
                "s",
                5,
            )
        )
    print()
    print_targets(targets)
    note = load_note(info)
    if note:
        print(note)
    path = write_result(
        "intel_load",
        {"sources": [str(s) for s in SOURCES], "backends": results, "targets": targets},
        info,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
