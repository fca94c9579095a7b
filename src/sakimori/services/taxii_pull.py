"""Pulling partners' TAXII 2.1 collections: the sources, the pull, and the collections it fills
(docs/packages.md, "Pulling partners' collections").

A **source** (``taxii_source``) is a partner's collection URL, credentials (sealed with a key
derived from the server key, like webhook secrets), the most restricted TLP label accepted
(``max_tlp``: CLEAR … AMBER+STRICT; never RED), an interval, and the **cursor**: the partner's
``X-TAXII-Date-Added-Last`` of the last page taken.

A **pull** pages through the partner's collection (``added_after``: the cursor, moved back by
one microsecond so objects added at that very instant on a page not yet taken are not lost;
``limit``; ``next``), through ``sakimori.packages.taxii_client``. Each object is checked as the
server checks what clients POST (``stix.check``: STIX 2.1, parsed by ``stix2``, never TLP:RED),
then against the source's ``max_tlp`` (``taxii.pulled_label``: unmarked objects count as
AMBER). What is accepted goes into the source's own collection (``taxii_object``, collection
``taxii.pulled_collection(name)``) — **one transaction per page, with the cursor**, under a lock
on the source row: an interrupted pull resumes after the last page stored, and an object
version already held is not stored twice. A failing partner (unreachable, an error answer, an
answer too large or not an envelope) stops the pull: the page is not stored, the cursor does not
move, ``last_error`` says why.

The pulled collections are served by this instance's TAXII server to staff only (they read
everything, whatever its TLP): ``collections`` / ``collection`` below add them to the static
collections that ``services.access`` knows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import delete, select

from sakimori.config import Settings
from sakimori.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    SakimoriError,
)
from sakimori.notify import sealing
from sakimori.packages import stix, taxii
from sakimori.packages.model import Tlp
from sakimori.packages.taxii_client import PartnerCollection, PartnerPage, check_url
from sakimori.services import access
from sakimori.services.taxii_store import object_row, stix_time
from sakimori.store import models, taxii_order
from sakimori.store.db import Database

log = logging.getLogger(__name__)

#: Objects asked for per request (a server may give fewer: Sakimori gives 500).
PAGE_LIMIT: Final = 1000
#: The largest answer accepted for one page (bounded further by SAKIMORI_MAX_INPUT_BYTES).
MAX_PAGE_BYTES: Final = 32 * 1024 * 1024
#: A bound on the pages of one pull (a partner that always says ``more``).
MAX_PAGES: Final = 10_000
_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_SEAL_CONTEXT: Final = b"sakimori taxii sources v1:"
_MICRO: Final = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class SourceView:
    name: str
    url: str
    user_name: str | None
    has_secret: bool
    max_tlp: str
    interval_minutes: int
    added_after: str | None
    last_pulled_at: datetime | None
    last_count: int
    last_error: str | None
    active: bool
    created_by: str
    collection: str
    collection_alias: str


@dataclass
class PullReport:
    source: str
    collection: str
    cursor_before: str | None
    cursor_after: str | None = None
    pages: int = 0
    received: int = 0
    stored: int = 0
    already_held: int = 0
    #: reason -> how many objects were refused for it
    refused: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def refuse(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _view(row: models.TaxiiSourceRow) -> SourceView:
    pulled = taxii.pulled_collection(row.name)
    return SourceView(
        row.name,
        row.url,
        row.user_name,
        row.sealed_secret is not None,
        row.max_tlp,
        row.interval_minutes,
        row.added_after,
        _aware(row.last_pulled_at),
        row.last_count,
        row.last_error,
        row.active,
        row.created_by,
        pulled.id,
        pulled.alias,
    )


def _seal_key(server_key: bytes) -> bytes:
    # Its own key (not the webhook secrets' one): a sealed secret does not open elsewhere.
    return sealing.derive(_SEAL_CONTEXT + server_key)


def max_tlp_of(label: str) -> Tlp:
    tlp = Tlp.parse(label)
    if tlp is Tlp.RED:
        raise InvalidInput(
            "a pulled collection never takes TLP:RED: it is for named people, and every "
            "coordinator staff member reads a pulled collection",
            hint="use AMBER+STRICT at most",
        )
    return tlp


# -- sources --------------------------------------------------------------------------------------


def add_source(
    db: Database,
    server_key: bytes,
    name: str,
    url: str,
    *,
    actor: str,
    user: str | None = None,
    secret: str | None = None,
    max_tlp: str = "GREEN",
    every: int = 60,
) -> SourceView:
    """Register a partner's collection; everything is checked before anything is written."""
    if not _NAME.match(name):
        raise InvalidInput(
            f"source name {name!r} is not a short name",
            hint="lower-case letters, digits and '-', up to 63 characters",
        )
    checked = check_url(url)
    label = max_tlp_of(max_tlp)
    if not 5 <= every <= 7 * 24 * 60:
        raise InvalidInput(f"--every {every}: the interval must be 5 to 10,080 minutes")
    if user and not secret:
        raise InvalidInput(f"a user name ({user}) needs a password", hint="give --password-file")
    with db.transaction() as session:
        taken = session.scalar(
            select(models.TaxiiSourceRow.id).where(models.TaxiiSourceRow.name == name)
        )
        if taken is not None:
            raise Conflict(f"there is already a TAXII source {name}", hint="remove it first")
        row = models.TaxiiSourceRow(
            name=name,
            url=checked,
            user_name=user or None,
            sealed_secret=None,
            max_tlp=label.value,
            interval_minutes=every,
            added_after=None,
            last_count=0,
            active=True,
            created_by=actor,
            created_at=_now(),
        )
        session.add(row)
        session.flush()
        if secret:
            row.sealed_secret = sealing.seal(_seal_key(server_key), secret, row.id)
        return _view(row)


