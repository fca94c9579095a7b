"""Benchmark: re-assess 1,000,000 findings on PostgreSQL (decisions and deadlines, set-based).

Into a fresh, uniquely named PostgreSQL database (dropped afterwards):

* **intel** — the real data in ../shared/data loaded with ``load_paths``: every OSV record, the
  KEV catalog, EPSS scores, the CVE List V5 records and CERT/CC's SSVC decision tables;
* **portfolio** — 50 organisations (0–2 critical-infrastructure sectors each) and 10,000 assets
  (criticality, internet-facing yes/no/unknown, environment), then ``--findings`` findings written
  with ``COPY`` (not through the ORM): real vulnerability ids that have advisories (their records,
  aliases and fixed versions, ids merged across databases as matching does), popular ones on many
  assets; each asset had one to four uploads over two years, and each finding was first seen at
  one of them; about one in ten findings is closed. Each finding points to its vulnerability
  shape, as reconciliation writes it (the shapes are created before the ``COPY``).

Then, per run (median of ``--runs``), starting from the same undecided findings (restored from a
copy, indexes rebuilt, ``VACUUM ANALYZE``, ``CHECKPOINT``):

1. **from scratch** — ``run_assessment`` of every open finding under ``cisa-bod-26-04``;
2. **nothing changed** — the same again (writes nothing);
3. **policy change** — under ``critical-infrastructure``: deadlines move; one triage revision
   records it.

Each is one transaction, timed to its commit. Triage is stored by reference (ADR 0001): a
recompute writes shapes and rules, never findings. Two reference figures are measured in the
same run: the **per-finding write floor** (an ``UPDATE`` of one column of every open finding,
rolled back: what any design that writes per finding pays at least) and the **baseline**, the
first row-by-row ``assess()`` (ORM rows; per-row decision, deadline and full JSON explanation;
per-row ``UPDATE`` into columns added for the measurement) on a ``--baseline`` slice,
extrapolated linearly.

Run: ``.venv/bin/python benchmarks/bench_recompute.py [--findings N] [--runs N] [--baseline N]``
"""

from __future__ import annotations

import argparse
import random
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from _common import (
    DATA,
    fmt,
    load_note,
    machine,
    postgres_database,
    print_targets,
    stats,
    table,
    target,
    write_result,
)
from sakimori.formats.limits import Limits
from sakimori.model.lifecycle import CLOSED
from sakimori.services import assessment
from sakimori.services import assessment_store as sets
from sakimori.services.assessment_evidence import VulnerabilityShape, context_of, gather_evidence
from sakimori.services.finding_details import Detail, identity, store_details
from sakimori.services.intel import load_paths
from sakimori.store import models
from sakimori.store.db import open_database
from sakimori.triage.config import DEFAULT_CONFIG
from sakimori.triage.decide import decide
from sakimori.triage.policy import SECTORS, PolicySet

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
INTEL = [
    DATA / "osv",
    DATA / "kev" / "known_exploited_vulnerabilities.json",
    DATA / "epss" / "EPSS_CVE_data",
    DATA / "cve",
    DATA / "ssvc" / "data" / "json" / "decision_tables",
]
FIRST, SECOND = "cisa-bod-26-04", "critical-infrastructure"
PHASES = ("from scratch", "nothing changed", "policy change")
_CLOSED = sorted(s.value for s in CLOSED)
_COLUMNS = (
    "asset_id", "key", "kind", "vulnerability", "ecosystem", "package", "version", "purl",
    "state", "first_seen_at", "last_seen_at", "state_changed_at", "closed_at", "revision",
    "detail_id",
)  # fmt: skip


def driver_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


# -- data -----------------------------------------------------------------------------------------


