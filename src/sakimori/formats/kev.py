"""CISA's Known Exploited Vulnerabilities catalog (JSON): bytes in, :class:`KevCatalog` out.

Schema: https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities_schema.json.
The fields the schema requires and Sakimori uses are checked; ``count`` must equal the number of
entries, so a truncated download is refused rather than read as a shorter catalog.
``shortDescription`` is checked but not kept (:class:`KevEntry` has no field for it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, NoReturn

from sakimori.errors import InvalidInput, MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json
from sakimori.model.intel import KevEntry

_HINT = "the catalog should follow CISA's known_exploited_vulnerabilities_schema.json"
_CVE_ID = re.compile(r"CVE-[0-9]{4}-[0-9]{4,19}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class KevCatalog:
    """The catalog's metadata and its entries, in the catalog's order."""

    catalog_version: str
    date_released: str
    count: int
    entries: tuple[KevEntry, ...]
    title: str = ""


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> KevCatalog:
    """Parse and validate a KEV catalog."""
    document = load_json(data, limits)
    if not isinstance(document, dict):
        _fail("the catalog must be a JSON object")
    catalog_version = _text(document, "catalogVersion", "catalogVersion")
    date_released = _text(document, "dateReleased", "dateReleased")
    count = document.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        _fail("count must be a non-negative integer")
    vulnerabilities = document.get("vulnerabilities")
    if not isinstance(vulnerabilities, list):
        _fail("vulnerabilities must be a list")
    if count != len(vulnerabilities):
        _fail(f"count says {count:,} but the catalog lists {len(vulnerabilities):,} entries")
    title = document.get("title", "")
    return KevCatalog(
        catalog_version=catalog_version,
        date_released=date_released,
        count=count,
        entries=tuple(_entry(item, index) for index, item in enumerate(vulnerabilities)),
        title=title if isinstance(title, str) else "",
    )


def _entry(item: object, index: int) -> KevEntry:
    where = f"vulnerabilities[{index}]"
    if not isinstance(item, dict):
        _fail(f"{where} must be an object")
    cve_id = _text(item, "cveID", f"{where}.cveID")
    if not _CVE_ID.fullmatch(cve_id):
        _fail(f"{where}.cveID {cve_id!r} is not a CVE id (CVE-YYYY-NNNN)")
    where = f"{where} ({cve_id})"
    _text(item, "shortDescription", f"{where}.shortDescription", allow_empty=True)
    due_date = item.get("dueDate")
    if due_date is not None:
        due_date = _date(item, "dueDate", f"{where}.dueDate")
    ransomware = item.get("knownRansomwareCampaignUse", "Unknown")
    if not isinstance(ransomware, str):
        _fail(f"{where}.knownRansomwareCampaignUse must be a string")
    return KevEntry(
        cve_id=cve_id,
        vendor=_text(item, "vendorProject", f"{where}.vendorProject", allow_empty=True),
        product=_text(item, "product", f"{where}.product", allow_empty=True),
        name=_text(item, "vulnerabilityName", f"{where}.vulnerabilityName", allow_empty=True),
        date_added=_date(item, "dateAdded", f"{where}.dateAdded"),
        due_date=due_date,
        required_action=_text(item, "requiredAction", f"{where}.requiredAction", allow_empty=True),
        known_ransomware=ransomware,
        cwes=_strings(item, "cwes", f"{where}.cwes"),
        notes=_optional_text(item, "notes", f"{where}.notes"),
    )


def _fail(problem: str) -> NoReturn:
    raise MalformedDocument(f"KEV catalog: {problem}", hint=_HINT)


def _text(obj: Mapping[str, Any], key: str, path: str, *, allow_empty: bool = False) -> str:
    value = obj.get(key)
    if value is None:
        _fail(f"{path} is missing")
    if not isinstance(value, str):
        _fail(f"{path} must be a string")
    if not value and not allow_empty:
        _fail(f"{path} is empty")
    return value


def _optional_text(obj: Mapping[str, Any], key: str, path: str) -> str:
    return "" if obj.get(key) is None else _text(obj, key, path, allow_empty=True)


def _date(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = _text(obj, key, path)
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        date.fromisoformat(value)
    except ValueError:
        _fail(f"{path} {value!r} is not a date (YYYY-MM-DD)")
    return value


def _strings(obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        _fail(f"{path} must be a list of strings")
    return tuple(value)


def sniff(data: bytes) -> bool:
    """True if ``data`` looks like a KEV catalog (JSON with catalogVersion and vulnerabilities)."""
    head = data[:4096]
    if b'"catalogVersion"' not in head and b'"vulnerabilities"' not in head:
        return False
    try:
        document = load_json(data)
    except InvalidInput:
        return False
    return (
        isinstance(document, dict)
        and "catalogVersion" in document
        and isinstance(document.get("vulnerabilities"), list)
    )