def list_sources(db: Database) -> list[SourceView]:
    with db.transaction() as session:
        rows = session.scalars(select(models.TaxiiSourceRow).order_by(models.TaxiiSourceRow.name))
        return [_view(r) for r in rows]


def remove_source(db: Database, name: str) -> int:
    """Remove the source and the objects pulled from it; how many objects went."""
    collection = taxii.pulled_collection(name).id
    with db.transaction() as session:
        row = session.scalar(
            select(models.TaxiiSourceRow).where(models.TaxiiSourceRow.name == name)
        )
        if row is None:
            raise NotFound(f"no TAXII source {name}", hint="see `sakimori taxii source list`")
        gone = session.execute(
            delete(models.TaxiiObjectRow).where(models.TaxiiObjectRow.collection == collection)
        )
        session.delete(row)
        return int(getattr(gone, "rowcount", 0) or 0)


# -- the pull -------------------------------------------------------------------------------------

Connect = Callable[[models.TaxiiSourceRow, str | None], PartnerCollection]


def _connector(settings: Settings) -> Connect:
    def connect(row: models.TaxiiSourceRow, secret: str | None) -> PartnerCollection:
        return PartnerCollection(
            row.url,
            user=row.user_name,
            secret=secret,
            timeout=settings.http_timeout,
            max_bytes=min(MAX_PAGE_BYTES, settings.limits.max_bytes),
        )

    return connect


def _secret(server_key: bytes, row: models.TaxiiSourceRow) -> str | None:
    if row.sealed_secret is None:
        return None
    try:
        return sealing.unseal(_seal_key(server_key), row.sealed_secret, row.id)
    except ConfigurationError:
        raise ConfigurationError(
            f"the credentials of TAXII source {row.name} do not open with this server key",
            hint="was SAKIMORI_TOKEN_KEY_FILE replaced? remove the source and add it again",
        ) from None


def _request_after(cursor: str | None) -> str | None:
    """The ``added_after`` asked for: the cursor moved back by one microsecond."""
    if cursor is None:
        return None
    return stix_time(taxii.parse_timestamp(cursor, "the stored cursor") - _MICRO)


@contextmanager
def _locked(db: Database, name: str) -> Iterator[tuple[Any, models.TaxiiSourceRow]]:
    with db.transaction() as session:
        row = session.scalar(
            select(models.TaxiiSourceRow)
            .where(models.TaxiiSourceRow.name == name)
            .with_for_update()
        )
        if row is None:
            raise NotFound(f"no TAXII source {name}", hint="see `sakimori taxii source list`")
        yield session, row


def _checked(
    page: PartnerPage, max_tlp: Tlp, report: PullReport
) -> list[tuple[dict[str, Any], str]]:
    """The objects of a page this source takes, each with its version; refusals counted."""
    taken: list[tuple[dict[str, Any], str]] = []
    for item in page.objects:
        checked, why = stix.check(item)
        if checked is None:
            report.refuse(why)
            continue
        label, marked = taxii.pulled_label(checked)
        if not taxii.accepts(label, max_tlp):
            said = f"TLP:{label.value}" if marked else f"unmarked (taken as TLP:{label.value})"
            report.refuse(f"{said}, above this source's TLP:{max_tlp.value}")
            continue
        taken.append((checked, str(checked.get("modified") or checked.get("created") or "")))
    return taken


def _store(
    session: Any, collection: str, name: str, taken: list[tuple[dict[str, Any], str]]
) -> tuple[int, int]:
    """Insert what is not held yet; (stored, already held). An object without ``created`` or
    ``modified`` (a cyber-observable: its id is derived from its value) has one version: the
    time it was first stored here, as the server does for such objects clients add."""
    row = models.TaxiiObjectRow
    ids = {item["id"] for item, _ in taken}
    held: set[tuple[str, str]] = set()
    if ids:
        for ident, version in session.execute(
            select(row.object_id, row.version).where(
                row.collection == collection, row.object_id.in_(ids)
            )
        ):
            held.update({(ident, version), (ident, "")})
    taxii_order.before_stamping(session, collection)
    now = _now()
    stored = 0
    seen: set[tuple[str, str]] = set()
    for item, stated in taken:
        key = (item["id"], stated)
        if key in held or key in seen:
            continue
        seen.add(key)
        version = stated or stix_time(now)
        session.add(object_row(collection, item, version, now, f"taxii:{name}"))
        stored += 1
    return stored, len(taken) - stored


