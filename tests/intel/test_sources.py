"""Feed definitions, and each feed fetched from a mirror (directory and HTTP) and parsed."""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from pathlib import Path

import pytest

from sakimori.errors import ConfigurationError
from sakimori.intel import sources
from sakimori.intel.fetch import Fetcher, FetchSettings, Mirror
from sakimori.intel.sources import (
    EPSS_FEED,
    KEV_FEED,
    SSVC_FEEDS,
    Feed,
    FeedKind,
    cve_feed,
    default_feeds,
    osv_feed,
)
from tests.conftest import require_data
from tests.intel.conftest import serve_directory

OSV_BASE = "https://osv-vulnerabilities.storage.googleapis.com"


def test_default_feeds() -> None:
    feeds = default_feeds(["PyPI", "npm", "PyPI", "crates.io"])
    assert [f.name for f in feeds] == [
        "osv:PyPI", "osv:npm", "osv:crates.io", "kev", "epss",
        "ssvc:cisa-coordinator", "ssvc:deployer", "ssvc:cisa-bod-26-04",
    ]  # fmt: skip
    assert feeds[0] == Feed(
        "osv:PyPI", "osv/PyPI/all.zip", f"{OSV_BASE}/PyPI/all.zip", FeedKind.OSV
    )
    assert feeds[2].upstream_url == f"{OSV_BASE}/crates.io/all.zip"
    assert feeds[3] == KEV_FEED
    assert KEV_FEED.upstream_url == (
        "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
    )
    assert KEV_FEED.relative_path == "kev/known_exploited_vulnerabilities.json"
    assert EPSS_FEED.upstream_url == "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
    assert EPSS_FEED.relative_path == "epss/epss_scores-current.csv.gz"
    assert [f.kind for f in feeds[2:5]] == [FeedKind.OSV, FeedKind.KEV, FeedKind.EPSS]
    assert default_feeds([]) == [KEV_FEED, EPSS_FEED, *SSVC_FEEDS]
    with_cve = default_feeds([], ["vulnrichment", "cvelistV5", "vulnrichment"])
    assert [f.name for f in with_cve if f.kind is FeedKind.CVE] == [
        "cve:vulnrichment",
        "cve:cvelistV5",
    ]
    assert with_cve[2].upstream_url == (
        "https://github.com/cisagov/vulnrichment/archive/refs/heads/develop.zip"
    )
    # A mirror keeps upstream's layout under ssvc/, as ../shared/data does.
    assert SSVC_FEEDS[0].relative_path == (
        "ssvc/data/json/decision_tables/cisa/cisa_coordinator_2_0_3.json"
    )
    assert SSVC_FEEDS[0].upstream_url.startswith("https://raw.githubusercontent.com/CERTCC/SSVC/")


def test_ecosystem_names_are_quoted_in_urls_only() -> None:
    feed = osv_feed("Debian:12")
    assert feed.upstream_url == f"{OSV_BASE}/Debian%3A12/all.zip"
    assert feed.relative_path == "osv/Debian:12/all.zip"


@pytest.mark.parametrize("name", ["", "../x", "a/b", " PyPI", "..", "x?y"])
def test_bad_ecosystem_names(name: str) -> None:
    with pytest.raises(ConfigurationError):
        osv_feed(name)


def test_location() -> None:
    assert KEV_FEED.location() == KEV_FEED.upstream_url
    mirror = Mirror.from_setting("https://mirror.example/feeds")
    assert KEV_FEED.location(mirror) == (
        "https://mirror.example/feeds/kev/known_exploited_vulnerabilities.json"
    )
    local = Mirror.from_setting("/srv/mirror/")
    assert osv_feed("PyPI").location(local) == "file:///srv/mirror/osv/PyPI/all.zip"


