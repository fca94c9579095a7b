"""CVE List V5 records (CVE JSON 5.x) reduced to what triage uses, plus the raw ``affected`` list.

A record has one CNA container (the CVE Numbering Authority's statement) and any number of ADP
containers (Authorized Data Publishers, among them CISA's "Vulnrichment", which adds SSVC
decision points, CVSS, CWE and a KEV block). Every metric, weakness and reference keeps the
container it came from, so an explanation can say where a fact was read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: CVSS versions as the CVE format names their metric blocks.
CVSS_BLOCKS: dict[str, str] = {
    "cvssV4_0": "4.0",
    "cvssV3_1": "3.1",
    "cvssV3_0": "3.0",
    "cvssV2_0": "2.0",
}

Exploitation = Literal["none", "poc", "active"]
YesNo = Literal["yes", "no"]
TechnicalImpact = Literal["partial", "total"]


@dataclass(frozen=True, slots=True)
class CvssMetric:
    """One CVSS statement: version (``3.1``), vector string, base score, and its container."""

    version: str
    vector: str
    source: str
    base_score: float | None = None

    @property
    def type(self) -> str:
        """The OSV severity type for this version: ``CVSS_V4``, ``CVSS_V3`` or ``CVSS_V2``."""
        return "CVSS_V" + self.version[0]


@dataclass(frozen=True, slots=True)
class Weakness:
    """A CWE id (``CWE-79``) from a ``problemTypes`` entry, and its container."""

    cwe: str
    source: str


@dataclass(frozen=True, slots=True)
class CveReference:
    """A reference URL with its tags (``exploit``, ``patch``, ``vendor-advisory``…)."""

    url: str
    tags: tuple[str, ...]
    source: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class CisaSsvc:
    """CISA's SSVC decision points for a CVE (the Vulnrichment ADP's ``other`` metric ``ssvc``).

    Values are lower case, as CISA writes them (some records capitalise them; the parser folds).
    """

    exploitation: Exploitation
    automatable: YesNo
    technical_impact: TechnicalImpact
    version: str = ""
    timestamp: str = ""
    role: str = ""
    source: str = "CISA-ADP"


@dataclass(frozen=True, slots=True)
class CveKev:
    """The KEV block CISA's ADP adds to a CVE record in the Known Exploited Vulnerabilities list."""

    date_added: str
    reference: str = ""
    source: str = "CISA-ADP"


@dataclass(frozen=True, slots=True)
class CveRecord:
    """A CVE record. ``content_hash`` is the SHA-256 of its canonical JSON (sorted keys), so an
    unchanged record is recognised and skipped when loading incrementally.

    ``affected`` is the CNA's ``affected`` list as written (vendor/product/version ranges, to be
    matched in a later issue). ``notes`` lists optional parts that were present but unreadable
    and so were left out (the record itself is still good).
    """

    id: str
    state: str
    content_hash: str
    data_version: str = ""
    assigner: str = ""
    date_updated: str | None = None
    date_published: str | None = None
    title: str = ""
    description: str = ""
    cvss: tuple[CvssMetric, ...] = ()
    weaknesses: tuple[Weakness, ...] = ()
    ssvc: CisaSsvc | None = None
    kev: CveKev | None = None
    references: tuple[CveReference, ...] = ()
    affected: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    notes: tuple[str, ...] = ()

    @property
    def cwes(self) -> tuple[str, ...]:
        """The distinct CWE ids of the CNA and the ADPs, in the order first seen."""
        return tuple(dict.fromkeys(w.cwe for w in self.weaknesses))

    @property
    def rejected(self) -> bool:
        return self.state == "REJECTED"
