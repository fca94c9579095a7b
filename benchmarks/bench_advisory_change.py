"""Benchmark: one changed advisory applied to the findings of 10,000 assets (≤ 1 s, PostgreSQL).

Setup (not timed), in a fresh PostgreSQL database (and, with ``--sqlite``, a SQLite file too):
the real PyPI OSV records, CERT/CC's SSVC decision tables, the KEV catalog and the EPSS scores
are loaded with ``intel load``, so decisions are real. 50 organisations get 10,000 assets; each
asset's current inventory holds ``babel`` — the package of PYSEC-2021-421 (CVE-2021-42771,
fixed in 2.9.1) — at an affected version for most (80 %), at 2.9.1 for some (15 %), at a later
release for the rest, plus ``--components`` other package-versions drawn from the real SBOMs and
lockfiles of ../shared/data (their findings are matched for real and stored too). Rows are
bulk-inserted; the babel findings are created by a first refresh.

Timed: the record changes — version B widens the range to "fixed in 2.10.0" (so 2.9.1 is
affected) and adds an alias; version A is the original — and the changed record file is loaded
with ``sakimori.services.intel.load_paths`` (the real path). Runs alternate B, A, B, A… so each
one really opens or closes findings (about 1,500) and rewrites the aliases of the others. Two
figures per run: the whole load, and within it the refresh of findings (``refresh_packages``,
wrapped with a timer; the share spent in ``assess_findings`` is reported too).

Baseline: the per-asset implementation this replaced (one affected-entries query and match per
asset, an ORM load of all the asset's package findings, an assessment of all its findings), kept
below as ``old_refresh``. It is measured in the same run on the same data for the first
``--baseline-assets`` assets only (it takes tens of milliseconds per asset), inside a transaction
that is rolled back; its per-asset time is extrapolated to all assets and says so.

Run: ``.venv/bin/python benchmarks/bench_advisory_change.py [--assets N] [--runs N]
[--components N] [--baseline-assets N] [--sqlite]``
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from _common import (
    DATA,
    inventory_package_versions,
    load_note,
    machine,
    postgres_database,
    print_targets,
    stats,
    table,
    target,
    write_result,
)
from sakimori.formats import osv
from sakimori.formats.limits import Limits
from sakimori.matching import AdvisoryIndex, match_components, package_version_of
from sakimori.matching.findings import build_findings
from sakimori.model.ecosystem import to_purl
from sakimori.model.finding import Finding as FoundVulnerability
from sakimori.model.inventory import Component
from sakimori.model.lifecycle import State
from sakimori.model.organisation import SECTORS
from sakimori.services import intel as intel_service
from sakimori.services import tracking
from sakimori.services.assessment import assess_findings, policy_set
from sakimori.services.finding_details import (
    Detail,
    attach_details,
    package_identity,
    store_details,
)
from sakimori.services.reconcile import _new_row, finding_key, package_of
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.store.db import Database, open_database
from sakimori.triage.policy import PolicySet

RECORD = DATA / "osv" / "pypi" / "vulns" / "babel" / "PYSEC-2021-421.yaml"
PACKAGE = ("PyPI", "babel")
#: (version, share of assets): affected by both versions of the record, by B only, by neither.
VERSIONS = [
    ("2.7.0", 0.2), ("2.8.0", 0.2), ("2.8.1", 0.2), ("2.9.0", 0.2),
    ("2.9.1", 0.15), ("2.10.1", 0.03), ("2.12.1", 0.02),
]  # fmt: skip
COMPONENT = ("inventory_id", "ecosystem", "name", "version", "release", "display_name", "purl")


# -- the changed record ----------------------------------------------------------------------------


def record_versions() -> tuple[dict[str, Any], dict[str, Any]]:
    """Version A (the record as published) and B (range widened to 2.10.0, one more alias)."""
    original: dict[str, Any] = yaml.safe_load(RECORD.read_text())
    widened = json.loads(json.dumps(original))
    widened["modified"] = "2026-11-01T00:00:00Z"
    widened["aliases"] = [*original["aliases"], "BIT-babel-2021-42771"]
    affected = widened["affected"][0]
    affected["ranges"] = [
        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.10.0"}]}
    ]
    affected["versions"] = [*affected.get("versions", []), "2.9.1"]
    return original, widened


def affected_in(record: dict[str, Any]) -> set[str]:
    fixed = next(e["fixed"] for e in record["affected"][0]["ranges"][0]["events"] if "fixed" in e)
    order = [v for v, _ in VERSIONS]
    return set(order[: order.index("2.9.1") + (fixed == "2.10.0")])


# -- setup -----------------------------------------------------------------------------------------


def load_intel(db: Database) -> float:
    started = time.perf_counter()
    paths = [
        DATA / "osv" / "pypi" / "vulns",
        DATA / "ssvc" / "data" / "json" / "decision_tables",
        DATA / "kev" / "known_exploited_vulnerabilities.json",
        DATA / "epss" / "EPSS_CVE_data",
    ]
    report = intel_service.load_paths(db, paths, Limits())
    if report.failed:
        raise SystemExit(f"intel load failed: {[s.message for s in report.failed]}")
    return time.perf_counter() - started


def pool_findings(db: Database, pool: Sequence[Any]) -> list[list[FoundVulnerability]]:
    """The real findings of each pool package-version (matched once each)."""
    components = [
        Component(p.name, p.version, p.ecosystem, to_purl(p.ecosystem, p.name, p.version))
        for p in pool
    ]
    with db.transaction() as session:
        resolved = [package_version_of(c) for c in components]
        wanted = {(p.ecosystem, p.name) for p in resolved if not isinstance(p, str)}
        index = AdvisoryIndex(store.affected_entries(session, wanted))
        results = match_components(components, index, resolved)
        records = {hit.entry.advisory_id for r in results for hit in r.result.hits}
        advisories = store.advisory_summaries(session, records)
        per: list[list[FoundVulnerability]] = [[] for _ in pool]
        for result in results:
            if result.result.hits:
                per[result.index], _ = build_findings("setup", [result], advisories, {}, {})
    return per


def bulk(session: Session, name: str, rows: list[dict[str, Any]]) -> None:
    table_ = models.Base.metadata.tables[name]
    for part in store.chunks(rows, 5_000):
        session.execute(table_.insert(), list(part))


def copy_components(session: Session, rows: Iterator[tuple[Any, ...]]) -> None:
    """inventory_component rows by COPY on PostgreSQL (millions of them), executemany on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        raw = session.connection().connection.driver_connection
        statement = f"COPY inventory_component ({', '.join(COMPONENT)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(dict(zip(COMPONENT, row, strict=True)))
        if len(batch) == 20_000:
            bulk(session, "inventory_component", batch)
            batch = []
    bulk(session, "inventory_component", batch)


