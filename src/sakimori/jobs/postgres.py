"""PostgreSQL jobs: ``sakimori worker`` processes, on any number of machines, share the queue.

The API and CLI processes only enqueue (``start`` does nothing there); each worker process runs
``concurrency`` threads, each with its own :class:`~sakimori.jobs.runner.Runner` (its own
connection holding the advisory locks of the job it runs).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

from sakimori.config import Settings
from sakimori.jobs.backends import JobQueue
from sakimori.jobs.interface import Handler
from sakimori.jobs.runner import Runner
from sakimori.store.db import Database

log = logging.getLogger(__name__)


class PostgresQueue(JobQueue):
    def __init__(self, db: Database, settings: Settings, handlers: Mapping[str, Handler]):
        super().__init__(db, settings, handlers)
        self._stop = threading.Event()

    def start(self) -> None:
        """Nothing: the worker processes run the jobs."""

    def stop(self) -> None:
        self._stop.set()

    def work(self, concurrency: int = 1, idle: float = 1.0) -> None:
        """Run jobs in ``concurrency`` threads until :meth:`stop` (the ``sakimori worker``)."""
        name = f"{socket.gethostname()}:{os.getpid()}"
        runners = [
            Runner(self.db, self.settings, self.handlers, f"{name}/{n}") for n in range(concurrency)
        ]
        threads = [
            threading.Thread(target=r.run, args=(self._stop, None, idle), name=f"worker-{n}")
            for n, r in enumerate(runners)
        ]
        for thread in threads:
            thread.start()
        log.info("worker %s: %d threads", name, concurrency)
        try:
            for thread in threads:
                thread.join()
        finally:
            self._stop.set()
            for runner in runners:
                runner.close()
