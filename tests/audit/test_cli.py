"""``sakimori audit verify|export|prune`` and ``sakimori worker --once|--dead``, in-process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import update

from sakimori.config import Settings
from sakimori.jobs.interface import enqueue
from sakimori.services import audit
from sakimori.store import models
from sakimori.store.db import open_database
from tests.cli.conftest import Cli


def test_verify_export_prune_and_a_tampered_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(tmp_path, capsys)
    db = open_database(Settings.load({"SAKIMORI_HOME": str(tmp_path)}).database_url)
    try:
        old = datetime.now(UTC) - timedelta(days=500)
        for n in range(4):
            with db.transaction() as session:
                audit.append(
                    session,
                    audit.Entry(actor="kanri", action="organisation.create", object_id=str(n)),
                    now=old + timedelta(days=n * 100),
                )
        run = cli("audit", "verify")
        assert run.code == 0, run.err
        assert "4 entries" in run.out
        pruned = cli("audit", "prune", "--days", "350")
        assert pruned.code == 0, pruned.err
        assert "pruned 2 entries" in pruned.out
        assert cli("audit", "verify").code == 0
        target = tmp_path / "audit.jsonl"
        assert cli("audit", "export", "-o", str(target)).code == 0
        lines = [orjson.loads(line) for line in target.read_bytes().splitlines()]
        assert lines[0]["checkpoint"]["seq"] == 2
        assert [e["seq"] for e in lines[1:]] == [3, 4]
        with db.transaction() as session:
            session.execute(
                update(models.AuditEntryRow)
                .where(models.AuditEntryRow.seq == 4)
                .values(object_id="x")
            )
        broken = cli("audit", "verify")
        assert broken.code == 2
        assert "entry 4" in broken.err
    finally:
        db.dispose()


def test_worker_once_and_dead_letters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli = Cli(tmp_path, capsys)
    db = open_database(Settings.load({"SAKIMORI_HOME": str(tmp_path)}).database_url)
    try:
        with db.transaction() as session:
            enqueue(session, "no.such.job", {}, "orphan")
        run = cli("worker", "--once")
        assert run.code == 0, run.err
        assert "ran 1 jobs" in run.out
        dead = cli("worker", "--dead")
        assert "no.such.job" in dead.out
        assert "no handler" in dead.out
    finally:
        db.dispose()
