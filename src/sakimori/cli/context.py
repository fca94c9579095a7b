"""What every command needs: the settings and an open, migrated database.

Storage (SQLAlchemy and the models, about half a second) is imported when a command opens the
database, not when the command line is built: ``watch``, ``probe`` and ``--help`` never pay it.
"""

from __future__ import annotations

import getpass
import os
from typing import TYPE_CHECKING, Annotated

import typer

from sakimori.config import Settings
from sakimori.errors import NotFound

if TYPE_CHECKING:
    from sakimori.store.db import Database


def settings() -> Settings:
    return Settings.load()


def open_db(config: Settings, *, require_intel: bool = False) -> Database:
    from sqlalchemy import select

    from sakimori.services.metrics_snapshot import watch
    from sakimori.store import models
    from sakimori.store.db import open_database

    db = open_database(config.database_url)
    watch(db)  # writes (and the worker's jobs) ask for a refresh of the dashboard's figures
    if require_intel:
        with db.transaction() as session:
            loaded = session.execute(select(models.Advisory.id).limit(1)).first() or (
                session.execute(select(models.ProductKey.key).limit(1)).first()
            )
        if loaded is None:
            db.dispose()
            raise NotFound(
                "no vulnerability intelligence is loaded",
                hint="run `sakimori intel sync`, or `sakimori intel load PATH` with local files",
            )
    return db


actor_option = Annotated[
    str | None,
    typer.Option("--by", help="Who does this (default: $SAKIMORI_USER, else the login name)."),
]


def actor(by: str | None) -> str:
    """The person acting: ``--by``, else ``$SAKIMORI_USER``, else the operating-system login."""
    if by and by.strip():
        return by.strip()
    return os.environ.get("SAKIMORI_USER") or getpass.getuser()
