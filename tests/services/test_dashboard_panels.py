"""The dashboard's panels beside the figures (stale feeds, attempts): read on every view of a
small platform; on a large one, at most once per LATEST_TTL per process; access checked on
every view."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update

from sakimori.errors import PermissionDenied
from sakimori.services import dashboard, metrics_snapshot
from sakimori.services.access import Principal, Role, Scope
from sakimori.store import models
from sakimori.store.db import Database
from tests.services.test_metrics_snapshot import populated

ANALYST = Principal(1, "analyst", Role.ANALYST, 1, "coordinator", frozenset({Scope.READ}))
MEMBER = Principal(2, "user", Role.MEMBER_USER, 2, "bank", frozenset({Scope.READ}))
NO_SCOPE = Principal(3, "nobody", Role.ANALYST, 1, "coordinator", frozenset())


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    yield from populated(database_url, tmp_path)


def age_every_source(db: Database, days: int) -> None:
    with db.transaction() as session:
        moment = datetime.now(UTC) - timedelta(days=days)
        session.execute(update(models.IntelSource).values(checked_at=moment))


def counted(db: Database) -> list[str]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    return statements


def test_a_small_platform_reads_the_panels_on_every_view(db: Database) -> None:
    age_every_source(db, 0)
    assert dashboard.panels(db, ANALYST).stale_sources == []
    age_every_source(db, 400)
    assert dashboard.panels(db, ANALYST).stale_sources != []
    assert dashboard.panels(db, MEMBER).attempts == []


def test_a_large_platform_reads_them_once_per_ttl(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_snapshot, "DIRECT_LIMIT", 0)
    monkeypatch.setattr(metrics_snapshot, "LATEST_TTL", 60.0)  # no test is that slow
    with db.transaction() as session:
        metrics_snapshot.refresh(session)
    metrics_snapshot.current(db)  # the process now knows the platform is large
    age_every_source(db, 0)
    assert dashboard.panels(db, ANALYST).stale_sources == []
    age_every_source(db, 400)
    statements = counted(db)
    assert dashboard.panels(db, ANALYST).stale_sources == []  # as read within the TTL
    assert statements == []
    with pytest.raises(PermissionDenied):  # access is checked before anything remembered
        dashboard.panels(db, NO_SCOPE)
    monkeypatch.setattr(metrics_snapshot, "LATEST_TTL", 0.0)  # as when it has passed
    assert dashboard.panels(db, ANALYST).stale_sources != []
    assert statements != []
