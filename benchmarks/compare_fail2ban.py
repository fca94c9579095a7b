"""Sakimori ``watch`` side by side with fail2ban and CrowdSec, in the same run, on the same logs.

Inputs: our labelled corpus (tests/monitoring/assets/corpus: real tools against nginx on
loopback, people browsing, a slow probe; see docs/monitoring-corpus.md), and, for throughput
only, a larger synthetic nginx combined log from ``bench_watch.build_log`` (CrowdSec hub replays
and synthetic browsing). Every system reads the same plain-text file.

- **Sakimori**: ``watch`` (read, detect format, parse, every detector) in this process, one core.
- **fail2ban**: ``fail2ban-regex`` (Debian package) with each filter of the package that reads
  an nginx access log — ``nginx-botsearch``, ``nginx-bad-request``, ``apache-badbots``,
  ``php-url-fopen`` — one process per filter (the filter stage only; no jail, no ban). A session
  counts as flagged when its matches reach the jail's ``maxretry`` within ``findtime``
  (``/etc/fail2ban/jail.conf``: what fail2ban would have banned).
- **CrowdSec**: ``crowdsec`` (Debian package 1.4.6, its offline hub: the nginx collection and
  its 35 scenarios) in replay mode — ``crowdsec -c <private config> -dsn file://<log> -type
  nginx -no-capi`` — with a private copy of the configuration and database, no Central API;
  the alerts are read from the replay's SQLite database. Throughput includes its start-up
  (about 2 s of the total), measured on the corpus only (it reads a few hundred lines/s).

Lines/s are medians of ``--runs`` runs. Detection is per labelled session: which of the three
flagged its client address within its time window (people: at any time).

Run: ``.venv/bin/python benchmarks/compare_fail2ban.py [--runs 3] [--synthetic-lines 200000]
[--no-crowdsec]``; writes ``benchmarks/results/compare_fail2ban.json``.
"""

from __future__ import annotations

import argparse
import configparser
import gzip
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import ROOT, SAKIMORI, machine, stats, table, write_result
from sakimori.monitoring.watch import WatchOptions, watch

