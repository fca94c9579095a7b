"""In-process jobs (the embedded default): a thread of the process that enqueues them.

The thread is woken after each commit that enqueued a job (SQLAlchemy's ``after_commit``
event) and otherwise looks for due retries every second. On start it puts back the jobs a
previous process left running (SQLite has no lock that outlives a process to tell).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping

from sakimori.config import Settings
from sakimori.jobs.backends import JobQueue
from sakimori.jobs.interface import Handler, on_commit
from sakimori.jobs.runner import Runner
from sakimori.store.db import Database


class InProcessQueue(JobQueue):
    def __init__(self, db: Database, settings: Settings, handlers: Mapping[str, Handler]):
        super().__init__(db, settings, handlers)
        self.runner = Runner(db, settings, self.handlers, f"{socket.gethostname()}:{os.getpid()}")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._unlisten: Callable[[], None] | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self.runner.recover()
        self._stop.clear()
        self._unlisten = on_commit(self.db, self._wake.set)
        self._thread = threading.Thread(
            target=self.runner.run, args=(self._stop, self._wake), name="sakimori-jobs", daemon=True
        )
        self._thread.start()

    def drain(self) -> int:
        """Run every runnable job in the calling thread (tests, the CLI); how many ran."""
        count = 0
        while self.runner.run_one():
            count += 1
        return count

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        self.runner.close()
