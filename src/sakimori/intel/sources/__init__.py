"""The intel feeds Sakimori fetches: where each lives upstream and in a mirror, and its parser.

One module per feed (:mod:`.osv`, :mod:`.kev`, :mod:`.epss`, :mod:`.cve`, :mod:`.ssvc`) holds
the upstream URL, the path under a mirror, and a ``parse(data, limits)`` that turns fetched
bytes into records with the pure parsers of :mod:`sakimori.formats`. This package only
describes feeds; the service that fetches them (with :class:`sakimori.intel.fetch.Fetcher`)
and stores the results lives elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sakimori.intel.fetch import Mirror
from sakimori.intel.sources import cve, epss, kev, osv, ssvc


class FeedKind(StrEnum):
    OSV = "osv"
    KEV = "kev"
    EPSS = "epss"
    CVE = "cve"
    SSVC = "ssvc"


@dataclass(frozen=True, slots=True)
class Feed:
    """One downloadable feed.

    ``name`` is stable and unique (``osv:PyPI``, ``kev``, ``epss``), fit to key the stored
    validators (ETag, Last-Modified) by; ``relative_path`` is where a mirror keeps the file.
    """

    name: str
    relative_path: str
    upstream_url: str
    kind: FeedKind

    def location(self, mirror: Mirror | None = None) -> str:
        """The URL to fetch: in ``mirror`` if one is configured, else upstream."""
        return self.upstream_url if mirror is None else mirror.locate(self.relative_path)


def osv_feed(ecosystem: str) -> Feed:
    return Feed(
        name=f"osv:{ecosystem}",
        relative_path=osv.relative_path(ecosystem),
        upstream_url=osv.upstream_url(ecosystem),
        kind=FeedKind.OSV,
    )


KEV_FEED = Feed("kev", kev.RELATIVE_PATH, kev.UPSTREAM_URL, FeedKind.KEV)
EPSS_FEED = Feed("epss", epss.RELATIVE_PATH, epss.UPSTREAM_URL, FeedKind.EPSS)


def cve_feed(record_set: str) -> Feed:
    chosen = cve.RECORD_SETS[record_set]
    return Feed(f"cve:{chosen.name}", chosen.relative_path, chosen.upstream_url, FeedKind.CVE)


SSVC_FEEDS = [
    Feed(f"ssvc:{name}", f"ssvc/{path}", ssvc.UPSTREAM_BASE + path, FeedKind.SSVC)
    for name, path in ssvc.TABLES.items()
]


def default_feeds(osv_ecosystems: Iterable[str], cve_sources: Iterable[str] = ()) -> list[Feed]:
    """One OSV feed per ecosystem (in order, without repeats), then KEV, EPSS, the CVE record
    sets asked for, and the SSVC decision tables."""
    ecosystems = dict.fromkeys(osv_ecosystems)
    return [
        *(osv_feed(ecosystem) for ecosystem in ecosystems),
        KEV_FEED,
        EPSS_FEED,
        *(cve_feed(name) for name in dict.fromkeys(cve_sources)),
        *SSVC_FEEDS,
    ]


__all__ = [
    "EPSS_FEED",
    "KEV_FEED",
    "SSVC_FEEDS",
    "Feed",
    "FeedKind",
    "cve",
    "cve_feed",
    "default_feeds",
    "epss",
    "kev",
    "osv",
    "osv_feed",
    "ssvc",
]