CORPUS = ROOT / "tests" / "monitoring" / "assets" / "corpus"
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
FAIL2BAN_REGEX = "/usr/bin/fail2ban-regex"
FAIL2BAN_FILTERS = ("nginx-botsearch", "nginx-bad-request", "apache-badbots", "php-url-fopen")
CROWDSEC = "/usr/bin/crowdsec"
CROWDSEC_CONFIG = Path("/etc/crowdsec")
CROWDSEC_DATA = Path("/var/lib/crowdsec/data")
#: A port on loopback for the replay's in-process Local API.
CROWDSEC_PORT = 18990


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--synthetic-lines", type=int, default=200_000)
    parser.add_argument("--no-crowdsec", action="store_true")
    args = parser.parse_args()
    info = machine()
    labels = json.loads((CORPUS / "labels.json").read_text(encoding="utf-8"))
    sessions = labels["sessions"]
    runs = max(1, args.runs)
    with tempfile.TemporaryDirectory(prefix="sakimori-compare-") as temp:
        work = Path(temp)
        corpus = work / "corpus.log"
        corpus.write_bytes(gzip.decompress((CORPUS / "access.log.gz").read_bytes()))
        logs = {"corpus": corpus}
        if args.synthetic_lines:
            from bench_watch import build_log

            synthetic = work / "synthetic.log"
            lines = build_log(args.synthetic_lines, clients=max(1, args.synthetic_lines // 20))
            synthetic.write_text("\n".join(lines) + "\n", encoding="utf-8")
            logs["synthetic"] = synthetic

        one = work / "one.log"  # one line: the fixed start-up cost of a process
        one.write_bytes(corpus.read_bytes().split(b"\n", 1)[0] + b"\n")
        throughput, flagged, crowdsec_note = measure(args, runs, logs, one, work)

    systems = ["sakimori", "fail2ban", *(["crowdsec"] if "crowdsec" in flagged else [])]
    rows = detection_rows(sessions, flagged, systems)
    print_tables(throughput, rows, systems)
    if crowdsec_note:
        print(f"\nCrowdSec: {crowdsec_note}")
    write_result(
        "compare_fail2ban",
        {
            "corpus": {"lines": labels["lines"], "generated": labels["generated"]},
            "synthetic_lines": args.synthetic_lines,
            "throughput_lines_per_second": throughput,
            "detection": rows,
            "detected_tools": {
                system: sum(1 for r in rows if r["kind"] != "human" and r[system])
                for system in systems
            },
            "false_positives_people": {
                system: sum(1 for r in rows if r["kind"] == "human" and r[system])
                for system in systems
            },
            "crowdsec": crowdsec_note or "replay mode, offline (see the module docstring)",
            "versions": {
                "fail2ban": package_version("fail2ban"),
                "crowdsec": package_version("crowdsec"),
            },
        },
        info,
    )


def measure(
    args: argparse.Namespace, runs: int, logs: dict[str, Path], one: Path, work: Path
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, set[str]]], str]:
    """Throughput per log and system, and what each system flagged on the corpus."""
    throughput: dict[str, dict[str, Any]] = defaultdict(dict)
    flagged: dict[str, dict[str, set[str]]] = {}  # system -> client -> what flagged it
    startup = {
        "sakimori watch (CLI process)": median_seconds(runs, lambda: sakimori_cli(one)),
        **{
            f"fail2ban-regex {f}": median_seconds(runs, lambda f=f: fail2ban(one, f))
            for f in FAIL2BAN_FILTERS
        },
    }
    for name, path in logs.items():
        count = sum(1 for _ in path.open("rb"))
        seconds, alerts = time_runs(runs, lambda p=path: sakimori(p))
        throughput[name]["sakimori watch (in process)"] = figures(count, seconds, 0.0)
        if name == "corpus":
            flagged["sakimori"] = alerts
        system = "sakimori watch (CLI process)"
        seconds, _ = time_runs(runs, lambda p=path: sakimori_cli(p))
        throughput[name][system] = figures(count, seconds, startup[system])
        f2b: dict[str, set[str]] = defaultdict(set)
        for filter_name in FAIL2BAN_FILTERS:
            system = f"fail2ban-regex {filter_name}"
            seconds, hits = time_runs(runs, lambda p=path, f=filter_name: fail2ban(p, f))
            throughput[name][system] = figures(count, seconds, startup[system])
            for client, found in hits.items():
                f2b[client] |= found
        if name == "corpus":
            flagged["fail2ban"] = f2b
    note = ""
    if args.no_crowdsec:
        note = "not run (--no-crowdsec)"
    elif not Path(CROWDSEC).exists():
        note = "not installed (apt-get install crowdsec)"
    else:
        corpus = logs["corpus"]
        count = sum(1 for _ in corpus.open("rb"))
        fixed = median_seconds(1, lambda: crowdsec(one, work))
        seconds, alerts = time_runs(runs, lambda: crowdsec(corpus, work))
        throughput["corpus"]["crowdsec replay"] = figures(count, seconds, fixed)
        flagged["crowdsec"] = alerts
    return throughput, flagged, note


def time_runs(runs: int, run: Any) -> tuple[list[float], Any]:
    """Wall-clock seconds of each of ``runs`` calls, and the last call's result."""
    samples = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = run()
        samples.append(time.perf_counter() - started)
    return samples, result


def median_seconds(runs: int, run: Any) -> float:
    return float(stats(time_runs(runs, run)[0])["median"])


