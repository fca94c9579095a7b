"""Benchmark: scanning the largest real SBOM (juice-shop, 1,115 components) with all shared intel.

Two figures:

* **end to end** — wall time of ``sakimori scan bom.1.4.json --format json`` as a subprocess,
  interpreter start and imports included (target ≤ 1 s). Measured in the same rounds, as
  baselines: ``python -c pass`` (the interpreter alone) and ``python -c "import
  sakimori.cli.main"`` (the CLI's own import), plus the modules a scan imports on top
  (``sakimori.cli.render``, ``sakimori.services.scan``), so import cost is visible.
* **engine** — in-process ``scan_paths`` after one warm-up run: parse + query + match + report
  from ``report.timings`` (target ≤ 50 ms).

All of ../shared/data's intel (OSV, KEV, EPSS) is first loaded into a fresh SQLite home with
``sakimori intel load`` (not part of either figure). Commands are run round-robin so that a burst
of load from other processes hits all of them alike.

Run: ``.venv/bin/python benchmarks/bench_scan.py [--runs N] [--home DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    DATA,
    PYTHON,
    SAKIMORI,
    fmt,
    load_note,
    machine,
    print_targets,
    stats,
    table,
    target,
    write_result,
)

SBOM = DATA / "sbom" / "cyclonedx" / "juice-shop" / "via_npm" / "flat" / "bom.1.4.json"
INTEL = [
    DATA / "osv",
    DATA / "kev" / "known_exploited_vulnerabilities.json",
    DATA / "epss" / "EPSS_CVE_data",
]
SCAN_IMPORTS = "import sakimori.cli.main, sakimori.cli.render, sakimori.services.scan"


def load_intel(home: Path) -> float:
    env = {**os.environ, "SAKIMORI_HOME": str(home)}
    env.pop("SAKIMORI_DATABASE_URL", None)
    started = time.perf_counter()
    subprocess.run(
        [str(SAKIMORI), "intel", "load", *map(str, INTEL)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def timed(command: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return seconds, done.stdout


def end_to_end(home: Path, runs: int) -> dict[str, Any]:
    env = {**os.environ, "SAKIMORI_HOME": str(home)}
    env.pop("SAKIMORI_DATABASE_URL", None)
    commands = {
        "python -c pass": [str(PYTHON), "-c", "pass"],
        "import sakimori.cli.main": [str(PYTHON), "-c", "import sakimori.cli.main"],
        "import scan path (cli + render + services.scan)": [str(PYTHON), "-c", SCAN_IMPORTS],
        "sakimori scan (juice-shop, json)": [str(SAKIMORI), "scan", str(SBOM), "--format", "json"],
    }
    samples: dict[str, list[float]] = {label: [] for label in commands}
    findings = None
    for round_ in range(runs + 1):  # round 0 warms the page cache and the .pyc files
        for label, command in commands.items():
            seconds, out = timed(command, env)
            if round_:
                samples[label].append(seconds)
            if label.startswith("sakimori scan"):
                findings = len(json.loads(out)["findings"])
    return {"commands": {k: stats(v) for k, v in samples.items()}, "findings": findings}


def engine(home: Path, runs: int) -> dict[str, Any]:
    from sakimori.config import Settings
    from sakimori.services.scan import scan_paths
    from sakimori.store.db import open_database

    config = Settings.load({"SAKIMORI_HOME": str(home)})
    db = open_database(config.database_url)
    try:
        scan_paths(db, [SBOM], config.limits)  # warm-up: lazy imports, SQLite page cache
        phases: dict[str, list[float]] = {"parse": [], "query": [], "match": [], "report": []}
        totals: list[float] = []
        walls: list[float] = []
        findings = 0
        for _ in range(runs):
            started = time.perf_counter()
            report = scan_paths(db, [SBOM], config.limits)
            walls.append(time.perf_counter() - started)
            for phase in phases:
                phases[phase].append(report.timings[phase])
            totals.append(sum(report.timings[p] for p in phases))
            findings = len(report.findings)
    finally:
        db.dispose()
    return {
        "phases": {k: stats(v) for k, v in phases.items()},
        "total": stats(totals),
        "wall": stats(walls),
        "findings": findings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="timed runs (>= 5)")
    parser.add_argument("--home", type=Path, help="reuse a SAKIMORI_HOME that has the intel")
    args = parser.parse_args()
    runs = max(5, args.runs)
    info = machine()
    with tempfile.TemporaryDirectory(prefix="sakimori-bench-scan-") as scratch:
        home = args.home or Path(scratch)
        load_seconds = None if args.home else load_intel(home)
        e2e = end_to_end(home, runs)
        eng = engine(home, runs)

    cmd = e2e["commands"]
    scan_label = "sakimori scan (juice-shop, json)"
    base = cmd["python -c pass"]["median"]
    rows = [
        (label, f"{s['median'] * 1000:.0f}", f"{s['min'] * 1000:.0f}", f"{s['median'] / base:.1f}x")
        for label, s in cmd.items()
    ]
    print(f"end to end, {runs} runs each, round-robin (ms; ratio to `python -c pass`)")
    print(table(["command", "median", "min", "ratio"], rows))
    print(f"\nengine in-process (scan_paths after a warm-up), {runs} runs (ms)")
    phase_rows = [
        (phase, f"{s['median'] * 1000:.1f}", f"{s['min'] * 1000:.1f}", f"{s['max'] * 1000:.1f}")
        for phase, s in [*eng["phases"].items(), ("total", eng["total"])]
    ]
    print(table(["phase", "median", "min", "max"], phase_rows))
    scan_s = cmd[scan_label]["median"]
    imports = cmd["import scan path (cli + render + services.scan)"]["median"]
    print(
        f"\nscan: {e2e['findings']} findings; of the {scan_s * 1000:.0f} ms end to end, "
        f"{imports * 1000:.0f} ms is starting Python and importing the scan path, "
        f"{eng['total']['median'] * 1000:.0f} ms the engine."
    )
    if load_seconds is not None:
        print(f"(intel load into the fresh home took {fmt(load_seconds)} s, not counted)")
    targets = [
        target("scan end to end (juice-shop, subprocess)", scan_s, "s", 1.0),
        target(
            "scan engine in-process (parse+query+match+report)",
            eng["total"]["median"] * 1000,
            "ms",
            50,
        ),
    ]
    print()
    print_targets(targets)
    note = load_note(info)
    if note:
        print(note)
    path = write_result(
        "scan",
        {
            "sbom": str(SBOM),
            "intel": [str(p) for p in INTEL],
            "intel_load_seconds": load_seconds,
            "end_to_end_seconds": e2e,
            "engine_seconds": eng,
            "targets": targets,
        },
        info,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
