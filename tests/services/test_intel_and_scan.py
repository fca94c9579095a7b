"""The intel and scan services on SQLite and on PostgreSQL, with real data."""

from __future__ import annotations

from pathlib import Path

from sakimori.formats.limits import Limits
from sakimori.services.intel import load_paths, status
from sakimori.services.scan import scan_paths
from sakimori.store.db import open_database
from tests.conftest import require_data


def test_load_then_scan_on_both_databases(database_url: str) -> None:
    db = open_database(database_url)
    try:
        report = load_paths(
            db,
            [
                require_data("osv", "ghsa"),
                require_data("osv", "pypi", "vulns", "django"),
                require_data("kev", "known_exploited_vulnerabilities.json"),
                require_data("epss", "EPSS_CVE_data", "CVE_2021_EPSS.csv"),
            ],
            Limits(),
        )
        assert not report.failed
        assert [s.status for s in report.sources] == ["loaded"] * 4
        again = load_paths(db, [require_data("osv", "ghsa")], Limits())
        assert again.sources[0].status == "unchanged"
        assert again.files_read == 0  # SOURCES.md (not intel) was remembered as well
        current = status(db)
        assert current.counts["kev"] == 1404
        assert current.counts["advisories"] > 300
        lockfile = require_data(
            "lockfiles", "osv-scanner-add393a", "cmd", "osv-scanner", "scan", "source",
            "testdata", "locks-insecure", "composer.lock",
        )  # fmt: skip
        scanned = scan_paths(db, [lockfile])
        assert any(
            f.package == "league/flysystem" and "CVE-2021-32708" in (f.vulnerability, *f.aliases)
            for f in scanned.findings
        )
    finally:
        db.dispose()


def test_scan_walks_directories_and_lists_what_it_ignored(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        load_paths(db, [require_data("osv", "pypi", "vulns", "django")], Limits())
        folder = require_data("lockfiles", "osv-scanner-5058d47", "pkg", "lockfile", "fixtures")
        report = scan_paths(db, [folder])
        assert len(report.inventories) >= 40
        assert any(f.package == "django" for f in report.findings)
        assert all("LICENSE" not in path for path, _ in report.ignored_files)
    finally:
        db.dispose()


def test_cve_records_load_incrementally(database_url: str) -> None:
    db = open_database(database_url)
    try:
        folder = require_data("cve")
        first = load_paths(db, [folder], Limits())
        assert first.sources[0].kind == "cve"
        assert status(db).counts["cve_records"] == 1023
        again = load_paths(db, [folder], Limits())
        assert again.files_read == 0
        assert again.sources[0].status == "unchanged"
    finally:
        db.dispose()