def populate(db: Database, assets: int, others: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.perf_counter()
    pool_set, _, _ = inventory_package_versions()
    pool = sorted((p for p in pool_set if p.name != "babel"), key=str)
    found = pool_findings(db, pool)
    now = datetime.now(UTC)
    sectors = list(SECTORS)
    rows_found = 0
    with db.transaction() as session:
        bulk(
            session,
            "organisation",
            [
                {
                    "slug": f"org-{i:02d}",
                    "name": f"Organisation {i}",
                    "kind": "operator",
                    "sectors": [sectors[i % len(sectors)]],
                    "created_at": now,
                }
                for i in range(50)
            ],
        )
        orgs = list(
            session.scalars(select(models.Organisation.id).order_by(models.Organisation.id))
        )
        bulk(
            session,
            "asset",
            [
                {
                    "organisation_id": orgs[i % len(orgs)],
                    "slug": f"asset-{i:05d}",
                    "name": f"Asset {i}",
                    "criticality": rng.choice(["low", "medium", "high", "critical"]),
                    "internet_facing": rng.choice([True, False, None]),
                    "environment": rng.choice(["production", "staging", None]),
                    "created_at": now,
                }
                for i in range(assets)
            ],
        )
        asset_ids = list(session.scalars(select(models.Asset.id).order_by(models.Asset.id)))
        bulk(
            session,
            "inventory",
            [
                {
                    "asset_id": a,
                    "version": 1,
                    "format": "cyclonedx",
                    "source": "bench",
                    "content_hash": f"{a:064x}",
                    "component_count": others + 1,
                    "uploaded_at": now,
                    "uploaded_by": "bench",
                }
                for a in asset_ids
            ],
        )
        pairs = session.execute(select(models.Inventory.asset_id, models.Inventory.id))
        # Not dict(pairs): a Result has keys() (its columns), so dict() would misread it.
        inventory = {asset: inventory_id for asset, inventory_id in pairs}  # noqa: C416
        versions = [v for v, _ in VERSIONS]
        weights = [w for _, w in VERSIONS]
        chosen = {a: rng.choices(versions, weights)[0] for a in asset_ids}
        picks = {a: rng.sample(range(len(pool)), min(others, len(pool))) for a in asset_ids}

        def component_rows() -> Iterator[tuple[Any, ...]]:
            for a in asset_ids:
                version = chosen[a]
                display = "Babel" if a % 3 else "babel"
                purl = f"pkg:pypi/babel@{version}"
                yield (inventory[a], "PyPI", "babel", version, None, display, purl)
                for i in picks[a]:
                    p = pool[i]
                    purl = to_purl(p.ecosystem, p.name, p.version)
                    yield (inventory[a], p.ecosystem, p.name, p.version, None, p.name, purl)

        copy_components(session, component_rows())
        finding_rows = [
            _new_row(a, finding_key(item), item, now)  # what reconcile inserts, and its detail
            | {
                "aliases": list(item.aliases),
                "records": list(item.records),
                "fixed_versions": list(item.fixed),
                "release": item.release,
            }
            for a in asset_ids
            for i in picks[a]
            for item in found[i]
        ]
        rows_found = len(finding_rows)
        attach_details(session, finding_rows, now)
        bulk(session, "finding", finding_rows)
    if db.dialect == "postgresql":
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    return {
        "seconds": time.perf_counter() - started,
        "assets": len(asset_ids),
        "component_rows": len(asset_ids) * (min(others, len(pool)) + 1),
        "other_findings": rows_found,
        "pool_package_versions": len(pool),
        "babel_versions": {v: sum(1 for x in chosen.values() if x == v) for v in versions},
    }


# -- the timed path --------------------------------------------------------------------------------


class Timers:
    """Wraps ``refresh_packages`` (as ``load_paths`` calls it) and ``assess_findings`` (as the
    refresh calls it) to time them inside the real load."""

    def __init__(self) -> None:
        self.refresh = self.assess = 0.0
        self.counts: tracking.SyncCounts | None = None
        self._refresh = intel_service.refresh_packages
        self._assess = tracking.assess_findings

    def __enter__(self) -> Timers:
        def refresh(*args: Any, **kwargs: Any) -> tracking.SyncCounts:
            started = time.perf_counter()
            self.counts = self._refresh(*args, **kwargs)
            self.refresh += time.perf_counter() - started
            return self.counts

        def assess(*args: Any, **kwargs: Any) -> int:
            started = time.perf_counter()
            changed = self._assess(*args, **kwargs)
            self.assess += time.perf_counter() - started
            return changed

        intel_service.refresh_packages = refresh  # type: ignore[assignment]
        tracking.assess_findings = assess  # type: ignore[assignment]
        return self

    def __exit__(self, *_: object) -> None:
        intel_service.refresh_packages = self._refresh  # type: ignore[assignment]
        tracking.assess_findings = self._assess  # type: ignore[assignment]


def apply(db: Database, folder: Path, record: dict[str, Any]) -> dict[str, Any]:
    (folder / "PYSEC-2021-421.json").write_text(json.dumps(record))
    with Timers() as timers:
        started = time.perf_counter()
        intel_service.load_paths(db, [folder], Limits())
        load = time.perf_counter() - started
    counts = timers.counts
    return {
        "load": load,
        "refresh": timers.refresh,
        "assess": timers.assess,
        "opened": counts.opened if counts else 0,
        "closed": counts.closed if counts else 0,
        "reopened": counts.reopened if counts else 0,
        "kept": counts.kept if counts else 0,
    }


def check(db: Database, record: dict[str, Any], versions: dict[str, int]) -> bool:
    """The babel findings not fixed are exactly those of the assets at an affected version."""
    expected = sum(n for v, n in versions.items() if v in affected_in(record))
    with db.transaction() as session:
        found = session.scalar(
            select(func.count())
            .select_from(models.Finding)
            .where(
                models.Finding.ecosystem == "PyPI",
                models.Finding.package.in_(["babel", "Babel"]),
                models.Finding.state != State.FIXED.value,
            )
        )
    return found == expected


# -- the baseline: the per-asset implementation this replaced -------------------------------------


def old_transition(
    session: Session, row: models.Finding, to: State, now: datetime, note: str
) -> None:
    session.add(
        models.FindingTransition(
            finding_id=row.id,
            at=now,
            actor="sakimori",
            from_state=row.state,
            to_state=to.value,
            note=note,
        )
    )
    row.state = to.value
    row.state_changed_at = now
    row.closed_at = now if to is State.FIXED else None
    row.revision += 1


def old_sync(
    session: Session, asset_id: int, found: Sequence[Any], now: datetime, why: str, scope: set[Any]
) -> None:
    query = select(models.Finding).where(
        models.Finding.asset_id == asset_id, models.Finding.kind == "package"
    )
    existing = {row.key: row for row in session.scalars(query)}
    current = {finding_key(f): f for f in found}
    # The old code wrote aliases, records and fixed versions on each finding; their place is
    # now the shared detail, written here per asset as the old code wrote its findings.
    details = store_details(
        session,
        {package_identity(key, item): Detail.of(item) for key, item in current.items()},
        now,
    )
    for key, item in current.items():
        row = existing.get(key)
        detail_id = details[package_identity(key, item)].id
        if row is None:
            row = models.Finding(
                asset_id=asset_id,
                key=key,
                kind="package",
                vulnerability=item.vulnerability,
                ecosystem=item.ecosystem,
                package=item.package,
                version=item.version,
                purl=item.purl,
                detail_id=detail_id,
                state=State.OPEN.value,
                first_seen_at=now,
                last_seen_at=now,
                state_changed_at=now,
                revision=1,
            )
            session.add(row)
            session.flush()
            session.add(
                models.FindingTransition(
                    finding_id=row.id,
                    at=now,
                    actor="sakimori",
                    from_state=None,
                    to_state=State.OPEN.value,
                    note=f"found: {why}",
                )
            )
            continue
        row.last_seen_at = now
        row.detail_id = detail_id
        if row.state == State.FIXED.value:
            old_transition(session, row, State.OPEN, now, f"regression: back in {why}")
            row.resolution = None
    for key, row in existing.items():
        if key in current or row.state == State.FIXED.value:
            continue
        if package_of(row.ecosystem, row.package) not in scope:
            continue
        old_transition(session, row, State.FIXED, now, f"verified by inventory: {why}")
        row.resolution = "verified by inventory"


def old_refresh(
    session: Session,
    packages: set[Any],
    now: datetime,
    why: str,
    policies: PolicySet,
    limit: int,
) -> int:
    """The per-asset loop, for the first ``limit`` assets holding the packages."""
    latest = (
        select(models.Inventory.asset_id, func.max(models.Inventory.version).label("version"))
        .group_by(models.Inventory.asset_id)
        .subquery()
    )
    component = models.InventoryComponent
    held: dict[int, list[Component]] = {}
    for ecosystem, name in packages:
        rows = session.execute(
            select(models.Inventory.asset_id, component)
            .join(models.Inventory, models.Inventory.id == component.inventory_id)
            .join(
                latest,
                (latest.c.asset_id == models.Inventory.asset_id)
                & (latest.c.version == models.Inventory.version),
            )
            .where(component.ecosystem == ecosystem, component.name == name)
        )
        for asset_id, row in rows:
            held.setdefault(asset_id, []).append(
                Component(
                    name=row.display_name,
                    version=row.version,
                    ecosystem=row.ecosystem,
                    purl=row.purl,
                    release=row.release,
                )
            )
    chosen = sorted(held.items())[:limit]
    for asset_id, components in chosen:
        found, _ = tracking._match(session, components, why)  # unchanged from then
        old_sync(session, asset_id, found, now, why, packages)
        session.flush()
        ids = session.scalars(select(models.Finding.id).where(models.Finding.asset_id == asset_id))
        assess_findings(session, list(ids), policies, now, why)  # what assess_asset did
    return len(chosen)


def baseline(db: Database, record: dict[str, Any], limit: int, runs: int) -> dict[str, Any]:
    """Time the old loop on ``limit`` assets, the intel changed to ``record``, rolled back."""
    samples = []
    assets = 0
    for _ in range(runs):
        with db.sessions() as session:
            now = datetime.now(UTC)
            store.store_advisories(
                session, "bench:baseline", osv.parse(json.dumps(record).encode()), now
            )
            session.flush()
            started = time.perf_counter()
            assets = old_refresh(session, {PACKAGE}, now, "baseline", policy_set(None), limit)
            session.flush()
            samples.append(time.perf_counter() - started)
            session.rollback()
    per_asset = statistics.median(samples) / max(assets, 1)
    return {"assets": assets, **stats(samples), "per_asset": per_asset}


# -- one backend -----------------------------------------------------------------------------------


def run_backend(url: str, args: argparse.Namespace) -> dict[str, Any]:
    db = open_database(url)
    try:
        intel_seconds = load_intel(db)
        setup = populate(db, args.assets, args.components, args.seed)
        original, widened = record_versions()
        with tempfile.TemporaryDirectory(prefix="sakimori-bench-advisory-") as scratch:
            folder = Path(scratch)
            started = time.perf_counter()
            with db.transaction() as session:  # the babel findings, by a first refresh
                first = tracking.refresh_packages(session, {PACKAGE}, datetime.now(UTC), "setup")
            setup["first_refresh_seconds"] = time.perf_counter() - started
            setup["first_refresh_opened"] = first.opened
            apply(db, folder, widened)  # warm-up: one cycle, untimed
            apply(db, folder, original)
            runs = []
            for run in range(args.runs):
                record = widened if run % 2 == 0 else original
                result = apply(db, folder, record)
                result["to"] = "B (widened)" if record is widened else "A (original)"
                result["correct"] = check(db, record, setup["babel_versions"])
                runs.append(result)
            state = widened if args.runs % 2 else original
            other = original if state is widened else widened
            base = baseline(db, other, args.baseline_assets, args.baseline_runs)
    finally:
        db.dispose()
    return {
        "intel_load_seconds": intel_seconds,
        "setup": setup,
        "runs": runs,
        "refresh": stats([r["refresh"] for r in runs]),
        "load": stats([r["load"] for r in runs]),
        "assess": stats([r["assess"] for r in runs]),
        "refresh_without_assess": stats([r["refresh"] - r["assess"] for r in runs]),
        "baseline": base,
    }


def report(name: str, result: dict[str, Any], assets: int) -> list[tuple[str, str, str]]:
    base = result["baseline"]
    extrapolated = base["per_asset"] * assets
    refresh = result["refresh"]["median"]
    runs = result["runs"]
    opened = statistics.median(r["opened"] + r["reopened"] for r in runs[::2]) if runs else 0
    closed = statistics.median(r["closed"] for r in runs[1::2]) if runs[1:] else 0
    return [
        (f"{name}: refresh of findings (median)", f"{refresh:.3f} s", f"{assets:,} assets"),
        (
            "  of which assess_findings",
            f"{result['assess']['median']:.3f} s",
            "services/assessment.py, one call",
        ),
        (
            "  the rest: read, match, reconcile",
            f"{result['refresh_without_assess']['median']:.3f} s",
            "median of (refresh - assess) per run",
        ),
        (
            f"{name}: whole intel load (median)",
            f"{result['load']['median']:.3f} s",
            "parse, store, refresh, commit",
        ),
        (
            "  findings moved per run",
            f"{opened:,.0f} / {closed:,.0f}",
            f"opened+reopened (B) / closed (A); kept {runs[0]['kept']:,}",
        ),
        (
            "  all runs correct",
            "yes" if all(r["correct"] for r in runs) else "NO",
            "babel findings not fixed = assets at an affected version",
        ),
        (
            f"{name}: baseline per-asset loop",
            f"{base['median']:.2f} s",
            f"{base['assets']:,} assets measured ({base['per_asset'] * 1000:.1f} ms each)",
        ),
        (
            "  baseline extrapolated",
            f"{extrapolated:.0f} s",
            f"× {assets:,} assets; {extrapolated / refresh:,.0f}× the new refresh",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--components", type=int, default=300, help="other components per asset")
    parser.add_argument("--runs", type=int, default=6, help="timed runs (alternating B, A)")
    parser.add_argument("--baseline-assets", type=int, default=200)
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261101)
    parser.add_argument("--sqlite", action="store_true", help="run on SQLite as well")
    args = parser.parse_args()
    info = machine()
    results: dict[str, Any] = {}
    with postgres_database("sakimori_bench_advisory") as url:
        results["postgresql"] = run_backend(url, args)
    if args.sqlite:
        with tempfile.TemporaryDirectory(prefix="sakimori-bench-advisory-") as scratch:
            results["sqlite"] = run_backend(f"sqlite:///{scratch}/bench.db", args)
    rows = []
    for name, result in results.items():
        rows += report(name, result, args.assets)
    print(f"one changed advisory (PYSEC-2021-421, babel) → findings of {args.assets:,} assets")
    print(table(["step", "time", "detail"], rows))
    pg = results["postgresql"]
    figure = f"one changed advisory → findings of {args.assets:,} assets (PostgreSQL)"
    targets = [
        target(figure, pg["refresh"]["median"], "s", 1.0),
        target(
            figure.replace(" (PostgreSQL)", ", without assess_findings (PostgreSQL)"),
            pg["refresh_without_assess"]["median"],
            "s",
            1.0,
        ),
    ]
    for row in targets:
        row["baseline_extrapolated_s"] = pg["baseline"]["per_asset"] * args.assets
        row["correct"] = all(r["correct"] for r in pg["runs"])
    print()
    print_targets(targets)
    note = load_note(info)
    if note:
        print(note)
    name = "advisory_change" if args.assets == 10_000 else f"advisory_change_{args.assets}"
    path = write_result(
        name,
        {
            "assets": args.assets,
            "components_per_asset": args.components,
            "record": "PYSEC-2021-421 (babel), A: fixed 2.9.1; B: fixed 2.10.0 + one alias",
            "results": results,
            "targets": targets,
        },
        info,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
