"""Publishing a counter-measure package to 10,000 recipient organisations (issue 6: recipients
resolved in at most 2 s; every notification delivered to a local webhook sink at 300 or more
per second with two workers on PostgreSQL, per-recipient retries and idempotency intact).

Set-up per run: a fresh PostgreSQL database; ``--organisations`` operator organisations in the
finance sector (bulk-inserted), each with one webhook endpoint whose secret is sealed as
``services.notifications`` does; a GREEN package for the finance sector, drafted and submitted
through ``services.packages``.

Measured per run:

- **recipients resolved**: ``services.packages._resolve`` (the audience and exposure under TLP
  → the recipient set) for the package, in its own transaction;
- **publish**: ``services.packages.approve`` — resolving, writing the 10,000 recipients and
  queueing one delivery per endpoint and the jobs of their first attempts (``--batch``
  webhooks to a job, ``SAKIMORI_NOTIFY_BATCH``), in one transaction;
- **delivery**: from the publication's commit until the last delivery is recorded
  ``delivered``, with two ``sakimori worker`` processes (``SAKIMORI_JOBS=postgres``,
  ``--concurrency`` threads each) started beforehand, sending to a sink on 127.0.0.1 (uvicorn,
  one process, a raw ASGI app) that verifies every signature, de-duplicates by idempotency key
  and answers 500 to the first attempt of one notification in ``--fail-every`` (so retries
  run, each in a job of its own, with a short backoff, during the measurement);
- **baseline**, same run and workers: the same number of jobs that do nothing
  (``bench.noop``) — what the queue alone costs; the ratio says what a delivery adds.

Everything shares the machine's CPUs: PostgreSQL, the two workers, the sink and this script.

Run: ``.venv/bin/python benchmarks/bench_notifications.py [--runs 3] [--organisations 10000]
[--concurrency 8] [--fail-every 50] [--batch 50]``; needs PostgreSQL at
``SAKIMORI_TEST_POSTGRES_URL``; writes ``benchmarks/results/notifications.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import (
    ROOT,
    SAKIMORI,
    fmt,
    free_port,
    machine,
    print_targets,
    stats,
    table,
    target,
    write_result,
)

ADMIN_URL = os.environ.get(
    "SAKIMORI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SINK_SECRET = "whsec_benchmark-sink-secret"
NOOP = "bench.noop"

# -- the sink (runs in its own uvicorn process) ---------------------------------------------------

_FAIL_EVERY = int(os.environ.get("BENCH_SINK_FAIL_EVERY", "50"))
_attempts: dict[str, int] = {}
_effects: set[str] = set()
_counts = {"requests": 0, "duplicates": 0, "bad_signatures": 0, "failed_on_purpose": 0}


async def sink_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A webhook receiver: verify, de-duplicate, fail some first attempts on purpose."""
    from sakimori.notify import webhook

    if scope["type"] != "http":
        return
    if scope["path"] == "/stats":
        payload = json.dumps({**_counts, "unique": len(_effects)}).encode()
        await _answer(send, 200, payload)
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
    _counts["requests"] += 1
    if not webhook.verify(
        SINK_SECRET,
        headers.get("sakimori-timestamp", ""),
        body,
        headers.get("sakimori-signature", ""),
        now=int(time.time()),
    ):
        _counts["bad_signatures"] += 1
        await _answer(send, 401)
        return
    key = headers.get("idempotency-key", "")
    seen = _attempts.get(key, 0)
    _attempts[key] = seen + 1
    if seen == 0 and int(key[:8], 16) % _FAIL_EVERY == 0:
        _counts["failed_on_purpose"] += 1
        await _answer(send, 500)
        return
    if key in _effects:
        _counts["duplicates"] += 1
    _effects.add(key)
    await _answer(send, 200)


async def _answer(send: Any, status: int, body: bytes = b"") -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def noop(context: Any) -> None:
    """The baseline job: nothing."""


HANDLERS = {NOOP: noop}

# -- set-up ---------------------------------------------------------------------------------------


