"""Migration to finding details (ADR 0001 part (e)) on existing data, and back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from alembic import command
from sqlalchemy import text

from sakimori.services.organisations import create_asset, create_organisation
from sakimori.store.db import alembic_config, open_database

#: The revision before finding details, and the one that adds them.
BEFORE, DETAILS = "0014", "0015"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
KEY = "pkg:PyPI/babel@2.8.0#CVE-2021-42771"


def finding(
    asset: int, key: str, aliases: list[str], fixed: list[str], **extra: Any
) -> dict[str, Any]:
    return {
        "asset_id": asset,
        "key": key,
        "kind": "package",
        "vulnerability": key.rsplit("#", 1)[1],
        "aliases": orjson.dumps(aliases).decode(),
        "records": orjson.dumps(["PYSEC-2021-421"]).decode(),
        "fixed_versions": orjson.dumps(fixed).decode(),
        "purl": "pkg:pypi/babel@2.8.0",
        "state": "open",
        "first_seen_at": T0,
        "last_seen_at": T0,
        "state_changed_at": T0,
        "revision": 1,
        **extra,
    }


def test_each_identity_gets_its_latest_content_and_every_finding_points_to_it(
    database_url: str,
) -> None:
    db = open_database(database_url)
    try:
        create_organisation(db, "bank", "", "operator", ["finance"])
        for slug in ("a", "b", "c"):
            create_asset(db, f"bank/{slug}", "")
        config = alembic_config(db.engine)
        command.downgrade(config, BEFORE)
        columns = (
            "asset_id, key, kind, vulnerability, aliases, records, fixed_versions, purl, state, "
            "first_seen_at, last_seen_at, state_changed_at, revision"
        )
        values = ", ".join(f":{c.strip()}" for c in columns.split(","))
        insert = text(f"INSERT INTO finding ({columns}) VALUES ({values})")
        later = T0 + timedelta(days=3)
        with db.engine.begin() as connection:
            ids = {row[0]: row[1] for row in connection.execute(text("SELECT slug, id FROM asset"))}
            rows = [
                # The same identity on two assets: a stale closed one, and one seen later.
                finding(ids["a"], KEY, ["PYSEC-2021-421"], ["2.9.1"], state="fixed"),
                finding(ids["b"], KEY, ["BIT-1", "PYSEC-2021-421"], ["2.10.0"], last_seen_at=later),
                # Another identity (another vulnerability of the same package-version).
                finding(ids["c"], KEY.replace("CVE-2021-42771", "GHSA-x"), [], []),
            ]
            for row in rows:
                connection.execute(insert, row)
        command.upgrade(config, DETAILS)
        with db.engine.begin() as connection:
            found = connection.execute(
                text(
                    "SELECT a.slug, d.vulnerability, d.aliases, d.fixed_versions, d.records "
                    "FROM finding f JOIN asset a ON a.id = f.asset_id "
                    "JOIN finding_detail d ON d.id = f.detail_id ORDER BY a.slug"
                )
            ).all()
            details = connection.execute(text("SELECT COUNT(*) FROM finding_detail")).scalar()
        parsed = {
            slug: (
                vulnerability,
                *(tuple(orjson.loads(v) if isinstance(v, str) else v) for v in rest),
            )
            for slug, vulnerability, *rest in found
        }
        newest = ("CVE-2021-42771", ("BIT-1", "PYSEC-2021-421"), ("2.10.0",), ("PYSEC-2021-421",))
        assert parsed == {
            "a": newest,  # shares b's identity: the content last seen
            "b": newest,
            "c": ("GHSA-x", (), (), ("PYSEC-2021-421",)),
        }
        assert details == 2
        # And back: each finding carries its detail's content again.
        command.downgrade(config, BEFORE)
        with db.engine.begin() as connection:
            back = connection.execute(
                text(
                    "SELECT a.slug, CAST(f.aliases AS TEXT), CAST(f.fixed_versions AS TEXT) "
                    "FROM finding f JOIN asset a ON a.id = f.asset_id ORDER BY a.slug"
                )
            ).all()
        assert [(s, orjson.loads(a), orjson.loads(f)) for s, a, f in back] == [
            ("a", ["BIT-1", "PYSEC-2021-421"], ["2.10.0"]),
            ("b", ["BIT-1", "PYSEC-2021-421"], ["2.10.0"]),
            ("c", [], []),
        ]
        command.upgrade(config, "head")
    finally:
        db.dispose()