def vulnerabilities(url: str) -> list[dict[str, Any]]:
    """One template per vulnerability that has advisories: primary id (CVE when there is one),
    aliases and records merged across databases, and one affected package with its fixes."""
    advisory, affected = models.Advisory, models.AffectedPackage
    db = open_database(url)
    with db.transaction() as session:
        rows = session.execute(
            select(advisory.id, advisory.aliases, affected.ecosystem, affected.name,
                   affected.ranges, affected.versions)
            .join(affected, affected.advisory_id == advisory.id)
            .where(advisory.withdrawn.is_(None))
            .order_by(advisory.id, affected.id)
        ).all()  # fmt: skip
    db.dispose()
    merged: dict[str, dict[str, Any]] = {}
    for record, aliases, ecosystem, name, ranges, versions in rows:
        ids = [record, *aliases]
        primary = next((i for i in ids if i.startswith("CVE-")), record)
        entry = merged.setdefault(
            primary,
            {"id": primary, "ids": set(), "records": set(), "package": None},
        )
        entry["ids"].update(ids)
        entry["records"].add(record)
        if entry["package"] is None:
            fixed = sorted({e[1] for r in ranges for e in r.get("events", []) if e[0] == "fixed"})
            version = versions[0] if versions else "0.0.1"
            entry["package"] = (ecosystem, name, version, fixed)
    templates = []
    for primary, entry in sorted(merged.items()):
        ecosystem, name, version, fixed = entry["package"]
        templates.append(
            {
                "id": primary,
                "aliases": sorted(entry["ids"] - {primary}),
                "records": sorted(entry["records"]),
                "ecosystem": ecosystem,
                "name": name,
                "version": version,
                "fixed": fixed,
            }
        )
    return templates


def portfolio(
    url: str, findings: int, assets: int, organisations: int, seed: int
) -> dict[str, Any]:
    """Organisations, assets and findings (COPY); returns the shape of what was written."""
    rng = random.Random(seed)
    templates = vulnerabilities(url)
    # Reconciliation gives every finding its detail (and the detail its vulnerability shape)
    # when it writes it; so here: one package-version per vulnerability, one detail each.
    db = open_database(url)
    with db.transaction() as session:
        details = {
            _identity(t): Detail(
                t["id"], tuple(t["aliases"]), tuple(t["records"]), tuple(t["fixed"])
            )
            for t in templates
        }
        stored = store_details(session, details, NOW)
    db.dispose()
    for template in templates:
        template["detail"] = stored[_identity(template)].id
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(templates))]
    rng.shuffle(weights)
    with psycopg.connect(driver_url(url)) as connection:
        with connection.cursor() as cursor:
            for number in range(organisations):
                sectors = rng.sample(SECTORS, rng.choice((0, 1, 1, 1, 2)))
                cursor.execute(
                    "INSERT INTO organisation (slug, name, kind, sectors, created_at) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (f"org-{number}", f"Organisation {number}", "operator",
                     orjson.dumps(sectors).decode(), NOW),
                )  # fmt: skip
            cursor.execute("SELECT id FROM organisation ORDER BY id")
            owners = [row[0] for row in cursor.fetchall()]
            with cursor.copy(
                "COPY asset (organisation_id, slug, name, criticality, internet_facing, "
                "environment, created_at) FROM STDIN"
            ) as copy:
                for number in range(assets):
                    copy.write_row(
                        (
                            rng.choice(owners),
                            f"asset-{number}",
                            f"Asset {number}",
                            rng.choices(("low", "medium", "high", "critical"), (2, 4, 3, 1))[0],
                            rng.choices((True, False, None), (3, 6, 1))[0],
                            rng.choice(("production", "production", "staging", None)),
                            NOW,
                        )
                    )
            cursor.execute("SELECT id FROM asset ORDER BY id")
            asset_ids = [row[0] for row in cursor.fetchall()]
            sizes = [rng.lognormvariate(0, 0.6) for _ in asset_ids]
            scale = findings / sum(sizes)
            counts = [max(1, round(size * scale)) for size in sizes]
            counts[-1] += findings - sum(counts)
            written = 0
            uploads: set[datetime] = set()
            with cursor.copy(f"COPY finding ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
                for asset_id, count in zip(asset_ids, counts, strict=True):
                    times = sorted(
                        NOW - timedelta(days=rng.uniform(0, 730), seconds=rng.randrange(86400))
                        for _ in range(rng.randint(1, 4))
                    )
                    uploads.update(times)
                    chosen = set(rng.choices(range(len(templates)), weights, k=max(count, 1)))
                    while len(chosen) < count:
                        chosen.add(rng.randrange(len(templates)))
                    for index in chosen:
                        copy.write_row(_finding(rng, asset_id, templates[index], times))
                        written += 1
        connection.commit()
    return {
        "organisations": organisations,
        "assets": assets,
        "findings": written,
        "vulnerabilities_available": len(templates),
        "distinct_first_seen": len(uploads),
    }


def _key(template: dict[str, Any]) -> str:
    return f"pkg:{template['ecosystem']}/{template['name']}@{template['version']}#{template['id']}"


def _purl(template: dict[str, Any]) -> str:
    return f"pkg:{template['ecosystem'].lower()}/{template['name']}@{template['version']}"


def _identity(template: dict[str, Any]) -> str:
    return identity("package", _key(template), template["id"], _purl(template), None)


def _finding(
    rng: random.Random, asset_id: int, template: dict[str, Any], times: list[datetime]
) -> tuple[Any, ...]:
    first = times[0] if rng.random() < 0.6 else rng.choice(times)
    state = rng.choices(("open", "acknowledged", "in_progress", "fixed"), (80, 5, 5, 10))[0]
    ecosystem, name, version = template["ecosystem"], template["name"], template["version"]
    return (
        asset_id,
        _key(template),
        "package",
        template["id"],
        ecosystem,
        name,
        version,
        _purl(template),
        state,
        first,
        times[-1],
        first,
        times[-1] if state == "fixed" else None,
        1,
        template["detail"],
    )


def intel_and_portfolio(
    url: str, args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, float]]:
    """The real intel, then the synthetic portfolio (``args``: findings, assets, organisations,
    seed); what was written and the seconds each step took."""
    setup: dict[str, float] = {}
    db = open_database(url)
    started = time.perf_counter()
    load_paths(db, INTEL, Limits())
    setup["intel load"] = time.perf_counter() - started
    db.dispose()
    started = time.perf_counter()
    shape = portfolio(url, args.findings, args.assets, args.organisations, args.seed)
    setup["portfolio (COPY)"] = time.perf_counter() - started
    return shape, setup