@contextmanager
def fresh_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sakimori_bench_notify_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def populate(db: Any, home: Path, organisations: int, sink: str) -> None:
    from sqlalchemy import insert

    from sakimori.notify import sealing
    from sakimori.services.identity import TokenKey
    from sakimori.store import models

    key = sealing.derive(TokenKey.load(home / "token.key").secret)
    now = datetime.now(UTC)
    with db.transaction() as session:
        session.add(
            models.Organisation(
                slug="coordination", name="Coordination", kind="coordinator", sectors=[],
                created_at=now,
            )
        )  # fmt: skip
        ids = session.execute(
            insert(models.Organisation).returning(models.Organisation.id),
            [
                {
                    "slug": f"operator-{n:05d}",
                    "name": f"Operator {n}",
                    "kind": "operator",
                    "sectors": ["finance"],
                    "created_at": now,
                }
                for n in range(organisations)
            ],
        ).scalars()
        session.execute(
            insert(models.NotifyEndpointRow),
            [
                {
                    "organisation_id": org_id,
                    "kind": "webhook",
                    "target": sink,
                    "sectors": [],
                    "vulnerabilities": [],
                    "purl_prefixes": [],
                    "sealed_secret": sealing.seal(key, SINK_SECRET, org_id),
                    "active": True,
                    "created_by": "bench",
                    "created_at": now,
                }
                for org_id in ids
            ],
        )


def draft(db: Any) -> int:
    from sakimori.packages.model import Content
    from sakimori.services import packages

    content = Content.from_dict(
        {
            "title": "Benchmark: patch the payment gateway",
            "summary": "A flaw in the payment gateway is exploited at machine speed.",
            "tlp": "GREEN",
            "audience": {"sectors": ["finance"]},
            "vulnerabilities": ["CVE-2021-35042"],
            "products": [{"purl": "pkg:pypi/django@2.2.24"}],
            "guidance": "Upgrade, then rotate credentials.",
            "mitigations": [{"category": "vendor_fix", "details": "Upgrade to 3.2.5."}],
            "deadlines": [{"due": "2026-12-31"}],
        }
    )
    view = packages.create_draft(db, content, "author")
    packages.submit(db, view.id, "author")
    return view.id


def count(db: Any, sql: str) -> int:
    from sqlalchemy import text

    with db.transaction() as session:
        return int(session.execute(text(sql)).scalar() or 0)


def wait_for(db: Any, sql: str, wanted: int, limit: float) -> float:
    """Poll until the count reaches ``wanted``; the moment it did (perf_counter)."""
    deadline = time.perf_counter() + limit
    while True:
        if count(db, sql) >= wanted:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{sql!r} did not reach {wanted} within {limit:.0f} s")
        time.sleep(0.05)


