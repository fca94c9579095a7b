"""Vulnerability advisories in the shape of the OSV schema (https://ossf.github.io/osv-schema/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EventKind(StrEnum):
    INTRODUCED = "introduced"
    FIXED = "fixed"
    LAST_AFFECTED = "last_affected"
    LIMIT = "limit"


class RangeType(StrEnum):
    ECOSYSTEM = "ECOSYSTEM"
    SEMVER = "SEMVER"
    GIT = "GIT"


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    version: str


@dataclass(frozen=True, slots=True)
class Range:
    """One entry of ``affected[].ranges``; events are kept in the order of the record."""

    type: str
    events: tuple[Event, ...]
    repo: str | None = None


@dataclass(frozen=True, slots=True)
class Severity:
    """One entry of ``severity``: a type (CVSS_V3, CVSS_V4, Ubuntu…) and a vector or score."""

    type: str
    score: str


@dataclass(frozen=True, slots=True)
class AffectedPackage:
    """One entry of ``affected``.

    ``ecosystem`` is the record's ecosystem string as written (``PyPI``, ``Debian:12``);
    ``name`` is the package name as written; the matcher normalises both.
    """

    ecosystem: str
    name: str
    purl: str | None = None
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()
    severity: tuple[Severity, ...] = ()


@dataclass(frozen=True, slots=True)
class Advisory:
    """An OSV record reduced to what Sakimori uses, plus the hash of its full content.

    ``content_hash`` is the SHA-256 of the record's canonical JSON (sorted keys, no spaces), so
    the same record read from YAML or JSON has the same hash, and any change changes it.
    """

    id: str
    modified: str
    content_hash: str
    published: str | None = None
    withdrawn: str | None = None
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    summary: str = ""
    details: str = ""
    severity: tuple[Severity, ...] = ()
    affected: tuple[AffectedPackage, ...] = ()
    references: tuple[str, ...] = ()
    database_specific: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def ids(self) -> tuple[str, ...]:
        """The record's own id followed by its aliases."""
        return (self.id, *self.aliases)


@dataclass(frozen=True, slots=True)
class AdvisoryInfo:
    """What a report shows of a stored advisory: ids, summary, severity statements."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    #: ``(type, vector or rating)`` pairs: CVSS vectors, and database ratings such as GHSA's.
    severity: tuple[tuple[str, str], ...]
    modified: str
    published: str | None

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)
