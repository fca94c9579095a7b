"""``intel sync-nvd``: NVD's CVE API 2.0, incrementally, stored page by page, resumable.

:class:`~sakimori.intel.nvd_api.NvdApi` pages through the records modified in ``[since,
until]``; each page is stored here in **one transaction** together with the checkpoint to resume
after it (the ``nvd-api`` row of ``intel_source``, ``detail.checkpoint``). A crash or an error
therefore loses at most the page in flight, and never skips one: the next run starts at that
page. Records are upserted by CVE id and rewritten only when their content changed
(``store.products.store_nvd_records``), so a page that arrives twice changes nothing.

Where a run starts:

1. a checkpoint stored by an interrupted run: that run is resumed (with the same range; asking
   for another range then is a :class:`~sakimori.errors.Conflict` unless ``restart``);
2. else ``since``;
3. else the newest ``lastModified`` of the stored NVD records (from earlier syncs, or from bulk
   files read by ``intel load``), minus :data:`OVERLAP`;
4. else nothing is loaded, and the run is refused: a first full download is about 300,000
   records, hours at NVD's rate limits; load a mirror or NVD's bulk files with ``intel load``
   and sync from there, or give ``since``.

``until`` defaults to now. Within one page, every record is parsed and checked before anything
is written: one bad record refuses the page (naming its CVE id) and nothing of it is stored.
Findings follow in the same transaction: the product entries named by changed records are
re-matched (``refresh_products``).

Errors (NVD unavailable, a refused key, a malformed page…) are written to ``detail.last_error``
in a transaction of their own, and raised. The API key never reaches this module: it stays in
``NvdApi`` (a request header), whose messages redact it; the stored location is the base URL
without user information or query.

``detail`` of the ``nvd-api`` source::

    checkpoint    where the run in progress resumes (Checkpoint.to_dict()), None when done
    since         the start of that run (ISO-8601, UTC)
    synced_until  the end of the last complete run: every record modified up to it is stored
    last_error    the last run's error, None once a page stores again
    failed_at     when that error happened
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sakimori.cpe.nvd import NvdDocument, document_from_dict
from sakimori.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    MalformedDocument,
    SakimoriError,
)
from sakimori.intel.nvd_api import Checkpoint, NvdApi, Page, plan_windows
from sakimori.services.assessment import policy_set
from sakimori.services.product_findings import refresh_products
from sakimori.services.reconcile import SyncCounts
from sakimori.store import models
from sakimori.store.db import Database
from sakimori.store.intel import chunks
from sakimori.store.products import count_nvd, newest_nvd_modified, store_nvd_records
from sakimori.triage.policy import PolicySet

log = logging.getLogger(__name__)

SOURCE = "nvd-api"
KIND = "nvd"

#: How far before the newest stored ``lastModified`` an incremental run starts. NVD's window
#: start is inclusive, so records modified at that very millisecond are asked for again
#: anyway (and upserted unchanged); the extra millisecond covers NVD keeping a finer time than
#: the milliseconds it shows and rounding it up for display (a record shown at .560 but kept at
#: .5597 would fall before a window starting at .560). More is not needed: every record
#: modified before that instant is stored, since a run stores all it is given before it is
#: complete. A longer look back (e.g. for records NVD made visible late) is ``--since``.
OVERLAP = timedelta(milliseconds=1)

_NVD = models.Base.metadata.tables["nvd_record"]
_MAX_KEY_FILE = 4096
_USERINFO = re.compile(r"://[^/?#]*@")
_FIRST_SYNC = (
    "no NVD records are loaded, so there is no point to sync from: give --since; a first "
    "full download from NVD is about 300,000 records and takes hours at its rate limits"
)
_FIRST_SYNC_HINT = (
    "load a mirror or NVD's bulk files with `sakimori intel load PATH` first, then "
    "`sakimori intel sync-nvd` continues from their newest record"
)


@dataclass(slots=True)
class PageReport:
    """One stored page: where it was (its window, the first record's index) and what changed."""

    window_start: datetime
    window_end: datetime
    start_index: int
    records: int
    total: int
    added: int
    updated: int
    findings: SyncCounts


@dataclass(slots=True)
class NvdSyncReport:
    """What a run did. ``records`` is how many NVD records are stored in all, afterwards."""

    location: str
    since: datetime
    until: datetime
    #: The checkpoint of an interrupted run that this run resumed from.
    resumed: Checkpoint | None = None
    pages: int = 0
    received: int = 0
    added: int = 0
    updated: int = 0
    records: int = 0
    findings: SyncCounts = field(default_factory=SyncCounts)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)


#: Told about the run once it is planned (``page`` None), then after each stored page.
Progress = Callable[[NvdSyncReport, PageReport | None], None]


@dataclass(frozen=True, slots=True)
class _Plan:
    since: datetime
    until: datetime
    checkpoint: Checkpoint | None


