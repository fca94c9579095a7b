"""Sightings at the coordinator: members report what their monitoring saw; staff review it.

The use cases check the role and the token scope first (``access.require``), then the tenancy:

- a member organisation's people (``member_admin``, ``member_user``) report sightings
  (:func:`report`), stored with their organisation, and list their own (:func:`list_sightings`);
- coordinator staff list everyone's, read the summary per vulnerability (:func:`summary`: how
  many distinct organisations, first and last seen, the review) and confirm or reject a
  vulnerability's exploitation (:func:`review`);
- a STIX 2.1 export (:func:`stix_bundle`) holds what the caller may list, under TLP
  (``access.sighting_export_tlp``: AMBER by default);
- ``sakimori watch --server`` fetches the Sigma rules of the packages the caller's organisation
  receives (:func:`package_rules`).

**Review and corroboration.** A sighting naming a vulnerability the coordinator's intel knows
(an OSV record or alias, a CVE record, a KEV entry) flags it for analyst review
(``exploitation_review``, status ``pending``). A vulnerability is *corroborated* —
Exploitation ``active`` in every organisation's decisions (``triage.derive.exploitation``) —
when sightings naming it (or an alias of it) come from at least two organisations, or an analyst
confirmed it; an analyst's rejection discounts the sightings reported until then (an attempt
seen by one sensor is evidence, not proof: it can be forged). ``store.sightings.corroborated``
is what triage reads (``assessment_evidence.evidence_by_shape``). When a report or a review changes
whether a vulnerability is corroborated, the re-assessment job (``assess.open``) is enqueued in
the same transaction.

Bad input is refused before anything is written; a report is one transaction with its audit
entry. A sighting sent again (same organisation, detector, source, rule, version, client and
first seen) grows the stored one — later last seen, larger count — instead of adding one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sakimori.errors import Conflict, InvalidInput
from sakimori.jobs.handlers import ASSESS_OPEN
from sakimori.jobs.interface import enqueue
from sakimori.monitoring import sightings as core
from sakimori.monitoring.sightings import Reported, Sighting, vulnerability_id
from sakimori.packages.model import Tlp
from sakimori.services import audit
from sakimori.services import packages as packages_service
from sakimori.services.access import (
    Action,
    Principal,
    _audit_read,
    _visible_organisation,
    require,
    sighting_export_tlp,
)
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.store.db import Database
from sakimori.store.sightings import (
    CONFIRMED,
    IN_CHUNK,
    PENDING,
    REJECTED,
    alias_groups,
    corroborated,
    known_ids,
    utc,
)

DECISIONS: Final = (CONFIRMED, REJECTED)
#: The most sightings one report may hold.
MAX_SIGHTINGS: Final = 1000
LIST_LIMIT: Final = 1000
EXPORT_LIMIT: Final = 10_000


def _now() -> datetime:
    return datetime.now(UTC)


def _reviewed_as(group: frozenset[str], named: str) -> str:
    """The id a vulnerability is reviewed under: its first CVE id, else the id named."""
    cves = sorted(i for i in group if i.startswith("CVE-"))
    return cves[0] if cves else named


def _reassess(session: Session, changed: Iterable[str], why: str) -> bool:
    names = sorted(changed)
    if not names:
        return False
    listed = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    return enqueue(session, ASSESS_OPEN, {"why": f"{why}: {listed}"[:1000]})


# -- reporting ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    received: int
    stored: int  # new sightings
    merged: int  # sightings sent again, grown
    tlp: str = "AMBER"  # members' sightings reach the coordinator under TLP:AMBER


def _key(organisation_id: int, s: Sighting) -> tuple[Any, ...]:
    return (organisation_id, s.detector, s.source, s.rule, s.version, s.client, s.first_seen)


def _row_key(row: models.SightingRow) -> tuple[Any, ...]:
    return (
        row.organisation_id,
        row.detector,
        row.source,
        row.rule,
        row.version,
        row.client,
        utc(row.first_seen),
    )


def store_sightings(
    db: Database,
    organisation_id: int,
    items: Sequence[Sighting],
    privacy: str,
    actor: str,
    now: datetime | None = None,
) -> ReportOutcome:
    """Store checked sightings for an organisation, flag what they name for review, and
    enqueue the re-assessment when a vulnerability becomes corroborated; one transaction."""
    moment = now or _now()
    with db.transaction() as session:
        named = {v for s in items for v in s.vulnerabilities}
        groups = alias_groups(session, named)
        before = corroborated(session, groups)
        existing: dict[tuple[Any, ...], models.SightingRow] = {}
        times = sorted({s.first_seen for s in items})
        for part in store.chunks(times, IN_CHUNK):
            for found in session.scalars(
                select(models.SightingRow).where(
                    models.SightingRow.organisation_id == organisation_id,
                    models.SightingRow.first_seen.in_(part),
                )
            ):
                existing[_row_key(found)] = found
        stored = merged = 0
        names: list[tuple[models.SightingRow, list[str]]] = []
        for item in items:
            known = existing.get(_key(organisation_id, item))
            if known is not None:
                row = known
                row.last_seen = max(utc(row.last_seen), item.last_seen)
                row.count = max(row.count, item.count)
                added = [v for v in item.vulnerabilities if v not in row.vulnerabilities]
                row.vulnerabilities = [*row.vulnerabilities, *added]
                merged += 1
            else:
                row = models.SightingRow(
                    organisation_id=organisation_id,
                    client=item.client,
                    privacy=privacy,
                    detector=item.detector,
                    rule=item.rule,
                    version=item.version,
                    title=item.title,
                    source=item.source,
                    vulnerabilities=list(item.vulnerabilities),
                    first_seen=item.first_seen,
                    last_seen=item.last_seen,
                    count=item.count,
                    reported_at=moment,
                    reported_by=actor,
                )
                session.add(row)
                existing[_key(organisation_id, item)] = row
                added = list(item.vulnerabilities)
                stored += 1
            names.append((row, added))
        session.flush()  # the new rows' ids
        session.add_all(
            models.SightingVulnerabilityRow(sighting_id=made.id, vulnerability=v)
            for made, added in names
            for v in added
        )
        _flag(session, groups, known_ids(session, groups), moment)
        session.flush()
        _reassess(
            session,
            corroborated(session, groups) - before,
            "exploitation corroborated by sightings",
        )
    return ReportOutcome(len(items), stored, merged)


def _flag(
    session: Session, groups: Mapping[str, frozenset[str]], known: set[str], now: datetime
) -> None:
    """Flag for review (or note the new sighting of) every known vulnerability named."""
    wanted = {_reviewed_as(groups[i], i) for i in known}
    review = models.ExploitationReviewRow
    rows = {
        r.vulnerability: r
        for part in store.chunks(sorted(wanted), IN_CHUNK)
        for r in session.scalars(select(review).where(review.vulnerability.in_(part)))
    }
    for vulnerability in sorted(wanted):
        row = rows.get(vulnerability)
        if row is None:
            session.add(
                review(
                    vulnerability=vulnerability,
                    status=PENDING,
                    flagged_at=now,
                    last_sighting_at=now,
                    note="",
                )
            )
        else:
            row.last_sighting_at = now


def report(
    db: Database, principal: Principal, items: Sequence[Sighting], privacy: str
) -> ReportOutcome:
    """A member organisation's sightings (checked completely first; nothing is stored from a
    report with one bad sighting)."""
    require(principal, Action.SIGHTING_REPORT)
    if not items:
        raise InvalidInput("a report needs at least one sighting")
    if len(items) > MAX_SIGHTINGS:
        raise InvalidInput(
            f"a report holds at most {MAX_SIGHTINGS} sightings", hint="send them in parts"
        )
    now = _now()
    ready = []
    for number, item in enumerate(items, 1):
        try:
            ready.append(core.checked(item, privacy, now))
        except InvalidInput as exc:
            raise InvalidInput(f"sighting {number}: {exc.message}", hint=exc.hint) from None
    try:
        return audit.audited(
            db,
            principal,
            Action.SIGHTING_REPORT,
            "organisation",
            lambda joined: store_sightings(
                joined, principal.organisation_id, ready, privacy, principal.name, now
            ),
            lambda _: principal.organisation,
            {"sightings": len(ready), "privacy": privacy},
        )
    except IntegrityError:
        raise Conflict(
            "another report of the same sightings was being stored", hint="send it again"
        ) from None


# -- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SightingView:
    id: int
    organisation: str
    organisation_name: str
    privacy: str
    reported_at: datetime
    reported_by: str
    sighting: Sighting

    def reported(self) -> Reported:
        return Reported(
            self.id, self.sighting, self.organisation, self.organisation_name, self.reported_at
        )


@dataclass(frozen=True, slots=True)
class Filters:
    organisation: str | None = None
    vulnerability: str | None = None
    since: datetime | None = None  # reported at or after
    limit: int = 100
    offset: int = 0


def _view(row: models.SightingRow, organisation: models.Organisation) -> SightingView:
    return SightingView(
        id=row.id,
        organisation=organisation.slug,
        organisation_name=organisation.name,
        privacy=row.privacy,
        reported_at=utc(row.reported_at),
        reported_by=row.reported_by,
        sighting=Sighting(
            row.client,
            row.detector,
            row.rule,
            row.version,
            row.title,
            row.source,
            tuple(row.vulnerabilities),
            utc(row.first_seen),
            utc(row.last_seen),
            row.count,
        ),
    )


def _narrowed(principal: Principal, filters: Filters) -> Filters:
    organisation = filters.organisation
    if organisation:
        organisation = _visible_organisation(principal, organisation)
    elif not principal.sees_everything:
        organisation = principal.organisation
    vulnerability = vulnerability_id(filters.vulnerability) if filters.vulnerability else None
    return Filters(organisation, vulnerability, filters.since, filters.limit, filters.offset)


def _select(db: Database, filters: Filters, limit: int) -> list[SightingView]:
    sighting, organisation = models.SightingRow, models.Organisation
    query = select(sighting, organisation).join(
        organisation, organisation.id == sighting.organisation_id
    )
    if filters.organisation:
        query = query.where(organisation.slug == filters.organisation)
    if filters.vulnerability:
        named = models.SightingVulnerabilityRow
        query = query.where(
            sighting.id.in_(
                select(named.sighting_id).where(named.vulnerability == filters.vulnerability)
            )
        )
    if filters.since is not None:
        query = query.where(sighting.reported_at >= utc(filters.since))
    query = query.order_by(sighting.id.desc()).offset(filters.offset)
    with db.transaction() as session:
        rows = session.execute(query.limit(max(0, min(filters.limit, limit)))).all()
        return [_view(row, org) for row, org in rows]


def list_sightings(db: Database, principal: Principal, filters: Filters) -> list[SightingView]:
    """Newest first: every organisation's for staff, the own organisation's for members."""
    require(principal, Action.SIGHTING_READ)
    return _select(db, _narrowed(principal, filters), LIST_LIMIT)


@dataclass(frozen=True, slots=True)
class VulnerabilitySummary:
    """What the coordinator knows of attempts against one vulnerability."""

    vulnerability: str
    organisations: int  # distinct organisations whose sightings name it
    sightings: int
    requests: int  # the sightings' counts summed
    first_seen: datetime | None
    last_seen: datetime | None
    status: str | None  # the review: pending | confirmed | rejected; None: not flagged
    flagged_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    note: str
    corroborated: bool
    #: Flagged and undecided, or rejected with sightings reported since.
    needs_review: bool


def _summaries(session: Session, only: Collection[str] | None = None) -> list[VulnerabilitySummary]:
    sighting, named = models.SightingRow, models.SightingVulnerabilityRow
    review = models.ExploitationReviewRow
    query = (
        select(
            named.vulnerability,
            func.count(func.distinct(sighting.organisation_id)),
            func.count(),
            func.sum(sighting.count),
            func.min(sighting.first_seen),
            func.max(sighting.last_seen),
        )
        .join(sighting, sighting.id == named.sighting_id)
        .group_by(named.vulnerability)
    )
    reviews = select(review)
    if only is not None:
        query = query.where(named.vulnerability.in_(sorted(only)))
        reviews = reviews.where(review.vulnerability.in_(sorted(only)))
    seen = {row[0]: row for row in session.execute(query)}
    decided = {row.vulnerability: row for row in session.scalars(reviews)}
    names = sorted(set(seen) | set(decided))
    groups = alias_groups(session, names)
    active = corroborated(session, groups)
    found = []
    for name in names:
        counts, row = seen.get(name), decided.get(name)
        status = row.status if row is not None else None
        needs = status == PENDING or (
            row is not None
            and status == REJECTED
            and row.decided_at is not None
            and utc(row.last_sighting_at) > utc(row.decided_at)
        )
        found.append(
            VulnerabilitySummary(
                vulnerability=name,
                organisations=counts[1] if counts else 0,
                sightings=counts[2] if counts else 0,
                requests=int(counts[3] or 0) if counts else 0,
                first_seen=utc(counts[4]) if counts else None,
                last_seen=utc(counts[5]) if counts else None,
                status=status,
                flagged_at=utc(row.flagged_at) if row is not None else None,
                decided_by=row.decided_by if row is not None else None,
                decided_at=utc(row.decided_at) if row and row.decided_at else None,
                note=row.note if row is not None else "",
                corroborated=name in active,
                needs_review=needs,
            )
        )
    epoch = datetime.min.replace(tzinfo=UTC)
    found.sort(key=lambda v: v.last_seen or v.flagged_at or epoch, reverse=True)
    found.sort(key=lambda v: (not v.needs_review, -v.organisations))
    return found


def summary(db: Database, principal: Principal) -> list[VulnerabilitySummary]:
    """Every vulnerability sightings name or an analyst decided on: what needs review first,
    then by how many organisations saw attempts (staff)."""
    require(principal, Action.SIGHTING_SUMMARY)
    with db.transaction() as session:
        return _summaries(session)


def review(
    db: Database, principal: Principal, vulnerability: str, decision: str, note: str = ""
) -> VulnerabilitySummary:
    """An analyst confirms (exploitation is active) or rejects (the sightings so far do not
    count) attempts against a vulnerability; re-assessment follows when that changes whether it
    is corroborated."""
    require(principal, Action.SIGHTING_REVIEW)
    name = vulnerability_id(vulnerability)
    if decision not in DECISIONS:
        raise InvalidInput(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
    if len(note) > 2000 or "\x00" in note:
        raise InvalidInput("a review's note is text of at most 2,000 characters")

    def decide(joined: Database) -> VulnerabilitySummary:
        now = _now()
        with joined.transaction() as session:
            groups = alias_groups(session, [name])
            before = corroborated(session, groups)
            row = session.get(models.ExploitationReviewRow, name)
            if row is None:
                row = models.ExploitationReviewRow(
                    vulnerability=name, flagged_at=now, last_sighting_at=now
                )
                session.add(row)
            row.status, row.decided_by, row.decided_at, row.note = (
                decision,
                principal.name,
                now,
                note,
            )
            session.flush()
            after = corroborated(session, groups)
            _reassess(session, before ^ after, f"exploitation {decision} by {principal.name}")
            return _summaries(session, [name])[0]

    return audit.audited(
        db,
        principal,
        Action.SIGHTING_REVIEW,
        "vulnerability",
        decide,
        lambda _: name,
        {"decision": decision},
    )


# -- STIX 2.1 -------------------------------------------------------------------------------------


def _rule_texts(db: Database, principal: Principal, tlp: Tlp) -> dict[tuple[str, str], str]:
    """The Sigma texts of the package rules the caller may read, by (``package:<id>``, rule
    id), of packages no more restricted than ``tlp``."""
    order = list(Tlp)
    found: dict[tuple[str, str], str] = {}
    for view in packages_service.visible(
        db,
        staff=principal.sees_everything,
        organisation_id=principal.organisation_id,
        user=principal.name,
    ):
        if order.index(view.tlp) > order.index(tlp):
            continue
        for rule in view.content.detection_rules:
            parsed = yaml.safe_load(rule.sigma)
            if isinstance(parsed, dict) and parsed.get("id"):
                found[(f"{core.PACKAGE}{view.id}", str(parsed["id"]))] = rule.sigma
    return found


def stix_bundle(
    db: Database, principal: Principal, filters: Filters, tlp: str = "AMBER"
) -> dict[str, Any]:
    """The sightings the caller may list, as a STIX 2.1 bundle marked ``tlp``."""
    from sakimori.packages import stix

    require(principal, Action.SIGHTING_READ)
    label = sighting_export_tlp(principal, tlp)
    found = _select(db, _narrowed(principal, filters), EXPORT_LIMIT)
    _audit_read(db, principal, Action.SIGHTING_READ, "sightings.stix", None, label.value)
    objects = core.stix_objects(
        [view.reported() for view in found], label, rule_texts=_rule_texts(db, principal, label)
    )
    return stix.bundle(objects)


# -- the rules ``watch --server`` runs -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PackageRules:
    package_id: int
    revision: int
    tlp: str
    title: str
    vulnerabilities: tuple[str, ...]
    rules: tuple[str, ...]  # Sigma rules (YAML)


def package_rules(db: Database, principal: Principal) -> list[PackageRules]:
    """The Sigma rules of the published packages (not withdrawn) the caller may read; reading
    TLP:AMBER or RED ones is recorded."""
    require(principal, Action.PACKAGE_READ)
    views = packages_service.visible(
        db,
        staff=principal.sees_everything,
        organisation_id=principal.organisation_id,
        user=principal.name,
    )
    found = [
        PackageRules(
            view.id,
            view.revision,
            view.tlp.value,
            view.content.title,
            view.content.vulnerabilities,
            tuple(rule.sigma for rule in view.content.detection_rules),
        )
        for view in views
        if view.state != "withdrawn" and view.content.detection_rules
    ]
    sensitive = [p.package_id for p in found if p.tlp in audit.SENSITIVE_TLP]
    if sensitive:
        audit.record(
            db,
            audit.entry_for(
                principal,
                Action.PACKAGE_READ.value,
                "package.rules",
                ",".join(map(str, sensitive))[:200],
                max(
                    (Tlp(p.tlp) for p in found if p.tlp in audit.SENSITIVE_TLP), key=list(Tlp).index
                ).value,
            ),
        )
    return found
