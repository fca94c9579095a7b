"""Benchmark: a full NVD-sized load (300,000 synthetic CVE API 2.0 records) into PostgreSQL.

Records: ``--records`` synthetic ``cve`` objects, generated page by page with a fixed seed (the
same page always comes out the same). Each copies the configuration shape of one real record
drawn at random from ``--shapes`` — ``kev`` (the default: the 60 records of
../shared/data/nvd/20*/*.json), ``page`` (the 200 records of the real API page
``api/pablotron-nvd-go/.../cves-2023.json.gz``) or ``all`` — so the joint distribution of the
number of configurations, AND/OR, nodes, ``cpeMatch`` counts, ``vulnerable: false`` platforms,
fixed versions and version-bound kinds is the real one. What varies: every product of the
template is mapped to one of ``--products`` synthetic products (50,000 by default, spread over
``--vendors`` 15,000 vendors with Zipf-like popularity: a few are named by thousands of records,
most by a handful, as in NVD), the template's vendors staying distinct; ``x_firmware``/``x``
pairs keep their suffix; every version (criteria and bounds) of a record has its first number
shifted by one per-record amount (0–15, so the bounds stay ordered; each (template, shift) is
checked with ``record_from_dict`` once); ``matchCriteriaId`` values are fresh UUIDs. The record
also has ``id``, ``sourceIdentifier``, ``published``/``lastModified``, ``vulnStatus``,
``descriptions`` (text of the template's lengths), ``metrics`` (the CVSS blocks of another real
record), ``weaknesses``, ``references`` (URLs of the template's lengths) and the template's other
fields, so a record's JSON is as big as its template's (both averages are printed). The 60 real
files are KEV-listed records, about three times the size of a typical NVD record (the API page
averages 2.4 KB): with ``--shapes kev`` the load is heavier per record than NVD's own mix.

Timed, per run, into a fresh PostgreSQL database (uniquely named, dropped afterwards; or
``--database-url``, used and kept), page by page as a sync stores them: each page of
``--page-size`` records is serialised as an API 2.0 response (not timed), then parsed with
``nvd.documents`` and stored with ``store_nvd_records`` + ``refresh_products`` in one
transaction, timed to its commit. Three passes:

1. **first load** — every record new;
2. **unchanged** — the same pages again (content hashes match: nothing is written);
3. **1 % changed** — the same pages with 1 % of the records modified: all get a new
   ``lastModified``; half also gain a ``cpeMatch`` naming another product (configurations and
   product keys rewritten), the other half get other metrics only (the row is replaced).

Baseline, measured in the same run, page by page right after each first-load page: ``COPY`` of
the same rows (same columns and content hash; the product keys computed beforehand, not timed;
the configurations serialised to JSON inside the timing) into bare tables created
``(LIKE nvd_record INCLUDING ALL)`` and ``(LIKE product_key INCLUDING ALL)`` (same primary keys
and indexes), one transaction per page. It is the least any storage of these rows
costs; the ratio says what the content-hash lookups, key maintenance, SQLAlchemy inserts and
``refresh_products`` add. Parsing is timed separately and is not in the ratio.

Nothing runs ANALYZE but autovacuum, as in a sync; the server's ``autovacuum`` setting is printed.
On a server running without it (the shared development server does), the product_key lookups by
record lose their plan as the table grows; ``--autoanalyze`` runs ANALYZE between pages when
autovacuum's default rule would (50 rows + 10 % changed), outside the timing, to measure what a
default server does.

A 300,000-record run takes tens of minutes: the default is one run (``--runs`` for more; figures
are then medians of the runs).

Run: ``.venv/bin/python benchmarks/bench_nvd_load.py [--records N] [--page-size N] [--runs N]
[--shapes kev|page|all] [--autoanalyze] [--database-url URL]``
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import gzip
import random
import re
import statistics
import time
from bisect import bisect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

import orjson
import psycopg

from _common import (
    DATA,
    GcTimer,
    fmt,
    load_note,
    machine,
    postgres_database,
    stats,
    table,
    write_result,
)
from sakimori.cpe import nvd
from sakimori.errors import InvalidInput
from sakimori.matching.product_names import nvd_record_keys
from sakimori.services.product_findings import refresh_products
from sakimori.store.db import open_database
from sakimori.store.products import store_nvd_records

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SOURCE = "bench:nvd-api"
PASSES = ("first load", "unchanged", "1 % changed")
PAGE_FILE = DATA / "nvd/api/pablotron-nvd-go/nvd-api/testdata/responses/cves-2023.json.gz"
_SEP = re.compile(r"(?<!\\):")
_NUMBER = re.compile(r"\d+")
_BOUNDS = ("versionStartIncluding", "versionStartExcluding", "versionEndIncluding",
           "versionEndExcluding")  # fmt: skip
_SYLLABLES = (
    "ka", "to", "ri", "net", "sys", "tek", "lo", "vi", "ra", "mo", "dex", "sun", "ar", "el", "on",
    "ix", "qu", "zen", "pro", "soft", "data", "web", "cloud", "link",
)  # fmt: skip
_WORDS = (
    "server", "manager", "portal", "gateway", "router", "switch", "camera", "firewall", "client",
    "agent", "studio", "cms", "plugin", "controller", "suite", "console", "os", "firmware_update",
    "web_interface", "enterprise", "cloud", "mobile", "library",
)  # fmt: skip
_LOREM = (
    "A vulnerability in the web management interface of the affected product could allow an "
    "unauthenticated, remote attacker to execute arbitrary commands with elevated privileges on "
    "the underlying operating system. The vulnerability is due to insufficient validation of "
    "user-supplied input. An attacker could exploit this by sending a crafted request. "
) * 60


# -- the real records and the synthetic universe ---------------------------------------------------


def real_records(shapes: str) -> list[dict[str, Any]]:
    """The real ``cve`` objects whose shapes are sampled."""
    found: list[dict[str, Any]] = []
    if shapes in {"kev", "all"}:
        for path in sorted((DATA / "nvd").glob("20*/CVE-*.json")):
            document = orjson.loads(path.read_bytes())
            found.append(document.get("cve", document))
    if shapes in {"page", "all"}:
        page = orjson.loads(gzip.decompress(PAGE_FILE.read_bytes()))
        found.extend(item["cve"] for item in page["vulnerabilities"])
    return found


def _size(record: dict[str, Any]) -> int:
    return len(orjson.dumps(record))


class Universe:
    """``products`` synthetic (vendor, product) names over ``vendors`` vendors; popularity
    ~ 1/rank for products, products handed to vendors ~ 1/rank too."""

    def __init__(self, products: int, vendors: int, seed: int) -> None:
        rng = random.Random(f"{seed}:universe")
        self.vendors = _names(rng, vendors, self._vendor_name)
        vendor_weights = list(accumulate(1.0 / (r + 1) ** 0.9 for r in range(vendors)))
        self.owner: list[int] = []
        self.products: list[str] = []
        self.by_vendor: list[list[int]] = [[] for _ in range(vendors)]
        names: set[tuple[int, str]] = set()
        for index in range(products):
            # every vendor has at least one product; the rest go to the popular vendors
            vendor = (
                index
                if index < vendors
                else bisect(vendor_weights, rng.random() * vendor_weights[-1])
            )
            name = self._product_name(rng)
            while (vendor, name) in names:
                name = f"{name}_{rng.randint(2, 99)}"
            names.add((vendor, name))
            self.owner.append(vendor)
            self.products.append(name)
            self.by_vendor[vendor].append(index)
        self.largest = max(range(vendors), key=lambda v: len(self.by_vendor[v]))
        order = list(range(products))
        rng.shuffle(order)  # popularity independent of the vendor's size
        weights = [0.0] * products
        for rank, index in enumerate(order):
            weights[index] = 1.0 / (rank + 1)
        self.cumulative = list(accumulate(weights))

    @staticmethod
    def _vendor_name(rng: random.Random) -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))

    @staticmethod
    def _product_name(rng: random.Random) -> str:
        head = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3)))
        words = [head, *rng.sample(_WORDS, rng.randint(0, 2))]
        if rng.random() < 0.2:
            words.append(str(rng.randint(1, 9000)))
        return "_".join(words)

    def popular(self, rng: random.Random) -> int:
        return bisect(self.cumulative, rng.random() * self.cumulative[-1])


def _names(rng: random.Random, count: int, make: Any) -> list[str]:
    seen: set[str] = set()
    out = []
    for _ in range(count):
        name = make(rng)
        while name in seen:
            name = f"{name}{rng.randint(0, 9)}"
        seen.add(name)
        out.append(name)
    return out


# -- generation ------------------------------------------------------------------------------------


class Generator:
    """Synthetic records, page by page (see the module docstring)."""

    def __init__(self, templates: list[dict[str, Any]], universe: Universe, seed: int) -> None:
        self.templates = templates
        self.metrics = [t["metrics"] for t in templates if t.get("metrics")]
        self.universe = universe
        self.seed = seed
        #: per template: its vendors, each with the distinct products it names (``_firmware``
        #: stripped: ``x_firmware`` and its hardware ``x`` stay a pair)
        self.plans: list[dict[str, list[str]]] = []
        for template in templates:
            plan: dict[str, list[str]] = {}
            for configuration in template.get("configurations", []):
                for node in configuration["nodes"]:
                    for match in node["cpeMatch"]:
                        fields = _SEP.split(match["criteria"])
                        bases = plan.setdefault(fields[3], [])
                        if _base(fields[4])[0] not in bases:
                            bases.append(_base(fields[4])[0])
            self.plans.append(plan)
        self._valid: dict[tuple[int, int], bool] = {}

    def page(self, number: int, size: int, first: int, total: int, changed: float = 0.0) -> bytes:
        """Page ``number`` (records ``first`` …) as an API 2.0 response; with ``changed``,
        that share of its records modified (a second random stream: the rest are identical)."""
        rng = random.Random(f"{self.seed}:page:{number}")
        change = random.Random(f"{self.seed}:change:{number}")
        records = []
        for index in range(first, min(first + size, total)):
            record = self.record(rng, index, total)
            if changed and change.random() < changed:
                self.modify(change, record)
            records.append({"cve": record})
        envelope = {
            "resultsPerPage": size,
            "startIndex": first,
            "totalResults": total,
            "format": "NVD_CVE",
            "version": "2.0",
            "timestamp": "2026-11-02T09:00:00.000",
            "vulnerabilities": records,
        }
        return orjson.dumps(envelope)

    def record(self, rng: random.Random, index: int, total: int) -> dict[str, Any]:
        number = rng.randrange(len(self.templates))
        template = self.templates[number]
        shift = rng.randint(0, 15)
        if not self._ok(number, shift):
            shift = 0
        year = 1999 + index * 28 // total
        published = datetime(year, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(365 * 86400))
        modified = min(
            published + timedelta(days=rng.expovariate(1 / 400)), NOW - timedelta(days=1)
        )
        names = self._names(rng, number)
        record = dict(template)
        record.update(
            {
                "id": f"CVE-{year}-{10000 + index}",
                "published": _stamp(published),
                "lastModified": _stamp(modified),
                "descriptions": [
                    {**d, "value": _text(rng, len(d.get("value", "")))}
                    for d in template.get("descriptions", [])
                ],
                "metrics": rng.choice(self.metrics) if self.metrics else {},
                "configurations": [
                    self._configuration(rng, c, shift, names)
                    for c in template.get("configurations", [])
                ],
            }
        )
        if "references" in template:
            record["references"] = [
                {**r, "url": _url(rng, len(r.get("url", "")))} for r in template["references"]
            ]
        return record

    def _configuration(
        self,
        rng: random.Random,
        configuration: dict[str, Any],
        shift: int,
        names: dict[tuple[str, str], tuple[str, str]] | None,
    ) -> dict[str, Any]:
        nodes = []
        for node in configuration["nodes"]:
            matches = []
            for match in node["cpeMatch"]:
                fields = _SEP.split(match["criteria"])
                if names is not None:
                    base, firmware = _base(fields[4])
                    vendor, product = names[(fields[3], base)]
                    fields[3], fields[4] = vendor, product + firmware
                fields[5] = _shift(fields[5], shift)
                copy = {**match, "criteria": ":".join(fields), "matchCriteriaId": _uuid(rng)}
                for bound in _BOUNDS:
                    if bound in copy:
                        copy[bound] = _shift(copy[bound], shift)
                matches.append(copy)
            nodes.append({**node, "cpeMatch": matches})
        return {**configuration, "nodes": nodes}

    def _names(self, rng: random.Random, number: int) -> dict[tuple[str, str], tuple[str, str]]:
        """The synthetic (vendor, product) of each of the template's (vendor, product): one
        popular product picks the vendor (one with enough products), the template vendor's
        other products are other products of that vendor, so none collapse into one key."""
        universe = self.universe
        names: dict[tuple[str, str], tuple[str, str]] = {}
        for vendor, bases in self.plans[number].items():
            for _ in range(20):
                chosen = universe.popular(rng)
                owner = universe.owner[chosen]
                if len(universe.by_vendor[owner]) >= len(bases):
                    break
            else:
                owner = universe.largest
                chosen = universe.by_vendor[owner][0]
            others = [p for p in universe.by_vendor[owner] if p != chosen] if len(bases) > 1 else []
            picked = [chosen, *rng.sample(others, len(bases) - 1)]
            for base, product in zip(bases, picked, strict=True):
                names[(vendor, base)] = (universe.vendors[owner], universe.products[product])
        return names

    def _ok(self, number: int, shift: int) -> bool:
        """Whether shifting this template's versions keeps every range valid (checked once)."""
        known = self._valid.get((number, shift))
        if known is None:
            template = self.templates[number]
            trial = {
                "id": "CVE-2000-0001",
                "configurations": [
                    self._configuration(random.Random(0), c, shift, None)
                    for c in template.get("configurations", [])
                ],
            }
            try:
                nvd.record_from_dict(trial)
                known = True
            except InvalidInput:
                known = False
            self._valid[(number, shift)] = known
        return known

    def modify(self, rng: random.Random, record: dict[str, Any]) -> None:
        """A change NVD makes: a new ``lastModified``, and either a new ``cpeMatch`` naming
        another product (configurations and keys change) or other metrics."""
        record["lastModified"] = _stamp(NOW + timedelta(seconds=rng.randrange(86400)))
        configurations = record.get("configurations") or []
        if configurations and rng.random() < 0.5:
            chosen = self.universe.popular(rng)
            vendor = self.universe.vendors[self.universe.owner[chosen]]
            criteria = f"cpe:2.3:a:{vendor}:{self.universe.products[chosen]}:*:*:*:*:*:*:*:*"
            first = configurations[0]["nodes"][0]
            added = {"vulnerable": True, "criteria": criteria, "versionEndExcluding": "99.0",
                     "matchCriteriaId": _uuid(rng)}  # fmt: skip
            first["cpeMatch"] = [*first["cpeMatch"], added]
        else:
            record["metrics"] = rng.choice(self.metrics) if self.metrics else {}


