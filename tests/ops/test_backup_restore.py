"""The backup and restore of docs/operations.md, done for real on PostgreSQL.

A populated database (findings with history, users, tokens, a published package with its
recipients, and whatever the audit log recorded) is dumped with ``pg_dump -Fc``, the token key
file is copied as the guide says, the dump is restored with ``pg_restore`` into a fresh
database, and every row of every table must be the same. A token made before the backup must
still verify with the restored key file — and not with a new key — and the restored database
must serve the API.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from sakimori.api import create_app
from sakimori.model.lifecycle import Move, State
from sakimori.packages.model import Content
from sakimori.services import findings, identity
from sakimori.services import packages as package_service
from sakimori.services.identity import Unauthenticated
from sakimori.store.db import open_database
from tests.api.conftest import ORG_A, make_tokens, populate, settings_for
from tests.conftest import postgres_database

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # Starlette asks for its httpx fork
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.postgres


def _tool(name: str) -> str:
    """``make test`` installs postgresql-client: a missing tool is a failure, never a skip."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: apt-get install postgresql-client (see the Makefile)")
    return found


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as libpq reads it (no ``+psycopg`` driver part)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _every_row(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = sorted(inspect(connection).get_table_names())
            return {
                table: [
                    tuple(row)
                    for row in connection.execute(text(f'SELECT * FROM "{table}" ORDER BY 1'))
                ]
                for table in tables
            }
    finally:
        engine.dispose()


def test_a_dump_restores_into_a_fresh_database_with_everything(tmp_path: Path) -> None:
    pg_dump, pg_restore = _tool("pg_dump"), _tool("pg_restore")
    home, backup, restored_home = tmp_path / "home", tmp_path / "backup", tmp_path / "restored"
    for folder in (home, backup, restored_home):
        folder.mkdir()
    with postgres_database() as source_url:
        db = open_database(source_url)
        try:
            populate(db, home)
            key = identity.TokenKey.load(settings_for(source_url, home).token_key_path)
            tokens = make_tokens(db, key)
            _, kept = identity.create_token(
                db, key, "bank-user", "before the backup", ["read"], timedelta(days=30)
            )
            first = findings.list_findings(db, findings.Filters(organisation=ORG_A, limit=1))[0]
            findings.transition(db, first.id, Move(State.ACKNOWLEDGED, "bank-user", "seen"))
            view = package_service.create_draft(
                db,
                Content.from_dict(
                    {
                        "title": "Backup drill",
                        "tlp": "AMBER",
                        "audience": {"organisations": [ORG_A]},
                        "vulnerabilities": [first.vulnerability],
                        "products": [{"purl": "pkg:pypi/django@2.2.24"}],
                    }
                ),
                "bunseki",
            )
            package_service.submit(db, view.id, "bunseki")
            package_service.approve(db, view.id, "kanri")
        finally:
            db.dispose()
        # One change through the API too, so whatever it records (the audit log) is backed up.
        with TestClient(create_app(settings_for(source_url, home))) as client:
            moved = client.post(
                f"/v1/findings/{first.id}/transitions",
                headers={"Authorization": f"Bearer {tokens['member_user']}"},
                json={"state": "in_progress", "note": "patching"},
            )
            assert moved.is_success, moved.text
        dump = backup / "sakimori.dump"
        subprocess.run(
            [pg_dump, "--format=custom", f"--file={dump}", _libpq(source_url)],
            check=True,
            capture_output=True,
        )
        shutil.copy2(home / "token.key", backup / "token.key")
        before = _every_row(source_url)

        with postgres_database() as target_url:
            subprocess.run(
                [pg_restore, "--no-owner", "--exit-on-error", f"--dbname={_libpq(target_url)}",
                 str(dump)],
                check=True,
                capture_output=True,
            )  # fmt: skip
            shutil.copy2(backup / "token.key", restored_home / "token.key")
            after = _every_row(target_url)
            assert after == before
            assert before["finding"]
            assert before["finding_transition"]
            assert before["api_token"]
            assert before["cm_package"]
            assert before["cm_package_recipient"]
            assert before["audit_entry"], "the API change was audited, and the entry restored"
            assert before["alembic_version"]

            restored = open_database(target_url)
            try:
                restored_key = identity.TokenKey.load(restored_home / "token.key")
                principal = identity.authenticate(restored, restored_key, kept)
                assert principal.name == "bank-user"
                with pytest.raises(Unauthenticated):
                    identity.authenticate(
                        restored, identity.TokenKey.load(tmp_path / "new.key"), kept
                    )
            finally:
                restored.dispose()
            settings = settings_for(target_url, restored_home)
            with TestClient(create_app(settings)) as client:
                answer = client.get(
                    "/v1/findings",
                    headers={"Authorization": f"Bearer {tokens['coordinator_admin']}"},
                )
                ready = client.get("/readyz")
            assert answer.status_code == 200
            assert len(answer.json()["items"]) == len(before["finding"])
            assert ready.status_code == 200
