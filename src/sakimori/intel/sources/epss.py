"""FIRST EPSS: the current day's scores for every published CVE, gzip-compressed CSV."""

from __future__ import annotations

from sakimori.formats import epss
from sakimori.formats.limits import DEFAULT_LIMITS, Limits

UPSTREAM_URL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
RELATIVE_PATH = "epss/epss_scores-current.csv.gz"


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> epss.EpssData:
    return epss.parse(data, limits)
