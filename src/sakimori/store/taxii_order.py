"""The order in which a TAXII collection's objects become visible.

Clients page with ``added_after`` and resume from the last date-added they saw, so a reader
must never see an object stamped later than one still waiting to commit: the earlier one would
be behind the client's cursor when it appears, and skipped for ever. On PostgreSQL, a writer
takes the collection's advisory lock exclusively *before* it reads the clock for the stamp and
holds it until its transaction ends; a reader takes it shared before it reads. A reader
therefore waits for the writers under way, and every writer that comes after stamps a later
time than anything the reader saw. SQLite writes one transaction at a time and is the
single-process embedded mode; the stamp there is taken just before the rows are written.
"""

from __future__ import annotations

import zlib
from typing import Final

from sqlalchemy import text
from sqlalchemy.orm import Session

#: The first key of the two-key advisory locks: TAXII collections (the second is the name's CRC).
LOCK_SPACE: Final = 0x7A11


def _key(collection: str) -> int:
    return zlib.crc32(collection.encode()) - (1 << 31)  # a signed 32-bit integer


def before_stamping(session: Session, collection: str) -> None:
    """Call in the writer's transaction before reading the clock for ``added_at``."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :key)"),
            {"space": LOCK_SPACE, "key": _key(collection)},
        )


def before_reading(session: Session, collection: str) -> None:
    """Call in the reader's transaction before it selects by ``added_at``."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock_shared(:space, :key)"),
            {"space": LOCK_SPACE, "key": _key(collection)},
        )
