"""Throughput of ``sakimori watch`` on nginx combined logs, and memory with many clients.

The log is built by replaying the nginx/Apache combined-format logs of the CrowdSec hub tests
(../shared/data/weblogs/crowdsec-hub-tests) over and over with shifted timestamps and varied
client addresses, mixed with synthetic human browsing (pages with their assets) so the traffic is
not all attacks. Measured on one core, in this process, median of ``--runs`` runs:

- ``watch``: parse + every detector (``DetectorSet``), the figure with the 100,000 lines/s target;
- ``watch + sigma``: the same with the ``sigma`` detector running the Sigma web rules of
  ../shared/data/weblogs/sigma (every rule with log source ``webserver``), the figure the issue
  sets the 100,000 lines/s target for; its ratio to ``watch`` is what Sigma costs;
- ``sigma only``: the Sigma engine alone over the parsed records (records parsed beforehand);
- ``parse only``: the combined parser alone (a baseline measured in the same run);
- ``one regex``: a naive per-line ``re.search`` of one regex over the raw lines (the shape of
  fail2ban's filter stage, which SOURCES.md measured at about 80,000 lines/s);
- peak RSS of a run over ``--clients`` distinct client addresses (target ≤ 1 GiB), in a fresh
  interpreter so earlier runs do not count.

Run: ``.venv/bin/python benchmarks/bench_watch.py [--lines 500000] [--runs 3]
[--clients 1000000]``; writes ``benchmarks/results/watch.json``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import DATA, PYTHON, machine, print_targets, stats, table, target, write_result
from sakimori.monitoring.detectors import DetectorSet
from sakimori.monitoring.parsers.clf import CombinedParser
from sakimori.monitoring.record import Record
from sakimori.monitoring.sigma import RuleSet, SigmaDetector, load_rule_paths

HUB = DATA / "weblogs" / "crowdsec-hub-tests" / "tests"
_CLF = re.compile(r"^(\S+) (\S+ \S+ )\[([^\]]+)\] (.*)$")
_FAIL2BAN_LIKE = re.compile(
    r'^(?P<host>\S+) \S+ \S+ \[[^\]]+\] "[A-Z]+ /(?:\.env|\.git|wp-login\.php|phpmyadmin)[^"]*" '
    r"(?:404|403|401)"
)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def seed_lines() -> list[tuple[str, str, str]]:
    """(client, rest-before-time, rest-after-time) of every combined line in the hub logs."""
    parser = CombinedParser()
    seeds = []
    for log in sorted(HUB.glob("*/*.log")):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            match = _CLF.match(line)
            if match and isinstance(parser.parse(line, 1), Record) and line[0].isdigit():
                client, middle, _stamp, rest = match.groups()
                seeds.append((client, middle, rest))
    return seeds


def build_log(lines: int, clients: int) -> list[str]:
    """``lines`` combined lines, one second of log time per 50 lines, over ``clients`` addresses
    (attack replays) plus human sessions, in time order; the same lines in every process (the
    address spreading uses CRC-32, not the per-process randomised ``hash``), so the regression
    fixture of tests/monitoring/assets can be built from it."""
    seeds = seed_lines()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    human_pages = ("/", "/articles/1", "/articles/2", "/shop?page=2", "/about")
    human_assets = ("/css/site.css", "/js/app.js", "/img/logo.png", "/fonts/a.woff2")
    for n in range(lines):
        stamp = (start + timedelta(seconds=n // 50)).strftime("%d/%b/%Y:%H:%M:%S +0000")
        if n % 2:  # a person: pages with their assets
            client = f"192.0.{(n // 200) % 256}.{(n // 20) % 256}"
            k = n % 10
            path = human_pages[(n // 10) % 5] if k == 1 else human_assets[k % 4]
            request = f'"GET {path} HTTP/1.1" 200 1234 "https://e.org/" "{BROWSER}"'
            out.append(f"{client} - - [{stamp}] {request}")
        else:
            seed_client, middle, rest = seeds[(n // 2) % len(seeds)]
            spread = zlib.crc32(seed_client.encode()) % 1000
            index = (n // 2 // len(seeds) * 7919 + spread) % clients
            client = f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"
            out.append(f"{client} {middle}[{stamp}] {rest}")
    return out


SIGMA = DATA / "weblogs" / "sigma"


def sigma_rules() -> list[object]:
    return list(load_rule_paths([SIGMA / "rules", SIGMA / "rules-emerging-threats"]).rules)


def run_watch(lines: list[str], rules: list[object] | None = None) -> tuple[float, int]:
    extra = (SigmaDetector(RuleSet(rules)),) if rules else ()  # type: ignore[arg-type]
    detectors = DetectorSet(extra=extra)
    parse = CombinedParser().parse
    feed = detectors.feed
    started = time.perf_counter()
    for number, line in enumerate(lines, 1):
        record = parse(line, number)
        if type(record) is Record:
            feed(record)
    alerts = detectors.flush()
    return time.perf_counter() - started, len(alerts)


def run_sigma(records: list[Record], rules: list[object]) -> tuple[float, int]:
    match = RuleSet(rules).match  # type: ignore[arg-type]
    started = time.perf_counter()
    hits = sum(1 for record in records if match(record))
    return time.perf_counter() - started, hits


def run_parse(lines: list[str]) -> tuple[float, int]:
    parse = CombinedParser().parse
    started = time.perf_counter()
    count = 0
    for number, line in enumerate(lines, 1):
        if type(parse(line, number)) is Record:
            count += 1
    return time.perf_counter() - started, count


def run_regex(lines: list[str]) -> tuple[float, int]:
    search = _FAIL2BAN_LIKE.search
    started = time.perf_counter()
    hits = sum(1 for line in lines if search(line))
    return time.perf_counter() - started, hits


def memory_child(clients: int) -> None:
    """In a fresh interpreter: feed one request from each of ``clients`` addresses (a probe
    path answered 404 from every fourth), and print the peak RSS in bytes."""
    import resource

    detectors = DetectorSet()
    parse = CombinedParser().parse
    for n in range(clients):
        client = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        path, status = (f"/.env{n % 7}", 404) if n % 4 == 0 else (f"/p/{n % 1000}", 200)
        second = n // 1000
        line = (
            f"{client} - - [01/Jan/2024:{second // 3600 % 24:02d}:{second // 60 % 60:02d}:"
            f'{second % 60:02d} +0000] "GET {path} HTTP/1.1" {status} 10 "-" "{BROWSER}"'
        )
        record = parse(line, n)
        if type(record) is Record:
            detectors.feed(record)
    detectors.flush()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    info = machine()
    # First, while this process is small: Linux counts the parent's pages in the peak RSS
    # (ru_maxrss) of a child started from it.
    child = subprocess.run(
        [str(PYTHON), str(Path(__file__)), "--memory-child", str(args.clients)],
        capture_output=True,
        text=True,
        check=True,
    )
    rss = int(child.stdout.strip().splitlines()[-1])
    lines = build_log(args.lines, clients=max(1, args.lines // 20))
    rules = sigma_rules()
    parse = CombinedParser().parse
    records = [r for n, line in enumerate(lines, 1) if type(r := parse(line, n)) is Record]
    samples: dict[str, list[float]] = {
        "watch": [],
        "watch + sigma": [],
        "sigma only": [],
        "parse only": [],
        "one regex": [],
    }
    alerts = sigma_alerts = sigma_hits = 0
    for _ in range(max(1, args.runs)):
        seconds, alerts = run_watch(lines)
        samples["watch"].append(len(lines) / seconds)
        seconds, sigma_alerts = run_watch(lines, rules)
        samples["watch + sigma"].append(len(lines) / seconds)
        seconds, sigma_hits = run_sigma(records, rules)
        samples["sigma only"].append(len(records) / seconds)
        seconds, _ = run_parse(lines)
        samples["parse only"].append(len(lines) / seconds)
        seconds, _ = run_regex(lines)
        samples["one regex"].append(len(lines) / seconds)
    figures = {name: stats(values) for name, values in samples.items()}
    print(
        table(
            ["stage", "median lines/s", "min", "max"],
            [
                (name, f"{f['median']:,.0f}", f"{f['min']:,.0f}", f"{f['max']:,.0f}")
                for name, f in figures.items()
            ],
        )
    )
    print(
        f"\n{len(lines):,} lines, {alerts:,} alerts ({sigma_alerts:,} with Sigma: {len(rules)}"
        f" rules, {sigma_hits:,} matching requests); peak RSS with {args.clients:,} clients: "
        f"{rss / 2**20:,.0f} MiB"
    )
    rows = [
        target(
            "watch: nginx combined, all detectors, one core",
            figures["watch"]["median"],
            "lines/s",
            100_000,
            at_least=True,
        ),
        target(
            f"watch: peak RSS with {args.clients:,} distinct clients",
            rss / 2**20,
            "MiB",
            1024,
        ),
        target(
            f"watch: nginx combined, all detectors and {len(rules)} Sigma web rules, one core",
            figures["watch + sigma"]["median"],
            "lines/s",
            100_000,
            at_least=True,
        ),
    ]
    rows[0]["target"], rows[1]["target"], rows[2]["target"] = 100_000, 1024, 100_000
    print_targets(rows)
    write_result(
        "watch",
        {
            "lines": len(lines),
            "alerts": alerts,
            "clients_for_memory": args.clients,
            "peak_rss_bytes": rss,
            "throughput_lines_per_second": figures,
            "ratio_watch_to_parse_only": figures["watch"]["median"]
            / figures["parse only"]["median"],
            "ratio_watch_to_one_regex": figures["watch"]["median"] / figures["one regex"]["median"],
            "sigma_rules": len(rules),
            "sigma_alerts": sigma_alerts,
            "sigma_matching_requests": sigma_hits,
            "ratio_watch_sigma_to_watch": figures["watch + sigma"]["median"]
            / figures["watch"]["median"],
            "targets": rows,
        },
        info,
    )


if __name__ == "__main__":
    sys.exit(main())
