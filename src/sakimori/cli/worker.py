"""``sakimori worker``: run jobs (docs/audit-and-jobs.md).

With ``SAKIMORI_JOBS=postgres`` run as many workers as you like, on as many machines; with the
embedded default (SQLite) run one. ``--schedule MINUTES`` also enqueues an intel sync, a
refresh of the hosted TUF timestamps, a refresh of the dashboard's figures and the packages'
follow-up (reminders, escalations, report clocks) every MINUTES
minutes (one per period, however many workers are given the option).
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sakimori.config import Settings
    from sakimori.store.db import Database

log = logging.getLogger(__name__)


def worker(
    concurrency: Annotated[
        int, typer.Option(help="Jobs run at the same time (PostgreSQL).", min=1, max=64)
    ] = 1,
    schedule: Annotated[
        int | None,
        typer.Option(help="Also enqueue an intel sync every this many minutes.", min=1),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run the jobs that are due, then exit.")
    ] = False,
    dead: Annotated[
        bool, typer.Option("--dead", help="List the dead-lettered jobs, then exit.")
    ] = False,
) -> None:
    """Run queued jobs until stopped (SIGTERM or Ctrl-C: the job under way finishes first)."""
    from sakimori.cli.context import open_db, settings
    from sakimori.jobs.backends import handlers_for
    from sakimori.jobs.runner import Runner

    config = settings()
    db = open_db(config)
    try:
        if dead:
            _list_dead(db)
            return
        _check_notify()
        handlers = handlers_for(config)
        if once:
            runner = Runner(db, config, handlers, "once")
            runner.recover()
            count = 0
            while runner.run_one():
                count += 1
            runner.close()
            typer.echo(f"ran {count} jobs")
            return
        if not config.database_url.startswith("postgresql") and concurrency > 1:
            raise typer.BadParameter("SQLite runs one job at a time", param_hint="--concurrency")
        _work(db, config, handlers, concurrency, schedule)
    finally:
        db.dispose()


def _work(
    db: Database, config: Settings, handlers: dict[str, Any], concurrency: int, every: int | None
) -> None:
    from sakimori.jobs.postgres import PostgresQueue
    from sakimori.jobs.runner import Runner

    if not config.database_url.startswith("postgresql"):
        Runner(db, config, handlers, "recover").recover()
    queue = PostgresQueue(db, config, handlers)

    def stop(*_: object) -> None:
        log.info("stopping: the jobs under way finish first")
        queue.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    done = threading.Event()
    if every is not None:
        threading.Thread(
            target=_schedule, args=(db, config, every, done), name="schedule", daemon=True
        ).start()
    typer.echo(f"worker: running jobs ({concurrency} at a time)", err=True)
    try:
        queue.work(concurrency)
    finally:
        done.set()


def _schedule(db: Database, config: Settings, minutes: int, done: threading.Event) -> None:
    """Enqueue ``intel.sync``, ``updates.refresh``, ``metrics.refresh``, ``packages.followup``
    and ``taxii.pull`` (which pulls only the sources that are due) once per period of
    ``minutes``, and ``notify.digest`` once per ``SAKIMORI_NOTIFY_DIGEST_MINUTES`` (each key
    names the period, so several workers with ``--schedule`` enqueue each job once)."""
    from sakimori.jobs.handlers import (
        INTEL_SYNC,
        METRICS_REFRESH,
        NOTIFY_DIGEST,
        PACKAGES_FOLLOWUP,
        TAXII_PULL,
        UPDATES_REFRESH,
    )
    from sakimori.jobs.interface import enqueue, is_transient
    from sakimori.notify.settings import NotifySettings

    period = minutes * 60
    #: Digests have a period of their own, checked every ``minutes``.
    digests = NotifySettings.load().digest_minutes * 60
    while not done.is_set():
        now = datetime.now(UTC)
        slot = int(now.timestamp()) // period * period
        for name in (
            INTEL_SYNC,
            UPDATES_REFRESH,
            METRICS_REFRESH,
            PACKAGES_FOLLOWUP,
            NOTIFY_DIGEST,
            TAXII_PULL,
        ):
            start = slot if name != NOTIFY_DIGEST else int(now.timestamp()) // digests * digests
            key = f"{name}@{datetime.fromtimestamp(start, UTC).isoformat()}"
            try:
                with db.transaction() as session:
                    if enqueue(session, name, {}, key, max_attempts=config.job_attempts):
                        log.info("scheduled %s", key)
            except Exception as exc:  # another worker enqueued this period, or the DB is off
                if not is_transient(exc) and "uq_job_key" not in str(exc):
                    log.exception("cannot schedule %s", key)
        done.wait(max(1.0, slot + period - now.timestamp()))


def _check_notify() -> None:
    """Read the notification settings and the S/MIME key now: a bad one stops the worker with
    a message, rather than failing every e-mail job."""
    from sakimori.notify import signing
    from sakimori.notify.settings import NotifySettings

    notify = NotifySettings.load()
    signing.load(notify.smime_cert, notify.smime_key)


def _list_dead(db: Database) -> None:
    from sqlalchemy import select

    from sakimori.jobs.interface import DEAD
    from sakimori.store import models

    with db.transaction() as session:
        rows = session.scalars(
            select(models.JobRow).where(models.JobRow.state == DEAD).order_by(models.JobRow.id)
        ).all()
        for row in rows:
            typer.echo(f"{row.id}\t{row.name}\t{row.attempts}\t{row.key}\t{row.last_error or ''}")
    if not rows:
        typer.echo("no dead jobs")
