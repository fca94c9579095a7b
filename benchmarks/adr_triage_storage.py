"""Measure storage designs for per-finding triage values on PostgreSQL (ADR 0001).

Standalone: it does not use the product code. It creates a scratch database with a unique name,
fills it with a synthetic portfolio shaped like the recompute benchmark (findings over assets,
~7,700 vulnerabilities, ~680 asset contexts, first seen over 300 days; the ``finding`` DDL and its
ten indexes copied from migrations 0002 and 0005), times each option (median of ``--runs``) and
drops the database at the end. Measurements run one at a time.

Options: (a) the wide row as today; (b) a narrow ``finding_triage`` side table; (c) a
``triage_group`` reference with the deadline computed from ``first_seen_at`` + the group's rule;
(d) the wide row with fillfactor 75 and no index on the triage columns (HOT updates); (e) one
changed advisory: rewrite its findings' aliases/fixed versions vs. join the advisory at read time.

    .venv/bin/python benchmarks/adr_triage_storage.py               # 1,000,000 findings
    .venv/bin/python benchmarks/adr_triage_storage.py --findings 50000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

RESULTS = Path(__file__).parent / "results" / "adr_triage_storage.json"
CLOSED = "('fixed', 'not_affected', 'false_positive')"

# The finding table as migrations 0002 (+ 0005: explanation → two assessment ids) leave it, plus
# ``triage_group_id`` and ``shape_id`` for option (c) (ints, no index, unused by the others).
FINDING_DDL = """
CREATE TABLE {name} (
    id integer NOT NULL,
    asset_id integer NOT NULL REFERENCES asset (id) ON DELETE CASCADE,
    key varchar(1000) NOT NULL,
    kind varchar(10) NOT NULL,
    vulnerability varchar(200) NOT NULL,
    aliases json NOT NULL,
    records json NOT NULL,
    ecosystem varchar(60),
    package varchar(500),
    version varchar(200),
    purl text,
    fixed_versions json NOT NULL,
    location_fingerprint varchar(200),
    weakness varchar(40),
    state varchar(20) NOT NULL,
    resolution text,
    justification varchar(60),
    risk_accepted_until date,
    risk_accepted_by varchar(200),
    first_seen_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    state_changed_at timestamptz NOT NULL,
    closed_at timestamptz,
    decision varchar(20),
    priority varchar(20),
    bod varchar(10),
    policy varchar(100),
    deadline timestamptz,
    deadline_reason text,
    revision integer NOT NULL,
    assessment_id integer REFERENCES assessment (id),
    context_assessment_id integer REFERENCES assessment (id),
    triage_group_id integer,
    shape_id integer,
    CONSTRAINT pk_{name} PRIMARY KEY (id),
    CONSTRAINT uq_{name}_asset_id_key UNIQUE (asset_id, key)
) {storage}
"""
INDEXES = {
    "asset_id": "(asset_id)",
    "deadline": "(deadline)",
    "decision": "(decision)",
    "package": "(ecosystem, package)",
    "state": "(state)",
    "vulnerability": "(vulnerability)",
    "assessment_id": "(assessment_id)",
    "context_assessment_id": "(context_assessment_id)",
}
TRIAGE_INDEXES = ("deadline", "decision", "assessment_id", "context_assessment_id")

DECISIONS = ["track", "track*", "attend", "act"]
REASON = (
    "policy default: {d} within {n} days of first seen (SSVC {d}; BOD 22-01 not applicable); "
    "deadline = first seen + {n} days"
)


class Bench:
    def __init__(self, conn: psycopg.Connection[Any], runs: int) -> None:
        self.conn = conn
        self.runs = runs
        self.results: dict[str, Any] = {}

    def sql(self, statement: str, params: tuple[Any, ...] | None = None) -> int:
        cur = self.conn.execute(statement.encode(), params)
        return int(cur.rowcount)

    def one(self, statement: str) -> Any:
        row = self.conn.execute(statement.encode()).fetchone()
        return None if row is None else row[0]

    def timed(
        self,
        name: str,
        body: Callable[[int], Any],
        before: Callable[[int], object] | None = None,
    ) -> float:
        samples: list[float] = []
        extra: Any = None
        for run in range(self.runs):
            if before is not None:
                before(run)
            start = time.perf_counter()
            extra = body(run)
            samples.append(time.perf_counter() - start)
        median = statistics.median(samples)
        self.results[name] = {"median": round(median, 3), "samples": [round(s, 3) for s in samples]}
        if extra is not None:
            self.results[name]["rows"] = extra
        print(f"  {name:<62} {median:9.3f} s  {extra if extra is not None else ''}", flush=True)
        return median

    def empty_transitions(self, _run: int) -> None:
        self.sql("TRUNCATE finding_transition")
        self.settle("finding_transition")

    def settle(self, *tables: str) -> None:
        for table in tables:
            self.sql(f"VACUUM (ANALYZE) {table}")
        self.sql("CHECKPOINT")


def build(b: Bench, n: int) -> None:
    """The synthetic portfolio: organisations, assets, advisories, assessments, findings."""
    assets = max(10, n // 100)
    vulns = 7727 if n >= 200_000 else max(50, n // 130)
    contexts = 680 if n >= 200_000 else max(20, n // 1500)
    b.sql("CREATE TABLE organisation (id integer PRIMARY KEY, slug varchar(100))")
    b.sql("INSERT INTO organisation SELECT g, 'org-' || g FROM generate_series(1, 50) g")
    b.sql(
        "CREATE TABLE asset (id integer PRIMARY KEY, organisation_id integer NOT NULL"
        " REFERENCES organisation (id), context integer NOT NULL)"
    )
    b.sql(
        f"INSERT INTO asset SELECT g, 1 + g % 50, (hashint4(g) & 2147483647) % {contexts}"
        f" FROM generate_series(1, {assets}) g"
    )
    b.sql(
        "CREATE TABLE advisory (id varchar(200) PRIMARY KEY, vnum integer NOT NULL,"
        " aliases json NOT NULL, fixed_versions json NOT NULL, kev_due timestamptz)"
    )
    b.sql(
        "INSERT INTO advisory SELECT 'GHSA-' || substr(md5(g::text), 1, 4) || '-'"
        " || substr(md5(g::text), 5, 4) || '-' || substr(md5(g::text), 9, 4), g,"
        " json_build_array('CVE-2025-' || lpad(g::text, 6, '0')),"
        " json_build_array('2.' || g % 40 || '.' || g % 7),"
        " CASE WHEN g % 20 = 0 THEN timestamptz '2026-06-01' + (g % 40) * interval '7 days' END"
        f" FROM generate_series(0, {vulns - 1}) g"
    )
    b.sql(
        "CREATE TABLE assessment (id integer PRIMARY KEY, digest varchar(64) UNIQUE,"
        " part varchar(20), data json, created_at timestamptz)"
    )
    # Two generations of parts (A: ids 1.., B: ids 100001..) so each rewrite changes the ids.
    b.sql(
        "INSERT INTO assessment SELECT g, md5(g::text), 'vulnerability', '{}'::json, now()"
        f" FROM generate_series(1, {vulns}) g UNION ALL SELECT 50000 + g, md5('c' || g),"
        f" 'context', '{{}}'::json, now() FROM generate_series(1, {contexts}) g"
    )
    b.sql(
        "INSERT INTO assessment SELECT 100000 + id, md5('b' || digest), part, data, created_at"
        " FROM assessment"
    )
    # Findings: vulnerability skewed (sqrt) so the most common one has ~1 % of the findings,
    # like the advisory benchmark's ~9,500 of 1M; first seen over 300 days.
    b.sql(
        f"""
        CREATE UNLOGGED TABLE src AS
        SELECT g AS id, 1 + g % {assets} AS asset_id,
               floor({vulns} * power((hashint4(g) & 2147483647) / 2147483648.0, 2))::int AS vnum,
               (hashint4(g + 7) & 2147483647) % 100 AS roll,
               now() - ((hashint4(g + 13) & 2147483647) % (300 * 1440)) * interval '1 minute'
                   AS first_seen
        FROM generate_series(1, {n}) g
        """
    )
    b.sql(
        "CREATE TABLE triage_group (id integer PRIMARY KEY, vclass smallint NOT NULL,"
        " context integer NOT NULL, kev_due timestamptz, decision smallint NOT NULL,"
        " priority smallint NOT NULL, bod smallint NOT NULL, kind smallint NOT NULL,"
        " duration interval NOT NULL, grace interval NOT NULL, cap boolean NOT NULL,"
        " policy varchar(100) NOT NULL, context_assessment_id integer NOT NULL,"
        " reason text NOT NULL)"
    )
    b.sql(
        f"""
        INSERT INTO triage_group
        SELECT row_number() OVER (), k.vclass, k.context, k.kev_due, k.vclass % 4, k.vclass % 3,
               (k.kev_due IS NOT NULL)::int, 2 * (k.kev_due IS NOT NULL)::int,
               ((ARRAY[180, 90, 30, 14])[1 + k.vclass % 4]) * interval '1 day',
               interval '14 days', k.vclass % 2 = 0, 'default',
               50001 + k.context, {REASON!r}
        FROM (SELECT DISTINCT v.vnum % 16 AS vclass, a.context, v.kev_due
              FROM src s JOIN asset a ON a.id = s.asset_id JOIN advisory v ON v.vnum = s.vnum) k
        """.replace("{REASON!r}", "'" + REASON + "'")
    )
    b.sql("CREATE UNIQUE INDEX triage_group_key ON triage_group (vclass, context, kev_due)")
    b.sql(FINDING_DDL.format(name="finding", storage=""))
    b.sql(
        f"""
        INSERT INTO finding
        SELECT s.id, s.asset_id,
               'pkg:npm/package-' || s.vnum % 3000 || '@4.' || s.id % 50 || '.' || s.id / 50
                   || '#' || v.id,
               'package', v.id, v.aliases, json_build_array(v.id),
               'npm', 'package-' || s.vnum % 3000, '4.' || s.id % 50 || '.' || s.id / 50,
               'pkg:npm/package-' || s.vnum % 3000 || '@4.' || s.id % 50 || '.' || s.id / 50,
               v.fixed_versions, NULL, NULL,
               CASE WHEN s.roll < 70 THEN 'open' WHEN s.roll < 80 THEN 'in_progress'
                    WHEN s.roll < 95 THEN 'fixed' ELSE 'not_affected' END,
               NULL, NULL, NULL, NULL, s.first_seen, now(), s.first_seen,
               CASE WHEN s.roll >= 80 THEN now() END,
               (ARRAY{DECISIONS!r})[1 + v.vnum % 4], 'medium', 'none', 'default',
               s.first_seen + ((ARRAY[180, 90, 30, 14])[1 + v.vnum % 4]) * interval '1 day',
               replace('{REASON}', '{{d}}', 'act'), 1, 1 + v.vnum, 50001 + a.context, g.id, v.vnum
        FROM src s JOIN asset a ON a.id = s.asset_id JOIN advisory v ON v.vnum = s.vnum
        JOIN triage_group g ON g.vclass = v.vnum % 16 AND g.context = a.context
             AND g.kev_due IS NOT DISTINCT FROM v.kev_due
        ORDER BY s.id
        """.replace("{DECISIONS!r}", "['track', 'track*', 'attend', 'act']")
        .replace("{REASON}", REASON)
        .replace("{{d}}", "{d}")
    )
    for suffix, columns in INDEXES.items():
        b.sql(f"CREATE INDEX ix_finding_{suffix} ON finding {columns}")
    b.sql(
        "CREATE TABLE finding_transition (id bigserial PRIMARY KEY, finding_id integer NOT NULL"
        " REFERENCES finding (id) ON DELETE CASCADE, at timestamptz NOT NULL,"
        " actor varchar(200) NOT NULL, from_state varchar(20), to_state varchar(20) NOT NULL,"
        " note text NOT NULL)"
    )
    b.sql("CREATE INDEX ix_finding_transition_finding_id ON finding_transition (finding_id)")
    # The recompute's result for 90 % of the findings (the rest unchanged), twice: A and B.
    for gen, (offset, shift) in {"a": (100000, 1), "b": (0, 0)}.items():
        b.sql(
            f"""
            CREATE UNLOGGED TABLE upd_{gen} AS
            SELECT f.id,
                   (ARRAY['track', 'track*', 'attend', 'act'])[1 + (f.id + {shift}) % 4]
                       AS decision,
                   (ARRAY['low', 'medium', 'high'])[1 + f.id % 3] AS priority,
                   'none'::varchar(10) AS bod, 'default-{gen}'::varchar(100) AS policy,
                   f.first_seen_at + (30 + {shift}) * interval '1 day' AS deadline,
                   replace('{REASON}', '{{d}}', 'attend') AS reason,
                   f.assessment_id + {offset} AS assessment_id,
                   f.context_assessment_id + {offset} AS context_assessment_id,
                   ((f.id + {shift}) % 4)::smallint AS decision_code
            FROM finding f WHERE f.id % 10 <> 0
            """.replace("{REASON}", REASON).replace("{{d}}", "{d}")
        )
        b.sql(f"ALTER TABLE upd_{gen} ADD PRIMARY KEY (id)")
        b.sql(f"ANALYZE upd_{gen}")
    b.settle("finding", "asset", "advisory", "triage_group", "assessment")


WIDE_UPDATE = """
UPDATE {table} f SET decision = u.decision, priority = u.priority, bod = u.bod,
       policy = u.policy, deadline = u.deadline, deadline_reason = u.reason,
       assessment_id = u.assessment_id, context_assessment_id = u.context_assessment_id,
       revision = f.revision + 1
