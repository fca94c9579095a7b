"""Alembic environment: migrations run on the engine the caller passes in ``config.attributes``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from sakimori.store.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    engine: Engine = config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


run()
