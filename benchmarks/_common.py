"""Helpers shared by the benchmark scripts: machine facts, statistics, tables, result files.

Every script prints a table and writes ``benchmarks/results/<name>.json`` holding the machine
(CPU count, Python version, load average before and after), the date, the raw samples, the
medians, and a ``targets`` list of ``{"figure", "value", "unit", "target", "met"}`` rows that
``run_all.py`` gathers into the summary. Figures are medians of several runs; nothing here
asserts on time.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import platform
import resource
import secrets
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATA = Path(os.environ.get("SAKIMORI_TEST_DATA", ROOT.parent / "shared" / "data"))
PYTHON = ROOT / ".venv" / "bin" / "python"
SAKIMORI = ROOT / ".venv" / "bin" / "sakimori"
PG_ADMIN_URL = os.environ.get(
    "SAKIMORI_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)

if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))


def load_advisories() -> list[Any]:
    """Every OSV record in ../shared/data/osv, parsed by sakimori (a list of ``Advisory``)."""
    from sakimori.formats import osv

    advisories: list[Any] = []
    for path in sorted((DATA / "osv").rglob("*")):
        if path.is_file() and path.suffix in {".json", ".yaml", ".yml"}:
            advisories.extend(osv.parse(path.read_bytes()))
    return advisories


def inventory_package_versions() -> tuple[set[Any], int, int]:
    """Every unique package-version of the SBOMs and lockfiles in ../shared/data that
    ``parse_inventory`` accepts, with the number of files used and refused."""
    from sakimori.errors import SakimoriError
    from sakimori.formats.detect import parse_inventory
    from sakimori.matching.matcher import package_version_of

    found: set[Any] = set()
    used = refused = 0
    for root in (DATA / "sbom", DATA / "lockfiles"):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            try:
                inventory = parse_inventory(path.read_bytes())
            except SakimoriError:
                refused += 1
                continue
            used += 1
            for component in inventory.components:
                package = package_version_of(component)
                if not isinstance(package, str):
                    found.add(package)
    return found, used, refused


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def source_state() -> dict[str, Any]:
    """The commit measured and the files of ``src/`` changed on top of it (read-only git)."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.rstrip()

    import hashlib

    changed = git("status", "--porcelain", "--", "src")
    diff = git("diff", "HEAD", "--", "src")
    return {
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "src_uncommitted": [line[3:] for line in changed.splitlines()],
        "src_diff_sha256": hashlib.sha256(diff.encode()).hexdigest()[:16] if diff else None,
    }


def machine() -> dict[str, Any]:
    """Facts about the machine and the moment, for the result file."""
    return {
        "source": source_state(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_start": list(os.getloadavg()),
    }


def stats(samples: Sequence[float]) -> dict[str, Any]:
    """Median, min, max and the raw samples."""
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "runs": len(samples),
        "samples": list(samples),
    }


def target(figure: str, value: float, unit: str, limit: float, *, at_least: bool = False) -> dict:
    """A row of the summary: ``value`` against ``limit`` (at most, or ``at_least``)."""
    met = value >= limit if at_least else value <= limit
    return {
        "figure": figure,
        "value": value,
        "unit": unit,
        "target": f"{'≥' if at_least else '≤'} {fmt(limit)} {unit}".strip(),
        "met": met,
    }


def fmt(value: float) -> str:
    """Numbers as a person reads them: 1,234,567 / 12.3 / 0.0123."""
    if value >= 10_000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"
    return f"{value:.3g}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table; columns after the first are right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [row[0].ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells[1:]]
    return "\n".join(out)


def write_result(name: str, payload: dict[str, Any], info: dict[str, Any]) -> Path:
    """Write ``results/<name>.json`` with the machine facts, and return its path."""
    info["load_average_end"] = list(os.getloadavg())
    info["source_end"] = source_state()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {"benchmark": name, "machine": info, **payload}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def print_targets(rows: Sequence[dict[str, Any]]) -> None:
    print(
        table(
            ["figure", "value", "target", "met"],
            [(r["figure"], f"{fmt(r['value'])} {r['unit']}", r["target"], _met(r)) for r in rows],
        )
    )


def _met(row: dict[str, Any]) -> str:
    return "yes" if row["met"] else "NO"


def load_note(info: dict[str, Any]) -> str | None:
    """A warning when other processes were keeping the CPUs busy during the run."""
    busy = max(info["load_average_start"][0], os.getloadavg()[0])
    cpus = info.get("nproc") or info.get("cpu_count") or 1
    if busy > 0.75 * cpus:
        return (
            f"note: load average reached {busy:.1f} on {cpus} CPUs while this ran; other "
            "processes shared the machine, so times may be inflated (medians damp it)."
        )
    return None


@contextlib.contextmanager
def postgres_database(prefix: str = "sakimori_bench") -> Iterator[str]:
    """A new, uniquely named PostgreSQL database for the duration; dropped afterwards."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def platform_app() -> Any:
    """The uvicorn factory the load benchmarks start (``--factory _common:platform_app``, with
    this folder on ``PYTHONPATH``): the app ``sakimori serve`` runs, configured from the
    environment."""
    from sakimori.api import create_app
    from sakimori.config import Settings

    return create_app(Settings.load(), serving=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def platform_server(url: str, home: Path, workers: int = 1) -> Iterator[str]:
    """The platform (:func:`platform_app`) under uvicorn with ``workers`` processes on a free
    port of 127.0.0.1, on database ``url`` and home ``home``; its base URL once it answers
    ``/healthz``. Stopped afterwards."""
    import subprocess

    import httpx

    port = free_port()
    env = {
        **os.environ,
        "SAKIMORI_HOME": str(home),
        "SAKIMORI_DATABASE_URL": url,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    process = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "--factory", "_common:platform_app",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--no-access-log", "--log-level", "warning", "--no-server-header",
        ],
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the server did not come up")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


class GcTimer:
    """Seconds spent in the cyclic garbage collector while it is installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started

    def close(self) -> None:
        gc.callbacks.remove(self._callback)


def timed(function: Any, *args: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = function(*args)
    return time.perf_counter() - started, value


class Stopwatch:
    """``with Stopwatch() as w: ...; w.seconds``"""

    seconds: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self._start
