"""CISA KEV catalog: the real catalog, and the checks that refuse broken or truncated ones."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from sakimori.errors import MalformedDocument
from sakimori.formats import kev
from tests.conftest import require_data

ENTRY: dict[str, Any] = {
    "cveID": "CVE-2021-44228",
    "vendorProject": "Apache",
    "product": "Log4j2",
    "vulnerabilityName": "Apache Log4j2 Remote Code Execution Vulnerability",
    "dateAdded": "2021-12-10",
    "shortDescription": "JNDI features do not protect against attacker-controlled endpoints.",
    "requiredAction": "Apply updates per vendor instructions.",
    "dueDate": "2021-12-24",
    "knownRansomwareCampaignUse": "Known",
    "notes": "https://nvd.nist.gov/vuln/detail/CVE-2021-44228",
    "cwes": ["CWE-20", "CWE-400", "CWE-502"],
}
CATALOG: dict[str, Any] = {
    "title": "CISA Catalog of Known Exploited Vulnerabilities",
    "catalogVersion": "2025.08.25",
    "dateReleased": "2025-08-25T17:04:19.9796Z",
    "count": 1,
    "vulnerabilities": [ENTRY],
}


def test_real_catalog() -> None:
    data = require_data("kev", "known_exploited_vulnerabilities.json").read_bytes()
    catalog = kev.parse(data)
    assert catalog.count == 1404
    assert len(catalog.entries) == 1404
    assert catalog.catalog_version == "2025.08.25"
    assert catalog.date_released == "2025-08-25T17:04:19.9796Z"
    assert len({entry.cve_id for entry in catalog.entries}) == 1404
    log4shell = next(e for e in catalog.entries if e.cve_id == "CVE-2021-44228")
    assert log4shell.vendor == "Apache"
    assert log4shell.date_added == "2021-12-10"
    assert kev.sniff(data)


def test_fields() -> None:
    catalog = kev.parse(orjson.dumps(CATALOG))
    (entry,) = catalog.entries
    assert catalog.title == CATALOG["title"]
    assert entry.cve_id == "CVE-2021-44228"
    assert entry.product == "Log4j2"
    assert entry.name.startswith("Apache Log4j2")
    assert entry.due_date == "2021-12-24"
    assert entry.required_action == "Apply updates per vendor instructions."
    assert entry.known_ransomware == "Known"
    assert entry.cwes == ("CWE-20", "CWE-400", "CWE-502")
    assert entry.notes.startswith("https://")


def test_optional_fields_may_be_absent() -> None:
    entry = {k: v for k, v in ENTRY.items() if k not in {"notes", "cwes", "dueDate"}}
    entry.pop("knownRansomwareCampaignUse")
    (parsed,) = kev.parse(orjson.dumps({**CATALOG, "vulnerabilities": [entry]})).entries
    assert (parsed.due_date, parsed.notes, parsed.cwes) == (None, "", ())
    assert parsed.known_ransomware == "Unknown"


def _catalog_with(**changes: object) -> bytes:
    catalog = copy.deepcopy(CATALOG)
    for key, value in changes.items():
        if key in catalog:
            catalog[key] = value
        else:
            catalog["vulnerabilities"][0][key] = value
    return orjson.dumps(catalog)


def _catalog_without(key: str) -> bytes:
    catalog = copy.deepcopy(CATALOG)
    catalog.pop(key, None)
    catalog["vulnerabilities"][0].pop(key, None)
    return orjson.dumps(catalog)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"[]", "must be a JSON object"),
        (b"{", "invalid JSON"),
        (_catalog_without("catalogVersion"), "catalogVersion is missing"),
        (_catalog_with(count=2), "count says 2 but the catalog lists 1 entries"),
        (_catalog_with(count="1"), "count must be a non-negative integer"),
        (_catalog_with(count=True), "count must be a non-negative integer"),
        (_catalog_with(vulnerabilities={}), "vulnerabilities must be a list"),
        (_catalog_with(vulnerabilities=["x"]), "vulnerabilities[0] must be an object"),
        (_catalog_without("cveID"), "vulnerabilities[0].cveID is missing"),
        (_catalog_with(cveID="CVE-21-1"), "is not a CVE id"),
        (_catalog_with(dateAdded="2021-13-45"), "dateAdded '2021-13-45' is not a date"),
        (_catalog_with(dateAdded="20211210"), "is not a date"),
        (_catalog_with(dueDate=5), "dueDate must be a string"),
        (_catalog_without("vendorProject"), "(CVE-2021-44228).vendorProject is missing"),
        (_catalog_without("shortDescription"), "shortDescription is missing"),
        (_catalog_with(cwes="CWE-20"), "cwes must be a list of strings"),
        (_catalog_with(knownRansomwareCampaignUse=1), "knownRansomwareCampaignUse must be"),
    ],
)
def test_malformed_catalogs(data: bytes, text: str) -> None:
    with pytest.raises(MalformedDocument) as caught:
        kev.parse(data)
    assert text in str(caught.value)


def test_sniff() -> None:
    assert kev.sniff(orjson.dumps(CATALOG))
    assert not kev.sniff(b'{"id": "GHSA-1", "modified": "2024-01-01"}')
    assert not kev.sniff(b'{"catalogVersion": "x", "vulnerabilities": {}}')
    assert not kev.sniff(b'{"catalogVersion": ')
    assert not kev.sniff(b"")
