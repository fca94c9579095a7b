"""MyJVN sync: the JVN iPedia entries last updated in a window of days, stored step by step.

``sync_jvn`` walks :meth:`MyJvnApi.sync` (an overview page, then the VULDEF details of its
entries) and stores each step in its own transaction: the step's records and the checkpoint
after them, in the ``intel_source`` row ``myjvn``'s ``detail``. A sync that fails midway keeps
the steps already stored; the next one resumes from the stored checkpoint, so nothing is lost
and nothing asked for twice (MyJVN may list an entry again if it restarts its paging; storing
it again writes nothing, as its content hash is unchanged). An entry MyJVN lists but has no
details for is stored from its overview reading (title, CVE ids, CVSS, product CPEs), and named
in the report; a later detail replaces it.

The window: by default from the day after the last day synced to yesterday in JST (a day that is
over, as ``intel/myjvn_api.py`` recommends for a lossless sync). The first sync needs ``since``
(JVN iPedia goes back to 2003: a full history is tens of thousands of requests at one a
second). No API key: MyJVN needs none.

``detail`` of the ``myjvn`` source (per MyJVN language ``ja`` / ``en``)::

    synced_until_ja   last day of the last window synced completely (ISO date)
    checkpoint_ja     where an unfinished window stands (``Checkpoint.to_dict``)
    error, failed_at  the last failure, cleared by the next step stored

A failure is recorded there in its own transaction, then raised again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Final

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sakimori.errors import InvalidInput, SakimoriError
from sakimori.intel.myjvn_api import Checkpoint, MyJvnApi
from sakimori.store import models
from sakimori.store.db import Database
from sakimori.store.jvn import count_jvn, store_jvn_records

log = logging.getLogger(__name__)

SOURCE: Final = "myjvn"
KIND: Final = "jvn"
#: Japan Standard Time, in which JVN iPedia keeps its dates (no daylight saving).
JST: Final = timezone(timedelta(hours=9), "JST")


@dataclass(slots=True)
class JvnSyncReport:
    lang: str
    since: date | None
    until: date | None
    #: ``synced`` (the window is complete) or ``up-to-date`` (nothing to ask for).
    status: str = "synced"
    #: The entry a stored checkpoint resumed from (1-based), if one did.
    resumed_from: int | None = None
    pages: int = 0
    #: Records received (details, and overviews of entries without details) and rows written.
    received: int = 0
    written: int = 0
    #: Entries MyJVN listed without details (stored from their overview reading).
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0


def sync_jvn(
    db: Database,
    api: MyJvnApi,
    *,
    since: date | None = None,
    until: date | None = None,
    now: datetime | None = None,
) -> JvnSyncReport:
    """Sync the entries updated in ``[since, until]`` (JST days); see the module docstring."""
    started = time.perf_counter()
    moment = now or datetime.now(UTC)
    lang = api.lang
    with db.transaction() as session:
        source = session.get(models.IntelSource, SOURCE)
        detail = dict(source.detail or {}) if source is not None else {}
    checkpoint = _stored_checkpoint(detail, lang)
    if checkpoint is not None:
        window = (checkpoint.updated_since, checkpoint.updated_until)
        if (since or window[0], until or window[1]) == window:
            since, until = window  # resume the unfinished window
        else:
            checkpoint = None  # another window is asked for: it starts from its first entry
    defaulted = since is None
    if until is None:
        until = moment.astimezone(JST).date() - timedelta(days=1)
    if since is None:
        last = detail.get(f"synced_until_{lang}")
        if not isinstance(last, str):
            raise InvalidInput(
                "the first MyJVN sync needs the day to start from",
                hint="give a start date (since); later syncs continue from the last day synced",
            )
        since = date.fromisoformat(last) + timedelta(days=1)
    report = JvnSyncReport(lang, since, until)
    if since > until:
        if not defaulted:
            raise InvalidInput(f"the window starts ({since}) after it ends ({until})")
        report.status = "up-to-date"
        report.seconds = time.perf_counter() - started
        return report
    if checkpoint is not None:
        report.resumed_from = checkpoint.next_item
        log.info("MyJVN sync %s..%s resumes at entry %d", since, until, checkpoint.next_item)
    try:
        for step in api.sync(since, until, checkpoint):
            details = {record.id for record in step.records}
            overviews = [r for r in step.page.records if r.id not in details]
            records = [*step.records, *overviews]
            with db.transaction() as session:
                written = store_jvn_records(session, SOURCE, records, moment)
                _save(session, api, step.checkpoint, moment, written)
            report.pages += 1
            report.received += len(records)
            report.written += written
            report.missing.extend(step.missing)
    except Exception as exc:
        _record_failure(db, api, exc, moment)
        raise
    report.seconds = time.perf_counter() - started
    log.info(
        "MyJVN sync %s..%s (%s): %d pages, %d records, %d written, %d without details",
        since,
        until,
        lang,
        report.pages,
        report.received,
        report.written,
        len(report.missing),
    )
    return report


def _stored_checkpoint(detail: dict[str, Any], lang: str) -> Checkpoint | None:
    value = detail.get(f"checkpoint_{lang}")
    if value is None:
        return None
    try:
        checkpoint = Checkpoint.from_dict(value)
    except InvalidInput as exc:
        log.warning("ignoring the stored MyJVN checkpoint: %s", exc.diagnostics())
        return None
    return None if checkpoint.done or checkpoint.lang != lang else checkpoint


def _source(session: Session, api: MyJvnApi) -> models.IntelSource:
    source = session.get(models.IntelSource, SOURCE, with_for_update=True)
    if source is None:
        source = models.IntelSource(
            name=SOURCE, kind=KIND, location=api.base_url, record_count=0, detail={}
        )
        session.add(source)
    return source


def _save(
    session: Session, api: MyJvnApi, checkpoint: Checkpoint, now: datetime, written: int
) -> None:
    """The checkpoint after a stored step (or the window as synced, once it is done)."""
    source = _source(session, api)
    detail = {k: v for k, v in (source.detail or {}).items() if k not in ("error", "failed_at")}
    key = f"checkpoint_{checkpoint.lang}"
    if checkpoint.done:
        detail.pop(key, None)
        detail[f"synced_until_{checkpoint.lang}"] = checkpoint.updated_until.isoformat()
    else:
        detail[key] = checkpoint.to_dict()
    source.detail = detail
    source.location = api.base_url
    source.checked_at = now
    if written or source.changed_at is None:
        source.changed_at = now
    session.flush()
    source.record_count = count_jvn(session, SOURCE)


def _record_failure(db: Database, api: MyJvnApi, exc: Exception, now: datetime) -> None:
    if isinstance(exc, SakimoriError):
        message = exc.diagnostics()
    else:
        message = f"{type(exc).__name__}: {exc}"
    try:
        with db.transaction() as session:
            source = _source(session, api)
            source.detail = {
                **(source.detail or {}),
                "error": message[:500],
                "failed_at": now.isoformat(),
            }
            source.checked_at = now
    except SQLAlchemyError as failure:  # the database itself may be what failed
        log.error("cannot record the MyJVN sync failure (%s): %s", message, failure)
