"""``intel sync``: fetch the configured feeds (upstream or a mirror) and store what changed.

Each feed is fetched with the validators kept from last time (ETag / Last-Modified), parsed and
validated completely, and stored in its own transaction: one failing feed is reported and leaves
its previous data untouched, while the others still load. OSV archives and the KEV catalog are
full snapshots, so records they no longer carry are removed; EPSS scores and CVE records are
upserted; SSVC decision tables are versioned (a new version is a new table).

Findings follow the intel: changed advisories re-match the inventories holding their packages
(``refresh_packages``); when KEV, EPSS, CVE records or decision tables changed, every open
finding is re-assessed once at the end, in its own transaction.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from sakimori.config import Settings
from sakimori.errors import SakimoriError
from sakimori.formats import epss as epss_format
from sakimori.formats import kev as kev_format
from sakimori.formats import osv as osv_format
from sakimori.intel.fetch import Fetcher, FetchSettings, Mirror
from sakimori.intel.sources import Feed, FeedKind, default_feeds
from sakimori.intel.sources import cve as cve_source
from sakimori.intel.sources import ssvc as ssvc_source
from sakimori.services.assessment import assess_open, policy_set
from sakimori.services.intel import LoadReport, SourceReport
from sakimori.services.tracking import refresh_packages
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.store.db import Database
from sakimori.triage.policy import PolicySet

log = logging.getLogger(__name__)


def sync_feeds(
    db: Database,
    settings: Settings,
    *,
    mirror: str | None = None,
    feeds: list[Feed] | None = None,
    fetcher: Fetcher | None = None,
) -> LoadReport:
    started = time.perf_counter()
    report = LoadReport()
    chosen = (
        feeds if feeds is not None else default_feeds(settings.osv_ecosystems, settings.cve_sources)
    )
    policies = policy_set(settings.policy)
    location = Mirror.from_setting(mirror) if mirror else None
    own = fetcher is None
    active = fetcher or Fetcher(
        FetchSettings(
            read_timeout=settings.http_timeout,
            connect_timeout=min(10.0, settings.http_timeout),
            retries=settings.http_retries,
            max_body_bytes=max(settings.limits.max_bytes, 1024 * 1024 * 1024),
        )
    )
    try:
        for feed in chosen:
            url = feed.location(location)
            try:
                report.sources.append(_sync_one(db, settings, policies, active, feed, url))
            except SakimoriError as exc:
                log.warning("feed %s failed: %s", feed.name, exc.diagnostics())
                report.sources.append(
                    SourceReport(
                        feed.name, feed.kind.value, url, "failed", message=exc.diagnostics()
                    )
                )
    finally:
        if own:
            active.close()
    evidence = sorted(
        {s.kind for s in report.sources if s.status == "loaded" and s.kind in _EVIDENCE_KINDS}
    )
    if evidence:
        with db.transaction() as session:
            report.reassessed = assess_open(
                session, policies, datetime.now(UTC), f"intel sync: {', '.join(evidence)} changed"
            )
    report.seconds = time.perf_counter() - started
    return report


#: Feeds whose change alters the evidence of decisions already made.
_EVIDENCE_KINDS = frozenset({FeedKind.KEV, FeedKind.EPSS, FeedKind.CVE, FeedKind.SSVC})


def _sync_one(
    db: Database,
    settings: Settings,
    policies: PolicySet,
    fetcher: Fetcher,
    feed: Feed,
    url: str,
) -> SourceReport:
    with db.transaction() as session:
        known = session.get(models.IntelSource, feed.name)
        same_place = known is not None and known.location == url
        etag = known.etag if known and same_place else None
        last_modified = known.last_modified if known and same_place else None
        previous_hash = known.content_hash if known else None
    result = fetcher.get(url, etag=etag, last_modified=last_modified)
    now = datetime.now(UTC)
    content_hash = hashlib.sha256(result.content).hexdigest() if result.modified else None
    with db.transaction() as session:
        source = session.get(models.IntelSource, feed.name) or models.IntelSource(
            name=feed.name, kind=feed.kind.value, location=url, record_count=0, detail={}
        )
        source.location = url
        source.checked_at = now
        source.etag = result.etag
        source.last_modified = result.last_modified
        if not result.modified:
            session.add(source)
            return SourceReport(
                feed.name, feed.kind.value, url, "not-modified", source.record_count
            )
        if content_hash == previous_hash:
            session.add(source)
            return SourceReport(feed.name, feed.kind.value, url, "unchanged", source.record_count)
        changes, count, detail = _store(session, settings, policies, feed, result.content, now)
        source.content_hash = content_hash
        source.changed_at = now
        source.record_count = count
        source.detail = {**(source.detail or {}), **detail}
        session.add(source)
        return SourceReport(feed.name, feed.kind.value, url, "loaded", count, changes)


def _store(
    session: Session,
    settings: Settings,
    policies: PolicySet,
    feed: Feed,
    data: bytes,
    now: datetime,
) -> tuple[store.AdvisoryChanges | None, int, dict[str, Any]]:
    """Parse completely, then write: a malformed document raises before anything is written."""
    limits = settings.limits
    try:
        if feed.kind is FeedKind.OSV:
            advisories = list(osv_format.iter_zip(data, limits))
            changes = store.store_advisories(session, feed.name, advisories, now, snapshot=True)
            refresh_packages(session, set(changes.packages), now, f"{feed.name} changed", policies)
            return changes, len(advisories), {}
        if feed.kind is FeedKind.KEV:
            catalog = kev_format.parse(data, limits)
            store.store_kev(session, catalog.entries, snapshot=True)
            detail = {
                "catalog_version": catalog.catalog_version,
                "date_released": catalog.date_released,
            }
            return None, catalog.count, detail
        if feed.kind is FeedKind.CVE:
            records = cve_source.parse(data, limits)
            written = store.store_cve_records(session, feed.name, records, now)
            return None, len(records), {"written": written}
        if feed.kind is FeedKind.SSVC:
            table = ssvc_source.parse(data, limits)
            store.store_decision_tables(session, feed.name, [(table.id, table.name, data)], now)
            return None, 1, {"table": table.id}
        scores = epss_format.parse(data, limits)
        store.store_epss(session, list(scores.scores()))
        return (
            None,
            scores.count,
            {
                "model_version": scores.model_version,
                "score_date": scores.score_date,
            },
        )
    except SakimoriError as exc:
        raise exc.located(feed.name) from None
