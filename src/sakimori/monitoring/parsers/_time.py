"""Timestamps as logs write them, turned into aware datetimes and POSIX seconds.

Every function returns ``(datetime, seconds)`` or ``None`` when the text is not a timestamp of
that shape; none raises. Parsed values are memoised per distinct string: log lines arrive many
per second, so most lines hit the cache (it is cleared when it reaches ``_CACHE_MAX`` entries,
which bounds its memory).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_CACHE_MAX = 8192
_clf_cache: dict[str, tuple[datetime, float] | None] = {}
_zones: dict[str, tzinfo] = {"+0000": UTC, "-0000": UTC}

Stamp = tuple[datetime, float]


def _zone(text: str) -> tzinfo | None:
    zone = _zones.get(text)
    if zone is None:
        if len(text) != 5 or text[0] not in "+-" or not text[1:].isdigit():
            return None
        minutes = int(text[1:3]) * 60 + int(text[3:5])
        zone = timezone(timedelta(minutes=-minutes if text[0] == "-" else minutes))
        _zones[text] = zone
    return zone


def clf_cache() -> dict[str, Stamp | None]:
    """The memo of ``clf`` (read-only for callers: a hit without the function call)."""
    return _clf_cache


def clf(text: str) -> Stamp | None:
    """``10/Oct/2023:08:32:31 +0000`` (the Common Log Format's ``%t`` without brackets)."""
    try:
        return _clf_cache[text]
    except KeyError:
        pass
    value: Stamp | None = None
    # dd/Mon/yyyy:HH:MM:SS +zzzz
    if len(text) == 26 and text[2] == "/" and text[6] == "/" and text[11] == ":":
        month = MONTHS.get(text[3:6])
        zone = _zone(text[21:])
        digits = text[0:2] + text[7:11] + text[12:14] + text[15:17] + text[18:20]
        if month is not None and zone is not None and digits.isdigit():
            try:
                moment = datetime(
                    int(text[7:11]),
                    month,
                    int(text[0:2]),
                    int(text[12:14]),
                    int(text[15:17]),
                    int(text[18:20]),
                    tzinfo=zone,
                )
            except ValueError:
                moment = None
            if moment is not None:
                value = (moment, moment.timestamp())
    if len(_clf_cache) >= _CACHE_MAX:
        _clf_cache.clear()
    _clf_cache[text] = value
    return value


def iso(text: str, default_zone: tzinfo = UTC) -> Stamp | None:
    """ISO 8601 / RFC 3339, any number of fractional digits; no offset means ``default_zone``."""
    if len(text) < 10 or not text[:4].isdigit():
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=default_zone)
    return moment, moment.timestamp()


def epoch(value: float) -> Stamp | None:
    """POSIX time in seconds, milliseconds, microseconds or nanoseconds (told apart by size)."""
    if value != value or value < 0:  # NaN or negative
        return None
    if value > 1e17:
        value /= 1e9
    elif value > 1e14:
        value /= 1e6
    elif value > 1e11:
        value /= 1e3
    try:
        moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment, value


def syslog(month: str, day: int, clock: str, year: int, zone: tzinfo) -> Stamp | None:
    """``Mar  1 12:00:00`` in the given year and zone (syslog lines carry neither)."""
    number = MONTHS.get(month)
    if number is None or len(clock) != 8:
        return None
    try:
        moment = datetime(
            year, number, day, int(clock[0:2]), int(clock[3:5]), int(clock[6:8]), tzinfo=zone
        )
    except ValueError:
        return None
    return moment, moment.timestamp()
