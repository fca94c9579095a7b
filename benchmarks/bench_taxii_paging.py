"""A TAXII client paging through 100,000 STIX objects of one collection (issue 6: at least
5,000 objects per second).

Set-up: a fresh PostgreSQL database; ``--objects`` STIX 2.1 indicators (about 600 bytes each)
bulk-inserted into the ``coordination-partners`` collection as clients would have added them:
1,000 objects per envelope, one ``date_added`` per envelope. The server is real: uvicorn with
one worker on 127.0.0.1, the app made by ``sakimori.api.create_app``, request logging at
warning level. The reader is a partner user with an API token.

A **pass** reads the whole collection: ``GET …/collections/{id}/objects/?limit=N``, then the
same with each answer's ``next`` until ``more`` is false, counting the objects (each answer is
decoded). Two clients: ``httpx`` (one keep-alive connection) and the third-party
``taxii2-client`` (``as_pages``, what a partner would run). Baseline in the same run: the same
rows read straight from PostgreSQL by psycopg in pages of the same size (keyset on the primary
key, each ``data`` decoded), i.e. the cost of the data alone, without HTTP, authorisation or
the TAXII envelope.

Run: ``.venv/bin/python benchmarks/bench_taxii_paging.py [--objects 100000] [--runs 3]
[--limit 1000] [--max-pages 0]``; ``--max-pages`` stops each pass early (objects/s is then
over the pages read; for a server too slow to finish a pass in reasonable time). Needs
PostgreSQL at ``SAKIMORI_BENCH_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``, as the other benchmarks); writes
``benchmarks/results/taxii_paging.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from _common import (
    fmt,
    load_note,
    machine,
    platform_server,
    postgres_database,
    print_targets,
    stats,
    table,
    target,
    write_result,
)

MEDIA_TYPE = "application/taxii+json;version=2.1"
PER_ENVELOPE = 1000


def _indicator(n: int, moment: str) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.UUID(int=n + (1 << 122), version=4)}",
        "created": moment,
        "modified": moment,
        "name": f"Scanner {n} seen probing VPN gateways",
        "description": "Source address seen by a member's monitoring sending path traversal "
        "requests to an SSL VPN portal; block at the perimeter.",
        "indicator_types": ["malicious-activity"],
        "pattern": f"[ipv4-addr:value = '198.51.{n // 250 % 250}.{n % 250}']",
        "pattern_type": "stix",
        "valid_from": moment,
        "labels": ["scanner"],
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    }


def populate(url: str, home: Path, count: int) -> tuple[str, str]:
    """The collection's objects (bulk) and a partner's token; (collection id, token)."""
    from sqlalchemy import insert, text

    from sakimori.config import Settings
    from sakimori.packages import taxii
    from sakimori.services import identity
    from sakimori.services.organisations import create_organisation
    from sakimori.store import models
    from sakimori.store.db import open_database

    settings = Settings.load({"SAKIMORI_HOME": str(home), "SAKIMORI_DATABASE_URL": url})
    db = open_database(url)
    key = identity.TokenKey.load(settings.token_key_path)
    create_organisation(db, "coordination", "Coordination", "coordinator")
    create_organisation(db, "allied-cert", "Allied CERT", "partner")
    identity.create_user(db, "allied", organisation="allied-cert", role="partner")
    token = identity.create_token(db, key, "allied", "bench", ["read"])[1]
    collection = next(c for c in taxii.COLLECTIONS if c.alias == "coordination-partners").id
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with db.transaction() as session:
        for first in range(0, count, PER_ENVELOPE):
            added = start + timedelta(seconds=first // PER_ENVELOPE)
            stamp = added.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            rows = []
            for n in range(first, min(first + PER_ENVELOPE, count)):
                item = _indicator(n, stamp)
                rows.append(
                    {
                        "collection": collection,
                        "object_id": item["id"],
                        "object_type": "indicator",
                        "version": stamp,
                        "spec_version": "2.1",
                        "added_at": added,
                        "added_by": "allied",
                        "data": item,
                    }
                )
            session.execute(insert(models.TaxiiObjectRow), rows)
        session.execute(text("ANALYZE taxii_object"))
    db.dispose()
    return collection, token


def pass_httpx(url: str, token: str, limit: int, max_pages: int) -> tuple[float, int, int]:
    """One pass with httpx: (seconds, objects, pages)."""
    headers = {"Authorization": f"Bearer {token}", "Accept": MEDIA_TYPE}
    objects = pages = 0
    started = time.perf_counter()
    with httpx.Client(headers=headers, timeout=120) as client:
        params: dict[str, Any] = {"limit": limit}
        while True:
            answer = client.get(f"{url}objects/", params=params)
            answer.raise_for_status()
            body = answer.json()
            objects += len(body.get("objects", []))
            pages += 1
            if not body.get("more") or (max_pages and pages >= max_pages):
                break
            params = {"limit": limit, "next": body["next"]}
    return time.perf_counter() - started, objects, pages


def pass_taxii2client(url: str, token: str, limit: int, max_pages: int) -> tuple[float, int, int]:
    """One pass with taxii2-client's ``as_pages``: (seconds, objects, pages)."""
    import requests
    from taxii2client.v21 import Collection, as_pages

    class Bearer(requests.auth.AuthBase):
        def __call__(self, request: Any) -> Any:
            request.headers["Authorization"] = f"Bearer {token}"
            return request

    objects = pages = 0
    started = time.perf_counter()
    collection = Collection(url, auth=Bearer())
    for page in as_pages(collection.get_objects, per_request=limit):
        objects += len(page.get("objects", []))
        pages += 1
        if max_pages and pages >= max_pages:
            break
    return time.perf_counter() - started, objects, pages


