"""Shared by the notification tests: a platform with organisations, users and inventories
(tests/packages), principals, a job runner and publishing helpers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sakimori.config import Settings
from sakimori.jobs.handlers import HANDLERS
from sakimori.jobs.interface import Handler
from sakimori.jobs.runner import Runner
from sakimori.packages.model import Content
from sakimori.services import identity
from sakimori.services import packages as package_service
from sakimori.services.access import Principal
from sakimori.services.notifications import close_channels
from sakimori.store import models
from tests.packages.conftest import Platform, build_platform, content

#: Short waits so retries happen within the test (the schedule itself is tested purely).
FAST = {
    "SAKIMORI_NOTIFY_BACKOFF": "0.01",
    "SAKIMORI_NOTIFY_BACKOFF_CAP": "0.05",
    "SAKIMORI_NOTIFY_TIMEOUT": "2",
    "SAKIMORI_NOTIFY_ATTEMPTS": "6",
    "SAKIMORI_PUBLIC_URL": "https://sakimori.test",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def platform(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Platform]:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    with build_platform(request.param, tmp_path) as built:
        yield built


def settings_of(platform: Platform) -> Settings:
    url = platform.db.engine.url.render_as_string(hide_password=False)
    return Settings(
        home=platform.home,
        database_url=url,
        token_key_file=platform.home / "token.key",
        job_backoff=0.01,
    )


def principal(platform: Platform, user: str) -> Principal:
    return identity.authenticate(platform.db, platform.key, platform.tokens[user])


def publish(platform: Platform, **changes: Any) -> int:
    """Draft (bunseki), submit and approve (kanri) a package; its id."""
    view = package_service.create_draft(
        platform.db, Content.from_dict(content(**changes)), "bunseki"
    )
    package_service.submit(platform.db, view.id, "bunseki")
    package_service.approve(platform.db, view.id, "kanri")
    return view.id


def revise(platform: Platform, package_id: int, **changes: Any) -> None:
    package_service.revise(
        platform.db, package_id, Content.from_dict(content(**changes)), "bunseki", "more"
    )
    package_service.submit(platform.db, package_id, "bunseki")
    package_service.approve(platform.db, package_id, "kanri")


def _busy(platform: Platform) -> int:
    with platform.db.transaction() as session:
        jobs = session.scalar(
            select(func.count())
            .select_from(models.JobRow)
            .where(models.JobRow.state.in_(["queued", "running"]))
        )
        return int(jobs or 0)


def drain(
    platform: Platform, handlers: dict[str, Handler] | None = None, limit: float = 120
) -> None:
    """Run jobs until none is queued or running (retries wait their short backoff)."""
    runner = Runner(platform.db, settings_of(platform), handlers or HANDLERS, "test")
    deadline = time.monotonic() + limit
    try:
        while _busy(platform):
            assert time.monotonic() < deadline, "the deliveries did not settle"
            if not runner.run_one():
                time.sleep(0.01)
    finally:
        runner.close()
        close_channels()


def deliveries(platform: Platform, package_id: int | None = None) -> list[models.NotifyDeliveryRow]:
    with platform.db.transaction() as session:
        query = select(models.NotifyDeliveryRow).order_by(models.NotifyDeliveryRow.id)
        if package_id is not None:
            query = query.where(models.NotifyDeliveryRow.package_id == package_id)
        return list(session.scalars(query))