FROM upd_{gen} u WHERE f.id = u.id
"""


def gen_of(run: int) -> str:
    return "a" if run % 2 == 0 else "b"


def hot_counter(b: Bench, table: str) -> tuple[int, int]:
    b.sql("SELECT pg_stat_force_next_flush()")
    row = b.conn.execute(
        b"SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %s",
        (table,),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def readers(b: Bench, label: str, overdue: str, by_org: str) -> None:
    b.timed(f"{label}: overdue count", lambda _run: b.one(overdue))
    b.timed(
        f"{label}: open by decision per organisation",
        lambda _run: len(b.conn.execute(by_org.encode()).fetchall()),
    )


def option_a(b: Bench) -> None:
    print("(a) wide row, ten indexes", flush=True)
    b.timed(
        "a: UPDATE 8 triage columns from temp table",
        lambda run: b.sql(WIDE_UPDATE.format(table="finding", gen=gen_of(run))),
        lambda _run: b.settle("finding"),
    )
    b.results["a: table size MB"] = b.one("SELECT pg_total_relation_size('finding') >> 20")
    readers(
        b,
        "a",
        f"SELECT count(*) FROM finding WHERE state NOT IN {CLOSED} AND deadline < now()",
        "SELECT a.organisation_id, f.decision, count(*) FROM finding f"
        f" JOIN asset a ON a.id = f.asset_id WHERE f.state NOT IN {CLOSED} GROUP BY 1, 2",
    )


NARROW_DDL = """
CREATE TABLE {name} (
    finding_id integer PRIMARY KEY REFERENCES finding (id) ON DELETE CASCADE,
    decision smallint, priority smallint, bod smallint, deadline timestamptz,
    policy_id smallint, reason_id integer, assessment_id integer, context_assessment_id integer
)
"""
NARROW_SELECT = """
SELECT f.id AS finding_id, coalesce(u.decision_code, 0::smallint) AS decision,
       1::smallint AS priority, 0::smallint AS bod, coalesce(u.deadline, f.deadline) AS deadline,
       1::smallint AS policy_id, 7 AS reason_id,
       coalesce(u.assessment_id, f.assessment_id) AS assessment_id,
       coalesce(u.context_assessment_id, f.context_assessment_id) AS context_assessment_id
