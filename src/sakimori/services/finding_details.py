"""Finding details: what matching says about one vulnerability of one package-version.

A finding's aliases, the advisory records that matched, its fixed versions and its triage shape
do not depend on the asset: every asset holding ``babel 2.8.0`` gets the same from the same
intel. So they live in one ``finding_detail`` row per *identity* — kind, key, purl and OS
release, the inputs of matching — that all those findings point to (ADR 0001 part (e)). When an
advisory changes, a refresh rewrites the details of the package-versions it matched (a handful
of rows) instead of the aliases and fixed versions of every finding (ten thousand).

A detail holds the latest match of its identity: an upload or a refresh that matched with the
same or newer intel replaces it. ``matched_at`` is the time of the transaction that matched;
a write with an older time is not applied, so an upload that began before an intel load and
commits after it does not put back the older content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Text, bindparam, cast, select, update
from sqlalchemy.orm import Session

from sakimori.model.finding import Finding as FoundVulnerability
from sakimori.services.assessment_store import Content as ShapeContent
from sakimori.services.assessment_store import insert_statement, shape_ids
from sakimori.store import models
from sakimori.store.intel import chunks

DETAIL = models.Base.metadata.tables["finding_detail"]


@dataclass(frozen=True, slots=True)
class Detail:
    """The content of a detail: what a new match writes."""

    vulnerability: str
    aliases: tuple[str, ...]
    records: tuple[str, ...]
    fixed: tuple[str, ...]

    @classmethod
    def of(cls, found: FoundVulnerability) -> Detail:
        return cls(found.vulnerability, found.aliases, found.records, found.fixed)

    def shape(self) -> ShapeContent:
        """Its triage shape: what the vulnerability decision points depend on."""
        return self.vulnerability, self.aliases, self.records, bool(self.fixed)

    def texts(self) -> tuple[str, str, str]:
        """The JSON text the engine stores for the lists (``store.db`` serialises with orjson),
        to compare with what is stored without parsing it."""
        aliases, records, fixed = (
            orjson.dumps(list(part)).decode() for part in (self.aliases, self.records, self.fixed)
        )
        return aliases, records, fixed


@dataclass(frozen=True, slots=True)
class Stored:
    """A detail as it stands after :func:`store_details`: its id, and whether this call
    created it or changed its content."""

    id: int
    changed: bool


def identity(kind: str, key: str, vulnerability: str, purl: str | None, release: str | None) -> str:
    """The digest that names a detail (migration 0015 computes the same for existing
    findings)."""
    return hashlib.sha256(orjson.dumps([kind, key, vulnerability, purl, release])).hexdigest()


def package_identity(key: str, found: FoundVulnerability) -> str:
    return identity("package", key, found.vulnerability, found.purl, found.release)


def store_details(
    session: Session, details: Mapping[str, Detail], now: datetime
) -> dict[str, Stored]:
    """Make each detail (by identity digest) stand as given, matched at ``now``; returns them
    by digest. Reads the stored ones (one query per 900), inserts the missing, rewrites those
    whose content differs — unless a transaction that matched later already wrote them."""
    stored: dict[str, tuple[int, tuple[str, str, str]]] = {}
    columns = (
        DETAIL.c.digest,
        DETAIL.c.id,
        cast(DETAIL.c.aliases, Text),
        cast(DETAIL.c.records, Text),
        cast(DETAIL.c.fixed_versions, Text),
    )

    def read(digests: Sequence[str]) -> None:
        for part in chunks(digests, 900):
            for digest, detail_id, *texts in session.execute(
                select(*columns).where(DETAIL.c.digest.in_(part))
            ):
                stored[digest] = (detail_id, (texts[0], texts[1], texts[2]))

    read(sorted(details))
    missing = [digest for digest in sorted(details) if digest not in stored]
    # In id order: concurrent writers lock the rows they rewrite in the same order (no deadlock).
    changed = sorted(
        (
            digest
            for digest, (_, texts) in stored.items()
            if texts != details[digest].texts() and _differs(texts, details[digest])
        ),
        key=lambda digest: stored[digest][0],
    )
    wanted = {details[d].shape() for d in (*missing, *changed)}
    shapes = shape_ids(session, wanted) if wanted else {}
    if missing:
        # A concurrent transaction may insert the same detail: the same content, keep theirs.
        statement = insert_statement(session, DETAIL).on_conflict_do_nothing(
            index_elements=["digest"]
        )
        rows = [_values(details[digest], shapes, now) | {"digest": digest} for digest in missing]
        for batch in chunks(rows, 1000):
            session.execute(statement, list(batch))
        read(missing)
    if changed:
        # The columns :func:`_values` writes, as parameters (an UPDATE's bound names must not
        # be its columns' names).
        written = _values(details[changed[0]], shapes, now)
        statement = (
            update(DETAIL)
            .where(
                DETAIL.c.id == bindparam("detail"),
                DETAIL.c.matched_at <= bindparam("new_matched_at"),
            )
            .values({name: bindparam(f"new_{name}") for name in written})
        )
        rows = []
        for digest in changed:
            values = _values(details[digest], shapes, now)
            rows.append({"detail": stored[digest][0]} | {f"new_{k}": v for k, v in values.items()})
        session.execute(statement, rows, execution_options={"synchronize_session": False})
    touched = {*missing, *changed}
    return {digest: Stored(stored[digest][0], digest in touched) for digest in details}


def attach_details(
    session: Session, rows: Sequence[dict[str, Any]], now: datetime
) -> dict[str, Stored]:
    """For ``finding`` rows written directly (bulk loads, data migrations, tests): take each
    row's ``aliases``, ``records`` and ``fixed_versions`` (as matching gives them) to its
    detail, and set its ``detail_id``."""
    digests = []
    details: dict[str, Detail] = {}
    for row in rows:
        detail = Detail(
            row["vulnerability"],
            tuple(row.pop("aliases", ())),
            tuple(row.pop("records", ())),
            tuple(row.pop("fixed_versions", ())),
        )
        digest = identity(
            row["kind"], row["key"], row["vulnerability"], row.get("purl"), row.pop("release", None)
        )
        digests.append(digest)
        details.setdefault(digest, detail)
    stored = store_details(session, details, now)
    for row, digest in zip(rows, digests, strict=True):
        row["detail_id"] = stored[digest].id
    return stored


def _differs(texts: tuple[str, str, str], detail: Detail) -> bool:
    """Whether stored JSON text holds other lists than ``detail`` (the text may differ only
    in spacing, as PostgreSQL's ``json`` keeps what it was given)."""
    parsed = tuple(tuple(orjson.loads(t)) for t in texts)
    return parsed != (detail.aliases, detail.records, detail.fixed)


def _values(detail: Detail, shapes: Mapping[ShapeContent, int], now: datetime) -> dict[str, object]:
    return {
        "vulnerability": detail.vulnerability,
        "aliases": list(detail.aliases),
        "records": list(detail.records),
        "fixed_versions": list(detail.fixed),
        "shape_id": shapes[detail.shape()],
        "matched_at": now,
    }


__all__ = [
    "Detail",
    "Stored",
    "attach_details",
    "identity",
    "package_identity",
    "store_details",
]
