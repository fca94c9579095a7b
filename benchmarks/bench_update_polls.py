"""10,000 operators polling one vendor's repository through the platform API (issue 9: at least
2,000 polls/s with the API on PostgreSQL).

Set-up: a fresh PostgreSQL database; 10,000 operator organisations, each with one user and its
own API token (bulk-inserted, each secret hashed with the server key as ``identity`` does);
a vendor repository registered and a release published through ``services.updates``. The
server is real: uvicorn with ``--workers`` processes (default 2) on 127.0.0.1, the app made by
``sakimori.api.create_app``, request logging at warning level.

A **poll** is what ``tuf.ngclient`` does on each refresh, made conditional: ``GET
/v1/updates/acme/metadata/timestamp.json`` with ``If-None-Match`` (the ETag last seen) — 304
when nothing changed — and, when the timestamp did change and names a new snapshot version,
``GET N.snapshot.json``. Every request carries the next of the 10,000 tokens in turn, so the
server verifies a different token on every request. While the load runs, the benchmark signs a
new timestamp every second through ``POST /v1/updates/acme/timestamp`` (a staff token), so a
share of the polls get a 200 with the new timestamp.

The load generator is ``wrk`` (Debian's package; 2 threads, ``--connections`` connections, a
Lua script for the token rotation and the conditional requests) on the same 2-core machine as
the server: the figures are what the server does with half the machine's time shared with the
load generator. Baseline in the same run: ``GET /healthz`` (no token, no file), same load.

Run: ``.venv/bin/python benchmarks/bench_update_polls.py [--runs 3] [--seconds 10]
[--workers 2] [--connections 200]``; needs PostgreSQL at ``SAKIMORI_BENCH_POSTGRES``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``) and ``wrk`` on the PATH;
writes ``benchmarks/results/update_polls.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from _common import (
    fmt,
    machine,
    platform_server,
    postgres_database,
    print_targets,
    stats,
    table,
    target,
    write_result,
)

VENDOR = "acme"
TIMESTAMP = f"/v1/updates/{VENDOR}/metadata/timestamp.json"

LUA = r"""
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local counter = 0
local etag = nil
local snapshot_seen = 0
local want_snapshot = nil
polls, snapshots, changed, errors = 0, 0, 0, 0
local thread_offset = 0