# -- resetting between runs -----------------------------------------------------------------------


def snapshot(url: str) -> None:
    with psycopg.connect(driver_url(url), autocommit=True) as connection:
        connection.execute("CREATE TABLE bench_pristine AS SELECT * FROM finding")
        connection.execute("CREATE TABLE bench_pristine_shape AS SELECT * FROM triage_shape")
        connection.execute("CREATE TABLE bench_pristine_detail AS SELECT * FROM finding_detail")


def reset(url: str) -> float:
    """Undecided findings again, as first written: same rows and shapes (no class), no
    contexts, rules or revisions, fresh indexes, no history."""
    started = time.perf_counter()
    with psycopg.connect(driver_url(url), autocommit=True) as connection:
        indexes = connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'finding' AND indexname "
            "NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'finding'::regclass)"
        ).fetchall()
        with connection.transaction():
            connection.execute("UPDATE asset SET triage_context_id = NULL")
            connection.execute(
                "TRUNCATE finding_transition, finding, finding_detail, triage_rule, "
                "triage_revision, triage_shape, assessment"
            )
            connection.execute("DELETE FROM triage_context")  # the assets refer to it
            for name, _ in indexes:
                connection.execute(f'DROP INDEX "{name}"')
            connection.execute("INSERT INTO triage_shape SELECT * FROM bench_pristine_shape")
            connection.execute("INSERT INTO finding_detail SELECT * FROM bench_pristine_detail")
            connection.execute("INSERT INTO finding SELECT * FROM bench_pristine")
            for _, definition in indexes:
                connection.execute(definition)
        connection.execute("VACUUM ANALYZE finding")
        connection.execute("VACUUM ANALYZE triage_shape")
        connection.execute("VACUUM ANALYZE finding_detail")
        connection.execute("VACUUM ANALYZE asset")
        connection.execute("CHECKPOINT")
    return time.perf_counter() - started


def checkpoint(url: str) -> None:
    with psycopg.connect(driver_url(url), autocommit=True) as connection:
        connection.execute("CHECKPOINT")


# -- what is timed --------------------------------------------------------------------------------


def recompute(url: str, policies: PolicySet, why: str) -> dict[str, Any]:
    db = open_database(url)
    try:
        started = time.perf_counter()
        with db.transaction() as session:
            run = assessment.run_assessment(session, sets.not_closed(_CLOSED), policies, NOW, why)
        seconds = time.perf_counter() - started
    finally:
        db.dispose()
    return {
        "seconds": seconds,
        "changed": run.changed,
        "transitions": run.transitions,
        "written": run.written,
        "shapes": run.shapes,
        "classes": run.classes,
        "contexts": run.contexts,
        "groups": run.groups,
        "decisions": run.decisions,
        "phase_seconds": run.seconds,
    }


def write_floor(url: str) -> dict[str, Any]:
    """PostgreSQL alone: rewrite one column of every open finding. Any design that writes
    something per finding on a recompute pays at least this; triage by reference does not."""
    with psycopg.connect(driver_url(url)) as connection:
        started = time.perf_counter()
        written = connection.execute(
            "UPDATE finding SET closed_deadline = first_seen_at + interval '14 days' "
            "WHERE state <> ALL(%s)",
            (_CLOSED,),
        ).rowcount
        connection.rollback()
        return {"seconds": time.perf_counter() - started, "written": written}


