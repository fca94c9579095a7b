"""The job backend interface, and the choice between its two implementations."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from sakimori.config import Settings
from sakimori.errors import ConfigurationError
from sakimori.jobs import interface
from sakimori.jobs.interface import Handler
from sakimori.store.db import Database


class JobQueue(ABC):
    """Enqueue jobs (in the caller's transaction) and have them run somewhere."""

    def __init__(self, db: Database, settings: Settings, handlers: Mapping[str, Handler]):
        self.db = db
        self.settings = settings
        self.handlers = dict(handlers)

    def enqueue(
        self,
        session: Session,
        name: str,
        payload: Mapping[str, Any] | None = None,
        key: str | None = None,
        *,
        delay: float = 0.0,
    ) -> bool:
        return interface.enqueue(
            session, name, payload, key, max_attempts=self.settings.job_attempts, delay=delay
        )

    @abstractmethod
    def start(self) -> None:
        """Begin running jobs (or nothing, where other processes run them)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop running jobs; a job under way finishes first."""


def handlers_for(settings: Settings) -> dict[str, Handler]:
    """The product's handlers, plus those of ``SAKIMORI_JOB_HANDLERS`` (a module with a
    ``HANDLERS`` dict: tests and plug-ins; nothing is added unless it is set)."""
    from sakimori.jobs.handlers import HANDLERS

    found = dict(HANDLERS)
    if settings.job_handlers:
        try:
            module = importlib.import_module(settings.job_handlers)
        except ImportError as exc:
            raise ConfigurationError(
                f"cannot import the job handlers {settings.job_handlers!r}: {exc}"
            ) from None
        extra = getattr(module, "HANDLERS", None)
        if not isinstance(extra, dict):
            raise ConfigurationError(f"{settings.job_handlers} has no HANDLERS dict")
        found.update(extra)
    return found


def open_queue(
    db: Database, settings: Settings, handlers: Mapping[str, Handler] | None = None
) -> JobQueue:
    """The backend ``SAKIMORI_JOBS`` names."""
    chosen = handlers_for(settings) if handlers is None else handlers
    if settings.jobs == "postgres":
        from sakimori.jobs.postgres import PostgresQueue

        return PostgresQueue(db, settings, chosen)
    from sakimori.jobs.inprocess import InProcessQueue

    return InProcessQueue(db, settings, chosen)
