"""Who receives a package: its audience plus exposure, under its TLP label (pure).

``resolve`` takes the organisations of the platform, the people named (user → organisation) and
the organisations exposed (whose current inventories hold an affected product) and returns the
recipients, each with why. TLP:RED reaches only the organisations of the people named, and
only those people may read it (``model.may_read``); exposure never adds a RED recipient.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sakimori.errors import InvalidInput
from sakimori.packages.model import Audience, Tlp, check_audience

AUDIENCE = "audience"
EXPOSURE = "exposure"


@dataclass(frozen=True, slots=True)
class Organisation:
    id: int
    slug: str
    kind: str
    sectors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Target:
    organisation_id: int
    reason: str  # audience | exposure
    named_users: tuple[str, ...] = ()


def resolve(
    tlp: Tlp,
    audience: Audience,
    organisations: Iterable[Organisation],
    *,
    people: Mapping[str, int],
    exposed: Iterable[int] = (),
) -> dict[int, Target]:
    """``{organisation id: Target}`` for one revision. Unknown organisations or people named in
    the audience are ``InvalidInput``."""
    check_audience(tlp, audience)
    orgs = list(organisations)
    by_slug = {o.slug: o for o in orgs}
    chosen: dict[int, str] = {}
    named: dict[int, list[str]] = {}
    if audience.everyone:
        for o in orgs:
            if o.kind != "coordinator":
                chosen[o.id] = AUDIENCE
    if audience.sectors:
        wanted = set(audience.sectors)
        for o in orgs:
            if wanted & set(o.sectors):
                chosen[o.id] = AUDIENCE
    for slug in audience.organisations:
        if slug not in by_slug:
            raise InvalidInput(f"the audience names organisation {slug!r}, which does not exist")
        chosen[by_slug[slug].id] = AUDIENCE
    for person in audience.people:
        if person not in people:
            raise InvalidInput(f"the audience names {person!r}, who is not a user")
        chosen[people[person]] = AUDIENCE
        named.setdefault(people[person], []).append(person)
    if audience.affected and tlp is not Tlp.RED:
        for org_id in exposed:
            chosen.setdefault(org_id, EXPOSURE)
    return {
        org_id: Target(
            org_id, reason, tuple(sorted(named.get(org_id, ()))) if tlp is Tlp.RED else ()
        )
        for org_id, reason in chosen.items()
    }
