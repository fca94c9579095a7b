"""Benchmark: the real server under open-loop load at national scale (issue 4's evidence).

Into a fresh, uniquely named PostgreSQL database (dropped afterwards):

* **intel** — the real data in ../shared/data (every OSV record, KEV, EPSS, CVE records, the
  SSVC decision tables), as ``bench_recompute.py`` loads it;
* **portfolio** — ``--organisations`` organisations (0–2 sectors each) owning ``--assets``
  assets, and ``--findings`` findings written with ``COPY`` (``bench_recompute.portfolio``:
  real vulnerability ids, popular ones on many assets, about one in ten closed), then assessed
  once (``run_assessment``: every finding gets its decision and deadline), then one
  ``metrics.refresh`` (the pre-aggregated dashboard figures; its time is reported: it bounds
  how fresh the dashboard is);
* an analyst of the coordination office (API token, and a browser session signed in through
  the sign-in form) and a member user of one organisation (API token), made as the tests make
  them (``identity.create_user`` / ``create_token``).

Then the real server — uvicorn on the application factory (``_common.platform_app``, the app
``sakimori serve`` runs) with ``--server-workers`` processes, on 127.0.0.1 — and one ``sakimori
worker`` (``SAKIMORI_JOBS=postgres``, running the refreshes uploads ask for) are started, and
**Locust** (from PyPI, pinned in ``pyproject.toml``'s ``bench`` extra) sends load:

* ``findings list, coordinator`` — ``GET /v1/findings`` filtered (one organisation; a state;
  a vulnerability id; open only) and paged (``limit=50``, an offset of 0–150);
* ``findings list, member`` — ``GET /v1/findings`` of the member's own organisation, paged;
* ``dashboard (web)`` — ``GET /ui/dashboard`` as the analyst (the national picture);
* ``dashboard figures, member`` — ``GET /v1/metrics`` as the member (its own figures).

**Open loop.** Locust is closed-loop by design: each simulated user sends a request, waits for
the answer, then waits. Here each user keeps a schedule of its own: it *starts* a request every
``P`` seconds from a random phase within ``P``, whatever the answer took (the wait shrinks by
the response time), so with ``U`` users the offered rate is ``U / P``, spread evenly —
independent of the server's latency as long as every answer takes less than ``P``. (Locust's
own ``constant_pacing`` was used before 2026-11-30: it measures each user's first wait from a
shared origin, so after the first request every user started on the same instant — bursts of
all ``U`` users every ``P`` seconds, and latencies of the bursts' queue, not of the rate; the
figures measured with it are in the README's history.) Here ``P`` is
``--pacing`` (2 s: eight times the 250 ms p99 budget), so a server that slows down still
receives the full rate until its answers take two seconds — far past the point where the p99
budget is already broken and the step is reported as failed; a step whose achieved rate falls
below 95 % of the offered one is also reported as failed (the loop has closed). That is as
open as an open-loop generator for the figures asked (p50/p99 at a fixed rate, and the highest
rate within budget); coordinated omission could only hide latency beyond two seconds.

Measured: at ``--rate`` (200 req/s in total, the four endpoints in equal shares) for
``--seconds`` after all users have started, ``--runs`` times: p50 and p99 per endpoint (medians
over the runs); the **maximum sustainable rate**: the rate is stepped up from ``--step-start``
(x1.5 each step: 25, 40, 60, 90, 140, 210, 320 … req/s) until p99 > 250 ms on an endpoint, an
error, or the achieved rate falls below 95 % of the offered one, then the gap between the last
step within budget and the first over it is halved twice (to 10 req/s); the highest rate
within budget is reported (when the first step is over budget, 10 and 5 req/s are tried);
**upload to visible**: a CycloneDX SBOM of exactly 1,000 components (OWASP Juice Shop's npm
SBOM from ../shared/data/sbom, its first 1,000 components) is uploaded by the member through the
API to a new asset, and the findings list of that asset is polled until it holds every finding
the upload opened — the time from sending the upload to that answer (median of ``--upload-runs``);
and, reported too, the time until the member's dashboard figures include them (the freshness
contract: a refresh ``DEBOUNCE`` seconds after the write, plus its run).

Run: ``.venv/bin/python benchmarks/bench_service_load.py [--organisations N] [--findings N]
[--rate R] [--seconds S] [--runs N]`` (``pip install -e '.[bench]'`` first for Locust). Small
scale while developing: ``--organisations 500 --findings 50000 --seconds 10 --runs 1``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from _common import (
    DATA,
    ROOT,
    free_port,
    load_note,
    machine,
    postgres_database,
    print_targets,
    stats,
    table,
    target,
    write_result,
)

HERE = Path(__file__).resolve().parent
VENV_BIN = ROOT / ".venv" / "bin"
SBOM = DATA / "sbom" / "cyclonedx" / "juice-shop" / "via_npm" / "flat" / "bom.1.4.json"
ENDPOINTS = (
    "findings list, coordinator",
    "findings list, member",
    "dashboard (web)",
    "dashboard figures, member",
)
P99_BUDGET_MS = 250.0
P50_BUDGET_MS = 50.0
PAGE = 50
ANALYST, MEMBER = "bunseki", "bench-member"
PASSWORD = "bench password, not a secret"
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


# -- data -----------------------------------------------------------------------------------------


def build(url: str, args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """Intel, organisations, assets, findings, one assessment, users, tokens, a snapshot."""
    from bench_recompute import _CLOSED, FIRST, NOW, intel_and_portfolio
    from sakimori.config import Settings
    from sakimori.services import assessment, identity, metrics_snapshot
    from sakimori.services import assessment_store as sets
    from sakimori.services.organisations import create_organisation
    from sakimori.store.db import open_database

    shape, setup = intel_and_portfolio(url, args)
    db = open_database(url)
    started = time.perf_counter()
    with db.transaction() as session:
        assessment.run_assessment(
            session, sets.not_closed(_CLOSED), assessment.policy_set(FIRST), NOW, "bench"
        )
    setup["assessment"] = time.perf_counter() - started
    with psycopg.connect(driver_url(url), autocommit=True) as connection:
        for name in ("finding", "asset", "organisation", "triage_rule", "triage_shape"):
            connection.execute(f"VACUUM ANALYZE {name}")
        member_org = connection.execute(
            "SELECT o.slug FROM organisation o JOIN asset a ON a.organisation_id = o.id "
            "JOIN finding f ON f.asset_id = a.id GROUP BY o.slug "
            "ORDER BY count(*) DESC, o.slug LIMIT 1 OFFSET %s",
            (max(args.organisations // 20, 0),),
        ).fetchone()
        sample = connection.execute(
            "SELECT o.slug FROM organisation o WHERE EXISTS (SELECT 1 FROM asset a "
            "WHERE a.organisation_id = o.id) ORDER BY random() LIMIT 200"
        ).fetchall()
        vulnerabilities = connection.execute(
            "SELECT vulnerability FROM finding GROUP BY vulnerability "
            "ORDER BY count(*) DESC LIMIT 50"
        ).fetchall()
    assert member_org is not None
    create_organisation(db, "coordination", "National Coordination Office", "coordinator")
    identity.create_user(
        db, ANALYST, organisation="coordination", role="analyst", password=PASSWORD
    )
    identity.create_user(db, MEMBER, organisation=member_org[0], role="member_user")
    settings = Settings.load(environment(url, home))
    key = identity.TokenKey.load(settings.token_key_path)
    tokens = {
        who: identity.create_token(db, key, who, "bench", ["read", "write"], timedelta(days=1))[1]
        for who in (ANALYST, MEMBER)
    }
    started = time.perf_counter()
    with db.transaction() as session:
        refreshed = metrics_snapshot.refresh(session)
    setup["metrics snapshot"] = time.perf_counter() - started
    db.dispose()
    return {
        "shape": shape,
        "setup_seconds": setup,
        "snapshot": {"seconds": refreshed.seconds, "scopes": refreshed.scopes},
        "member_organisation": member_org[0],
        "organisations_sample": [row[0] for row in sample],
        "vulnerabilities": [row[0] for row in vulnerabilities],
        "tokens": tokens,
    }


def driver_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def environment(url: str, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SAKIMORI_HOME": str(home),
        "SAKIMORI_DATABASE_URL": url,
        "SAKIMORI_TOKEN_KEY_FILE": str(home / "token.key"),
        "SAKIMORI_JOBS": "postgres",
    }


def sbom_of(components: int) -> bytes:
    """The Juice Shop npm SBOM with exactly ``components`` components (its first ones; the
    dependency graph kept to those)."""
    document = json.loads(SBOM.read_bytes())
    kept = document["components"][:components]
    assert len(kept) == components, f"{SBOM} has fewer than {components} components"
    refs = {c.get("bom-ref") for c in kept}
    document["components"] = kept
    document["dependencies"] = [
        {**d, "dependsOn": [r for r in d.get("dependsOn", []) if r in refs]}
        for d in document.get("dependencies", [])
        if d.get("ref") in refs
    ]
    return json.dumps(document).encode()


# -- the server -----------------------------------------------------------------------------------


@contextlib.contextmanager
def running(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(f"the server did not come up:\n{log.read_text()[-3000:]}")


def browser_session(base: str) -> str:
    """Sign the analyst in through the sign-in form; the session cookie."""
    from sakimori.web.sessions import SESSION_COOKIE

    with httpx.Client(base_url=base) as client:
        form = client.get("/ui/signin")
        token = CSRF.search(form.text)
        assert token is not None, "no CSRF token on the sign-in page"
        signed = client.post(
            "/ui/signin",
            data={"username": ANALYST, "password": PASSWORD, "csrf": token.group(1), "next": ""},
        )
        assert signed.status_code == 303, signed.text[:500]
        cookie = client.cookies.get(SESSION_COOKIE)
        assert cookie, "no session cookie after signing in"
        assert client.get("/ui/dashboard").status_code == 200
        return cookie


# -- load (Locust) --------------------------------------------------------------------------------

LOCUSTFILE = '''
"""Written by bench_service_load.py: the four endpoints, in equal shares, at a fixed pace."""
import json
import os
import random
import time

import gevent
from locust import FastHttpUser, task

CONFIG = json.loads(os.environ["BENCH_LOAD"])
COORDINATOR = {"Authorization": "Bearer " + CONFIG["analyst_token"]}
MEMBER = {"Authorization": "Bearer " + CONFIG["member_token"]}
COOKIE = {"Cookie": CONFIG["cookie_name"] + "=" + CONFIG["cookie"]}
PAGE = CONFIG["page"]


def coordinator_filters():
    offset = random.choice((0, PAGE, 2 * PAGE, 3 * PAGE))
    kind = random.randrange(3)
    if kind == 0:
        return {"organisation": random.choice(CONFIG["organisations"]), "limit": PAGE}
    if kind == 1:
        return {"state": random.choice(("acknowledged", "in_progress")), "limit": PAGE,
                "offset": offset}
    return {"vulnerability": random.choice(CONFIG["vulnerabilities"]), "limit": PAGE,
            "offset": offset}


class Analyst(FastHttpUser):
    def on_start(self):
        # Locust starts users in batches (a second's worth at once); a random phase within
        # the pacing period spreads their requests evenly instead of in bursts.
        self.due = time.monotonic() + random.uniform(0, CONFIG["pacing"])
        gevent.sleep(self.due - time.monotonic())

    def wait_time(self):
        # Each user's own schedule: one start every pacing period from its phase, whatever
        # the answers took. (Locust's constant_pacing measures a user's first wait from a
        # shared origin, which lined every user up on the same instant after the first
        # request: bursts of all users at once, not an open loop.)
        self.due += CONFIG["pacing"]
        return max(0.0, self.due - time.monotonic())

    @task
    def findings_coordinator(self):
        self.client.get("/v1/findings", params=coordinator_filters(), headers=COORDINATOR,
                        name="findings list, coordinator")

    @task
    def findings_member(self):
        params = {"limit": PAGE, "offset": random.choice((0, PAGE))}
        self.client.get("/v1/findings", params=params, headers=MEMBER,
                        name="findings list, member")

    @task
    def dashboard(self):
        self.client.get("/ui/dashboard", headers=COOKIE, name="dashboard (web)")

    @task
    def member_figures(self):
        self.client.get("/v1/metrics", headers=MEMBER, name="dashboard figures, member")
'''


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children so far."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def settle(server: int | None, limit: float = 90.0) -> float:
    """Wait until the server has worked off what an overloaded run left queued (its CPU use
    below a tenth of a core over a second); seconds waited."""
    if not server:
        return 0.0
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        before = cpu_seconds(server)
        time.sleep(1.0)
        if cpu_seconds(server) - before < 0.1:
            break
    return time.perf_counter() - started


def load(
    base: str,
    config: dict[str, Any],
    rate: float,
    seconds: float,
    work: Path,
    server: int | None = None,
) -> dict[str, Any]:
    """One Locust run at ``rate`` requests/s for ``seconds`` after every user started."""
    pacing = float(config["pacing"])
    users = max(1, round(rate * pacing))
    locustfile = work / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    prefix = work / f"run-{int(rate)}-{time.monotonic_ns()}"
    spawn = users / pacing  # users start evenly over one pacing period
    command = [
        str(VENV_BIN / "locust"),
        "-f", str(locustfile),
        "--headless",
        "--host", base,
        "--users", str(users),
        "--spawn-rate", f"{spawn:.3f}",
        "--run-time", f"{int(pacing + seconds + 1)}s",
        "--reset-stats",
        "--csv", str(prefix),
        "--only-summary",
        "--loglevel", "WARNING",
        "--stop-timeout", "5",
    ]  # fmt: skip
    env = {**os.environ, "BENCH_LOAD": json.dumps(config)}
    settled = settle(server)
    cpu_before = cpu_seconds(server) if server else 0.0
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    cpu_after = cpu_seconds(server) if server else 0.0
    path = Path(f"{prefix}_stats.csv")
    if not path.exists():
        raise RuntimeError(f"locust wrote no statistics:\n{done.stderr[-3000:]}")
    rows = {row["Name"]: row for row in csv.DictReader(path.open())}
    measured = seconds  # --reset-stats: the statistics cover the time after the ramp
    result: dict[str, Any] = {
        "rate": rate,
        "users": users,
        "pacing": pacing,
        "settled_s": settled,
        "endpoints": {},
    }
    for name in (*ENDPOINTS, "Aggregated"):
        row = rows.get(name)
        if row is None:
            continue
        count = int(row["Request Count"])
        result["endpoints"][name] = {
            "requests": count,
            "failures": int(row["Failure Count"]),
            "p50_ms": float(row["50%"]),
            "p99_ms": float(row["99%"]),
            "max_ms": float(row["Max Response Time"]),
            "achieved_rps": float(row["Requests/s"]),
        }
    total = result["endpoints"].get("Aggregated", {})
    result["achieved_rps"] = total.get("achieved_rps", 0.0)
    result["seconds"] = measured
    result["failures"] = total.get("failures", 0)
    result["within_budget"] = within_budget(result)
    if server:
        # The server's CPU over the whole run (ramp included): cores used, and per request at
        # the achieved rate (approximate: the ramp sends less).
        cores = (cpu_after - cpu_before) / max(wall, 1e-9)
        result["server_cpu_cores"] = cores
        result["server_cpu_ms_per_request"] = cores * 1000 / max(result["achieved_rps"], 1e-9)
    return result


def within_budget(result: dict[str, Any]) -> bool:
    endpoints = [result["endpoints"].get(name) for name in ENDPOINTS]
    if any(e is None or e["requests"] == 0 for e in endpoints):
        return False
    return (
        result["failures"] == 0
        and all(e is not None and e["p99_ms"] <= P99_BUDGET_MS for e in endpoints)
        and result["achieved_rps"] >= 0.95 * result["rate"]
    )


def step_up(
    base: str, config: dict[str, Any], args: argparse.Namespace, work: Path, server: int
) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    rate = float(args.step_start)
    best = 0.0
    over = 0.0
    while rate <= args.max_rate:
        result = load(base, config, rate, args.step_seconds, work, server)
        steps.append(result)
        print(f"  step {rate:.0f} req/s: {summary_line(result)}", flush=True)
        if not result["within_budget"]:
            over = rate
            break
        best = rate
        rate = round(rate * 1.5 / 10) * 10
    # Between the last step within budget and the first over it: halve the gap twice (to the
    # nearest 10 req/s), so the highest rate reported is within a quarter of a step.
    for _ in range(2 if best and over else 0):
        rate = round((best + over) / 2 / 10) * 10
        if rate in (best, over):
            break
        result = load(base, config, rate, args.step_seconds, work, server)
        steps.append(result)
        print(f"  step {rate:.0f} req/s: {summary_line(result)}", flush=True)
        if result["within_budget"]:
            best = rate
        else:
            over = rate
    # Over budget from the first step: step down instead (10, 5 req/s) to say how low it is.
    rate = float(args.step_start)
    while best == 0.0 and rate > 5.0:
        rate = 10.0 if rate > 10.0 else 5.0
        result = load(base, config, rate, args.step_seconds, work, server)
        steps.append(result)
        print(f"  step {rate:.0f} req/s: {summary_line(result)}", flush=True)
        if result["within_budget"]:
            best = rate
    return {"steps": steps, "max_sustainable_rps": best}


def summary_line(result: dict[str, Any]) -> str:
    parts = [
        f"{name.split(',')[0][:9]}… p50 {e['p50_ms']:.0f} / p99 {e['p99_ms']:.0f} ms"
        for name, e in result["endpoints"].items()
        if name != "Aggregated"
    ]
    ok = "within budget" if result["within_budget"] else "OVER BUDGET"
    cpu = result.get("server_cpu_cores")
    used = "" if cpu is None else f", server CPU {cpu:.2f} cores"
    return (
        f"achieved {result['achieved_rps']:.0f} req/s{used}, {result['failures']} errors, {ok}; "
        + "; ".join(parts)
    )


# -- upload to visible ----------------------------------------------------------------------------


def visible_findings(client: httpx.Client, asset: str) -> int:
    """How many findings of ``asset`` the API lists (every page)."""
    seen, offset = 0, 0
    while True:
        found = client.get(
            "/v1/findings",
            params={"asset": asset, "limit": 500, "offset": offset, "include_closed": "true"},
        )
        found.raise_for_status()
        page = found.json()
        seen += len(page["items"])
        if page["next_offset"] is None:
            return seen
        offset = page["next_offset"]


def upload_to_visible(
    base: str, token: str, organisation: str, asset: str, sbom: bytes, fresh_timeout: float
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        before = client.get("/v1/metrics").json()["overall"]["open"]
        started = time.perf_counter()
        answer = client.post(
            f"/v1/organisations/{organisation}/assets/{asset}/inventories",
            files={"file": ("bom.json", sbom, "application/json")},
        )
        answered = time.perf_counter() - started
        answer.raise_for_status()
        uploaded = answer.json()
        opened = int(uploaded["opened"])
        while visible_findings(client, f"{organisation}/{asset}") < opened:
            time.sleep(0.02)
        visible = time.perf_counter() - started
        figures = None
        while time.perf_counter() - started < fresh_timeout:
            now_open = client.get("/v1/metrics").json()["overall"]["open"]
            if now_open >= before + opened:
                figures = time.perf_counter() - started
                break
            time.sleep(0.5)
    return {
        "components": uploaded["components"],
        "package_versions": uploaded["package_versions"],
        "opened": opened,
        "upload_answer_s": answered,
        "visible_s": visible,
        "figures_updated_s": figures,
    }


# -- main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organisations", type=int, default=10_000)
    parser.add_argument("--findings", type=int, default=1_000_000)
    parser.add_argument("--assets", type=int, default=None, help="default: 2 per organisation")
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s, all endpoints")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured time per run")
    parser.add_argument("--runs", type=int, default=3, help="runs at --rate (medians)")
    parser.add_argument("--step-seconds", type=float, default=20.0)
    parser.add_argument("--step-start", type=float, default=25.0, help="first rate stepped")
    parser.add_argument("--max-rate", type=float, default=3000.0)
    parser.add_argument("--pacing", type=float, default=2.0, help="seconds between a user's starts")
    parser.add_argument("--server-workers", type=int, default=2, help="uvicorn processes")
    parser.add_argument("--upload-runs", type=int, default=3)
    parser.add_argument("--fresh-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--database-url", help="use (and keep) this database, built if empty")
    parser.add_argument("--build-only", action="store_true", help="with --database-url")
    args = parser.parse_args()
    args.assets = args.assets or 2 * args.organisations
    if shutil.which("locust", path=str(VENV_BIN)) is None:
        sys.exit("Locust is missing: .venv/bin/pip install -e '.[bench]'")
    info = machine()
    home = Path(tempfile.mkdtemp(prefix="sakimori-bench-load-"))
    try:
        with contextlib.ExitStack() as stack:
            url = args.database_url or stack.enter_context(postgres_database("sakimori_bench_load"))
            built = cached_build(url, args, home)
            if args.build_only:
                return
            measured = measure(url, args, home, built)
        report(args, info, built, measured)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def cached_build(url: str, args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """Build the data; with ``--database-url``, once (the facts are kept beside the data)."""
    from sakimori.store.db import open_database

    open_database(url).dispose()
    with psycopg.connect(driver_url(url), autocommit=True) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS bench_facts (facts text)")
        row = connection.execute("SELECT facts FROM bench_facts").fetchone()
    if row is not None:
        built: dict[str, Any] = json.loads(row[0])
        Path(home / "token.key").write_bytes(bytes.fromhex(built.pop("token_key")))
        print(f"reusing the data of {url.rsplit('/', 1)[1]}", flush=True)
        return built
    print("building the data…", flush=True)
    built = build(url, args, home)
    facts = {**built, "token_key": (home / "token.key").read_bytes().hex()}
    with psycopg.connect(driver_url(url), autocommit=True) as connection:
        connection.execute("INSERT INTO bench_facts VALUES (%s)", (json.dumps(facts),))
    shape, setup = built["shape"], built["setup_seconds"]
    print(
        f"{shape['findings']:,} findings on {shape['assets']:,} assets of "
        f"{shape['organisations']:,} organisations; setup "
        + ", ".join(f"{k} {v:.0f} s" for k, v in setup.items()),
        flush=True,
    )
    return built


def refresh_seconds(url: str, runs: int) -> dict[str, Any]:
    """Time ``metrics.refresh`` (what the job does) ``runs`` times."""
    from sakimori.services import metrics_snapshot
    from sakimori.store.db import open_database

    db = open_database(url)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        with db.transaction() as session:
            metrics_snapshot.refresh(session)
        samples.append(time.perf_counter() - started)
    db.dispose()
    return stats(samples)


def upload_targets(url: str, organisation: str, count: int) -> list[str]:
    """New assets of the member's organisation, one per upload run (each upload opens its
    findings on an asset that had none)."""
    from sakimori.services.organisations import create_asset
    from sakimori.store.db import open_database

    db = open_database(url)
    names = [f"upload-{secrets.token_hex(3)}-{n}" for n in range(count)]
    for name in names:
        create_asset(db, f"{organisation}/{name}", "Upload target", "high", internet_facing=True)
    db.dispose()
    return names


def measure(
    url: str, args: argparse.Namespace, home: Path, built: dict[str, Any]
) -> dict[str, Any]:
    from sakimori.web.sessions import SESSION_COOKIE

    refresh = refresh_seconds(url, 3)
    print(f"metrics snapshot refresh: median {refresh['median']:.1f} s", flush=True)
    targets = upload_targets(url, built["member_organisation"], args.upload_runs)

    env = environment(url, home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    work = home / "load"
    work.mkdir()
    server = [
        str(VENV_BIN / "uvicorn"),
        "--factory", "_common:platform_app",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", str(args.server_workers),
        "--no-access-log",
        "--no-server-header",
        "--log-level", "warning",
    ]  # fmt: skip
    worker = [str(VENV_BIN / "sakimori"), "worker"]
    with (
        running(server, env, home / "server.log") as process,
        running(worker, env, home / "worker.log"),
    ):
        wait_until_up(base, process, home / "server.log")
        config = {
            "analyst_token": built["tokens"][ANALYST],
            "member_token": built["tokens"][MEMBER],
            "cookie_name": SESSION_COOKIE,
            "cookie": browser_session(base),
            "organisations": built["organisations_sample"],
            "vulnerabilities": built["vulnerabilities"],
            "page": PAGE,
            "pacing": args.pacing,
        }
        # Warm the processes up: past their first heap.WARM_REQUESTS requests each, when the
        # heap is frozen once more (one pause a process's life; sakimori.api.heap).
        load(base, config, min(args.rate, 100.0), 15.0, work)
        runs = []
        for number in range(args.runs):
            result = load(base, config, args.rate, args.seconds, work, process.pid)
            runs.append(result)
            print(f"run {number + 1} at {args.rate:.0f} req/s: {summary_line(result)}", flush=True)
        print("stepping the rate up:", flush=True)
        stepping = step_up(base, config, args, work, process.pid)
        sbom = sbom_of(1000)
        uploads = []
        for number, asset in enumerate(targets):
            outcome = upload_to_visible(
                base,
                built["tokens"][MEMBER],
                built["member_organisation"],
                asset,
                sbom,
                args.fresh_timeout,
            )
            uploads.append(outcome)
            figures = outcome["figures_updated_s"]
            print(
                f"upload {number + 1}: {outcome['components']} components, "
                f"{outcome['opened']} findings opened; visible after "
                f"{outcome['visible_s']:.2f} s; dashboard figures after "
                + ("—" if figures is None else f"{figures:.1f} s"),
                flush=True,
            )
    return {"runs": runs, "stepping": stepping, "uploads": uploads, "refresh": refresh}


def worst(result: dict[str, Any], figure: str) -> float:
    return max(e[figure] for name, e in result["endpoints"].items() if name != "Aggregated")


def report(
    args: argparse.Namespace, info: dict[str, Any], built: dict[str, Any], measured: dict
) -> None:
    runs, uploads = measured["runs"], measured["uploads"]
    per_endpoint: dict[str, dict[str, Any]] = {}
    for name in (*ENDPOINTS, "Aggregated"):
        present = [r["endpoints"][name] for r in runs if name in r["endpoints"]]
        if not present:
            continue
        per_endpoint[name] = {
            "p50_ms": stats([e["p50_ms"] for e in present]),
            "p99_ms": stats([e["p99_ms"] for e in present]),
            "achieved_rps": stats([e["achieved_rps"] for e in present]),
            "requests": sum(e["requests"] for e in present),
            "failures": sum(e["failures"] for e in present),
        }
    rows = [
        (
            name,
            f"{e['p50_ms']['median']:.0f}",
            f"{e['p99_ms']['median']:.0f}",
            f"{e['achieved_rps']['median']:.0f}",
            f"{e['requests']:,}",
            str(e["failures"]),
        )
        for name, e in per_endpoint.items()
    ]
    shape = built["shape"]
    print(
        f"\n{shape['findings']:,} findings, {shape['organisations']:,} organisations; "
        f"open-loop {args.rate:.0f} req/s for {args.seconds:.0f} s, median of {args.runs} runs"
    )
    print(table(["endpoint", "p50 ms", "p99 ms", "req/s", "requests", "errors"], rows))
    best = measured["stepping"]["max_sustainable_rps"]
    cpu = [r["server_cpu_ms_per_request"] for r in runs if "server_cpu_ms_per_request" in r]
    if cpu:
        cores = stats([r["server_cpu_cores"] for r in runs])["median"]
        print(
            f"server CPU at {args.rate:.0f} req/s offered: {cores:.2f} cores, "
            f"≈{stats(cpu)['median']:.1f} ms per request answered ({args.server_workers} processes)"
        )
    steps = measured["stepping"]["steps"]
    print(
        table(
            ["step req/s", "achieved", "worst p50 ms", "worst p99 ms", "errors", "within"],
            [
                (
                    f"{step['rate']:.0f}",
                    f"{step['achieved_rps']:.0f}",
                    f"{worst(step, 'p50_ms'):.0f}",
                    f"{worst(step, 'p99_ms'):.0f}",
                    str(step["failures"]),
                    "yes" if step["within_budget"] else "no",
                )
                for step in steps
            ],
        )
    )
    visible = stats([u["visible_s"] for u in uploads])
    fresh = [u["figures_updated_s"] for u in uploads if u["figures_updated_s"] is not None]
    print(
        f"maximum sustainable rate (p99 ≤ {P99_BUDGET_MS:.0f} ms, no errors): {best:.0f} req/s\n"
        f"1,000-component SBOM, upload to findings visible: median {visible['median']:.2f} s "
        f"({uploads[0]['opened']} findings); to the dashboard figures: "
        + (f"median {stats(fresh)['median']:.1f} s" if fresh else "not within the timeout")
        + f"; one snapshot refresh of {shape['findings']:,} findings: median "
        f"{measured['refresh']['median']:.1f} s"
    )
    scale = f"{shape['findings']:,} findings"
    targets = []
    for name in ENDPOINTS:
        e = per_endpoint.get(name)
        if e is None:
            continue
        targets.append(
            target(f"{name} p50 at {args.rate:.0f} req/s ({scale})", e["p50_ms"]["median"],
                   "ms", P50_BUDGET_MS)
        )  # fmt: skip
        targets.append(
            target(f"{name} p99 at {args.rate:.0f} req/s ({scale})", e["p99_ms"]["median"],
                   "ms", P99_BUDGET_MS)
        )  # fmt: skip
    targets.append(
        target(f"maximum sustainable rate ({scale})", best, "req/s", args.rate, at_least=True)
    )
    targets.append(
        target("1,000-component SBOM: upload to findings visible", visible["median"], "s", 2.0)
    )
    print()
    print_targets(targets)
    note = load_note(info)
    if note:
        print(note)
    default = args.findings == 1_000_000 and args.organisations == 10_000
    name = "service_load" if default else f"service_load_{args.findings}"
    path = write_result(
        name,
        {
            "parameters": {k: v for k, v in vars(args).items() if k != "database_url"},
            "load_generator": "locust 2.47.0 (a schedule per user; see the script's docstring)",
            "data": shape,
            "setup_seconds": built["setup_seconds"],
            "snapshot_refresh_s": measured["refresh"],
            "endpoints": per_endpoint,
            "runs": runs,
            "stepping": measured["stepping"],
            "uploads": uploads,
            "upload_to_visible_s": visible,
            "upload_to_dashboard_figures_s": stats(fresh) if fresh else None,
            "targets": targets,
        },
        info,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    random.seed(0)
    main()
