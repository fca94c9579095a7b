"""Run every benchmark, then write ``results/summary.json`` and ``results/summary.md``.

The scripts run one after the other in fresh interpreters (they would disturb each other's
timings otherwise): every script in ``SCRIPTS`` below, in that order. The summary gathers the
``targets`` rows each script writes into its JSON file (figure, value, target, met) and adds the
version-key figures of ``versions.json``; ``summary.md`` is a Markdown table for the README's
performance section.

Run: ``.venv/bin/python benchmarks/run_all.py [--quick] [--only scan matching ...]
[--summary-only]``. ``--quick`` runs the national benchmark at ``--scale 0.1`` and the others
with their minimum runs (minutes instead of the better part of an hour).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import PYTHON, RESULTS, ROOT, fmt, machine

HERE = ROOT / "benchmarks"
#: name -> (script, full-run flags, quick-run flags, result file(s), newest first)
SCRIPTS: dict[str, tuple[str, list[str], list[str], list[str]]] = {
    "versions": ("bench_versions.py", ["--runs", "7"], ["--runs", "5"], ["versions.json"]),
    "scan": ("bench_scan.py", ["--runs", "9"], ["--runs", "5"], ["scan.json"]),
    "matching": ("bench_matching.py", ["--runs", "5"], ["--runs", "5"], ["matching.json"]),
    "intel_load": ("bench_intel_load.py", ["--runs", "3"], ["--runs", "1"], ["intel_load.json"]),
    "national": (
        "bench_national.py",
        [],
        ["--scale", "0.1"],
        ["national.json", "national_scale_0.1.json"],
    ),
    "advisory_change": (
        "bench_advisory_change.py",
        [],
        ["--assets", "1000", "--runs", "4"],
        ["advisory_change.json", "advisory_change_1000.json"],
    ),
    "recompute": (
        "bench_recompute.py",
        ["--runs", "3"],
        ["--findings", "100000", "--assets", "1000", "--runs", "1", "--baseline", "5000"],
        ["recompute.json", "recompute_100000.json"],
    ),
    "watch": ("bench_watch.py", ["--runs", "3"], ["--lines", "100000"], ["watch.json"]),
    "compare_fail2ban": ("compare_fail2ban.py", [], ["--runs", "1"], ["compare_fail2ban.json"]),
    "follow_latency": ("bench_follow_latency.py", [], ["--runs", "10"], ["follow_latency.json"]),
    "cpe": ("bench_cpe.py", ["--runs", "3"], ["--runs", "1", "--replicas", "10"], ["cpe.json"]),
    "nvd_load": (
        "bench_nvd_load.py",
        [],
        ["--records", "20000"],
        ["nvd_load.json", "nvd_load_20000_kev.json"],
    ),
    "probe": ("bench_probe.py", ["--runs", "3"], ["--runs", "1"], ["probe.json"]),
    "updates": ("bench_updates.py", ["--runs", "5"], ["--runs", "3"], ["updates.json"]),
    "notifications": (
        "bench_notifications.py",
        ["--runs", "3"],
        ["--runs", "1", "--organisations", "2000"],
        ["notifications.json"],
    ),
    # needs the bench extra (Locust): `make bench` installs it
    "service_load": (
        "bench_service_load.py",
        [],
        ["--organisations", "1000", "--findings", "100000", "--runs", "1", "--seconds", "10"],
        ["service_load.json", "service_load_100000.json"],
    ),
    # reports, not gates
    "cisa_agreement": ("report_cisa_agreement.py", [], [], ["cisa_agreement.json"]),
    "backtest_kev": ("backtest_kev.py", [], [], ["backtest_kev.json"]),
    "kev_normaliser": ("report_kev_normaliser.py", [], [], ["kev_normaliser.json"]),
    # needs Debian's wfuzz, wapiti and wamerican (the payload lists it reads)
    "payloads": ("report_payloads.py", [], [], ["payloads.json"]),
}


def run(name: str, quick: bool) -> dict[str, Any]:
    script, full, fast, _ = SCRIPTS[name]
    if not (HERE / script).exists():
        return {"name": name, "status": "absent"}
    command = [str(PYTHON), str(HERE / script), *(fast if quick else full)]
    print(f"\n=== {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, check=False)
    return {
        "name": name,
        "status": "ok" if done.returncode == 0 else f"exit {done.returncode}",
        "seconds": time.perf_counter() - started,
    }


def result_of(name: str, quick: bool) -> tuple[Path, dict[str, Any]] | None:
    files = SCRIPTS[name][3]
    if name in {"national", "recompute"} and quick:
        files = files[::-1]
    for file in files:
        path = RESULTS / file
        if path.exists():
            document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return path, document
    return None


def version_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for family, row in document.get("families", {}).items():
        speedups = [  # the key has been "speedup" and "build_speedup": take either
            (a.get("build_speedup", a.get("speedup")), a.get("library", "?"))
            for a in row.get("alternatives", [])
        ]
        detail = ", ".join(f"{x:.1f}x {lib}" for x, lib in speedups if x)
        rows.append(
            {
                "figure": f"version sort key, {family}",
                "value": row["sakimori_us"],
                "unit": "µs/version",
                "target": f"no target; library time / ours: {detail}" if detail else "no target",
                "met": None,
            }
        )
    return rows


def markdown(
    rows: list[dict[str, Any]], info: dict[str, Any], sources: list[str], measured: list[dict]
) -> str:
    lines = [
        "| figure | value | target | met? |",
        "|---|---:|---|:---:|",
    ]
    for row in rows:
        met = "—" if row["met"] is None else ("yes" if row["met"] else "**no**")
        value = f"{fmt(row['value'])} {row['unit']}".strip()
        lines.append(f"| {row['figure']} | {value} | {row['target']} | {met} |")
    dates = sorted(m["date"] for m in measured if "date" in m) or [info["date"]]
    states = {
        f"{m['source']['commit']}"
        + (" with uncommitted src/ changes" if m["source"].get("src_uncommitted") else "")
        for m in measured
        if m.get("source")
    }
    lines += [
        "",
        f"Measured {dates[0]} to {dates[-1]} on {info['nproc']} CPUs ({info['cpu_model']}), "
        f"Python {info['python']}, source {', '.join(sorted(states)) or 'unrecorded'}; medians "
        f"of several runs on a shared machine. Sources: {', '.join(sources)}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="national at scale 0.1, fewer runs")
    parser.add_argument("--only", nargs="+", choices=sorted(SCRIPTS), help="run only these")
    parser.add_argument("--summary-only", action="store_true", help="rebuild the summary")
    args = parser.parse_args()
    info = machine()
    runs = []
    if not args.summary_only:
        for name in args.only or SCRIPTS:
            runs.append(run(name, args.quick))
    rows: list[dict[str, Any]] = []
    sources = []
    measured: list[dict[str, Any]] = []
    for name in SCRIPTS:
        found = result_of(name, args.quick)
        if found is None:
            continue
        path, document = found
        sources.append(str(path.relative_to(ROOT)))
        measured.append(document.get("machine", {}))
        rows += version_rows(document) if name == "versions" else document.get("targets", [])
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {"machine": info, "runs": runs, "rows": rows, "sources": sources}
    (RESULTS / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    text = markdown(rows, info, sources, measured)
    (RESULTS / "summary.md").write_text(text, encoding="utf-8")
    print("\n" + text)
    failed = [r for r in runs if r["status"] not in {"ok", "absent"}]
    if failed:
        sys.exit(f"failed: {', '.join(r['name'] for r in failed)}")


if __name__ == "__main__":
    main()