def pass_postgres(url: str, collection: str, limit: int) -> tuple[float, int, int]:
    """The baseline: the same rows straight from PostgreSQL, keyset pages of ``limit``."""
    import orjson
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    objects = pages = 0
    last = 0
    started = time.perf_counter()
    with psycopg.connect(dsn) as connection:
        while True:
            rows = connection.execute(
                "SELECT id, data::text FROM taxii_object WHERE collection = %s AND id > %s "
                "ORDER BY id LIMIT %s",
                (collection, last, limit),
            ).fetchall()
            if not rows:
                break
            decoded = [orjson.loads(data) for _, data in rows]
            objects += len(decoded)
            pages += 1
            last = rows[-1][0]
    return time.perf_counter() - started, objects, pages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--max-pages", type=int, default=0)
    args = parser.parse_args()
    info = machine()
    with (
        tempfile.TemporaryDirectory(prefix="sakimori-taxii-") as folder,
        postgres_database("sakimori_bench_taxii") as url,
    ):
        home = Path(folder)
        started = time.perf_counter()
        collection, token = populate(url, home, args.objects)
        took = time.perf_counter() - started
        print(f"set-up: {args.objects:,} objects bulk-inserted in {took:.1f} s")
        samples: dict[str, list[tuple[float, int, int]]] = {
            "httpx": [],
            "taxii2-client": [],
            "postgres": [],
        }
        with platform_server(url, home) as base:
            url_of = f"{base}/taxii2/api/collections/{collection}/"
            pass_httpx(url_of, token, args.limit, 2)  # warm: connections, token cache
            for _ in range(args.runs):
                samples["postgres"].append(pass_postgres(url, collection, args.limit))
                samples["httpx"].append(pass_httpx(url_of, token, args.limit, args.max_pages))
                samples["taxii2-client"].append(
                    pass_taxii2client(url_of, token, args.limit, args.max_pages)
                )
    rates = {name: [o / s for s, o, _ in runs] for name, runs in samples.items()}
    medians = {name: stats(r)["median"] for name, r in rates.items()}
    rows = []
    for name, runs in samples.items():
        objects, pages = runs[-1][1], runs[-1][2]
        seconds = stats([s for s, _, _ in runs])["median"]
        rows.append(
            [
                name,
                fmt(medians[name]),
                f"{min(rates[name]):,.0f}–{max(rates[name]):,.0f}",
                f"{seconds:.2f}",
                f"{objects:,}",
                pages,
            ]
        )
    print(table(["reader", "objects/s (median)", "range", "s per pass", "objects", "pages"], rows))
    print(f"ratio httpx / PostgreSQL baseline: {medians['httpx'] / medians['postgres']:.2f}")
    print(
        "ratio taxii2-client / PostgreSQL baseline: "
        f"{medians['taxii2-client'] / medians['postgres']:.2f}"
    )
    targets = [
        target("TAXII paging (httpx)", medians["httpx"], "objects/s", 5000, at_least=True),
        target(
            "TAXII paging (taxii2-client)", medians["taxii2-client"], "objects/s", 5000,
            at_least=True,
        ),
    ]  # fmt: skip
    print_targets(targets)
    note = load_note(info)
    if note:
        print(note)
    result = {
        "parameters": vars(args) | {"objects_per_envelope": PER_ENVELOPE},
        "server": {"uvicorn_workers": 1, "database": "PostgreSQL"},
        "objects_per_s": {name: stats(r) for name, r in rates.items()},
        "passes": {
            name: [{"seconds": s, "objects": o, "pages": p} for s, o, p in runs]
            for name, runs in samples.items()
        },
        "ratio_httpx_to_postgres": medians["httpx"] / medians["postgres"],
        "ratio_taxii2client_to_postgres": medians["taxii2-client"] / medians["postgres"],
        "targets": targets,
    }
    write_result("taxii_paging", result, info)
    print(json.dumps({"objects_per_s": medians["httpx"]}))


if __name__ == "__main__":
    main()