def _base(product: str) -> tuple[str, str]:
    return (product[:-9], "_firmware") if product.endswith("_firmware") else (product, "")


def _shift(version: str, shift: int) -> str:
    if not shift or version in {"*", "-", ""}:
        return version
    return _NUMBER.sub(lambda m: str(int(m.group()) + shift), version, count=1)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032X}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _text(rng: random.Random, length: int) -> str:
    start = rng.randrange(len(_LOREM) // 2)
    return _LOREM[start : start + length]


def _url(rng: random.Random, length: int) -> str:
    head = "https://security.example.com/advisories/"
    return (head + f"{rng.getrandbits(256):064x}" * 8)[: max(length, len(head) + 8)]


# -- one run ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def database(url: str | None, run: int) -> Iterator[str]:
    """A fresh database, or ``--database-url`` (kept; emptied of what an earlier run wrote)."""
    if url is None:
        with postgres_database("sakimori_bench_nvd") as fresh:
            yield fresh
        return
    db = open_database(url)
    with db.transaction() as session:
        from sqlalchemy import text

        count = session.execute(text("SELECT count(*) FROM nvd_record")).scalar_one()
        if count and run == 0:
            raise SystemExit(f"{url} already holds {count:,} NVD records; give an empty database")
        session.execute(text("TRUNCATE nvd_record, product_key"))
        session.execute(text("DROP TABLE IF EXISTS bench_bare_nvd, bench_bare_key"))
    db.dispose()
    yield url


def _driver(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def bare_tables(connection: psycopg.Connection[Any]) -> None:
    connection.execute("CREATE TABLE bench_bare_nvd (LIKE nvd_record INCLUDING ALL)")
    connection.execute("CREATE TABLE bench_bare_key (LIKE product_key INCLUDING ALL)")
    connection.commit()


def copy_page(connection: psycopg.Connection[Any], documents: list[nvd.NvdDocument]) -> float:
    """The baseline: the page's rows and keys ``COPY``-ed into the bare tables, committed."""
    keys = [(d.record.id, sorted(nvd_record_keys(d.record))) for d in documents]  # not timed
    started = time.perf_counter()
    with connection.cursor() as cursor:
        with cursor.copy(
            "COPY bench_bare_nvd (cve_id, source, content_hash, last_modified, status, "
            "configurations, loaded_at) FROM STDIN"
        ) as copy:
            for d in documents:
                copy.write_row(
                    (d.record.id, SOURCE, d.content_hash, d.last_modified or None,
                     d.record.vuln_status or None, orjson.dumps(list(d.configurations)).decode(),
                     NOW)
                )  # fmt: skip
        with cursor.copy("COPY bench_bare_key (key, kind, cve_id) FROM STDIN") as copy:
            for cve_id, named in keys:
                for key in named:
                    copy.write_row((key, "nvd", cve_id))
    connection.commit()
    return time.perf_counter() - started


def one_pass(
    url: str,
    generator: Generator,
    args: argparse.Namespace,
    changed: float,
    baseline: psycopg.Connection[Any] | None,
) -> dict[str, Any]:
    db = open_database(url)
    pages: list[dict[str, float]] = []
    generated = 0.0
    sizes = records = keys_changed = 0
    gc_timer = GcTimer()
    analyzer = psycopg.connect(_driver(url), autocommit=True) if args.autoanalyze else None
    try:
        for number, first in enumerate(range(0, args.records, args.page_size)):
            started = time.perf_counter()
            body = generator.page(number, args.page_size, first, args.records, changed)
            generated += time.perf_counter() - started
            sizes += len(body)
            collected = gc_timer.seconds
            t0 = time.perf_counter()
            documents = nvd.documents(body)
            t1 = time.perf_counter()
            with db.transaction() as session:
                keys = store_nvd_records(session, SOURCE, documents, NOW)
                t2 = time.perf_counter()
                refresh_products(session, keys, NOW, "bench: NVD page stored")
                t3 = time.perf_counter()
            t4 = time.perf_counter()
            row = {"parse": t1 - t0, "store": t2 - t1, "refresh": t3 - t2, "commit": t4 - t3}
            row["total"] = t4 - t0
            row["gc"] = gc_timer.seconds - collected  # within the timed part
            row["keys_changed"] = len(keys)
            if baseline is not None:
                row["baseline"] = copy_page(baseline, documents)
            if analyzer is not None:
                row["analyze"] = autoanalyze(analyzer)
            records += len(documents)
            keys_changed += len(keys)
            pages.append(row)
            if (number + 1) % 25 == 0:
                print(f"    page {number + 1}: {records:,} records", flush=True)
    finally:
        gc_timer.close()
        db.dispose()
        if analyzer is not None:
            analyzer.close()
    totals = {k: sum(p[k] for p in pages) for k in ("parse", "store", "refresh", "commit", "total")}
    if baseline is not None:
        totals["baseline"] = sum(p["baseline"] for p in pages)
    if analyzer is not None:
        totals["analyze"] = sum(p["analyze"] for p in pages)
    return {
        "records": records,
        "pages": pages,
        "seconds": totals,
        "gc_seconds": sum(p["gc"] for p in pages),
        "generate_seconds": generated,
        "page_bytes": sizes,
        "keys_changed": keys_changed,
    }


def autoanalyze(connection: psycopg.Connection[Any]) -> float:
    """``--autoanalyze``: ANALYZE nvd_record and product_key when autovacuum's default rule
    would (more than 50 rows + 10 % of the table changed since the last one); not timed."""
    started = time.perf_counter()
    rows = connection.execute(
        "SELECT s.relname, s.n_mod_since_analyze, c.reltuples FROM pg_stat_user_tables s "
        "JOIN pg_class c ON c.oid = s.relid WHERE s.relname IN ('nvd_record', 'product_key')"
    ).fetchall()
    for name, changed, tuples in rows:
        if changed > 50 + 0.1 * max(tuples, 0):
            connection.execute(f"ANALYZE {name}")
    return time.perf_counter() - started


def sizes_of(url: str) -> dict[str, Any]:
    with psycopg.connect(_driver(url), autocommit=True) as connection:
        connection.execute("CHECKPOINT")
        out: dict[str, Any] = {}
        for name in ("nvd_record", "product_key", "bench_bare_nvd", "bench_bare_key"):
            size, rows = connection.execute(
                f"SELECT pg_total_relation_size('{name}'), (SELECT count(*) FROM {name})"
            ).fetchone() or (0, 0)
            out[name] = {"bytes": size, "rows": rows}
        started = time.perf_counter()
        connection.execute("SELECT count(*) FROM nvd_record")
        out["count_seconds"] = time.perf_counter() - started  # what a per-page count(*) costs
        out["distinct_keys"] = connection.execute(
            "SELECT count(DISTINCT key) FROM product_key"
        ).fetchone()[0]  # type: ignore[index]
        out["distinct_vendor_product"] = connection.execute(
            "SELECT count(DISTINCT split_part(key, ':', 2) || ':' || split_part(key, ':', 3)) "
            "FROM product_key"
        ).fetchone()[0]  # type: ignore[index]
    return out


def one_run(url: str, generator: Generator, args: argparse.Namespace) -> dict[str, Any]:
    open_database(url).dispose()  # migrate: not timed
    run: dict[str, Any] = {}
    with psycopg.connect(_driver(url), autocommit=True) as connection:
        row = connection.execute("SHOW autovacuum").fetchone()
        run["server_autovacuum"] = row[0] if row else None
    with psycopg.connect(_driver(url)) as baseline:
        bare_tables(baseline)
        for phase, changed in zip(PASSES, (0.0, 0.0, args.changed), strict=True):
            with psycopg.connect(_driver(url), autocommit=True) as connection:
                connection.execute("CHECKPOINT")
            print(f"  {phase}:", flush=True)
            run[phase] = one_pass(
                url, generator, args, changed, baseline if phase == "first load" else None
            )
            print(f"  {phase}: {run[phase]['seconds']['total']:.1f} s", flush=True)
            if phase == "first load":
                run["sizes_after_first_load"] = sizes_of(url)
    run["sizes_at_end"] = sizes_of(url)
    return run


# -- report ----------------------------------------------------------------------------------------


def summary(run: dict[str, Any]) -> dict[str, Any]:
    """Per pass: totals, records/s, page-time percentiles, first vs last ten pages."""
    out: dict[str, Any] = {}
    for phase in PASSES:
        result = run[phase]
        totals = [p["total"] for p in result["pages"]]
        ordered = sorted(totals)
        out[phase] = {
            **result["seconds"],
            "records_per_second": result["records"] / result["seconds"]["total"],
            "page_median": statistics.median(totals),
            "page_p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
            "first_10_pages": sum(totals[:10]),
            "last_10_pages": sum(totals[-10:]),
            "keys_changed": result["keys_changed"],
            "gc_seconds": result["gc_seconds"],
        }
        if "baseline" in result["seconds"]:
            base = [p["baseline"] for p in result["pages"]]
            out[phase]["baseline_first_10_pages"] = sum(base[:10])
            out[phase]["baseline_last_10_pages"] = sum(base[-10:])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000, help="synthetic NVD records")
    parser.add_argument("--page-size", type=int, default=2_000, help="records per API page")
    parser.add_argument("--runs", type=int, default=1, help="runs of the three passes")
    parser.add_argument("--shapes", choices=("kev", "page", "all"), default="kev")
    parser.add_argument("--products", type=int, default=50_000, help="vendor:product pairs")
    parser.add_argument("--vendors", type=int, default=15_000)
    parser.add_argument("--changed", type=float, default=0.01, help="share changed, pass 3")
    parser.add_argument("--database-url", help="use (and keep) this database (else a fresh one)")
    parser.add_argument(
        "--autoanalyze",
        action="store_true",
        help="ANALYZE between pages as autovacuum would (for a server running without it)",
    )
    parser.add_argument("--seed", type=int, default=20261102)
    args = parser.parse_args()
    info = machine()
    templates = real_records(args.shapes)
    universe = Universe(args.products, args.vendors, args.seed)
    generator = Generator(templates, universe, args.seed)
    gc.collect()
    gc.freeze()  # the benchmark's own data (templates, universe) is not the product's heap
    real_size = statistics.mean(_size(t) for t in templates)
    real_keys = statistics.mean(len(nvd_record_keys(nvd.record_from_dict(t))) for t in templates)
    sample = orjson.loads(generator.page(0, min(args.page_size, args.records), 0, args.records))
    synthetic_size = statistics.mean(_size(v["cve"]) for v in sample["vulnerabilities"])
    print(
        f"{args.records:,} synthetic records in pages of {args.page_size:,}, shapes of "
        f"{len(templates)} real records ({args.shapes}); average JSON per record: real "
        f"{real_size:,.0f} B, synthetic (page 1) {synthetic_size:,.0f} B; product keys per "
        f"record: real {real_keys:.2f}; {args.products:,} products over {args.vendors:,} vendors",
        flush=True,
    )
    runs = []
    for number in range(args.runs):
        with database(args.database_url, number) as url:
            print(f"run {number + 1} of {args.runs}", flush=True)
            runs.append(one_run(url, generator, args))
    real = {"templates": len(templates), "record_bytes": real_size, "keys_per_record": real_keys}
    report(args, info, runs, real, synthetic_size)


def report(
    args: argparse.Namespace,
    info: dict[str, Any],
    runs: list[dict[str, Any]],
    real: dict[str, Any],
    synthetic_size: float,
) -> None:
    per_run = [summary(r) for r in runs]

    def med(phase: str, key: str) -> float:
        return float(statistics.median(s[phase][key] for s in per_run))

    how = "one run" if args.runs == 1 else f"median of {args.runs} runs"
    print(f"\nNVD load, {args.records:,} records, pages of {args.page_size:,} ({how}; s)")
    rows = []
    for phase in PASSES:
        rows.append(
            (
                phase,
                f"{med(phase, 'total'):.1f}",
                f"{med(phase, 'records_per_second'):,.0f}",
                f"{med(phase, 'parse'):.1f}",
                f"{med(phase, 'store'):.1f}",
                f"{med(phase, 'refresh'):.2f}",
                f"{med(phase, 'commit'):.1f}",
                f"{med(phase, 'gc_seconds'):.1f}",
                f"{med(phase, 'page_median'):.3f}",
                f"{med(phase, 'page_p95'):.3f}",
                f"{med(phase, 'first_10_pages'):.1f}",
                f"{med(phase, 'last_10_pages'):.1f}",
            )
        )
    headers = ["pass", "total", "rec/s", "parse", "store", "refresh", "commit", "(gc)", "page p50",
               "page p95", "first 10 pages", "last 10 pages"]  # fmt: skip
    print(table(headers, rows))
    print(
        "(total = parse + store + refresh + commit, summed over pages; (gc) = cyclic garbage "
        "collection inside those, already counted in them)"
    )
    first = "first load"
    stored = med(first, "store") + med(first, "refresh") + med(first, "commit")
    base = med(first, "baseline")
    print(
        f"baseline COPY of the same rows and keys into bare tables (same indexes): {base:.1f} s "
        f"(first 10 pages {med(first, 'baseline_first_10_pages'):.2f} s, last 10 "
        f"{med(first, 'baseline_last_10_pages'):.2f} s); store + refresh + commit = "
        f"{stored:.1f} s, {stored / base:.1f}x the baseline (parse excluded)"
    )
    print(
        f"unchanged pass: {med(first, 'total') / med('unchanged', 'total'):.1f}x faster than the "
        f"first load; parse is {med('unchanged', 'parse') / med('unchanged', 'total'):.0%} of it. "
        f"1 % changed: {med('1 % changed', 'keys_changed'):,.0f} product keys changed"
    )
    end = runs[-1]["sizes_after_first_load"]
    mib = 1024 * 1024
    print(
        "\n"
        + table(
            ["table (after first load)", "rows", "total size"],
            [
                (name, f"{end[name]['rows']:,}", f"{end[name]['bytes'] / mib:,.0f} MiB")
                for name in ("nvd_record", "product_key", "bench_bare_nvd", "bench_bare_key")
            ],
        )
    )
    print(
        f"product_key: {end['distinct_keys']:,} distinct keys (part:vendor:product), "
        f"{end['distinct_vendor_product']:,} distinct vendor:product; "
        f"{end['product_key']['rows'] / max(end['nvd_record']['rows'], 1):.2f} keys per record; "
        f"SELECT count(*) FROM nvd_record: {end['count_seconds'] * 1000:.0f} ms"
    )
    print(
        f"cyclic GC within the timed part of the first load: {med(first, 'gc_seconds'):.1f} s; "
        f"generating the pages "
        f"(not timed): {statistics.median(r[first]['generate_seconds'] for r in runs):.0f} s"
    )
    figure = f"NVD load, {args.records:,} records ({args.shapes} shapes)"
    targets = [
        {"figure": f"{figure}: first load", "value": med(first, "total"), "unit": "s",
         "target": f"no target; {how}", "met": None},
        {"figure": f"{figure}: unchanged re-store", "value": med("unchanged", "total"),
         "unit": "s", "target": f"no target; {how}", "met": None},
        {"figure": f"{figure}: 1 % changed", "value": med("1 % changed", "total"), "unit": "s",
         "target": f"no target; {how}", "met": None},
        {"figure": f"{figure}: storage / bare COPY", "value": stored / base, "unit": "x",
         "target": "no target; parse excluded", "met": None},
    ]  # fmt: skip
    analyzed = (
        f"ANALYZE as autovacuum would (--autoanalyze, not timed): "
        f"{sum(r[first]['seconds'].get('analyze', 0.0) for r in runs):.1f} s in the first load"
        if args.autoanalyze
        else "no ANALYZE but autovacuum's"
    )
    print(f"server autovacuum: {runs[-1]['server_autovacuum']}; {analyzed}")
    note = load_note(info)
    if note:
        print(note)
    default = args.records == 300_000 and args.shapes == "kev" and not args.autoanalyze
    name = "nvd_load" if default else f"nvd_load_{args.records}_{args.shapes}"
    name += "_autoanalyze" if args.autoanalyze else ""
    path = write_result(
        name,
        {
            "parameters": vars(args),
            "data": {
                "real": real,
                "synthetic_record_bytes": synthetic_size,
                "page_bytes": runs[-1][first]["page_bytes"],
            },
            "passes": {
                phase: {key: stats([s[phase][key] for s in per_run]) for key in per_run[0][phase]}
                for phase in PASSES
            },
            "runs": runs,
            "targets": targets,
        },
        info,
    )
    print(f"\nwrote {path} ({fmt(path.stat().st_size / 1024)} KiB)")


if __name__ == "__main__":
    main()
