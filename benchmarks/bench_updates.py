"""Client verification of TUF metadata listing 10,000 targets (issue 9: ≤ 1 s).

A vendor repository made by ``sakimori.updates`` with two product lines, ``large`` listing
``--targets`` targets (default 10,000) and ``small`` listing a tenth of that, each target with
the Sakimori custom fields (package id, fixed vulnerabilities, version), served by a real HTTP
server on 127.0.0.1. Each run starts a fresh operator state directory (root pinned, empty
cache) and measures, median of ``--runs`` runs:

- ``client, N targets``: ``UpdateClient.available(line)``: download and verify root, timestamp,
  snapshot, top-level targets and the line's role over HTTP (signatures, thresholds, versions,
  expiry, lengths and hashes), then list its releases — the figure with the 1 s target;
- ``client, N/10 targets``: the same for the small line (baseline: how it scales);
- ``verify only``: python-tuf's ``Metadata.from_bytes`` + the delegator's ``verify_delegate`` of
  the large role's bytes already in memory (no network, no listing);
- ``json.loads``: parsing the same bytes with the standard library (the floor).

The polling benchmark of the issue (10,000 operators through the platform API on PostgreSQL)
needs the platform API, which is not built yet.

Run: ``.venv/bin/python benchmarks/bench_updates.py [--targets 10000] [--runs 5]``; writes
``benchmarks/results/updates.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tuf.api.metadata import Metadata, TargetFile

from _common import fmt, machine, print_targets, stats, table, target, write_result
from sakimori.updates import keys
from sakimori.updates.acceptance import Release
from sakimori.updates.client import UpdateClient, enrol
from sakimori.updates.repository import (
    Thresholds,
    VendorRepository,
    init_repository,
    online_signers,
    publish,
    refresh_online,
)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def build(base: Path, large: int) -> VendorRepository:
    """A published repository whose lines ``large`` and ``small`` list ``large`` and
    ``large // 10`` targets, signed by both keys of each line."""
    offline, online = base / "offline", base / "online"
    repo = init_repository(
        base / "repo",
        lines=["large", "small"],
        offline_keys=offline,
        online_keys=online,
        thresholds=Thresholds(),
    )
    publish(repo, online_signers(online))
    for line, count in (("large", large), ("small", max(1, large // 10))):
        metadata = repo.load(line)
        assert metadata is not None
        for n in range(count):
            body = f"{line} build {n}\n".encode()
            item = TargetFile.from_data(f"{line}/build-{n}.bin", body, ["sha256"])
            release = Release(f"1.{n}", f"CMP-2026-{n:05d}", (f"CVE-2026-{10000 + n}",))
            item.unrecognized_fields["custom"] = release.to_custom()
            metadata.signed.targets[item.path] = item
        metadata.signed.version += 1
        metadata.signatures.clear()
        for name in (f"{line}-1", f"{line}-2"):
            metadata.sign(keys.load_signer(offline / f"{name}.key"), append=True)
        data = metadata.to_bytes()
        repo.layout.versioned(line, metadata.signed.version).write_bytes(data)
        repo.layout.current(line).write_bytes(data)
    refresh_online(repo, online_signers(online), force_snapshot=True)
    return repo


def client_run(repo: VendorRepository, url: str, scratch: Path, line: str) -> tuple[float, int]:
    state = Path(tempfile.mkdtemp(dir=scratch))
    enrol(
        state,
        metadata_url=f"{url}/metadata",
        targets_url=f"{url}/targets",
        root=repo.layout.versioned("root", 1).read_bytes(),
    )
    client = UpdateClient(state)
    started = time.perf_counter()
    _, releases = client.available(line)
    return time.perf_counter() - started, len(releases)


def verify_only(repo: VendorRepository, data: bytes) -> float:
    targets = repo.load("targets")
    assert targets is not None
    started = time.perf_counter()
    metadata = Metadata.from_bytes(data)
    targets.signed.verify_delegate("large", metadata.signed_bytes, metadata.signatures)
    return time.perf_counter() - started


def parse_only(data: bytes) -> float:
    started = time.perf_counter()
    json.loads(data)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    info = machine()
    small = max(1, args.targets // 10)
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        repo = build(scratch, args.targets)
        data = repo.layout.current("large").read_bytes()
        server = ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(_Quiet, directory=str(repo.layout.public))
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        samples: dict[str, list[float]] = {
            f"client, {args.targets:,} targets": [],
            f"client, {small:,} targets": [],
            f"verify only, {args.targets:,} targets": [],
            f"json.loads, {args.targets:,} targets": [],
        }
        names = list(samples)
        try:
            client_run(repo, url, scratch, "small")  # warm imports and the server
            for _ in range(max(1, args.runs)):
                seconds, listed = client_run(repo, url, scratch, "large")
                assert listed == args.targets, listed
                samples[names[0]].append(seconds)
                seconds, listed = client_run(repo, url, scratch, "small")
                assert listed == small, listed
                samples[names[1]].append(seconds)
                samples[names[2]].append(verify_only(repo, data))
                samples[names[3]].append(parse_only(data))
        finally:
            server.shutdown()
            server.server_close()
    figures = {name: stats(values) for name, values in samples.items()}
    floor = figures[names[3]]["median"]
    print(
        table(
            ["measure", "median s", "min s", "max s", "× json.loads"],
            [
                (name, fmt(f["median"]), fmt(f["min"]), fmt(f["max"]), f"{f['median'] / floor:.1f}")
                for name, f in figures.items()
            ],
        )
    )
    print(f"\nlarge role: {len(data):,} bytes of metadata for {args.targets:,} targets")
    rows = [
        target(
            f"client: verify metadata for {args.targets:,} targets (fresh cache, loopback HTTP)",
            figures[names[0]]["median"],
            "s",
            1.0,
        )
    ]
    print_targets(rows)
    write_result(
        "updates",
        {
            "target_count": args.targets,
            "small_target_count": small,
            "metadata_bytes": len(data),
            "figures": figures,
            "ratios_to_json_loads": {n: f["median"] / floor for n, f in figures.items()},
            "ratio_large_to_small": figures[names[0]]["median"] / figures[names[1]]["median"],
            "targets": rows,
            "not_measured": "10,000 operators polling through the platform API on PostgreSQL "
            "(needs the platform API, not built yet)",
        },
        info,
    )


if __name__ == "__main__":
    main()
