"""The product's jobs, by name.

- ``intel.sync``: fetch the configured feeds (``services.sync``); it works in transactions of
  its own and is idempotent (validators, upserts, full snapshots), so a rerun is harmless. A
  failed feed raises ``SourceUnavailable``: the job is retried.
- ``assess.open``: re-assess every open finding, in the job's transaction (exactly once).
- ``updates.refresh``: sign a fresh timestamp (and snapshot when due) for every hosted TUF
  repository (``services.updates.refresh_all``), so operators' clients never see it expire;
  signing again is harmless, so a rerun is too.
- ``notify.deliver``: one attempt of one package notification, or the first attempts of a
  batch of webhook notifications (``services.notifications.run_deliveries``): the outcomes
  commit with the job, a delivered notification is never sent again, a failed attempt queues
  the next one of that notification alone after a backoff.
- ``notify.digest``: gather the held low-priority notifications of each endpoint into one
  digest and queue its first attempt (``services.digests.gather``; a rerun finds nothing left
  to take); enqueued once per ``SAKIMORI_NOTIFY_DIGEST_MINUTES`` by ``sakimori worker
  --schedule``. A digest's attempts are ``notify.deliver`` jobs.
- ``metrics.refresh``: compute the remediation metrics once and store them as the newest
  snapshot (``services.metrics_snapshot.refresh``, in the job's transaction); enqueued,
  coalesced, after writes to findings and decisions, and by ``sakimori worker --schedule``.
- ``packages.followup``: acknowledgement reminders and escalations and report clocks
  (``services.package_followup.run``, in the job's transaction; each step is stamped once);
  enqueued by ``sakimori worker --schedule``.
- ``packages.followup.mail``: one follow-up e-mail (``services.package_followup.send``); a
  failed send is retried by the queue.
- ``taxii.pull``: pull every active partner TAXII collection whose interval has passed
  (``services.taxii_pull.pull_due``): pages in transactions of their own, each with its cursor,
  so a rerun resumes; a failing partner is recorded in its source's ``last_error`` (not
  retried by the queue: the next period tries again). Enqueued by ``sakimori worker
  --schedule``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sakimori.errors import SourceUnavailable
from sakimori.jobs.interface import Handler, JobContext

INTEL_SYNC: Final = "intel.sync"
ASSESS_OPEN: Final = "assess.open"
UPDATES_REFRESH: Final = "updates.refresh"
NOTIFY_DELIVER: Final = "notify.deliver"
NOTIFY_DIGEST: Final = "notify.digest"
METRICS_REFRESH: Final = "metrics.refresh"
PACKAGES_FOLLOWUP: Final = "packages.followup"
PACKAGES_FOLLOWUP_MAIL: Final = "packages.followup.mail"
TAXII_PULL: Final = "taxii.pull"


def intel_sync(context: JobContext) -> None:
    from sakimori.services.sync import sync_feeds

    mirror = context.payload.get("mirror") or context.settings.mirror
    report = sync_feeds(context.db, context.settings, mirror=mirror)
    if report.failed:
        names = ", ".join(s.name for s in report.failed)
        raise SourceUnavailable(f"{len(report.failed)} feeds failed: {names}")


def assess_open(context: JobContext) -> None:
    from sakimori.services.assessment import assess_open as assess
    from sakimori.services.assessment import policy_set

    why = str(context.payload.get("why") or f"job {context.job_id}")
    assess(context.session, policy_set(context.settings.policy), datetime.now(UTC), why)


def updates_refresh(context: JobContext) -> None:
    from sakimori.services.updates import refresh_all

    refresh_all(context.settings)


def notify_deliver(context: JobContext) -> None:
    from sakimori.services.notifications import deliver_job

    deliver_job(context)


def notify_digest(context: JobContext) -> None:
    from sakimori.services.digests import gather_job

    gather_job(context)


def metrics_refresh(context: JobContext) -> None:
    from sakimori.services.metrics_snapshot import refresh

    refresh(context.session)


def packages_followup(context: JobContext) -> None:
    from sakimori.services.package_followup import run_job

    run_job(context)


def packages_followup_mail(context: JobContext) -> None:
    from sakimori.services.package_followup import send_job

    send_job(context)


def taxii_pull(context: JobContext) -> None:
    from sakimori.services.identity import TokenKey
    from sakimori.services.taxii_pull import pull_due

    key = TokenKey.load(context.settings.token_key_path).secret
    pull_due(context.db, context.settings, server_key=key)


HANDLERS: Final[dict[str, Handler]] = {
    INTEL_SYNC: intel_sync,
    ASSESS_OPEN: assess_open,
    UPDATES_REFRESH: updates_refresh,
    NOTIFY_DELIVER: notify_deliver,
    NOTIFY_DIGEST: notify_digest,
    METRICS_REFRESH: metrics_refresh,
    PACKAGES_FOLLOWUP: packages_followup,
    PACKAGES_FOLLOWUP_MAIL: packages_followup_mail,
    TAXII_PULL: taxii_pull,
}
