"""Sightings as triage reads them: is a vulnerability's exploitation corroborated?

Kept apart from ``services.sightings`` (the use cases) so that triage
(``services.assessment_evidence``) reads it without importing the platform's use cases: a
``sakimori scan`` starts no slower for it. The rule is described in ``services.sightings``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Hashable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Final, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sakimori.store import intel as store
from sakimori.store import models

PENDING: Final = "pending"
CONFIRMED: Final = "confirmed"
REJECTED: Final = "rejected"
#: Distinct organisations whose sightings corroborate a vulnerability.
CORROBORATING_ORGANISATIONS: Final = 2
#: Ids per IN (...) list: below SQLite's bound-parameter limit with room to spare.
IN_CHUNK: Final = 900
K = TypeVar("K", bound=Hashable)


def utc(moment: datetime) -> datetime:
    """Aware UTC (SQLite hands back naive datetimes; every time stored is UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def corroborated(session: Session, groups: Mapping[K, Collection[str]]) -> set[K]:
    """The keys of ``groups`` (each the ids of one vulnerability: its id and aliases) whose
    vulnerability is corroborated: an analyst's newest decision on any of the ids confirms it,
    or sightings naming any of them come from at least two organisations (after the newest
    rejection, when that is the newest decision)."""
    ids = sorted({i for ids in groups.values() for i in ids})
    latest: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    decisions: dict[str, tuple[str, datetime]] = {}
    sighting, named = models.SightingRow, models.SightingVulnerabilityRow
    review = models.ExploitationReviewRow
    for part in store.chunks(ids, IN_CHUNK):
        rows = session.execute(
            select(named.vulnerability, sighting.organisation_id, func.max(sighting.reported_at))
            .join(sighting, sighting.id == named.sighting_id)
            .where(named.vulnerability.in_(part))
            .group_by(named.vulnerability, sighting.organisation_id)
        )
        for vulnerability, organisation, reported in rows:
            latest[vulnerability].append((organisation, utc(reported)))
        for row in session.execute(
            select(review.vulnerability, review.status, review.decided_at).where(
                review.vulnerability.in_(part), review.decided_at.is_not(None)
            )
        ):
            decisions[row.vulnerability] = (row.status, utc(row.decided_at))
    found: set[K] = set()
    for key, group in groups.items():
        made = [decisions[i] for i in group if i in decisions]
        newest = max(made, key=lambda d: d[1]) if made else None
        if newest is not None and newest[0] == CONFIRMED:
            found.add(key)
            continue
        cutoff = newest[1] if newest is not None else None
        organisations = {
            organisation
            for i in group
            for organisation, reported in latest.get(i, ())
            if cutoff is None or reported > cutoff
        }
        if len(organisations) >= CORROBORATING_ORGANISATIONS:
            found.add(key)
    return found


def alias_groups(session: Session, ids: Iterable[str]) -> dict[str, frozenset[str]]:
    """Each id with every id the loaded OSV records give the same vulnerability (itself when
    none does)."""
    wanted = sorted(set(ids))
    alias = models.AdvisoryAlias
    records: dict[str, set[str]] = defaultdict(set)
    for part in store.chunks(wanted, IN_CHUNK):
        for row in session.execute(
            select(alias.alias, alias.advisory_id).where(alias.alias.in_(part))
        ):
            records[row.alias].add(row.advisory_id)
    advisories = sorted({a for found in records.values() for a in found})
    members: dict[str, set[str]] = defaultdict(set)
    for part in store.chunks(advisories, IN_CHUNK):
        for row in session.execute(
            select(alias.advisory_id, alias.alias).where(alias.advisory_id.in_(part))
        ):
            members[row.advisory_id].add(row.alias)
    return {i: frozenset({i}.union(*(members[a] for a in records.get(i, ())))) for i in wanted}


def known_ids(session: Session, groups: Mapping[str, frozenset[str]]) -> set[str]:
    """The ids the coordinator's intel knows: an OSV record (or alias), a CVE record, KEV."""
    found = {i for i, group in groups.items() if len(group) > 1}
    rest = sorted(set(groups) - found)
    cves = [i for i in rest if i.startswith("CVE-")]
    found.update(store.cve_records(session, cves), store.kev_entries(session, cves))
    for part in store.chunks(rest, IN_CHUNK):
        found.update(
            session.scalars(
                select(models.AdvisoryAlias.alias).where(models.AdvisoryAlias.alias.in_(part))
            )
        )
    return found
