"""CVE List V5 record sets: CISA's Vulnrichment (records with CISA's ADP enrichment) and the CVE
Program's full cvelistV5, each fetched as a zip archive of its repository.

Vulnrichment is the default: it carries the SSVC decision points, CVSS, CWE and KEV blocks the
triage uses, and is about a tenth of the full list. cvelistV5 adds every CNA's own metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

from sakimori.formats import cve
from sakimori.formats.limits import DEFAULT_LIMITS, Limits
from sakimori.model.cve import CveRecord


@dataclass(frozen=True, slots=True)
class RecordSet:
    name: str
    upstream_url: str
    relative_path: str


RECORD_SETS = {
    "vulnrichment": RecordSet(
        "vulnrichment",
        "https://github.com/cisagov/vulnrichment/archive/refs/heads/develop.zip",
        "cve/vulnrichment.zip",
    ),
    "cvelistV5": RecordSet(
        "cvelistV5",
        "https://github.com/CVEProject/cvelistV5/archive/refs/heads/main.zip",
        "cve/cvelistV5.zip",
    ),
}


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> list[CveRecord]:
    """Every CVE record in the archive; raises if any record does not parse."""
    return list(cve.iter_zip(data, limits))
