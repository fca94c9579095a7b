"""``sakimori probe`` against Bandit on the flawgarden (OWASP-Benchmark-derived, mutated) corpus.

Prints per-category true- and false-positive rates and the OWASP score (mean over categories of
TPR - FPR, x 100) in strict mode (the exact CWE) and lenient mode (the CWE's family), for our engine
and for Bandit run in the same process tree; the time each takes on the corpus (median of several
runs); recall on SecurityEval beside Bandit's; the time on a large real project (SQLAlchemy
from the virtualenv, its line count measured); the score of the engine's findings merged with
Bandit's as ``sakimori probe`` merges them (how many were folded into the engine's, how many
added); and the time the patch gate takes to judge a right and a wrong patch on the gate fixture
(scratch copy, engine re-run, the fixture's tests). Writes benchmarks/results/probe.json.

Usage: .venv/bin/python benchmarks/bench_probe.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import DATA, ROOT, machine, print_targets, stats, table, target, write_result
from _sast_score import flagged_by_bandit, flagged_by_probe, load_bandit
from sakimori.probe import scoring
from sakimori.probe.external import run_external
from sakimori.probe.findings import ProbeReport
from sakimori.probe.gate import Gate, GateSettings
from sakimori.probe.scan import probe_tree

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tests.probe import gate_patches  # the patches the gate tests judge

GATE_FIXTURE = ROOT / "tests" / "probe" / "fixtures" / "gate"

BANDIT = ROOT / ".venv" / "bin" / "bandit"
FLAWGARDEN = DATA / "sast" / "flawgarden-mutated"
SECURITYEVAL = DATA / "sast" / "SecurityEval"


def run_bandit(root: Path) -> tuple[float, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bandit.json"
        started = time.perf_counter()
        subprocess.run(
            [str(BANDIT), "-r", str(root), "-f", "json", "-o", str(out), "-q"],
            check=False,
            capture_output=True,
        )
        elapsed = time.perf_counter() - started
        return elapsed, load_bandit(out)


def run_probe(root: Path) -> tuple[float, Any]:
    started = time.perf_counter()
    report = probe_tree(root)
    return time.perf_counter() - started, report


def scores(cases: list[scoring.Case], flagged: dict[str, set[int]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for mode, lenient in (("strict", False), ("lenient", True)):
        categories = scoring.score(cases, flagged, lenient=lenient)
        result[mode] = {
            "owasp_score": round(scoring.owasp_score(categories), 1),
            "categories": {
                f"CWE-{c.cwe}": {
                    "tp": c.tp, "fn": c.fn, "tn": c.tn, "fp": c.fp,
                    "tpr": round(c.tpr, 3), "fpr": round(c.fpr, 3), "score": round(c.score, 1),
                }
                for c in categories.values()
            },
        }  # fmt: skip
    return result


def merged_with_bandit(report: ProbeReport) -> tuple[ProbeReport, dict[str, int]]:
    """The engine's report with Bandit's findings merged in, and how the merge went."""
    merged = ProbeReport(root=report.root, findings=list(report.findings))
    run_external(FLAWGARDEN, merged, bandit=True)
    folded = sum(1 for f in merged.findings if "bandit" in f.also)
    added = sum(1 for f in merged.findings if f.tool == "bandit")
    return merged, {"folded_into_engine_findings": folded, "added": added}


def gate_times(runs: int) -> dict[str, Any]:
    """Seconds the gate takes to accept the right patch and to reject one that fixes nothing."""
    baseline = probe_tree(GATE_FIXTURE)
    (finding,) = [f for f in baseline.findings if f.rule_id == "PY-SQLI"]
    settings = GateSettings(test_command=(sys.executable, "selftest.py"), test_timeout=120)
    times: dict[str, list[float]] = {"accept_right_patch_s": [], "reject_wrong_patch_s": []}
    for _ in range(runs):
        gate = Gate(GATE_FIXTURE, baseline, probe_tree, settings)
        started = time.perf_counter()
        assert gate.check(gate_patches.RIGHT, finding).accepted
        times["accept_right_patch_s"].append(time.perf_counter() - started)
        started = time.perf_counter()
        assert not gate.check(gate_patches.STILL_VULNERABLE, finding).accepted
        times["reject_wrong_patch_s"].append(time.perf_counter() - started)
    return {name: stats(values) for name, values in times.items()}


def securityeval_expected() -> dict[str, int]:
    expected: dict[str, int] = {}
    base = SECURITYEVAL / "Testcases_Insecure_Code"
    for path in sorted(base.rglob("*.py")):
        folder = path.relative_to(base).parts[0]
        expected[path.relative_to(base).as_posix()] = int(folder.split("-")[1])
    return expected


def count_lines(root: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in root.rglob("*.py"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    info = machine()
    cases = scoring.load_truth(FLAWGARDEN / "truth.sarif")

    probe_times, bandit_times = [], []
    report: Any = None
    bandit_doc: dict[str, Any] = {}
    for _ in range(args.runs):
        elapsed, report = run_probe(FLAWGARDEN)
        probe_times.append(elapsed)
        elapsed, bandit_doc = run_bandit(FLAWGARDEN)
        bandit_times.append(elapsed)
    ours = scores(cases, flagged_by_probe(report))
    theirs = scores(cases, flagged_by_bandit(bandit_doc, FLAWGARDEN))
    merged_report, merge_counts = merged_with_bandit(report)
    merged = scores(cases, flagged_by_probe(merged_report))

    print("flawgarden-mutated: per category (strict | lenient), TP/FN/TN/FP and TPR-FPR x 100")
    rows = []
    for name, result in (("sakimori", ours), ("bandit", theirs), ("merged", merged)):
        for cwe, row in result["strict"]["categories"].items():
            lenient = result["lenient"]["categories"][cwe]
            rows.append(
                (
                    name,
                    cwe,
                    f"{row['tp']}/{row['fn']}/{row['tn']}/{row['fp']}",
                    f"{row['tpr']:.2f}",
                    f"{row['fpr']:.2f}",
                    row["score"],
                    lenient["score"],
                )
            )
        rows.append(
            (name, "OWASP score", "", "", "", result["strict"]["owasp_score"],
             result["lenient"]["owasp_score"])
        )  # fmt: skip
    print(table(("tool", "category", "TP/FN/TN/FP", "TPR", "FPR", "strict", "lenient"), rows))
    print(
        f"merged: {merge_counts['folded_into_engine_findings']} engine finding(s) also reported "
        f"by Bandit, {merge_counts['added']} Bandit-only finding(s) added"
    )

    expected = securityeval_expected()
    se_root = SECURITYEVAL / "Testcases_Insecure_Code"
    _, se_report = run_probe(se_root)
    _, se_bandit = run_bandit(se_root)
    se_ours, se_theirs = flagged_by_probe(se_report), flagged_by_bandit(se_bandit, se_root)
    recall = {
        "sakimori": {
            "any": round(scoring.recall(expected, se_ours, exact=False), 3),
            "exact_cwe": round(scoring.recall(expected, se_ours, exact=True), 3),
        },
        "bandit": {
            "any": round(scoring.recall(expected, se_theirs, exact=False), 3),
            "exact_cwe": round(scoring.recall(expected, se_theirs, exact=True), 3),
        },
        "samples": len(expected),
    }
    print()
    print(f"SecurityEval recall ({len(expected)} insecure samples)")
    print(
        table(
            ("tool", "any finding", "exact CWE"),
            [(t, recall[t]["any"], recall[t]["exact_cwe"]) for t in ("sakimori", "bandit")],
        )
    )

    gate = gate_times(args.runs)
    print()
    print(
        table(
            ("patch gate on the fixture (median s)", "value"),
            [(name, f"{value['median']:.2f}") for name, value in gate.items()],
        )
    )

    import sqlalchemy  # a large real project installed in the virtualenv

    big = Path(sqlalchemy.__file__).parent
    big_lines = count_lines(big)
    big_times = []
    big_report: Any = None
    for _ in range(max(1, args.runs - 1)):
        elapsed, big_report = run_probe(big)
        big_times.append(elapsed)
    print()
    print(
        table(
            ("timing (median s)", "value"),
            [
                ("sakimori on flawgarden", f"{statistics.median(probe_times):.2f}"),
                ("bandit on flawgarden", f"{statistics.median(bandit_times):.2f}"),
                (
                    f"sakimori on sqlalchemy ({big_lines} lines)",
                    f"{statistics.median(big_times):.2f}",
                ),
            ],
        )
    )
    targets = [
        target("OWASP score, strict", ours["strict"]["owasp_score"], "", 50, at_least=True),
        target(
            "engine time / Bandit time on flawgarden",
            statistics.median(probe_times) / statistics.median(bandit_times),
            "x",
            1.0,
        ),
        target(f"sqlalchemy ({big_lines} lines)", statistics.median(big_times), "s", 60),
    ]
    print()
    print_targets(targets)
    payload = {
        "flawgarden": {
            "sakimori": ours,
            "bandit": theirs,
            "merged_with_bandit": {**merged, "merge": merge_counts},
            "cases": len(cases),
        },
        "gate": gate,
        "timing": {
            "sakimori_flawgarden_s": stats(probe_times),
            "bandit_flawgarden_s": stats(bandit_times),
            "sakimori_large_project_s": stats(big_times),
            "large_project": {
                "name": "sqlalchemy",
                "lines": big_lines,
                "files": big_report.files,
                "skipped": len(big_report.skipped),
                "stopped_early": big_report.stopped_early,
            },
        },
        "securityeval_recall": recall,
        "bandit_version": subprocess.run(
            [str(BANDIT), "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0],
        "targets": targets,
    }
    path = write_result("probe", payload, info)
    print(f"\nwrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