def one_run(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import insert

    from sakimori.packages.model import Content
    from sakimori.services import packages
    from sakimori.store import models
    from sakimori.store.db import open_database

    with fresh_database() as url, tempfile.TemporaryDirectory(prefix="bench-notify-") as folder:
        home = Path(folder)
        port = free_port()
        sink_url = f"http://127.0.0.1:{port}/hook"
        env = {
            **os.environ,
            "SAKIMORI_HOME": str(home),
            "SAKIMORI_DATABASE_URL": url,
            "SAKIMORI_JOBS": "postgres",
            "SAKIMORI_JOB_HANDLERS": "bench_notifications",
            "SAKIMORI_NOTIFY_BACKOFF": "0.05",
            "SAKIMORI_NOTIFY_BACKOFF_CAP": "0.2",
            "SAKIMORI_NOTIFY_TIMEOUT": "10",
            "SAKIMORI_NOTIFY_BATCH": str(args.batch),
            "BENCH_SINK_FAIL_EVERY": str(args.fail_every),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT / "src")]),
        }
        db = open_database(url)
        populate(db, home, args.organisations, sink_url)
        package_id = draft(db)
        sink = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "bench_notifications:sink_app",
                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                "--no-access-log", "--lifespan", "off",
            ],
            env=env,
        )  # fmt: skip
        workers = [
            subprocess.Popen(
                [str(SAKIMORI), "worker", "--concurrency", str(args.concurrency)], env=env
            )
            for _ in range(2)
        ]
        try:
            import httpx

            for _ in range(200):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/stats", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            time.sleep(1.5)  # the workers are up and polling
            # baseline: as many jobs that do nothing
            now = datetime.now(UTC)
            started = time.perf_counter()
            with db.transaction() as session:
                session.execute(
                    insert(models.JobRow),
                    [
                        {
                            "name": NOOP, "key": f"noop:{n}", "payload": {}, "state": "queued",
                            "attempts": 0, "max_attempts": 3, "run_after": now, "created_at": now,
                        }
                        for n in range(args.organisations)
                    ],
                )  # fmt: skip
            finished = wait_for(
                db,
                f"SELECT count(*) FROM job WHERE name = '{NOOP}' AND state = 'done'",
                args.organisations,
                600,
            )
            baseline = args.organisations / (finished - started)
            # recipients resolved (alone), then the publication
            with db.transaction() as session:
                revision = session.get(models.PackageRevisionRow, package_id)
                assert revision is not None
                content = Content.from_dict(revision.content)
                began = time.perf_counter()
                resolved = packages._resolve(session, content)
                resolve_seconds = time.perf_counter() - began
            began = time.perf_counter()
            packages.approve(db, package_id, "approver")
            committed = time.perf_counter()
            publish_seconds = committed - began
            queued = count(db, "SELECT count(*) FROM notify_delivery")
            done = wait_for(
                db, "SELECT count(*) FROM notify_delivery WHERE state = 'delivered'", queued, 1800
            )
            delivery_seconds = done - committed
            sink_stats = httpx.get(f"http://127.0.0.1:{port}/stats", timeout=5).json()
            retried = count(db, "SELECT count(*) FROM notify_delivery WHERE attempts > 1")
        finally:
            for process in [*workers, sink]:
                process.terminate()
            for process in [*workers, sink]:
                process.wait(timeout=60)
            db.dispose()
    return {
        "recipients": len(resolved),
        "deliveries": queued,
        "resolve_seconds": resolve_seconds,
        "publish_seconds": publish_seconds,
        "delivery_seconds": delivery_seconds,
        "deliveries_per_second": queued / delivery_seconds,
        "baseline_jobs_per_second": baseline,
        "retried": retried,
        "sink": sink_stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--organisations", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--fail-every", type=int, default=50)
    parser.add_argument("--batch", type=int, default=50, help="webhook deliveries per job")
    args = parser.parse_args()
    os.environ["SAKIMORI_NOTIFY_BATCH"] = str(args.batch)  # publishing runs in this process
    info = machine()
    runs = []
    for n in range(args.runs):
        print(f"run {n + 1}/{args.runs} …", flush=True)
        runs.append(one_run(args))
        last = runs[-1]
        print(
            f"  resolve {last['resolve_seconds']:.2f} s, publish {last['publish_seconds']:.2f} s, "
            f"{last['deliveries_per_second']:.0f} deliveries/s "
            f"(baseline {last['baseline_jobs_per_second']:.0f} jobs/s), sink {last['sink']}",
            flush=True,
        )
    for run in runs:  # exactly once in effect, every run
        sink = run["sink"]
        assert sink["unique"] == run["deliveries"] == run["recipients"], sink
        assert sink["bad_signatures"] == 0, sink
    medians = {
        name: stats([r[name] for r in runs])
        for name in (
            "resolve_seconds",
            "publish_seconds",
            "delivery_seconds",
            "deliveries_per_second",
            "baseline_jobs_per_second",
        )
    }
    rate = medians["deliveries_per_second"]["median"]
    base = medians["baseline_jobs_per_second"]["median"]
    print(
        table(
            ["figure", "median", "min", "max"],
            [(name, fmt(m["median"]), fmt(m["min"]), fmt(m["max"])) for name, m in medians.items()],
        )
    )
    print(f"deliveries per second / no-op jobs per second (same workers): {rate / base:.2f}")
    targets = [
        target("recipients resolved (10,000)", medians["resolve_seconds"]["median"], "s", 2),
        target("notifications delivered", rate, "per s", 300, at_least=True),
    ]
    print_targets(targets)
    result = {
        "organisations": args.organisations,
        "workers": 2,
        "concurrency": args.concurrency,
        "fail_every": args.fail_every,
        "batch": args.batch,
        "runs": runs,
        "medians": medians,
        "ratio_to_noop_jobs": rate / base,
        "targets": targets,
    }
    path = write_result("notifications", result, info)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
