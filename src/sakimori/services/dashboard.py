"""What the national dashboard shows beside its figures: the intel feeds that are stale, and the
exploitation attempts members' monitoring reported (to review, or corroborated).

The figures come from the pre-aggregated snapshot (``services.metrics_snapshot``). On a large
platform, whose readers already see a new snapshot up to ``metrics_snapshot.LATEST_TTL`` late,
these two panels follow the same rule: a process reads them at most once per ``LATEST_TTL``
(so most dashboard views make no query at all). A small platform reads them on every view.
Access is checked on every view, before anything remembered is used.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

from sqlalchemy import Engine

from sakimori.services import access, freshness, metrics_snapshot, sightings
from sakimori.services.access import Action, Principal
from sakimori.services.freshness import SourceAge
from sakimori.services.sightings import VulnerabilitySummary
from sakimori.store.db import Database, joined

#: Attempts shown at most.
ATTEMPTS_SHOWN = 50


@dataclass(frozen=True, slots=True)
class Panels:
    stale_sources: list[SourceAge]
    attempts: list[VulnerabilitySummary]


#: Per engine, for staff and for the others (who see no attempts): the panels, and when read.
_KEPT: weakref.WeakKeyDictionary[Engine, dict[bool, tuple[Panels, float]]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def panels(db: Database, principal: Principal) -> Panels:
    """The panels ``principal`` may see (staff see the attempts; ``Action.SIGHTING_SUMMARY``)."""
    access.require(principal, Action.INTEL_READ)
    staff = principal.may(Action.SIGHTING_SUMMARY)
    with _LOCK:
        kept = _KEPT.get(db.engine, {}).get(staff)
    if kept is not None and metrics_snapshot.recent(kept[1]):
        return kept[0]
    with db.transaction() as session:  # both panels from one connection
        one = joined(db, session)
        stale = freshness.stale(access.intel_sources(one, principal))
        summaries = sightings.summary(one, principal) if staff else []
    found = Panels(
        stale, [v for v in summaries if v.needs_review or v.corroborated][:ATTEMPTS_SHOWN]
    )
    if metrics_snapshot.large_platform(db):
        with _LOCK:
            _KEPT.setdefault(db.engine, {})[staff] = (found, time.monotonic())
    return found
