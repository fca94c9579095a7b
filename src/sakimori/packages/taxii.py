"""TAXII 2.1 collections, their rights by role, and the filtering and paging of their objects
(pure; the API serves them, ``sakimori.services.access`` decides who is asking).

Collections (ids are fixed UUIDs, so clients can keep them):

- one per TLP 2.0 label for packages (``packages-clear`` … ``packages-red``): every role may
  read; each reader sees only the objects of the packages they are entitled to (the same rule as
  the API, ``packages.model.may_read``); nobody writes — packages come from the lifecycle;
- ``coordination-partners``, the sharing group of the coordinator and its partners: staff and
  partners read and add indicators and other STIX objects (never TLP:RED: that goes to named
  people, not a group); members and vendors may neither read nor write it.

Paging: records are ordered by date added. Package collections are rendered and paged in
memory, ordered by (date added, object id, version), ``next`` the position of the next record.
Stored collections (``coordination-partners``, and the collections pulled from partners'
servers) are paged by the database on (date added, row id): ``next`` is the key of the last
record given (``<microseconds since 1970>.<row id>``), one query per page, no OFFSET, so a page
deep in a large collection costs what the first one does. Both are opaque to clients.

Objects pulled from a partner (``pulled_label``, ``accepts``): an object's TLP label is the most
restrictive TLP 2.0 (or TLP 1.0) marking among its ``object_marking_refs``; an object without
one is treated as TLP:AMBER; TLP marking definitions themselves carry nothing and are taken as
CLEAR. A pulled collection takes nothing above its source's ``max_tlp`` and never TLP:RED.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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

#: The prefix of the alias of a collection pulled from a partner (``partner-<source name>``).
PULLED_PREFIX: Final = "partner-"


def pulled_collection(source: str) -> Collection:
    """The local collection holding what is pulled from the source ``source``: staff read it
    (they read everything, whatever its TLP); nobody writes it but the pull."""
    alias = f"{PULLED_PREFIX}{source}"
    return Collection(
        _collection_id(alias),
        alias,
        f"Pulled from {source}",
        f"STIX objects pulled from the partner's TAXII collection {source!r}.",
        STAFF,
        frozenset(),
    )


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
class Stored:
    """One version of one STIX object of a stored collection, as the database holds it: the
    object's JSON text is served as it is, never decoded and encoded again."""

    added: datetime
    id: str
    version: str
    raw: bytes
    #: The row id: with ``added``, the paging key.
    row: int


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO: Final = timedelta(microseconds=1)
_KEY: Final = re.compile(r"^([0-9]{1,18})\.([0-9]{1,18})$")


def key_token(added: datetime, row: int) -> str:
    """The ``next`` of a stored collection: the paging key of the last record given."""
    return f"{(added - _EPOCH) // _MICRO}.{row}"


@dataclass(frozen=True, slots=True)
class Query:
    added_after: datetime | None = None
    ids: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    versions: tuple[str, ...] = ("last",)
    spec_versions: frozenset[str] = frozenset()
    limit: int = MAX_LIMIT
    #: A rendered collection's position (the number of records already given).
    next: int = 0
    #: A stored collection's position: (date added, row id) of the last record given.
    after: tuple[datetime, int] | None = None

    @property
    def first_page(self) -> bool:
        return self.next == 0 and self.after is None


@dataclass(frozen=True, slots=True)
class Page:
    records: Sequence[Record | Stored]
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
    after: tuple[datetime, int] | None = None
    if next_ is not None:
        key = _KEY.match(next_)
        if key is not None:
            try:
                after = (_EPOCH + int(key[1]) * _MICRO, int(key[2]))
            except OverflowError:
                raise InvalidInput(f"next {next_!r} is not a value this server gave") from None
        elif next_.isdigit() and len(next_) <= 12:
            position = int(next_)
        else:
            raise InvalidInput(f"next {next_!r} is not a value this server gave")
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
        after=after,
    )


def wanted_versions(q: Query, *, versions_default_all: bool = False) -> tuple[str, ...]:
    """The ``match[version]`` values in force (the versions endpoint means every version)."""
    return ("all",) if versions_default_all and q.versions == ("last",) else q.versions


def select(records: Sequence[Record], q: Query, *, versions_default_all: bool = False) -> Page:
    """Filter, keep the versions asked for, order by date added, and cut one page (a rendered
    collection, in memory)."""
    if q.after is not None:
        raise InvalidInput("next is not a value this server gave for this collection")
    chosen = [
        r
        for r in records
        if (q.added_after is None or r.added > q.added_after)
        and (not q.ids or r.id in q.ids)
        and (not q.types or r.object.get("type") in q.types)
        and (not q.spec_versions or r.object.get("spec_version", "2.1") in q.spec_versions)
    ]
    wanted = wanted_versions(q, versions_default_all=versions_default_all)
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


# -- what a pull takes from a partner -------------------------------------------------------------

#: TLP 2.0 marking definitions (the OASIS extension's ids) and TLP 1.0 ones (STIX 2.1's).
TLP_MARKINGS: Final[Mapping[str, Tlp]] = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": Tlp.CLEAR,
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": Tlp.GREEN,
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": Tlp.AMBER,
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": Tlp.AMBER_STRICT,
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": Tlp.RED,
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": Tlp.CLEAR,  # TLP 1.0 WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": Tlp.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": Tlp.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": Tlp.RED,
}
#: What an object without a TLP marking is taken as.
UNMARKED: Final = Tlp.AMBER
_ORDER: Final = list(Tlp)


def pulled_label(item: Mapping[str, Any]) -> tuple[Tlp, bool]:
    """The TLP label a pulled object is held under, and whether it was marked at all."""
    if item.get("type") == "marking-definition" and item.get("id") in TLP_MARKINGS:
        return Tlp.CLEAR, True
    refs = item.get("object_marking_refs") or []
    found = [TLP_MARKINGS[r] for r in refs if isinstance(r, str) and r in TLP_MARKINGS]
    if not found:
        return UNMARKED, False
    return max(found, key=_ORDER.index), True


def accepts(label: Tlp, max_tlp: Tlp) -> bool:
    """Whether a pulled collection whose source allows up to ``max_tlp`` takes ``label``."""
    return label is not Tlp.RED and _ORDER.index(label) <= _ORDER.index(max_tlp)