def baseline(url: str, size: int, policies: PolicySet) -> dict[str, Any]:
    """The first ``assess()``: ORM rows, a decision and deadline per row, the full explanation
    JSON per row, every row written by its own ``UPDATE`` (batched by executemany). The triage
    columns it wrote are gone from the schema: they are added for the measurement."""
    with psycopg.connect(driver_url(url), autocommit=True) as connection:
        connection.execute(f"ALTER TABLE finding {_BASELINE_COLUMNS_ADD}")
    db = open_database(url)
    try:
        started = time.perf_counter()
        with db.transaction() as session:
            rows = list(
                session.scalars(
                    select(models.Finding)
                    .where(models.Finding.state.not_in(_CLOSED))
                    .order_by(models.Finding.id)
                    .limit(size)
                )
            )
            _old_assess(session, rows, policies)
        seconds = time.perf_counter() - started
    finally:
        db.dispose()
    with psycopg.connect(driver_url(url), autocommit=True) as connection:
        connection.execute(f"ALTER TABLE finding {_BASELINE_COLUMNS_DROP}")
    return {"findings": len(rows), "seconds": seconds}


_BASELINE_COLUMNS = {
    "bench_decision": "varchar(20)",
    "bench_priority": "varchar(20)",
    "bench_bod": "varchar(10)",
    "bench_deadline": "timestamptz",
    "bench_policy": "varchar(100)",
    "bench_reason": "text",
    "bench_explanation": "json",
}
_BASELINE_COLUMNS_ADD = ", ".join(f"ADD COLUMN {k} {v}" for k, v in _BASELINE_COLUMNS.items())
_BASELINE_COLUMNS_DROP = ", ".join(f"DROP COLUMN {k}" for k in _BASELINE_COLUMNS)


def _old_assess(session: Session, rows: list[models.Finding], policies: PolicySet) -> None:
    tables = assessment.decision_tables(session)
    assert tables is not None
    assets = {a.id: a for a in session.scalars(select(models.Asset))}
    orgs = {o.id: o for o in session.scalars(select(models.Organisation))}
    shapes = {
        row.vulnerability: VulnerabilityShape(
            row.vulnerability, tuple(row.aliases), tuple(row.records), bool(row.fixed_versions)
        )
        for row in rows
    }
    evidence = gather_evidence(session, shapes.values())
    decisions: dict[tuple[str, Any], Any] = {}
    written = []
    for row in rows:
        asset = assets[row.asset_id]
        context = context_of(asset, orgs[asset.organisation_id])
        found = evidence[row.vulnerability]
        key = (row.vulnerability, context)
        decision = decisions.get(key)
        if decision is None:
            decision = decisions[key] = decide(found, context, tables, DEFAULT_CONFIG)
        due, reason, label = assessment._due(policies, decision, context, found, row.first_seen_at)
        written.append(
            {
                "id": row.id,
                "decision": decision.decision.name,
                "priority": decision.priority.name,
                "bod": decision.bod.key,
                "deadline": due,
                "policy": label,
                "reason": reason,
                "value": orjson.dumps(decision.to_dict()).decode(),
            }
        )
    # Written as the ORM wrote them: one UPDATE per row (executemany).
    session.execute(
        text(
            "UPDATE finding SET bench_decision = :decision, bench_priority = :priority, "
            "bench_bod = :bod, bench_deadline = :deadline, bench_policy = :policy, "
            "bench_reason = :reason, bench_explanation = CAST(:value AS json) WHERE id = :id"
        ),
        written,
    )


# -- main -----------------------------------------------------------------------------------------


