"""The alert set our detectors produce on real and benchmark logs, as comparable summaries.

A summary is one row per alert — detector, client, count, first and last seen (ISO 8601) —
never the raw log lines. Two inputs, both read from ``../shared/data``:

- every CrowdSec hub test case (``weblogs/crowdsec-hub-tests/tests``), each case's logs run
  through ``watch`` as the hub scenario test runs them;
- the first ``BENCH_LINES`` lines of the benchmark's synthetic log (``benchmarks/bench_watch.py``
  builds it deterministically from the same hub logs), parsed and fed as the benchmark does.

``tests/monitoring/assets/alert_summary.json`` holds the summaries recorded before the detectors
were restructured for speed; ``test_alert_regression.py`` asserts the current code reproduces
them. Regenerate (only for an intended behaviour change, and say why in the change) with
``.venv/bin/python -m tests.monitoring.alert_summary``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from sakimori.errors import UnsupportedFormat
from sakimori.monitoring.detectors import Alert, DetectorSet
from sakimori.monitoring.parsers.clf import CombinedParser
from sakimori.monitoring.record import Record
from sakimori.monitoring.watch import WatchOptions, watch

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "assets" / "alert_summary.json"
BENCH_LINES = 50_000


def rows(alerts: Iterable[Alert]) -> list[list[Any]]:
    return sorted(
        [a.detector, a.client, a.count, a.first_seen.isoformat(), a.last_seen.isoformat()]
        for a in alerts
    )


def hub_summary(tests: Path) -> dict[str, list[list[Any]]]:
    summary = {}
    for directory in sorted(p for p in tests.iterdir() if p.is_dir()):
        logs = sorted(directory.glob("*.log"))
        if not logs:
            continue
        try:
            alerts = watch(logs, WatchOptions(year=2021)).alerts
        except UnsupportedFormat:
            continue
        summary[directory.name] = rows(alerts)
    return summary


def bench_module() -> ModuleType:
    """``benchmarks/bench_watch.py`` as a module (it imports its sibling ``_common``)."""
    directory = ROOT / "benchmarks"
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    spec = importlib.util.spec_from_file_location("bench_watch", directory / "bench_watch.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_summary(lines: int = BENCH_LINES) -> list[list[Any]]:
    log = bench_module().build_log(lines, clients=max(1, lines // 20))
    detectors = DetectorSet()
    parse = CombinedParser().parse
    for number, line in enumerate(log, 1):
        record = parse(line, number)
        if type(record) is Record:
            detectors.feed(record)
    return rows(detectors.flush())


def summary(tests: Path) -> dict[str, Any]:
    return {"hub": hub_summary(tests), "bench": bench_summary()}


def dumps(data: dict[str, Any]) -> str:
    """JSON with one alert row per line (diffs stay readable)."""

    def block(items: list[list[Any]], indent: str) -> str:
        inner = ",\n".join(indent + "  " + json.dumps(row) for row in items)
        return f"[\n{inner}\n{indent}]" if items else "[]"

    hub = ",\n".join(f"  {json.dumps(k)}: {block(v, '  ')}" for k, v in data["hub"].items())
    return f'{{\n "hub": {{\n{hub}\n }},\n "bench": {block(data["bench"], " ")}\n}}\n'


if __name__ == "__main__":
    from tests.conftest import DATA

    FIXTURE.write_text(
        dumps(summary(DATA / "weblogs" / "crowdsec-hub-tests" / "tests")),
        encoding="utf-8",
    )
    print(f"wrote {FIXTURE}")