def _build_mirror(root: Path) -> dict[str, int]:
    """A mirror in Sakimori's layout, from the shared data; returns the expected counts."""
    crates = sorted(require_data("osv", "rustsec", "crates").glob("*.json"))
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in crates:
            archive.writestr(path.name, path.read_bytes())
    kev = require_data("kev", "known_exploited_vulnerabilities.json").read_bytes()
    year = require_data("epss", "EPSS_CVE_data", "CVE_2023_EPSS.csv").read_bytes()
    header = b"#model_version:v2025.03.14,score_date:2026-08-15T00:00:00Z\ncve,epss,percentile\n"
    records = sorted(require_data("cve", "2023").rglob("CVE-*.json"))
    cve_zip = io.BytesIO()
    with zipfile.ZipFile(cve_zip, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in records:
            archive.writestr(
                f"vulnrichment-develop/2023/{path.parent.name}/{path.name}", path.read_bytes()
            )
        archive.writestr("vulnrichment-develop/README.md", b"not a record")
    files = {
        osv_feed("crates.io").relative_path: zipped.getvalue(),
        cve_feed("vulnrichment").relative_path: cve_zip.getvalue(),
        KEV_FEED.relative_path: kev,
        EPSS_FEED.relative_path: gzip.compress(header + year.replace(b";", b",")),
    }
    for feed in SSVC_FEEDS:
        files[feed.relative_path] = require_data(*feed.relative_path.split("/")).read_bytes()
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return {
        "osv": len(crates),
        "kev": 1404,
        "epss": year.count(b"\n"),
        "cve": len(records),
        "ssvc": len(SSVC_FEEDS),
    }


def _fetch_and_parse_all(fetcher: Fetcher, mirror: Mirror) -> dict[str, int]:
    counts: dict[str, int] = {}
    for feed in default_feeds(["crates.io"], ["vulnrichment"]):
        result = fetcher.get(feed.location(mirror))
        assert result.status == "ok"
        if feed.kind is FeedKind.OSV:
            advisories = sources.osv.parse(result.content)
            assert all(a.affected[0].ecosystem == "crates.io" for a in advisories if a.affected)
            counts["osv"] = len(advisories)
        elif feed.kind is FeedKind.KEV:
            counts["kev"] = sources.kev.parse(result.content).count
        elif feed.kind is FeedKind.CVE:
            parsed = sources.cve.parse(result.content)
            assert all(r.id.startswith("CVE-2023-") for r in parsed)
            counts["cve"] = len(parsed)
        elif feed.kind is FeedKind.SSVC:
            table = sources.ssvc.parse(result.content)
            assert table.id.split(":")[0] in {"cisa", "ssvc"}
            counts["ssvc"] = counts.get("ssvc", 0) + 1
        else:
            data = sources.epss.parse(result.content)
            assert data.model_version == "v2025.03.14"
            counts["epss"] = data.count
    return counts


def test_feeds_from_a_mirror_directory(tmp_path: Path) -> None:
    expected = _build_mirror(tmp_path)
    mirror = Mirror.from_setting(str(tmp_path))
    with Fetcher(FetchSettings(trust_env=False)) as fetcher:
        assert _fetch_and_parse_all(fetcher, mirror) == expected
        kev_url = KEV_FEED.location(mirror)
        first = fetcher.get(kev_url)
        assert fetcher.get(kev_url, etag=first.etag).status == "not-modified"


def test_feeds_from_a_mirror_over_http(tmp_path: Path) -> None:
    expected = _build_mirror(tmp_path)
    with serve_directory(tmp_path) as base, Fetcher(FetchSettings(trust_env=False)) as fetcher:
        mirror = Mirror.from_setting(base + "/")
        assert _fetch_and_parse_all(fetcher, mirror) == expected
        kev_url = KEV_FEED.location(mirror)
        first = fetcher.get(kev_url)
        assert first.last_modified is not None
        again = fetcher.get(kev_url, last_modified=first.last_modified)
        assert again.status == "not-modified"
        kev_file = tmp_path / KEV_FEED.relative_path
        later = kev_file.stat().st_mtime + 10
        os.utime(kev_file, (later, later))
        assert fetcher.get(kev_url, last_modified=first.last_modified).status == "ok"