def figures(lines: int, seconds: list[float], startup: float) -> dict[str, Any]:
    """Lines/s as measured, and without the process's fixed start-up (``startup`` seconds,
    measured on a one-line log) — only when the run took at least twice the start-up, since
    below that the difference is mostly noise."""
    median = statistics.median(seconds)
    return {
        **stats([lines / s for s in seconds]),
        "startup_seconds": startup,
        "excluding_startup": lines / (median - startup) if median >= 2 * startup else None,
    }


def sakimori_cli(path: Path) -> None:
    """``sakimori watch --format json`` as a separate process (exit 1: alerts found)."""
    subprocess.run(
        [str(SAKIMORI), "watch", "--format", "json", str(path)],
        capture_output=True,
        check=False,
    )


def sakimori(path: Path) -> dict[str, set[str]]:
    """Client -> ``detector@first/last`` of every alert."""
    out: dict[str, set[str]] = defaultdict(set)
    for alert in watch([path], WatchOptions()).alerts:
        out[alert.client].add(
            f"{alert.detector}@{alert.first_seen.isoformat()}/{alert.last_seen.isoformat()}"
        )
    return out


def jail(filter_name: str) -> tuple[int, float]:
    """(maxretry, findtime in seconds) of the jail of that name in Debian's jail.conf."""
    config = configparser.RawConfigParser(strict=False, inline_comment_prefixes=("#", ";"))
    config.read("/etc/fail2ban/jail.conf")
    section = config[filter_name] if config.has_section(filter_name) else config["DEFAULT"]
    return int(section.get("maxretry", "5")), _duration(section.get("findtime", "10m"))


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip()
    if text[-1:] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def fail2ban(path: Path, filter_name: str) -> dict[str, set[str]]:
    """Client -> ``filter@first/last`` when the filter's matches would have banned it."""
    result = subprocess.run(
        [FAIL2BAN_REGEX, "--out", "row", str(path), f"/etc/fail2ban/filter.d/{filter_name}.conf"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": SYSTEM_PATH, "LANG": "C.UTF-8"},
    )
    times: dict[str, list[float]] = defaultdict(list)
    for line in result.stdout.splitlines():
        if line.startswith("['"):
            client, stamp = line[2:].split("',", 1)
            times[client].append(float(stamp.split(",", 1)[0]))
    maxretry, findtime = jail(filter_name)
    out: dict[str, set[str]] = defaultdict(set)
    for client, stamps in times.items():
        stamps.sort()
        for first in range(len(stamps) - maxretry + 1):
            last = first + maxretry - 1
            if stamps[last] - stamps[first] <= findtime:
                out[client].add(f"{filter_name}@{_iso(stamps[first])}/{_iso(stamps[-1])}")
                break
    return out


def crowdsec(log: Path, work: Path) -> dict[str, set[str]]:
    """Replay ``log`` through CrowdSec offline; client -> ``scenario@first/last``."""
    import yaml

    home = work / "crowdsec"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(CROWDSEC_DATA, home / "data")  # a fresh database with the local machine
    # Debian ships the path-traversal list as path_traversal.txt; the scenario asks for its
    # hub name (``dest_file``), so without this copy http-path-traversal-probing never matches.
    traversal = home / "data" / "http_path_traversal.txt"
    if not traversal.exists() and (home / "data" / "path_traversal.txt").exists():
        shutil.copyfile(home / "data" / "path_traversal.txt", traversal)
    config = yaml.safe_load((CROWDSEC_CONFIG / "config.yaml").read_text(encoding="utf-8"))
    config["common"].update(daemonize=False, log_media="file", log_dir=str(home))
    config["common"]["working_dir"] = str(home)
    config["config_paths"]["data_dir"] = str(home / "data") + "/"
    config["crowdsec_service"]["acquisition_path"] = str(home / "acquis.yaml")
    config["crowdsec_service"].pop("acquisition_dir", None)
    config["db_config"]["db_path"] = str(home / "data" / "crowdsec.db")
    config["api"]["client"]["credentials_path"] = str(home / "lapi.yaml")
    config["api"]["server"]["listen_uri"] = f"127.0.0.1:{CROWDSEC_PORT}"
    config["api"]["server"].pop("online_client", None)  # no Central API
    config["prometheus"]["enabled"] = False
    credentials = yaml.safe_load(
        (CROWDSEC_CONFIG / "local_api_credentials.yaml").read_text(encoding="utf-8")
    )
    credentials["url"] = f"http://127.0.0.1:{CROWDSEC_PORT}"
    (home / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (home / "lapi.yaml").write_text(yaml.safe_dump(credentials), encoding="utf-8")
    (home / "acquis.yaml").write_text("", encoding="utf-8")
    subprocess.run(
        [
            *(CROWDSEC, "-c", str(home / "config.yaml")),
            *("-dsn", f"file://{log}", "-type", "nginx", "-no-capi"),
        ],
        capture_output=True,
        check=True,
        env={"PATH": SYSTEM_PATH},
        timeout=1800,
    )
    out: dict[str, set[str]] = defaultdict(set)
    with sqlite3.connect(home / "data" / "crowdsec.db") as db:
        for scenario, client, started, stopped in db.execute(
            "SELECT scenario, source_ip, started_at, stopped_at FROM alerts"
        ):
            first = datetime.fromisoformat(started).astimezone(UTC).isoformat()
            last = datetime.fromisoformat(stopped).astimezone(UTC).isoformat()
            out[client].add(f"{scenario.rsplit('/', 1)[-1]}@{first}/{last}")
    return out


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat()


def detection_rows(
    sessions: list[dict[str, Any]],
    flagged: dict[str, dict[str, set[str]]],
    systems: list[str],
) -> list[dict[str, Any]]:
    rows = []
    for session in sessions:
        start = datetime.fromisoformat(session["start"])
        end = datetime.fromisoformat(session["end"])
        row: dict[str, Any] = {
            "session": session["tool"],
            "kind": session["kind"],
            "client": session["client"],
            "requests": session["requests_logged"],
        }
        for system in systems:
            names = set()
            for item in flagged[system].get(session["client"], set()):
                name, span = item.split("@", 1)
                first, last = (datetime.fromisoformat(t) for t in span.split("/"))
                # People: any alert at all is a false positive; tools: within the window.
                if session["kind"] == "human" or (first <= end and last >= start):
                    names.add(name)
            row[system] = sorted(names)
        rows.append(row)
    return rows


def print_tables(
    throughput: dict[str, dict[str, Any]], rows: list[dict[str, Any]], systems: list[str]
) -> None:
    print(
        table(
            ["log", "system", "median lines/s", "min", "max", "start-up s", "without start-up"],
            [
                (
                    log,
                    system,
                    f"{f['median']:,.0f}",
                    f"{f['min']:,.0f}",
                    f"{f['max']:,.0f}",
                    f"{f['startup_seconds']:.2f}",
                    "n/a" if f["excluding_startup"] is None else f"{f['excluding_startup']:,.0f}",
                )
                for log, by_system in throughput.items()
                for system, f in by_system.items()
            ],
        )
    )
    print()
    print(
        table(
            ["session", "requests", *systems],
            [
                (
                    f"{r['session']} ({r['client']})",
                    r["requests"],
                    *(_cell(r, system) for system in systems),
                )
                for r in rows
            ],
        )
    )
    for system in systems:
        names = sorted({n for r in rows for n in r[system]})
        print(f"\n{system}: {', '.join(names)}")


def _cell(row: dict[str, Any], system: str) -> str:
    found = row[system]
    if row["kind"] == "human":
        return "FALSE ALARM" if found else "clean"
    return f"yes ({len(found)})" if found else "MISSED"


def package_version(package: str) -> str:
    result = subprocess.run(
        ["/usr/bin/dpkg-query", "-W", "-f", "${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "not installed"


if __name__ == "__main__":
    sys.exit(main())