def timed_phases(url: str, runs: int) -> tuple[list[dict[str, Any]], list[float]]:
    results, resets = [], []
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("from scratch", lambda: recompute(url, assessment.policy_set(FIRST), "bench")),
        ("nothing changed", lambda: recompute(url, assessment.policy_set(FIRST), "again")),
        ("policy change", lambda: recompute(url, assessment.policy_set(SECOND), "policy")),
    ]
    for number in range(runs):
        resets.append(reset(url))
        run: dict[str, Any] = {}
        for phase, step in steps:
            checkpoint(url)
            run[phase] = step()
            print(f"  run {number + 1} {phase}: {run[phase]['seconds']:.1f} s", flush=True)
        results.append(run)
    return results, resets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=1_000_000, help="findings to write")
    parser.add_argument("--assets", type=int, default=10_000, help="assets to spread them on")
    parser.add_argument("--organisations", type=int, default=50, help="their owners")
    parser.add_argument("--runs", type=int, default=3, help="runs of the three phases")
    parser.add_argument("--baseline", type=int, default=20_000, help="row-by-row slice")
    parser.add_argument("--seed", type=int, default=20261102)
    args = parser.parse_args()
    info = machine()
    with postgres_database("sakimori_bench_recompute") as url:
        shape, setup = intel_and_portfolio(url, args)
        snapshot(url)
        print(
            f"{shape['findings']:,} findings on {shape['assets']:,} assets of "
            f"{shape['organisations']} organisations; setup "
            + ", ".join(f"{k} {v:.0f} s" for k, v in setup.items()),
            flush=True,
        )
        results, resets = timed_phases(url, args.runs)
        reset(url)
        floor = write_floor(url)
        reset(url)
        old = baseline(url, args.baseline, assessment.policy_set(FIRST))
    report(args, info, shape, setup, results, resets, floor, old)


def report(
    args: argparse.Namespace,
    info: dict[str, Any],
    shape: dict[str, Any],
    setup: dict[str, float],
    results: list[dict[str, Any]],
    resets: list[float],
    floor: dict[str, Any],
    old: dict[str, Any],
) -> None:
    phases = {p: stats([r[p]["seconds"] for r in results]) for p in PHASES}
    last = results[-1]
    rows = [
        (
            phase,
            f"{phases[phase]['median']:.1f}",
            f"{phases[phase]['min']:.1f}",
            f"{phases[phase]['max']:.1f}",
            f"{last[phase]['written']:,}",
            f"{last[phase]['changed']:,}",
            f"{last[phase]['transitions']:,}",
        )
        for phase in PHASES
    ]
    findings = shape["findings"]
    print(f"\nrecompute of every open finding, {findings:,} findings; median of {args.runs} (s)")
    print(table(["phase", "median", "min", "max", "written", "changed", "transitions"], rows))
    scratch = last["from scratch"]
    print(
        f"groups: {scratch['shapes']:,} vulnerability shapes in {scratch['classes']} classes, "
        f"{scratch['contexts']:,} asset contexts, {scratch['decisions']:,} rules (class, "
        f"context), {scratch['groups']:,} (shape, context) pairs"
    )
    steps = defaultdict(list)
    for result in results:
        for name, value in result["from scratch"]["phase_seconds"].items():
            steps[name].append(value)
    print("from scratch, by step (median s): "
          + ", ".join(f"{k} {stats(v)['median']:.1f}" for k, v in steps.items()))  # fmt: skip
    per_old = old["seconds"] / max(old["findings"], 1)
    extrapolated = per_old * findings
    ratio = extrapolated / phases["from scratch"]["median"]
    print(
        f"per-finding write floor (UPDATE of one column of {floor['written']:,} open findings, "
        f"which triage by reference never does): "
        f"{floor['seconds']:.1f} s; baseline row by row: {old['findings']:,} findings in "
        f"{old['seconds']:.1f} s, {fmt(extrapolated)} s extrapolated to {findings:,} "
        f"(set-based is {ratio:.1f}x faster)"
    )
    figure = f"recompute {findings:,} findings (PostgreSQL)"
    targets = [
        target(figure, phases["from scratch"]["median"], "s", 30),
        target(
            f"recompute {findings:,} findings after a policy change (PostgreSQL)",
            phases["policy change"]["median"],
            "s",
            30,
        ),
        target(
            f"recompute {findings:,} findings, nothing changed (PostgreSQL)",
            phases["nothing changed"]["median"],
            "s",
            30,
        ),
        {
            "figure": f"set-based / row-by-row recompute speed-up ({findings:,} findings)",
            "value": ratio,
            "unit": "x",
            "target": "no target; row by row measured on "
            f"{old['findings']:,} findings, extrapolated",
            "met": None,
        },
    ]
    print()
    print_targets([t for t in targets if t["met"] is not None])
    note = load_note(info)
    if note:
        print(note)
    name = "recompute" if findings == 1_000_000 else f"recompute_{findings}"
    path = write_result(
        name,
        {
            "parameters": vars(args),
            "data": shape,
            "setup_seconds": setup,
            "reset_seconds": resets,
            "phases": phases,
            "runs": results,
            "write_floor": floor,
            "baseline_row_by_row": {
                **old,
                "seconds_per_finding": per_old,
                "extrapolated_seconds": extrapolated,
                "speedup": ratio,
            },
            "targets": targets,
        },
        info,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