function setup(thread)
  thread:set("id", #threads or 0)
  table.insert(threads, thread)
end

function init(args)
  counter = math.random(1, #tokens)
end

function request()
  counter = counter % #tokens + 1
  local headers = { ["Authorization"] = "Bearer " .. tokens[counter] }
  if want_snapshot then
    local path = "/v1/updates/acme/metadata/" .. want_snapshot .. ".snapshot.json"
    want_snapshot = nil
    snapshots = snapshots + 1
    return wrk.format("GET", path, headers)
  end
  if etag then headers["If-None-Match"] = etag end
  polls = polls + 1
  return wrk.format("GET", "/v1/updates/acme/metadata/timestamp.json", headers)
end

function response(status, headers, body)
  if status == 200 and body and string.find(body, '"_type":%s*"timestamp"') then
    changed = changed + 1
    etag = headers["ETag"] or headers["etag"]
    local version = string.match(body, '"snapshot.json":.-"version":%s*(%d+)')
    if version and tonumber(version) > snapshot_seen then
      snapshot_seen = tonumber(version)
      want_snapshot = version
    end
  elseif status ~= 200 and status ~= 304 then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local p, s, c, e = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    p = p + t:get("polls"); s = s + t:get("snapshots")
    c = c + t:get("changed"); e = e + t:get("errors")
  end
  io.write(string.format("BENCH polls=%d snapshots=%d changed=%d errors=%d\n", p, s, c, e))
  io.write(string.format("BENCH p50_us=%d p99_us=%d\n",
    latency:percentile(50), latency:percentile(99)))
end

threads = {}
"""

BASELINE_LUA = r"""
function done(summary, latency, requests)
  io.write(string.format("BENCH p50_us=%d p99_us=%d\n",
    latency:percentile(50), latency:percentile(99)))
end
"""


def populate(url: str, home: Path, operators: int) -> tuple[list[str], str]:
    """Organisations, users and tokens (bulk), the vendor's release; (operator tokens, a staff
    token)."""

    from sakimori.config import Settings
    from sakimori.packages.model import Content
    from sakimori.services import identity
    from sakimori.services import packages as package_service
    from sakimori.services import updates as service
    from sakimori.services.organisations import create_organisation
    from sakimori.store import models
    from sakimori.store.db import open_database
    from sakimori.updates import keys
    from sakimori.updates.acceptance import Release
    from sakimori.updates.repository import Thresholds, add_target, init_repository

    settings = Settings.load({"SAKIMORI_HOME": str(home), "SAKIMORI_DATABASE_URL": url})
    db = open_database(url)
    key = identity.TokenKey.load(settings.token_key_path)
    now = datetime.now(UTC)
    tokens: list[str] = []
    with db.transaction() as session:
        orgs = [
            models.Organisation(
                slug=f"op-{n:05d}",
                name=f"Operator {n}",
                kind="operator",
                sectors=[],
                created_at=now,
            )
            for n in range(operators)
        ]
        session.add_all(orgs)
        users = [
            models.User(name=f"ops-{n:05d}", display_name=f"ops {n}", active=True, created_at=now)
            for n in range(operators)
        ]
        session.add_all(users)
        session.flush()
        for org, user in zip(orgs, users, strict=True):
            session.add(
                models.Membership(
                    user_id=user.id, organisation_id=org.id, role="member_user", created_at=now
                )
            )
            token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
            session.add(
                models.ApiToken(
                    id=token_id,
                    user_id=user.id,
                    name="poll",
                    scopes=["read"],
                    secret_hash=key.digest(secret),
                    created_at=now,
                    expires_at=now + timedelta(days=1),
                )
            )
            tokens.append(f"{identity.TOKEN_PREFIX}{token_id}_{secret}")
    create_organisation(db, "coordination", "Coordination", "coordinator")
    create_organisation(db, VENDOR, "Acme", "vendor")
    identity.create_user(db, "kanri", organisation="coordination", role="coordinator_admin")
    identity.create_user(db, "bunseki", organisation="coordination", role="analyst")
    identity.create_user(db, "acme-psirt", organisation=VENDOR, role="vendor")
    staff = identity.create_token(db, key, "kanri", "bench", ["read", "write"])[1]
    vendor = identity.create_token(db, key, "acme-psirt", "bench", ["read", "write"])[1]
    hosting = service.Hosting.of(settings)
    info = service.register_repository(db, identity.authenticate(db, key, staff), hosting, VENDOR)
    content = Content.from_dict(
        {
            "title": "Patch",
            "tlp": "GREEN",
            "audience": {"everyone": True},
            "vulnerabilities": ["CVE-2024-3400"],
            "products": [{"purl": "pkg:pypi/django@2.2.24"}],
        }
    )
    package = package_service.create_draft(db, content, "bunseki")
    package_service.submit(db, package.id, "bunseki")
    package_service.approve(db, package.id, "kanri")
    vendor_dir = home / "vendor"
    online = keys.write_public_keys(vendor_dir / "platform-keys", info.online_keys)
    repo = init_repository(
        vendor_dir / "repo",
        lines=["gateway"],
        offline_keys=vendor_dir / "offline",
        online_keys=online,
        thresholds=Thresholds(line_keys=1, line_threshold=1),
    )
    artefact = vendor_dir / "gw-2.4.1.bin"
    artefact.write_bytes(b"firmware\n" * 1000)
    add_target(
        repo,
        artefact,
        line="gateway",
        release=Release("2.4.1", f"SAKIMORI-PKG-{package.id:06d}", ("CVE-2024-3400",)),
        signers=[keys.load_signer(vendor_dir / "offline" / "gateway-1.key")],
    )
    service.upload(
        db,
        identity.authenticate(db, key, vendor),
        hosting,
        VENDOR,
        repo.staged(),
        {t: p.read_bytes() for t, p in repo.staged_artefacts().items()},
    )
    db.dispose()
    return tokens, staff


def run_wrk(
    base: str, path: str, script: Path, seconds: int, connections: int, env: dict[str, str]
) -> dict[str, float]:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    done = subprocess.run(
        [*argv, base + path], capture_output=True, text=True, env={**os.environ, **env}, check=True
    )
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    figures: dict[str, float] = {"requests_per_s": rate, "requests": total}
    for line in re.findall(r"BENCH (.*)", out):
        for name, value in re.findall(r"(\w+)=(\d+)", line):
            figures[name] = float(value)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    figures["non_2xx_3xx"] = float(non2xx.group(1)) if non2xx else 0.0
    figures["elapsed_s"] = float(seconds)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--operators", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--warm-up", type=int, default=60, help="seconds of cold-cache polling")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk on the PATH (Debian: apt-get install wrk)")
    with (
        tempfile.TemporaryDirectory(prefix="sakimori-polls-") as folder,
        postgres_database("sakimori_bench_polls") as url,
    ):
        home = Path(folder)
        started = time.perf_counter()
        tokens, staff = populate(url, home, args.operators)
        took = time.perf_counter() - started
        print(f"set-up: {args.operators:,} operators and tokens in {took:.1f} s")
        token_file = home / "tokens.txt"
        token_file.write_text("\n".join(tokens) + "\n")
        poll_script, base_script = home / "poll.lua", home / "base.lua"
        poll_script.write_text(LUA)
        base_script.write_text(BASELINE_LUA)
        env = {"BENCH_TOKENS": str(token_file)}
        polls: list[dict[str, float]] = []
        baseline: list[dict[str, float]] = []
        with platform_server(url, home, args.workers) as base:
            stop = threading.Event()

            def refresher() -> None:
                with httpx.Client(base_url=base, timeout=30) as client:
                    while not stop.wait(1.0):
                        client.post(
                            f"/v1/updates/{VENDOR}/timestamp",
                            headers={"Authorization": f"Bearer {staff}"},
                        )

            # every operator's first polls: tokens verified against PostgreSQL (cold cache)
            cold = run_wrk(base, TIMESTAMP, poll_script, args.warm_up, args.connections, env)
            for _ in range(args.runs):
                baseline.append(
                    run_wrk(base, "/healthz", base_script, args.seconds, args.connections, env)
                )
                thread = threading.Thread(target=refresher, daemon=True)
                stop.clear()
                thread.start()
                polls.append(
                    run_wrk(base, TIMESTAMP, poll_script, args.seconds, args.connections, env)
                )
                stop.set()
                thread.join()
    poll_rates = [p["polls"] / p["elapsed_s"] for p in polls]
    request_rates = [p["requests_per_s"] for p in polls]
    base_rates = [b["requests_per_s"] for b in baseline]
    p50 = [p["p50_us"] / 1000 for p in polls]
    p99 = [p["p99_us"] / 1000 for p in polls]
    polls_median, base_median = stats(poll_rates)["median"], stats(base_rates)["median"]
    base_p50 = stats([b["p50_us"] / 1000 for b in baseline])["median"]
    base_p99 = stats([b["p99_us"] / 1000 for b in baseline])["median"]
    rows = [
        ["polls/s (conditional timestamp GETs)", fmt(polls_median),
         f"{min(poll_rates):.0f}–{max(poll_rates):.0f}"],
        ["HTTP requests/s (polls + snapshot GETs)", fmt(stats(request_rates)["median"]), ""],
        ["poll latency p50 (ms)", f"{stats(p50)['median']:.1f}", ""],
        ["poll latency p99 (ms)", f"{stats(p99)['median']:.1f}", ""],
        ["baseline /healthz requests/s", fmt(base_median),
         f"{min(base_rates):.0f}–{max(base_rates):.0f}"],
        ["baseline /healthz p50 / p99 (ms)", f"{base_p50:.1f} / {base_p99:.1f}", ""],
        ["ratio polls / baseline", f"{polls_median / base_median:.2f}", ""],
        [f"cold cache (first {args.warm_up} s) polls/s", fmt(cold["polls"] / cold["elapsed_s"]),
         ""],
    ]  # fmt: skip
    print(table(["figure", "median", "range"], rows))
    targets = [
        target("polls per second", stats(poll_rates)["median"], "polls/s", 2000, at_least=True)
    ]
    print_targets(targets)
    info = machine()
    result = {
        "benchmark": "update_polls",
        "parameters": vars(args) | {"load_generator": "wrk 4.1.0 (2 threads) on the same machine"},
        "server": {"uvicorn_workers": args.workers, "database": "PostgreSQL"},
        "polls_per_s": stats(poll_rates),
        "requests_per_s": stats(request_rates),
        "poll_latency_ms": {"p50": stats(p50), "p99": stats(p99)},
        "baseline_healthz": {"requests_per_s": stats(base_rates), "runs": baseline},
        "runs": polls,
        "cold_cache_warm_up": cold | {"polls_per_s": cold["polls"] / cold["elapsed_s"]},
        "token_cache_ttl_s": 300,
        "targets": targets,
    }
    write_result("update_polls", result, info)
    print(json.dumps({"polls_per_s": stats(poll_rates)["median"]}))


if __name__ == "__main__":
    main()
