"""`sakimori intel load|sync|status` against real files and a real HTTP mirror on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sakimori.config import Settings
from sakimori.intel.sources import SSVC_FEEDS
from sakimori.store import intel as store
from sakimori.store.db import open_database
from tests.cli.conftest import Cli
from tests.conftest import require_data
from tests.intel.conftest import serve_directory


def counts(home: Path) -> dict[str, int]:
    db = open_database(Settings.load({"SAKIMORI_HOME": str(home)}).database_url)
    try:
        with db.transaction() as session:
            return store.counts(session)
    finally:
        db.dispose()


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    """A feed mirror laid out as Sakimori expects, built from the real data."""
    root = tmp_path / "mirror"
    (root / "osv" / "npm").mkdir(parents=True)
    with zipfile.ZipFile(root / "osv" / "npm" / "all.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(require_data("osv", "ghsa", "npm").glob("*.json")):
            archive.write(path, path.name)
    (root / "kev").mkdir()
    shutil.copy(
        require_data("kev", "known_exploited_vulnerabilities.json"),
        root / "kev" / "known_exploited_vulnerabilities.json",
    )
    (root / "epss").mkdir()
    rows = require_data("epss", "EPSS_CVE_data", "CVE_2021_EPSS.csv").read_text().splitlines()
    body = "#model_version:v2025.03.14,score_date:2026-08-16T00:00:00Z\ncve,epss,percentile\n"
    body += "\n".join(row.replace(";", ",") for row in rows) + "\n"
    (root / "epss" / "epss_scores-current.csv.gz").write_bytes(gzip.compress(body.encode()))
    # CISA's Vulnrichment as GitHub serves a repository archive: one top-level folder.
    (root / "cve").mkdir()
    records = require_data("cve")
    with zipfile.ZipFile(root / "cve" / "vulnrichment.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(records.rglob("CVE-*.json")):
            archive.write(path, f"vulnrichment-develop/{path.relative_to(records)}")
        archive.write(records / "README.md", "vulnrichment-develop/README.md")
    for feed in SSVC_FEEDS:
        target = root / feed.relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(require_data(*feed.relative_path.split("/")), target)
    return root


@pytest.fixture
def served(mirror: Path) -> Iterator[str]:
    with serve_directory(mirror) as base:
        yield base


NPM_ONLY = {"SAKIMORI_OSV_ECOSYSTEMS": "npm"}
FEEDS = 7  # osv:npm, kev, epss, cve:vulnrichment, three SSVC tables
CVE_RECORDS = 1023


def test_sync_from_a_mirror_then_nothing_changes(empty_cli: Cli, served: str, mirror: Path) -> None:
    first = empty_cli("intel", "sync", "--mirror", served, env=NPM_ONLY)
    assert first.code == 0, first.err
    assert first.out.count("loaded") == FEEDS
    loaded = counts(empty_cli.home)
    assert loaded["cve_records"] == CVE_RECORDS
    npm_records = len(list(require_data("osv", "ghsa", "npm").glob("*.json")))
    assert loaded["advisories"] == npm_records
    assert loaded["kev"] == 1404
    assert loaded["epss"] > 20_000
    again = empty_cli("intel", "sync", "--mirror", served, env=NPM_ONLY)
    assert again.code == 0
    assert again.out.count("not-modified") == FEEDS
    assert counts(empty_cli.home) == loaded
    status = empty_cli("intel", "status")
    assert "osv:npm" in status.out
    assert "model_version=v2025.03.14" in status.out


def test_a_record_dropped_upstream_is_removed_on_the_next_sync(
    empty_cli: Cli, served: str, mirror: Path
) -> None:
    assert empty_cli("intel", "sync", "--mirror", served, env=NPM_ONLY).code == 0
    before = counts(empty_cli.home)["advisories"]
    archive_path = mirror / "osv" / "npm" / "all.zip"
    with zipfile.ZipFile(archive_path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    dropped = sorted(members)[0]
    del members[dropped]
    with zipfile.ZipFile(archive_path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    later = archive_path.stat().st_mtime + 10  # Last-Modified has one-second resolution
    os.utime(archive_path, (later, later))
    run = empty_cli("intel", "sync", "--mirror", served, env=NPM_ONLY)
    assert run.code == 0
    assert counts(empty_cli.home)["advisories"] == before - 1


def test_one_broken_feed_fails_alone_and_changes_nothing_of_its_own(
    empty_cli: Cli, served: str, mirror: Path
) -> None:
    assert empty_cli("intel", "sync", "--mirror", served, env=NPM_ONLY).code == 0
    loaded = counts(empty_cli.home)
    kev = mirror / "kev" / "known_exploited_vulnerabilities.json"
    kev.write_bytes(kev.read_bytes()[:5000])  # truncated download
    later = kev.stat().st_mtime + 10  # Last-Modified has one-second resolution
    os.utime(kev, (later, later))
    run = empty_cli("intel", "sync", "--mirror", served, env=NPM_ONLY)
    assert run.code == 2
    assert f"1 of {FEEDS} feeds failed" in run.err
    assert "failed" in run.out
    assert counts(empty_cli.home) == loaded


def test_findings_are_reassessed_when_the_evidence_arrives(
    empty_cli: Cli, served: str, tmp_path: Path
) -> None:
    """A finding made before any decision table or KEV was loaded gets its decision and
    deadline from the sync that brings them, without another upload."""
    cli = empty_cli
    assert cli("intel", "load", str(require_data("osv", "ghsa", "npm"))).code == 0
    assert cli("org", "create", "grid", "--sector", "electric power").code == 0
    assert cli("asset", "create", "grid/kiosk", "--criticality", "critical").code == 0
    sbom = tmp_path / "bom.json"
    sbom.write_text(
        json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.5",
                "components": [
                    {"type": "library", "name": "puppeteer", "version": "1.12.0",
                     "purl": "pkg:npm/puppeteer@1.12.0"},
                ],
            }
        )
    )  # fmt: skip
    assert cli("inventory", "upload", "grid/kiosk", str(sbom)).code == 0
    before = json.loads(cli("finding", "list", "--format", "json").out)
    chrome = [f for f in before if "CVE-2019-5786" in [f["vulnerability"], *f["aliases"]]]
    assert len(chrome) == 1
    assert chrome[0]["decision"] is None  # no decision tables loaded yet
    assert "not triaged" in cli("triage", "explain", str(chrome[0]["id"])).out
    run = cli("intel", "sync", "--mirror", served, env=NPM_ONLY)
    assert run.code == 0, run.err
    assert "open findings changed decision or deadline" in run.out
    after = {f["id"]: f for f in json.loads(cli("finding", "list", "--format", "json").out)}
    decided = after[chrome[0]["id"]]
    assert decided["decision"] in {"Track", "Track*", "Attend", "Act"}
    assert decided["deadline"] is not None
    explained = cli("triage", "explain", str(decided["id"])).out
    assert "Exploitation" in explained
    assert "KEV" in explained


def test_sync_from_a_mirror_directory(empty_cli: Cli, mirror: Path) -> None:
    run = empty_cli("intel", "sync", "--mirror", str(mirror), env=NPM_ONLY)
    assert run.code == 0, run.err
    assert counts(empty_cli.home)["kev"] == 1404


def test_unreachable_mirror_reports_every_feed(empty_cli: Cli) -> None:
    run = empty_cli(
        "intel", "sync", "--mirror", "http://127.0.0.1:9/", env={**NPM_ONLY,
        "SAKIMORI_HTTP_TIMEOUT": "1", "SAKIMORI_HTTP_RETRIES": "0"},
    )  # fmt: skip
    assert run.code == 2
    assert f"{FEEDS} of {FEEDS} feeds failed" in run.err


def test_load_refuses_a_bad_file_and_writes_nothing(empty_cli: Cli, tmp_path: Path) -> None:
    good = require_data("osv", "ghsa", "npm")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": "X-1", "modified": "2024-01-01T00:00:00Z", "affected": 3}))
    run = empty_cli("intel", "load", str(good), str(bad))
    assert run.code == 2
    assert "bad.json" in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert counts(empty_cli.home)["advisories"] == 0


def test_second_load_of_unchanged_files_reads_nothing(empty_cli: Cli) -> None:
    folder = require_data("osv", "ghsa")
    assert empty_cli("intel", "load", str(folder)).code == 0
    again = empty_cli("intel", "load", str(folder))
    assert again.code == 0
    assert "unchanged" in again.out
    assert "0 files read" in again.out


def test_a_changed_record_replaces_the_old_one(empty_cli: Cli, tmp_path: Path) -> None:
    source = require_data("osv", "ghsa", "npm", "GHSA-whgm-jr23-g3j9.json")
    copy = tmp_path / "records" / "record.json"
    copy.parent.mkdir()
    shutil.copy(source, copy)
    assert empty_cli("intel", "load", str(copy.parent)).code == 0
    assert "CVE-2021-23424" in empty_cli("scan", "--purl", "pkg:npm/ansi-html@0.0.8").out
    record = json.loads(copy.read_text())
    record["affected"][0]["ranges"][0]["events"] = [{"introduced": "0"}, {"fixed": "0.0.8"}]
    copy.write_text(json.dumps(record))
    run = empty_cli("intel", "load", str(copy.parent))
    assert run.code == 0
    assert "CVE-2021-23424" not in empty_cli("scan", "--purl", "pkg:npm/ansi-html@0.0.8").out
    assert "CVE-2021-23424" in empty_cli("scan", "--purl", "pkg:npm/ansi-html@0.0.7").out


def test_withdrawn_record_stops_matching(empty_cli: Cli, tmp_path: Path) -> None:
    source = require_data("osv", "ghsa", "npm", "GHSA-whgm-jr23-g3j9.json")
    record = json.loads(source.read_text())
    path = tmp_path / "r" / "record.json"
    path.parent.mkdir()
    path.write_text(json.dumps(record))
    assert empty_cli("intel", "load", str(path)).code == 0
    assert "CVE-2021-23424" in empty_cli("scan", "--purl", "pkg:npm/ansi-html@0.0.1").out
    record["withdrawn"] = "2025-01-01T00:00:00Z"
    record["modified"] = "2025-01-01T00:00:00Z"
    path.write_text(json.dumps(record))
    assert empty_cli("intel", "load", str(path)).code == 0
    assert "CVE-2021-23424" not in empty_cli("scan", "--purl", "pkg:npm/ansi-html@0.0.1").out


def test_status_on_an_empty_database(empty_cli: Cli) -> None:
    run = empty_cli("intel", "status")
    assert run.code == 0
    assert "nothing loaded yet" in run.out
