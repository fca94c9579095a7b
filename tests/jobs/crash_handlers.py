"""Test-only job handlers, loaded by a worker only through ``SAKIMORI_JOB_HANDLERS``.

``test.steps`` writes its effect as rows of ``job_effect`` (made by the test), one step at a
time in the job's transaction; after step ``block_after`` it touches ``reached`` and, while the
file ``block`` exists, waits there (where the crash test kills its worker).
``test.flaky`` fails with a transient error until attempt ``succeed_on`` (0: never), then
writes one row; ``test.broken`` fails with a programming error.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from sakimori.errors import SourceUnavailable
from sakimori.jobs.interface import Handler, JobContext


def _effect(context: JobContext, step: int) -> None:
    context.session.execute(
        text("INSERT INTO job_effect (job_id, step) VALUES (:job, :step)"),
        {"job": context.job_id, "step": step},
    )
    context.session.flush()


def steps(context: JobContext) -> None:
    folder = Path(str(context.payload["folder"]))
    for step in range(int(context.payload["steps"])):
        _effect(context, step)
        if step == int(context.payload["block_after"]):
            (folder / f"reached-{context.attempt}").touch()
            while (folder / "block").exists():
                time.sleep(0.05)


def flaky(context: JobContext) -> None:
    succeed_on = int(context.payload.get("succeed_on", 0))
    if not succeed_on or context.attempt < succeed_on:
        raise SourceUnavailable(f"feed down (attempt {context.attempt})")
    _effect(context, 0)


def broken(context: JobContext) -> None:
    raise ValueError("a bug")


HANDLERS: dict[str, Handler] = {"test.steps": steps, "test.flaky": flaky, "test.broken": broken}