FROM finding f LEFT JOIN upd_{gen} u ON u.id = f.id
"""


def option_b(b: Bench) -> None:
    print("(b) narrow side table finding_triage", flush=True)
    b.sql(NARROW_DDL.format(name="finding_triage"))
    b.sql("INSERT INTO finding_triage " + NARROW_SELECT.format(gen="b"))
    b.sql("CREATE INDEX ix_finding_triage_deadline ON finding_triage (deadline)")
    b.settle("finding_triage")
    b.timed(
        "b: UPDATE ... FROM (PK + deadline index)",
        lambda run: b.sql(
            "UPDATE finding_triage t SET decision = u.decision_code, priority = 2, bod = 0,"
            " deadline = u.deadline, policy_id = 2, reason_id = 8,"
            " assessment_id = u.assessment_id, context_assessment_id = u.context_assessment_id"
            f" FROM upd_{gen_of(run)} u WHERE t.finding_id = u.id"
        ),
        lambda _run: b.settle("finding_triage"),
    )
    b.timed(
        "b: TRUNCATE + INSERT ... SELECT (PK + deadline index)",
        lambda run: (
            b.sql("TRUNCATE finding_triage"),
            b.sql("INSERT INTO finding_triage " + NARROW_SELECT.format(gen=gen_of(run))),
        )[1],
        lambda _run: b.settle("finding_triage"),
    )

    def swap(run: int) -> int:
        with b.conn.transaction():
            b.sql("CREATE TABLE finding_triage_new AS " + NARROW_SELECT.format(gen=gen_of(run)))
            rows = b.one("SELECT count(*) FROM finding_triage_new")
            b.sql("ALTER TABLE finding_triage_new ADD PRIMARY KEY (finding_id)")
            b.sql("CREATE INDEX ON finding_triage_new (deadline)")
            b.sql("DROP TABLE finding_triage")
            b.sql("ALTER TABLE finding_triage_new RENAME TO finding_triage")
        return int(rows)

    b.timed(
        "b: CREATE TABLE AS + PK + index + swap",
        swap,
        lambda _run: b.settle("finding_triage"),
    )
    b.sql("ANALYZE finding_triage")
    readers(
        b,
        "b",
        "SELECT count(*) FROM finding f JOIN finding_triage t ON t.finding_id = f.id"
        f" WHERE f.state NOT IN {CLOSED} AND t.deadline < now()",
        "SELECT a.organisation_id, t.decision, count(*) FROM finding f"
        " JOIN finding_triage t ON t.finding_id = f.id JOIN asset a ON a.id = f.asset_id"
        f" WHERE f.state NOT IN {CLOSED} GROUP BY 1, 2",
    )


def deadline_sql(rule: str, kev_due: str) -> str:
    """The policy's deadline in SQL, as ``triage.policy.deadline`` computes it: kind 0 = a
    duration from first seen, 1 = none, 2 = KEV's due date (no earlier than first seen + grace);
    ``cap`` = KEV-listed findings are due no later than that KEV date."""
    fs, r = "f.first_seen_at", rule
    kev = f"greatest({kev_due}, {fs} + {r}.grace)"
    base = f"CASE {r}.kind WHEN 0 THEN {fs} + {r}.duration WHEN 2 THEN {kev} END"
    return (
        f"CASE WHEN {r}.cap AND {kev_due} IS NOT NULL"
        f" THEN least(coalesce({base}, 'infinity'), {kev}) ELSE {base} END"
    )


DEADLINE = deadline_sql("g", "g.kev_due")


def option_c(b: Bench) -> None:
    print("(c) triage_group reference, deadline computed", flush=True)
    groups = int(b.one("SELECT count(*) FROM triage_group"))
    b.results["c: triage groups"] = groups
    print(f"  triage groups: {groups}", flush=True)
    b.sql(
        "CREATE VIEW finding_deadline AS SELECT f.id, f.asset_id, f.state, g.decision,"
        f" {DEADLINE} AS deadline FROM finding f JOIN triage_group g ON g.id = f.triage_group_id"
    )
    b.sql("CREATE TABLE triage_group_old AS SELECT * FROM triage_group")
    b.sql("ALTER TABLE triage_group_old ADD PRIMARY KEY (id)")

    def policy_change(run: int) -> int:
        days = (7, 10, 7)[run]
        return b.sql(
            f"UPDATE triage_group SET duration = CASE decision WHEN 3 THEN {days}"
            " ELSE 20 + decision END * interval '1 day', policy = 'policy-" + str(run) + "'"
        )

    b.timed("c: policy change: UPDATE all group rows", policy_change)
    # Transitions for open findings whose deadline moved: old vs new group rule.
    b.sql(
        "UPDATE triage_group_old SET duration = CASE decision WHEN 3 THEN 14 ELSE 20 + decision"
        " END * interval '1 day'"
    )
    moved_sql = f"""
        INSERT INTO finding_transition (finding_id, at, actor, from_state, to_state, note)
        SELECT f.id, now(), 'sakimori', f.state, f.state,
               'deadline recomputed (policy change): ' || g.reason
        FROM finding f JOIN triage_group g ON g.id = f.triage_group_id
             JOIN triage_group_old o ON o.id = f.triage_group_id
        WHERE f.state NOT IN {CLOSED}
          AND ({DEADLINE}) IS DISTINCT FROM ({deadline_sql("o", "o.kev_due")})
        ORDER BY f.id
    """
    b.timed(
        "c: INSERT ... SELECT transitions for moved deadlines",
        lambda _run: b.sql(moved_sql),
        b.empty_transitions,
    )
    b.sql("TRUNCATE finding_transition")
    readers(
        b,
        "c",
        f"SELECT count(*) FROM finding_deadline WHERE state NOT IN {CLOSED} AND deadline < now()",
        "SELECT a.organisation_id, d.decision, count(*) FROM finding_deadline d"
        f" JOIN asset a ON a.id = d.asset_id WHERE d.state NOT IN {CLOSED} GROUP BY 1, 2",
    )


RULE_COLUMNS = (
    "decision smallint NOT NULL, priority smallint NOT NULL, bod smallint NOT NULL,"
    " kind smallint NOT NULL, duration interval NOT NULL, grace interval NOT NULL,"
    " cap boolean NOT NULL, policy varchar(100) NOT NULL, context_assessment_id integer NOT NULL,"
    " reason text NOT NULL"
)
RULE_ROWS = """
SELECT c.vclass, x.context, c.vclass % 4, c.vclass % 3, 0, CASE WHEN c.vclass < 8 THEN 2 ELSE 0 END,
       ((ARRAY[180, 90, 30, {act}])[1 + c.vclass % 4]) * interval '1 day', interval '14 days',
       c.vclass % 2 = 0, '{policy}', 50001 + x.context, '{reason}'
