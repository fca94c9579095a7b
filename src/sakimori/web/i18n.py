"""Languages and times: gettext catalogues (Babel ``.po`` files) and the time zone pages use.

The catalogues are read from ``locale/<language>/LC_MESSAGES/messages.po`` when the app is
built and compiled in memory, so a clean clone needs no compile step. English is the source
language (its catalogue is empty: every ``msgid`` is its own translation). To add a language,
see docs/web.md.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR: Final = Path(__file__).parent / "locale"
LANGUAGES: Final = ("en", "ja")
DEFAULT_LANGUAGE: Final = "en"
#: The zone times are shown in (the demo's national coordinator is in Japan).
DEFAULT_ZONE: Final = ZoneInfo("Asia/Tokyo")
LANGUAGE_NAMES: Final[Mapping[str, str]] = {"en": "English", "ja": "日本語"}


def load_translations(language: str) -> Translations:
    """The catalogue of ``language``, compiled from its ``.po`` file."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


def choose_language(preference: str | None, accept_language: str | None) -> str:
    """The user's stored preference if it is one we have, else the best of Accept-Language."""
    if preference in LANGUAGES:
        return preference
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def when(moment: datetime | date | None, zone: ZoneInfo = DEFAULT_ZONE) -> str:
    """A time for a person: minutes, in ``zone``, with the zone's abbreviation shown."""
    if moment is None:
        return "—"
    if not isinstance(moment, datetime):
        return moment.isoformat()
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
