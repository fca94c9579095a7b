"""CISA's Known Exploited Vulnerabilities catalog, one JSON document."""

from __future__ import annotations

from sakimori.formats import kev
from sakimori.formats.limits import DEFAULT_LIMITS, Limits

UPSTREAM_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
RELATIVE_PATH = "kev/known_exploited_vulnerabilities.json"


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> kev.KevCatalog:
    return kev.parse(data, limits)
