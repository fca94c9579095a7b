"""TAXII 2.1 collections, their rights by role, and the filtering and paging of their objects
(pure; the API serves them, ``sakimori.services.access`` decides who is asking).

Collections (ids are fixed UUIDs, so clients can keep them):

- one per TLP 2.0 label for packages (``packages-clear`` … ``packages-red``): every role may
  read; each reader sees only the objects of the packages they are entitled to (the same rule as
  the API, ``packages.model.may_read``); nobody writes — packages come from the lifecycle;
- ``coordination-partners``, the sharing group of the coordinator and its partners: staff and
  partners read and add indicators and other STIX objects (never TLP:RED: that goes to named
  people, not a group); members and vendors may neither read nor write it.

Paging: records are ordered by (date added, object id, version); ``next`` is the position of the
next record, opaque to clients.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sakimori.errors import InvalidInput
from sakimori.packages.model import Tlp

MEDIA_TYPE: Final = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE: Final = "application/stix+json;version=2.1"
MAX_LIMIT: Final = 500
#: The largest POST body a collection accepts (the API root's ``max_content_length``).
MAX_CONTENT_LENGTH: Final = 512 * 1024
#: The most objects one envelope may add.
MAX_OBJECTS: Final = 1000
_NS: Final = uuid.UUID("2f0f4c1e-2b5e-4c58-9e43-6e3f3a1b0c7d")

STAFF: Final = frozenset({"coordinator_admin", "analyst"})
ALL_ROLES: Final = frozenset(
    {"coordinator_admin", "analyst", "member_admin", "member_user", "vendor", "partner"}
)


@dataclass(frozen=True, slots=True)
class Collection:
    id: str
    alias: str
    title: str
    description: str
    readers: frozenset[str]
    writers: frozenset[str]
    #: The TLP label of the packages it carries; None: a sharing-group collection (stored).
    tlp: Tlp | None = None

    def resource(self, role: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "alias": self.alias,
            "can_read": role in self.readers,
            "can_write": role in self.writers,
            "media_types": [STIX_MEDIA_TYPE],
        }


def _collection_id(alias: str) -> str:
    return str(uuid.uuid5(_NS, alias))


COLLECTIONS: Final[tuple[Collection, ...]] = (
    *(
        Collection(
            _collection_id(f"packages-{tlp.value.lower().replace('+', '-')}"),
            f"packages-{tlp.value.lower().replace('+', '-')}",
            f"Counter-measure packages, TLP:{tlp.value}",
            f"STIX objects of the TLP:{tlp.value} packages you receive.",
            ALL_ROLES,
            frozenset(),
            tlp,
        )
        for tlp in Tlp
    ),
    Collection(
        _collection_id("coordination-partners"),
        "coordination-partners",
        "Coordinator and partners",
        "Indicators and other STIX objects exchanged by the coordinator and its partners.",
        STAFF | {"partner"},
        STAFF | {"partner"},
    ),
)

BY_ID: Final[dict[str, Collection]] = {c.id: c for c in COLLECTIONS}


@dataclass(frozen=True, slots=True)
class Record:
    """One version of one STIX object, and when the collection got it."""

    added: datetime
    object: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.object["id"])

    @property
    def version(self) -> str:
        return str(self.object.get("modified") or self.object.get("created") or self.added)

    @property
    def key(self) -> tuple[datetime, str, str]:
        return (self.added, self.id, self.version)


@dataclass(frozen=True, slots=True)
class Query:
    added_after: datetime | None = None
    ids: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    versions: tuple[str, ...] = ("last",)
    spec_versions: frozenset[str] = frozenset()
    limit: int = MAX_LIMIT
    next: int = 0


@dataclass(frozen=True, slots=True)
class Page:
    records: list[Record]
    more: bool
    next: str | None


def parse_timestamp(value: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{what} {value!r} is not a timestamp") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{what} {value!r} has no time zone")
    return moment


def query(
    *,
    added_after: str | None,
    ids: str | None,
    types: str | None,
    versions: str | None,
    spec_versions: str | None,
    limit: int | None,
    next_: str | None,
) -> Query:
    def split(value: str | None) -> frozenset[str]:
        return frozenset(v.strip() for v in (value or "").split(",") if v.strip())

    wanted = tuple(split(versions)) or ("last",)
    for v in wanted:
        if v not in {"last", "first", "all"}:
            parse_timestamp(v, "match[version]")
    position = 0
    if next_ is not None:
        if not next_.isdigit() or len(next_) > 12:
            raise InvalidInput(f"next {next_!r} is not a value this server gave")
        position = int(next_)
    if limit is not None and limit < 1:
        raise InvalidInput("limit must be a positive number")
    return Query(
        added_after=parse_timestamp(added_after, "added_after") if added_after else None,
        ids=split(ids),
        types=split(types),
        versions=wanted,
        spec_versions=split(spec_versions),
        limit=min(limit or MAX_LIMIT, MAX_LIMIT),
        next=position,
    )


def select(records: Sequence[Record], q: Query, *, versions_default_all: bool = False) -> Page:
    """Filter, keep the versions asked for, order by date added, and cut one page."""
    chosen = [
        r
        for r in records
        if (q.added_after is None or r.added > q.added_after)
        and (not q.ids or r.id in q.ids)
        and (not q.types or r.object.get("type") in q.types)
        and (not q.spec_versions or r.object.get("spec_version", "2.1") in q.spec_versions)
    ]
    wanted = ("all",) if versions_default_all and q.versions == ("last",) else q.versions
    if "all" not in wanted:
        by_id: dict[str, list[Record]] = {}
        for r in chosen:
            by_id.setdefault(r.id, []).append(r)
        kept: list[Record] = []
        stamps = {v for v in wanted if v not in {"first", "last"}}
        for group in by_id.values():
            group.sort(key=lambda r: r.version)
            picked = {r.version: r for r in group if r.version in stamps}
            if "first" in wanted:
                picked[group[0].version] = group[0]
            if "last" in wanted:
                picked[group[-1].version] = group[-1]
            kept.extend(picked.values())
        chosen = kept
    chosen.sort(key=lambda r: r.key)
    page = chosen[q.next : q.next + q.limit]
    end = q.next + len(page)
    more = end < len(chosen)
    return Page(page, more, str(end) if more else None)