FROM generate_series(0, 15) c (vclass) CROSS JOIN (SELECT DISTINCT context FROM asset) x
"""


def option_c2(b: Bench) -> None:
    """(c') No per-finding triage column at all: the finding's stable keys (shape, asset) lead to
    the outcome. ``shape`` holds what the vulnerability's evidence gives (class, KEV due date,
    explanation part), ``asset.context`` the context, ``triage_rule(class, context)`` the
    outcome and deadline rule; the deadline is computed from first seen at read time."""
    print("(c') keys only: finding -> shape, asset -> triage_rule(class, context)", flush=True)
    b.sql(
        "CREATE TABLE shape (id integer PRIMARY KEY, vclass smallint NOT NULL,"
        " kev_due timestamptz, assessment_id integer NOT NULL)"
    )
    b.sql("INSERT INTO shape SELECT vnum, vnum % 16, kev_due, 1 + vnum FROM advisory")
    for table in ("triage_rule", "triage_rule_old"):
        b.sql(
            f"CREATE TABLE {table} (vclass smallint, context integer, {RULE_COLUMNS},"
            " PRIMARY KEY (vclass, context))"
        )
        b.sql(f"INSERT INTO {table} " + RULE_ROWS.format(act=14, policy="p0", reason=REASON))
    b.settle("shape", "triage_rule", "triage_rule_old")
    b.results["c': rule rows"] = b.one("SELECT count(*) FROM triage_rule")
    b.results["c': shape rows"] = b.one("SELECT count(*) FROM shape")
    joins = (
        "FROM finding f JOIN shape s ON s.id = f.shape_id JOIN asset a ON a.id = f.asset_id"
        " JOIN triage_rule r ON r.vclass = s.vclass AND r.context = a.context"
    )
    b.sql(
        "CREATE VIEW finding_triage_view AS SELECT f.id, f.asset_id, a.organisation_id, f.state,"
        f" r.decision, {deadline_sql('r', 's.kev_due')} AS deadline, f.key {joins}"
    )

    def recompute(run: int) -> int:
        with b.conn.transaction():
            shapes = b.sql(
                f"UPDATE shape SET vclass = (vnum_class + {run}) % 16 FROM"
                " (SELECT id AS sid, id % 16 AS vnum_class FROM shape) x WHERE x.sid = shape.id"
            )
            b.sql("TRUNCATE triage_rule")
            rules = b.sql(
                "INSERT INTO triage_rule "
                + RULE_ROWS.format(act=7 + run, policy=f"p{run + 1}", reason=REASON)
            )
        return shapes + rules

    b.timed("c': full recompute: rewrite shape + rule rows", recompute)
    b.sql("UPDATE shape SET vclass = id % 16")
    b.sql("ANALYZE shape")
    b.sql("ANALYZE triage_rule")
    moved_sql = f"""
        INSERT INTO finding_transition (finding_id, at, actor, from_state, to_state, note)
        SELECT f.id, now(), 'sakimori', f.state, f.state,
               'deadline recomputed (policy change): ' || r.reason
        {joins} JOIN triage_rule_old o ON o.vclass = s.vclass AND o.context = a.context
        WHERE f.state NOT IN {CLOSED}
          AND ({deadline_sql("r", "s.kev_due")}) IS DISTINCT FROM ({deadline_sql("o", "s.kev_due")})
        ORDER BY f.id
    """
    b.timed(
        "c': INSERT ... SELECT transitions for moved deadlines",
        lambda _run: b.sql(moved_sql),
        b.empty_transitions,
    )
    b.sql("TRUNCATE finding_transition")
    readers(
        b,
        "c'",
        "SELECT count(*) FROM finding_triage_view"
        f" WHERE state NOT IN {CLOSED} AND deadline < now()",
        "SELECT organisation_id, decision, count(*) FROM finding_triage_view"
        f" WHERE state NOT IN {CLOSED} GROUP BY 1, 2",
    )
    b.timed(
        "c': list page, 1,000 rows of one organisation by computed deadline",
        lambda _run: len(
            b.conn.execute(
                b"SELECT * FROM finding_triage_view WHERE organisation_id = 7"
                b" AND state NOT IN " + CLOSED.encode() + b" ORDER BY deadline, id LIMIT 1000"
            ).fetchall()
        ),
    )


def option_d(b: Bench) -> None:
    print("(d) wide row, fillfactor 75, no index on triage columns (HOT)", flush=True)
    b.sql(FINDING_DDL.format(name="finding_hot", storage="WITH (fillfactor = 75)"))
    b.sql("INSERT INTO finding_hot SELECT * FROM finding ORDER BY id")
    for suffix, columns in INDEXES.items():
        if suffix not in TRIAGE_INDEXES:
            b.sql(f"CREATE INDEX ix_finding_hot_{suffix} ON finding_hot {columns}")
    hot: list[dict[str, int]] = []

    def body(run: int) -> int:
        before = hot_counter(b, "finding_hot")
        rows = b.sql(WIDE_UPDATE.format(table="finding_hot", gen=gen_of(run)))
        after = hot_counter(b, "finding_hot")
        hot.append({"updated": after[0] - before[0], "hot": after[1] - before[1]})
        return rows

    b.timed(
        "d: UPDATE 8 triage columns (fillfactor 75, 6 indexes)",
        body,
        lambda _run: b.settle("finding_hot"),
    )
    b.results["d: HOT per run"] = hot
    print(f"  HOT updates per run: {hot}", flush=True)
    b.results["d: table size MB"] = b.one("SELECT pg_total_relation_size('finding_hot') >> 20")
    b.sql("ANALYZE finding_hot")
    readers(
        b,
        "d",
        f"SELECT count(*) FROM finding_hot WHERE state NOT IN {CLOSED} AND deadline < now()",
        "SELECT a.organisation_id, f.decision, count(*) FROM finding_hot f"
        f" JOIN asset a ON a.id = f.asset_id WHERE f.state NOT IN {CLOSED} GROUP BY 1, 2",
    )
    b.sql("DROP TABLE finding_hot")


def option_e(b: Bench) -> None:
    print("(e) one changed advisory", flush=True)
    vuln, count = b.conn.execute(
        b"SELECT vulnerability, count(*) FROM finding GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    ).fetchone() or ("", 0)
    b.results["e: findings of the advisory"] = count
    b.settle("finding")
    b.timed(
        "e: UPDATE aliases/fixed_versions of its findings (wide row)",
        lambda run: b.sql(
            "UPDATE finding SET aliases = %s::json, fixed_versions = %s::json,"
            " revision = revision + 1 WHERE vulnerability = %s",
            (f'["CVE-2025-9{run}0000"]', f'["2.9.{run}"]', vuln),
        ),
    )
    b.timed(
        "e: UPDATE the advisory row only (by reference)",
        lambda run: b.sql(
            "UPDATE advisory SET aliases = %s::json, fixed_versions = %s::json WHERE id = %s",
            (f'["CVE-2025-8{run}0000"]', f'["2.8.{run}"]', vuln),
        ),
    )
    page = (
        "SELECT f.id, f.key, f.state, f.decision, f.deadline, {cols} FROM finding f"
        " {join} WHERE f.asset_id IN (SELECT id FROM asset WHERE organisation_id = 7)"
        f" AND f.state NOT IN {CLOSED} ORDER BY f.deadline, f.id LIMIT 1000"
    )
    stored = page.format(cols="f.aliases, f.fixed_versions", join="")
    joined = page.format(
        cols="v.aliases, v.fixed_versions", join="JOIN advisory v ON v.id = f.vulnerability"
    )
    b.timed(
        "e: finding list page, 1,000 rows, stored aliases",
        lambda _run: len(b.conn.execute(stored.encode()).fetchall()),
    )
    b.timed(
        "e: finding list page, 1,000 rows, joined advisory",
        lambda _run: len(b.conn.execute(joined.encode()).fetchall()),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--findings", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dsn", default="host=127.0.0.1 port=5432 user=postgres")
    parser.add_argument(
        "--only", default="abcCde", help="options to run, e.g. 'bcC' (C = c': keys only)"
    )
    parser.add_argument(
        "--merge", action="store_true", help="update the results of these options in the JSON"
    )
    parser.add_argument("--no-write", action="store_true", help="do not write the JSON")
    args = parser.parse_args()

    name = f"adr_triage_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(args.dsn + " dbname=postgres", autocommit=True)
    admin.execute(f"CREATE DATABASE {name}".encode())
    settings: dict[str, str] = {}
    try:
        with psycopg.connect(args.dsn + f" dbname={name}", autocommit=True) as conn:
            b = Bench(conn, args.runs)
            for setting in (
                "server_version",
                "shared_buffers",
                "work_mem",
                "max_wal_size",
                "wal_compression",
                "synchronous_commit",
                "checkpoint_timeout",
            ):
                settings[setting] = str(b.one(f"SHOW {setting}"))
            print("settings:", settings, flush=True)
            start = time.perf_counter()
            build(b, args.findings)
            setup = time.perf_counter() - start
            print(
                f"setup {setup:.1f} s; finding table",
                b.one("SELECT pg_total_relation_size('finding') >> 20"),
                "MB",
                flush=True,
            )
            data = {
                "findings": b.one("SELECT count(*) FROM finding"),
                "assets": b.one("SELECT count(*) FROM asset"),
                "vulnerabilities": b.one("SELECT count(DISTINCT vulnerability) FROM finding"),
                "contexts": b.one("SELECT count(DISTINCT context) FROM asset"),
                "open": b.one(f"SELECT count(*) FROM finding WHERE state NOT IN {CLOSED}"),
                "updated_rows": b.one("SELECT count(*) FROM upd_a"),
            }
            print("data:", data, flush=True)
            steps = {
                "a": option_a,
                "d": option_d,
                "b": option_b,
                "c": option_c,
                "C": option_c2,
                "e": option_e,
            }
            for key in "adbcCe":
                if key in args.only:
                    steps[key](b)
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())
        admin.close()
    document: dict[str, Any] = {
        "benchmark": "adr_triage_storage",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "load_average": os.getloadavg(),
        "parameters": vars(args) | {"dsn": "127.0.0.1:5432"},
        "settings": settings,
        "setup_seconds": round(setup, 1),
        "data": data,
        "results": b.results,
    }
    if args.merge and RESULTS.exists():
        merged = json.loads(RESULTS.read_text())
        merged["results"].update(b.results)
        merged.setdefault("merged", []).append(
            {key: document[key] for key in ("date", "load_average", "parameters", "data")}
        )
        document = merged
    if not args.no_write:
        RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\n{'measurement':<66} {'median s':>9}  rows")
    for key, value in document["results"].items():
        if isinstance(value, dict):
            print(f"{key:<66} {value['median']:9.3f}  {value.get('rows', '')}")
        else:
            print(f"{key:<66} {value!s:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
