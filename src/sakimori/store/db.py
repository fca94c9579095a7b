"""Engines, sessions and schema migration: embedded SQLite and production PostgreSQL.

``open_database`` returns a ready ``Database``: the schema is migrated to the head revision on
first use. Checking the revision costs one query; Alembic is imported only when a migration must
actually run, which keeps ``sakimori scan`` quick to start.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, overload

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from sakimori.errors import ConfigurationError, SourceUnavailable

log = logging.getLogger(__name__)

#: The newest migration in ``migrations/versions``; a test checks it against Alembic's head.
HEAD_REVISION = "0020"


@dataclass(frozen=True, slots=True)
class Database:
    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error."""
        with self.sessions.begin() as session:
            yield session

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


@dataclass(frozen=True, slots=True)
class JoinedDatabase(Database):
    """A ``Database`` whose every ``transaction()`` is the one open ``session``: services called
    with it work in the caller's transaction (a write and the audit entry that records it
    commit together; a page's several reads share one connection and one snapshot)."""

    session: Session | None = None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        assert self.session is not None, "a joined database needs its session"
        yield self.session


def joined(db: Database, session: Session) -> Database:
    return JoinedDatabase(db.engine, db.sessions, session)


#: PostgreSQL connections each process keeps (and may open beyond, for bursts): see
#: docs/operations.md ("Scaling numbers") for what a deployment needs from ``max_connections``.
POOL_SIZE: Final = 20
POOL_OVERFLOW: Final = 20


def create_db_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            f"database URL {url!r} is not valid",
            hint="use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db",
        ) from None
    # orjson reads and writes the JSON columns (affected ranges, aliases) several times faster
    # than the standard library, on both backends.
    kwargs: dict[str, Any] = {"json_deserializer": orjson.loads, "json_serializer": _dumps}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    elif parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() in {"", "psycopg2"}:
            parsed = parsed.set(drivername="postgresql+psycopg")
        kwargs["pool_pre_ping"] = True
        # Connections kept open per process: an API process runs up to 40 requests at once
        # (its thread pool), and the default five made most requests under load open and close
        # a PostgreSQL connection of their own (a backend started per request).
        kwargs["pool_size"] = POOL_SIZE
        kwargs["max_overflow"] = POOL_OVERFLOW
    else:
        raise ConfigurationError(
            f"database {parsed.get_backend_name()!r} is not supported",
            hint="use SQLite (embedded) or PostgreSQL (production)",
        )
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: datetime | None) -> datetime | None:
    """A stored time as an aware datetime: SQLite hands ``DateTime(timezone=True)`` columns back
    naive, and every time Sakimori stores is UTC; an aware one is returned as it is."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    from sakimori.store.triage_view import register_sqlite_functions

    register_sqlite_functions(dbapi_connection)


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Connect, and bring the schema to the head revision (unless ``migrate`` is false)."""
    engine = create_db_engine(url)
    try:
        if migrate and current_revision(engine) != HEAD_REVISION:
            upgrade(engine)
    except OperationalError as exc:
        engine.dispose()
        raise SourceUnavailable(
            f"cannot use the database: {str(exc.orig).strip().splitlines()[0]}",
            where=_safe_url(url),
            hint="check SAKIMORI_DATABASE_URL and that the server is running",
        ) from None
    return Database(engine, sessionmaker(engine, expire_on_commit=False))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        try:
            row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
        except SQLAlchemyError:
            connection.rollback()
            return None
    return None if row is None else str(row[0])


def alembic_config(engine: Engine) -> Any:
    from io import StringIO

    from alembic.config import Config

    # Alembic's default stdout is the sys.stdout of import time; give it its own sink.
    config = Config(stdout=StringIO())
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    log.info("migrating the database schema to %s", revision)
    command.upgrade(alembic_config(engine), revision)


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"
