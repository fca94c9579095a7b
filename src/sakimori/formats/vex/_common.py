"""Helpers shared by the three VEX formats: typed access to decoded JSON with the document path
in every error, timestamps, identifier checks, and the texts we write when a format requires a
statement part that the source did not give."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Final, NoReturn
from urllib.parse import unquote

from sakimori.errors import MalformedDocument

#: Written when a format requires an impact statement (a ``not_affected`` statement without a
#: justification) or an action statement (an ``affected`` statement) that the source did not give.
#: Parsers read these exact texts back as "not given", so a round trip does not invent content.
NO_IMPACT_STATEMENT: Final = "No impact statement was given by the source of this VEX statement."
NO_ACTION_STATEMENT: Final = "No action statement was given by the source of this VEX statement."
_PLACEHOLDERS: Final = frozenset({NO_IMPACT_STATEMENT, NO_ACTION_STATEMENT})

_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
    r"(?:[Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)
_PURL = re.compile(r"pkg:[A-Za-z][A-Za-z0-9.+-]*/[^\s]+")
# CPE 2.3 formatted string (NISTIR 7695 §6.2): 11 attributes after "cpe:2.3:"; "*" (any) and "-"
# (not applicable) stand alone; other values are letters, digits, ".", "_", "-" or a
# backslash-escaped punctuation character, with "?" runs or one "*" allowed at either end.
_CPE_VALUE = r"(?:[A-Za-z0-9._-]|\\[\\*?!\"#$%&'()+,/:;<=>@\[\]^`{|}~])+"
_CPE_ATTR = rf"(?:(?:\?*|\*?){_CPE_VALUE}(?:\?*|\*?)|[*-])"
_CPE_LANGUAGE = r"(?:[A-Za-z]{2,3}(?:-(?:[A-Za-z]{2}|[0-9]{3}))?|[*-])"
_CPE23 = re.compile(rf"cpe:2\.3:[aho*-](?::{_CPE_ATTR}){{5}}:{_CPE_LANGUAGE}(?::{_CPE_ATTR}){{4}}")
# CPE 2.2 URI: "cpe:/" part and up to six colon-separated percent-encoded components.
_CPE22 = re.compile(r"[cC][pP][eE]:/[AHOaho]?(?::[A-Za-z0-9._~%-]*){0,6}")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


def fail(message: str) -> NoReturn:
    raise MalformedDocument(message)


def obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail(f"{where} must be a JSON object")
    return value


def opt_obj(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """An optional object member; absent or ``null`` gives ``{}``."""
    value = parent.get(key)
    return {} if value is None else obj(value, f"{where}.{key}")


def opt_list(parent: dict[str, Any], key: str, where: str) -> list[Any]:
    """An optional array member; absent or ``null`` gives ``[]``."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        fail(f"{where}.{key} must be an array")
    return value


def text(parent: dict[str, Any], key: str, where: str) -> str:
    """A required, non-blank string member (surrounding white space removed)."""
    value = opt_text(parent, key, where)
    if value is None:
        fail(f"{where}.{key} is missing")
    return value


def opt_text(parent: dict[str, Any], key: str, where: str) -> str | None:
    """An optional string member; absent, ``null`` or blank gives ``None``."""
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        fail(f"{where}.{key} must be a string")
    return value.strip() or None


def statement_text(
    parent: dict[str, Any], key: str, where: str, *, required: bool = False
) -> str | None:
    """An impact or action statement (required or not); our own placeholders read as absent."""
    value = text(parent, key, where) if required else opt_text(parent, key, where)
    return None if value in _PLACEHOLDERS else value


def strings(values: list[Any], where: str) -> tuple[str, ...]:
    """A list of non-blank strings, stripped, duplicates removed, order kept."""
    seen: dict[str, None] = {}
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            fail(f"{where}[{index}] must be a non-empty string")
        seen[value.strip()] = None
    return tuple(seen)


def timestamp(
    parent: dict[str, Any], key: str, where: str, *, required: bool = False
) -> datetime | None:
    """An RFC 3339 date-time member; one without a UTC offset is read as UTC."""
    value = text(parent, key, where) if required else opt_text(parent, key, where)
    if value is None:
        return None
    if not _TIMESTAMP.fullmatch(value):
        fail(f"{where}.{key} {value!r} is not an RFC 3339 date-time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        fail(f"{where}.{key} {value!r} is not a valid date-time ({exc})")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def version(parent: dict[str, Any], key: str, where: str) -> int:
    """A document version: a positive integer (1 when absent)."""
    value = parent.get(key)
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        fail(f"{where}.{key} must be a positive integer")
    return value


def purl(value: str, where: str) -> str:
    if not _PURL.fullmatch(value):
        fail(f"{where} {value!r} is not a package URL (pkg:type/name@version)")
    return value


def cpe(value: str, where: str) -> str:
    if not (_CPE23.fullmatch(value) or _CPE22.fullmatch(value)):
        fail(f"{where} {value!r} is not a CPE 2.3 formatted string or CPE 2.2 URI")
    return value


def is_uri(value: str) -> bool:
    return _URI_SCHEME.fullmatch(value) is not None


def format_time(moment: datetime) -> str:
    """RFC 3339, ``Z`` for UTC."""
    written = moment.isoformat()
    return written[:-6] + "Z" if written.endswith("+00:00") else written


def derived_id(seed: str) -> str:
    """A stable ``urn:uuid:`` for a document that has no id of its own."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, seed)}"


def id_system(vulnerability: str) -> str:
    """The numbering system of a vulnerability id, from its prefix (``GHSA-…`` → ``GHSA``)."""
    prefix = vulnerability.split("-", 1)[0]
    return prefix if prefix and prefix != vulnerability else "unknown"


def product_name(purl_value: str | None, cpe_value: str | None, ref: str | None) -> str:
    """A readable name for a product the document names only by identifier."""
    if purl_value:
        tail = purl_value.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        name, _, release = tail.partition("@")
        return f"{unquote(name)} {unquote(release)}".strip() or purl_value
    if cpe_value:
        fields = re.split(r"(?<!\\):", cpe_value)
        if cpe_value.startswith("cpe:2.3:") and len(fields) > 5:
            return " ".join(f for f in fields[3:6] if f not in {"*", "-"}) or cpe_value
        return cpe_value
    return ref or "unnamed product"
