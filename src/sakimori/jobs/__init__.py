"""Jobs and workers: a queue table in the application's database, and who runs it.

- :mod:`~sakimori.jobs.interface`: the job, the handler signature, the transient errors, and
  :func:`~sakimori.jobs.interface.enqueue` (writes the job in the caller's transaction);
- :mod:`~sakimori.jobs.runner`: claims a job, runs its handler, finishes or retries it;
- :mod:`~sakimori.jobs.inprocess` and :mod:`~sakimori.jobs.postgres`: the two backends,
  chosen by ``SAKIMORI_JOBS`` (:func:`~sakimori.jobs.backends.open_queue`);
- :mod:`~sakimori.jobs.handlers`: the product's jobs (intel sync, re-assessment).

docs/audit-and-jobs.md describes the guarantees.
"""