def sync_nvd(
    db: Database,
    api: NvdApi,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    restart: bool = False,
    policies: PolicySet | None = None,
    clock: Callable[[], datetime] | None = None,
    progress: Progress | None = None,
) -> NvdSyncReport:
    """Sync the NVD records modified in ``[since, until]`` (see the module docstring for where a
    run starts). ``restart`` discards an interrupted run's checkpoint. ``clock`` gives the
    current time (default: the system's, in UTC)."""
    started = time.perf_counter()
    now = clock or _utc_now
    chosen = policies or policy_set(None)
    location = _location(api.base_url)
    with db.transaction() as session:
        plan = _plan(session, since, until, restart, now())
    report = NvdSyncReport(location, plan.since, plan.until, resumed=plan.checkpoint)
    position = plan.checkpoint
    if position is None:
        first_start, first_end = plan_windows(plan.since, plan.until)[0]
        position = Checkpoint(first_start, first_end, 0, plan.until)
        with db.transaction() as session:
            _begin(session, location, plan, position)
    if progress is not None:
        progress(report, None)
    try:
        for page in api.pages(plan.since, plan.until, plan.checkpoint):
            done = _store_page(db, page, position, location, chosen, now(), report)
            if progress is not None:
                progress(report, done)
            if page.checkpoint is not None:
                position = page.checkpoint
    except SakimoriError as exc:
        _record_error(db, location, exc, now())
        raise
    report.seconds = time.perf_counter() - started
    return report


