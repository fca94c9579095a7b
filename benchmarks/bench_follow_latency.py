"""Alert latency of ``sakimori watch --follow``: from a line written to its alert emitted.

A follower runs (in a thread of this process, as the command runs it: ``follow()`` with the
default poll interval) over a real file in a temporary directory; each run appends a few
benign lines, then one line with an SQL injection payload from a new address (which opens an
``http-payload`` alert at once), and measures the time from the ``write()`` + ``flush()`` of that
line (written at a random point of the poll cycle) to the ``opened`` alert reaching the emit
callback. Medians of ``--runs`` runs, with the
Sigma web rules on (``--no-sigma`` to leave them out). The issue's target: ≤ 1 s.

Run: ``.venv/bin/python benchmarks/bench_follow_latency.py [--runs 20] [--poll 0.1]``; writes
``benchmarks/results/follow_latency.json``.
"""

from __future__ import annotations

import argparse
import queue
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import DATA, machine, print_targets, stats, table, target, write_result
from sakimori.monitoring.detectors import Alert
from sakimori.monitoring.follow import OPENED, follow
from sakimori.monitoring.sigma import load_rule_paths
from sakimori.monitoring.watch import WatchOptions

SIGMA = DATA / "weblogs" / "sigma"


def line(client: str, second: int, path: str) -> str:
    return (
        f"{client} - - [10/Oct/2023:08:{second // 60 % 60:02d}:{second % 60:02d} +0000] "
        f'"GET {path} HTTP/1.1" 200 12 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"\n'
    )


def measure(runs: int, poll: float, options: WatchOptions) -> list[float]:
    rng = random.Random(7)
    latencies: list[float] = []
    arrivals: queue.Queue[tuple[float, Alert]] = queue.Queue()

    def emit(event: str, alert: Alert) -> None:
        if event == OPENED:
            arrivals.put((time.perf_counter(), alert))

    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "access.log"
        log.write_text(line("192.0.2.1", 0, "/"), encoding="utf-8")
        stop, ready = threading.Event(), threading.Event()
        thread = threading.Thread(
            target=follow,
            args=([log], options, emit, stop),
            kwargs={"poll": poll, "ready": ready},
            daemon=True,
        )
        thread.start()
        ready.wait(30)
        with log.open("a", encoding="utf-8") as handle:
            for run in range(runs):
                for k in range(5):
                    handle.write(line("192.0.2.1", run * 10 + k, f"/page/{k}"))
                handle.flush()
                time.sleep(poll * (1 + rng.random()))  # lands anywhere in the poll cycle
                client = f"203.0.113.{run + 1}"
                handle.write(line(client, run * 10 + 6, "/p?id=1%20UNION%20SELECT%20password"))
                handle.flush()
                written = time.perf_counter()
                while True:
                    arrived, alert = arrivals.get(timeout=30)
                    if alert.client == client:
                        latencies.append(arrived - written)
                        break
        stop.set()
        thread.join(30)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--poll", type=float, default=0.1)
    parser.add_argument("--no-sigma", action="store_true")
    args = parser.parse_args()
    info = machine()
    rules = (
        []
        if args.no_sigma
        else load_rule_paths([SIGMA / "rules", SIGMA / "rules-emerging-threats"]).rules
    )
    latencies = measure(max(1, args.runs), args.poll, WatchOptions(sigma_rules=rules))
    figures = stats([value * 1000 for value in latencies])
    print(
        table(
            ["alert latency (ms)", "median", "min", "max"],
            [
                (
                    f"follow, poll {args.poll} s, {len(rules)} Sigma rules",
                    f"{figures['median']:.1f}",
                    f"{figures['min']:.1f}",
                    f"{figures['max']:.1f}",
                )
            ],
        )
    )
    rows = [
        target(
            "watch --follow: line written -> alert emitted (median)",
            figures["median"] / 1000,
            "s",
            1.0,
        ),
        target(
            "watch --follow: line written -> alert emitted (worst of the runs)",
            figures["max"] / 1000,
            "s",
            1.0,
        ),
    ]
    print_targets(rows)
    write_result(
        "follow_latency",
        {
            "runs": len(latencies),
            "poll_seconds": args.poll,
            "sigma_rules": len(rules),
            "latency_ms": figures,
            "targets": rows,
        },
        info,
    )


if __name__ == "__main__":
    sys.exit(main())
