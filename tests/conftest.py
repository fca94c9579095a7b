"""Shared fixtures: the real data sets in ../shared/data, and service availability rules."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sakimori.store.db import Database

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SAKIMORI_TEST_DATA", ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_data(*parts: str) -> Path:
    """Path below ../shared/data; fail in CI, skip elsewhere, when it is missing."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        message = f"real data set {path} is missing (see ../shared/data/SOURCES.md)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return require_data()


POSTGRES_ADMIN_URL = os.environ.get(
    "SAKIMORI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database, dropped afterwards.

    The server is required in CI (the test fails if it is unreachable); elsewhere the test is
    skipped with the reason.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sakimori_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable: {exc.orig}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def postgres_db() -> Iterator[Database]:
    """A fresh PostgreSQL database (:func:`postgres_database`), opened and migrated; disposed
    and dropped afterwards."""
    from sakimori.store.db import open_database

    with postgres_database() as url:
        database = open_database(url)
        try:
            yield database
        finally:
            database.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs on SQLite (a file) and on PostgreSQL (a fresh database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sakimori.db'}"
    else:
        with postgres_database() as url:
            yield url