def read_api_key(path: Path) -> str:
    """The NVD API key kept in ``path`` (surrounding white space removed). Messages name the
    file, never its content."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_KEY_FILE + 1)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the NVD API key file: {exc.strerror}", where=str(path)
        ) from None
    if len(data) > _MAX_KEY_FILE:
        raise ConfigurationError("the NVD API key file is larger than an API key", where=str(path))
    try:
        key = data.decode("ascii").strip()
    except UnicodeDecodeError:
        key = ""
    if not key or not key.isprintable() or any(c.isspace() for c in key):
        raise ConfigurationError(
            "the NVD API key file does not hold one key (printable ASCII without spaces)",
            where=str(path),
            hint="write the key NVD sent you, alone, in the file",
        )
    return key


# ----------------------------------------------------------------------------------------------
# Planning


def _plan(
    session: Session,
    since: datetime | None,
    until: datetime | None,
    restart: bool,
    now: datetime,
) -> _Plan:
    source = session.get(models.IntelSource, SOURCE)
    detail: Mapping[str, Any] = (source.detail or {}) if source is not None else {}
    stored = None if restart else detail.get("checkpoint")
    if stored is not None:
        return _resume(stored, detail.get("since"), since, until)
    end = _moment(until, "until") if until is not None else now
    if end > now:
        raise InvalidInput(
            f"--until {_iso(end)} is in the future (now is {_iso(now)})",
            hint="NVD asks for ranges that end in the past; leave --until out to sync up to now",
        )
    if since is not None:
        start = _moment(since, "since")
    else:
        newest = newest_nvd_modified(session)
        if newest is None:
            raise InvalidInput(_FIRST_SYNC, hint=_FIRST_SYNC_HINT)
        start = _stored_time(newest) - OVERLAP
        if start > end:
            raise InvalidInput(
                f"the newest stored NVD record was modified at {newest}, after the end of "
                f"the sync ({_iso(end)})",
                hint="give --since (and --until) for the range to sync",
            )
    windows = plan_windows(start, end)
    return _Plan(windows[0][0], windows[-1][1], None)


def _resume(
    stored: Any, stored_since: Any, since: datetime | None, until: datetime | None
) -> _Plan:
    try:
        checkpoint = Checkpoint.from_dict(stored)
    except InvalidInput as exc:
        exc.hint = "run with --restart (and --since) to discard it and start again"
        raise exc.located(f"the checkpoint of the interrupted {SOURCE} sync") from None
    # The run's own start, to compare with --since; without it (or unreadable), the
    # checkpoint's window start serves as well: NvdApi needs since <= that.
    run_since = checkpoint.window_start
    if isinstance(stored_since, str):
        with contextlib.suppress(InvalidInput):
            run_since = min(_stored_time(stored_since), run_since)
    asked_since = _floor(_moment(since, "since")) if since is not None else None
    asked_until = _floor(_moment(until, "until")) if until is not None else None
    if (asked_since is not None and asked_since != run_since) or (
        asked_until is not None and asked_until != checkpoint.sync_until
    ):
        raise Conflict(
            f"an interrupted NVD sync of {_iso(run_since)}..{_iso(checkpoint.sync_until)} is "
            "not finished",
            hint="run without --since/--until to resume it, or with --restart to discard it",
        )
    return _Plan(run_since, checkpoint.sync_until, checkpoint)


def _begin(session: Session, location: str, plan: _Plan, first: Checkpoint) -> None:
    """Record a new run before its first request, so that even a failing first page leaves a
    checkpoint that the next run resumes."""
    source = _source(session, location)
    source.detail = {
        "synced_until": None,
        "last_error": None,
        "failed_at": None,
        **(source.detail or {}),
        "checkpoint": first.to_dict(),
        "since": _iso(plan.since),
    }
    session.add(source)


# ----------------------------------------------------------------------------------------------
# Storing


def _store_page(
    db: Database,
    page: Page,
    position: Checkpoint,
    location: str,
    policies: PolicySet,
    now: datetime,
    report: NvdSyncReport,
) -> PageReport:
    start, end = position.window_start, position.window_end
    after = page.checkpoint
    if after is not None and (after.window_start, after.window_end) == (start, end):
        index = after.next_index - len(page.records)
    else:  # the window's last page
        index = page.total - len(page.records)
    where = (
        f"NVD records {index}..{index + len(page.records) - 1} of {page.total} modified "
        f"{_iso(start)}..{_iso(end)}"
    )
    documents = _parse(page.records, where)  # all of them, before anything is written
    with db.transaction() as session:
        added, updated = _news(session, documents)
        keys = store_nvd_records(session, SOURCE, documents, now)
        findings = refresh_products(session, keys, now, f"NVD records changed ({SOURCE})", policies)
        total = count_nvd(session)
        source = _source(session, location)
        source.checked_at = now
        if added or updated or source.changed_at is None:
            source.changed_at = now
        source.record_count = total
        detail = {**(source.detail or {}), "last_error": None, "failed_at": None}
        detail["checkpoint"] = after.to_dict() if after is not None else None
        if after is None:
            detail["synced_until"] = _iso(report.until)
        source.detail = detail
        session.add(source)
    done = PageReport(start, end, index, len(page.records), page.total, added, updated, findings)
    report.pages += 1
    report.received += len(page.records)
    report.added += added
    report.updated += updated
    report.records = total
    report.findings.add(findings)
    log.info(
        "stored %s: %d new, %d changed; findings %d opened, %d closed, %d reopened",
        where,
        added,
        updated,
        findings.opened,
        findings.closed,
        findings.reopened,
    )
    return done


def _parse(records: Sequence[dict[str, Any]], where: str) -> list[NvdDocument]:
    """Every record of a page, checked; the first bad one refuses the page, naming its id."""
    documents = []
    for raw in records:
        cve_id = str(raw.get("id"))  # a CVE id: parse_envelope checked it
        try:
            document = document_from_dict(raw)
            _stored_time(document.last_modified)
        except InvalidInput as exc:
            problem = exc.message
            if cve_id not in problem:
                problem = f"NVD record {cve_id}: {problem}"
            raise MalformedDocument(
                f"{problem}; the page holding it was refused",
                where=where,
                hint="nothing of this page was stored; the next run asks for it again",
            ) from None
        documents.append(document)
    return documents


def _news(session: Session, documents: Sequence[NvdDocument]) -> tuple[int, int]:
    """How many of ``documents`` are new, and how many replace a record with other content."""
    latest = {d.record.id: d.content_hash for d in documents}
    known: dict[str, str] = {}
    for part in chunks(sorted(latest), 900):
        rows = session.execute(
            select(_NVD.c.cve_id, _NVD.c.content_hash).where(_NVD.c.cve_id.in_(part))
        )
        known.update((row.cve_id, row.content_hash) for row in rows)
    added = sum(1 for cve_id in latest if cve_id not in known)
    updated = sum(1 for cve_id, h in latest.items() if cve_id in known and known[cve_id] != h)
    return added, updated


def _record_error(db: Database, location: str, error: SakimoriError, now: datetime) -> None:
    try:
        with db.transaction() as session:
            source = _source(session, location)
            source.detail = {
                **(source.detail or {}),
                "last_error": error.diagnostics(),
                "failed_at": _iso(now),
            }
            session.add(source)
    except Exception:  # the sync's own error is the one to report; this one is only logged
        log.exception("cannot record the error of the %s sync", SOURCE)


def _source(session: Session, location: str) -> models.IntelSource:
    source = session.get(models.IntelSource, SOURCE) or models.IntelSource(
        name=SOURCE, kind=KIND, location=location, record_count=0, detail={}
    )
    source.location = location
    return source


# ----------------------------------------------------------------------------------------------
# Times and places


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _moment(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"--{name} {value.isoformat()} has no time zone; give it in UTC")
    return value.astimezone(UTC)


def _floor(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def _stored_time(value: str) -> datetime:
    """A ``lastModified`` as NVD writes it (UTC, without an offset) as an aware datetime."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"lastModified {value!r} is not an ISO-8601 date and time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _iso(value: datetime) -> str:
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def _location(url: str) -> str:
    """The API's URL as stored and shown: without user information, query or fragment (where
    a key could have been put by mistake)."""
    return _USERINFO.sub("://", url).split("?", 1)[0].split("#", 1)[0]


__all__ = [
    "KIND",
    "OVERLAP",
    "SOURCE",
    "NvdSyncReport",
    "PageReport",
    "Progress",
    "read_api_key",
    "sync_nvd",
]
