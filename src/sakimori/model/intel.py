"""Exploitation intelligence: CISA KEV entries and FIRST EPSS scores."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KevEntry:
    """One vulnerability of CISA's Known Exploited Vulnerabilities catalog."""

    cve_id: str
    vendor: str
    product: str
    name: str
    date_added: str
    due_date: str | None = None
    required_action: str = ""
    known_ransomware: str = "Unknown"
    cwes: tuple[str, ...] = ()
    notes: str = ""


@dataclass(frozen=True, slots=True)
class EpssScore:
    """FIRST EPSS: the probability of exploitation activity in the next 30 days, and percentile."""

    cve_id: str
    epss: float
    percentile: float