def pull(
    db: Database,
    settings: Settings,
    name: str,
    *,
    server_key: bytes,
    connect: Connect | None = None,
    max_pages: int = MAX_PAGES,
) -> PullReport:
    """Pull the source now. A failure is recorded in ``last_error`` and raised; the pages taken
    before it stay, with the cursor after them."""
    with db.transaction() as session:
        row = session.scalar(
            select(models.TaxiiSourceRow).where(models.TaxiiSourceRow.name == name)
        )
        if row is None:
            raise NotFound(f"no TAXII source {name}", hint="see `sakimori taxii source list`")
        session.expunge(row)
    collection = taxii.pulled_collection(name).id
    report = PullReport(name, collection, row.added_after)
    try:
        secret = _secret(server_key, row)
        with (connect or _connector(settings))(row, secret) as partner:
            _pages(db, partner, row, report, max_pages)
    except SakimoriError as exc:
        report.error = exc.diagnostics()
        log.warning("TAXII source %s: %s", name, report.error)
        with _locked(db, name) as (_, locked):
            locked.last_error = report.error[:2000]
            locked.last_pulled_at = _now()
        raise
    with _locked(db, name) as (_, locked):
        locked.last_error = None
        locked.last_pulled_at = _now()
        locked.last_count = report.stored
    return report


def _pages(
    db: Database,
    partner: PartnerCollection,
    source: models.TaxiiSourceRow,
    report: PullReport,
    max_pages: int,
) -> None:
    max_tlp = max_tlp_of(source.max_tlp)
    added_after = _request_after(source.added_after)
    following: str | None = None
    report.cursor_after = source.added_after
    while report.pages < max_pages:
        page = partner.page(added_after=added_after, next_=following, limit=PAGE_LIMIT)
        taken = _checked(page, max_tlp, report)
        with _locked(db, source.name) as (session, locked):
            if locked.added_after != report.cursor_after:
                raise Conflict(
                    f"source {source.name} was pulled by another process meanwhile; this pull "
                    "stopped (nothing of this page was stored)"
                )
            stored, held = _store(session, report.collection, source.name, taken)
            if page.added_last:
                locked.added_after = page.added_last
        report.pages += 1
        report.received += len(page.objects)
        report.stored += stored
        report.already_held += held
        if page.added_last:
            report.cursor_after = page.added_last
        if not page.more:
            return
        if page.next is None:  # a server without next: continue after its last date added
            if not page.added_last or page.added_last == added_after:
                return
            added_after = page.added_last
        following = page.next


def due(db: Database, now: datetime | None = None) -> list[str]:
    """The active sources whose interval has passed since their last pull (or attempt)."""
    moment = now or _now()
    with db.transaction() as session:
        rows = session.scalars(
            select(models.TaxiiSourceRow).where(models.TaxiiSourceRow.active.is_(True))
        ).all()
        names = []
        for r in sorted(rows, key=lambda r: r.name):
            last = _aware(r.last_pulled_at)
            if last is None or last + timedelta(minutes=r.interval_minutes) <= moment:
                names.append(r.name)
        return names


def pull_due(
    db: Database, settings: Settings, *, server_key: bytes, now: datetime | None = None
) -> list[PullReport]:
    """Pull every source that is due; a failing partner is recorded and the others go on."""
    reports: list[PullReport] = []
    for name in due(db, now):
        try:
            reports.append(pull(db, settings, name, server_key=server_key))
        except SakimoriError as exc:
            reports.append(PullReport(name, taxii.pulled_collection(name).id, None, error=str(exc)))
    return reports


# -- the pulled collections, served by TAXII -----------------------------------------------------


def _pulled(db: Database) -> dict[str, taxii.Collection]:
    with db.transaction() as session:
        names = session.scalars(select(models.TaxiiSourceRow.name)).all()
    made = (taxii.pulled_collection(n) for n in names)
    return {c.id: c for c in made}


def collections(db: Database, principal: access.Principal) -> list[dict[str, Any]]:
    """The collections the caller may read or write: the static ones (``services.access``),
    and for staff the pulled ones."""
    found = access.taxii_collections(principal)
    role = principal.role.value
    if role in taxii.STAFF:
        found.extend(c.resource(role) for c in _pulled(db).values())
    return found


def collection(
    db: Database, principal: access.Principal, collection_id: str, *, write: bool = False
) -> taxii.Collection:
    """A static collection as ``access.taxii_collection`` decides, else a pulled one: staff
    read it, nobody writes it (403); for anyone else it does not exist (404)."""
    try:
        found: taxii.Collection = access.taxii_collection(principal, collection_id, write=write)
        return found
    except NotFound:
        pulled = _pulled(db).get(collection_id)
        role = principal.role.value
        if pulled is None or role not in pulled.readers:
            raise
        if write:
            raise PermissionDenied(
                f"{pulled.alias} is filled by pulling the partner; nobody adds objects to it"
            ) from None
        return pulled
