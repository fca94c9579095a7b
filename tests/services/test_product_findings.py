"""Product entries (appliances, OSes) as findings, on the real NVD and CVE records of KEV-listed
products (SQLite and PostgreSQL): upload, fix, an NVD record that changes, "running on"
configurations, and the same triage as package findings."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sakimori.formats.limits import Limits
from sakimori.services import findings as finding_service
from sakimori.services.intel import load_paths
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.services.tracking import upload_inventory
from sakimori.store import models
from sakimori.store.db import Database, open_database
from tests.conftest import require_data

ASSET = "river-power/vpn-gateway"
FORTIOS = "cpe:2.3:o:fortinet:fortios:{}:*:*:*:*:*:*:*"
RV320_FIRMWARE = "cpe:2.3:o:cisco:rv320_firmware:1.4.2.15:*:*:*:*:*:*:*"
RV320 = "cpe:2.3:h:cisco:rv320:-:*:*:*:*:*:*:*"


def nvd_file(cve_id: str) -> Path:
    year = cve_id.split("-")[1]
    return require_data("nvd", year, f"{cve_id}.json")


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    database = open_database(database_url)
    nvd = tmp_path / "nvd"
    nvd.mkdir()
    for source in require_data("nvd").glob("20*/*.json"):
        shutil.copy(source, nvd / source.name)
    cve = tmp_path / "cve"
    cve.mkdir()
    shutil.copy(require_data("cve", "2024", "3xxx", "CVE-2024-3400.json"), cve)
    load_paths(
        database,
        [
            nvd,
            cve,
            require_data("kev", "known_exploited_vulnerabilities.json"),
            require_data("ssvc", "data", "json", "decision_tables"),
        ],
        Limits(),
    )
    create_organisation(database, "river-power", "River Power", "operator", ["electric_power"])
    create_asset(database, ASSET, "Remote access", "critical", internet_facing=True)
    yield database
    database.dispose()


def sbom(path: Path, *cpes: str) -> Path:
    """A CycloneDX SBOM whose components are known only by their CPE names (no purl)."""
    components = [
        {"type": "operating-system", "name": cpe.split(":")[4], "cpe": cpe} for cpe in cpes
    ]
    document = {"bomFormat": "CycloneDX", "specVersion": "1.5", "components": components}
    path.write_text(json.dumps(document))
    return path


def findings(db: Database) -> dict[str, models.Finding]:
    with db.transaction() as session:
        rows = session.scalars(select(models.Finding).where(models.Finding.kind == "package"))
        return {row.key: row for row in rows}


def key(package: str, version: str, cve: str) -> str:
    return f"pkg:CPE/{package}@{version}#{cve}"


def test_an_appliance_is_found_triaged_and_closed_by_the_upgrade(
    db: Database, tmp_path: Path
) -> None:
    first = upload_inventory(
        db, ASSET, sbom(tmp_path / "v1.json", FORTIOS.format("7.0.1")), "ops", Limits()
    )
    found = findings(db)
    fortios = {k for k in found if k.startswith("pkg:CPE/o:fortinet:fortios@7.0.1#")}
    assert key("o:fortinet:fortios", "7.0.1", "CVE-2024-21762") in fortios
    assert len(fortios) == first.counts.opened >= 5
    row = found[key("o:fortinet:fortios", "7.0.1", "CVE-2024-21762")]
    assert row.state == "open"
    assert row.records == ["NVD:CVE-2024-21762"]
    assert row.fixed_versions == ["7.0.14"]
    detail, _ = finding_service.show(db, row.id)
    assert detail.decision in {"Attend", "Act"}  # in KEV: exploitation active
    second = upload_inventory(
        db, ASSET, sbom(tmp_path / "v2.json", FORTIOS.format("7.6.3")), "ops", Limits()
    )
    assert second.counts.closed == len(fortios)
    assert {findings(db)[k].state for k in fortios} == {"fixed"}


def test_the_cna_record_matches_a_product_known_by_its_cpe_name(
    db: Database, tmp_path: Path
) -> None:
    pan_os = "cpe:2.3:o:paloaltonetworks:pan-os:10.2.3:*:*:*:*:*:*:*"
    upload_inventory(db, ASSET, sbom(tmp_path / "pan.json", pan_os), "ops", Limits())
    found = findings(db)
    # NVD has no configuration for CVE-2024-3400; the CNA ("Palo Alto Networks" / "PAN-OS",
    # 10.2.0 <= v < 10.2.9-h1) decides it.
    row = found[key("o:paloaltonetworks:pan-os", "10.2.3", "CVE-2024-3400")]
    assert row.records == ["CVE:CVE-2024-3400"]
    assert key("o:paloaltonetworks:pan-os", "10.2.3", "CVE-2024-0012") in found


def test_firmware_is_affected_only_on_its_hardware(db: Database, tmp_path: Path) -> None:
    alone = upload_inventory(db, ASSET, sbom(tmp_path / "a.json", RV320_FIRMWARE), "ops", Limits())
    assert key("o:cisco:rv320_firmware", "1.4.2.15", "CVE-2019-1653") not in findings(db)
    assert alone.counts.opened == 0
    upload_inventory(db, ASSET, sbom(tmp_path / "b.json", RV320_FIRMWARE, RV320), "ops", Limits())
    assert findings(db)[key("o:cisco:rv320_firmware", "1.4.2.15", "CVE-2019-1653")].state == "open"


def _rewrite(source: Path, target: Path, change: Any) -> Path:
    document = json.loads(source.read_text())
    change(document)
    target.write_text(json.dumps(document))
    return target


def test_a_changed_nvd_record_closes_and_reopens_without_a_rescan(
    db: Database, tmp_path: Path
) -> None:
    upload_inventory(
        db, ASSET, sbom(tmp_path / "v1.json", FORTIOS.format("7.0.1")), "ops", Limits()
    )
    wanted = key("o:fortinet:fortios", "7.0.1", "CVE-2024-21762")
    assert findings(db)[wanted].state == "open"

    def narrow(document: dict[str, Any]) -> None:
        for configuration in document["configurations"]:
            for node in configuration["nodes"]:
                for match in node["cpeMatch"]:
                    if match.get("versionStartIncluding") == "7.0.0":
                        match["versionStartIncluding"] = "7.0.2"
        document["lastModified"] = "2099-01-01T00:00:00.000"

    update = tmp_path / "update"
    update.mkdir()
    original = nvd_file("CVE-2024-21762")
    _rewrite(original, update / "CVE-2024-21762.json", narrow)
    load_paths(db, [update], Limits())
    after = findings(db)
    assert after[wanted].state == "fixed"
    others = [k for k in after if "@7.0.1#" in k and k != wanted]
    assert others
    assert {after[k].state for k in others} == {"open"}
    shutil.copy(original, update / "CVE-2024-21762.json")
    load_paths(db, [update], Limits())
    assert findings(db)[wanted].state == "open"  # the regression of the record reopens it


def test_a_changed_platform_record_re_reads_the_whole_asset(db: Database, tmp_path: Path) -> None:
    """Re-matching after a change must see the hardware too, or the AND would fail and close
    a finding that still stands."""
    upload_inventory(db, ASSET, sbom(tmp_path / "b.json", RV320_FIRMWARE, RV320), "ops", Limits())
    wanted = key("o:cisco:rv320_firmware", "1.4.2.15", "CVE-2019-1653")
    assert findings(db)[wanted].state == "open"

    def widen(document: dict[str, Any]) -> None:
        nodes = document["configurations"][0]["nodes"]
        nodes[0]["cpeMatch"].append(
            {
                "vulnerable": True,
                "criteria": "cpe:2.3:o:cisco:rv320_firmware:1.4.2.19:*:*:*:*:*:*:*",
                "matchCriteriaId": "00000000-0000-4000-8000-000000000001",
            }
        )

    update = tmp_path / "update"
    update.mkdir()
    _rewrite(nvd_file("CVE-2019-1653"), update / "CVE-2019-1653.json", widen)
    report = load_paths(db, [update], Limits())
    assert report.sources[0].status == "loaded"
    assert findings(db)[wanted].state == "open"
    with db.transaction() as session:
        transitions = session.scalars(
            select(models.FindingTransition.to_state).where(
                models.FindingTransition.finding_id == findings(db)[wanted].id
            )
        ).all()
    assert transitions == ["open"]


def test_a_changed_cna_record_reaches_products_named_by_its_words(
    db: Database, tmp_path: Path
) -> None:
    """A CNA entry naming "Palo Alto Networks" / "PAN-OS" in words only (no ``cpes``): its
    change must still find the asset holding paloaltonetworks:pan-os."""
    original = require_data("cve", "2024", "3xxx", "CVE-2024-3400.json")
    update = tmp_path / "cna"
    update.mkdir()

    def words_only(start: str) -> Any:
        def change(document: dict[str, Any]) -> None:
            for entry in document["containers"]["cna"]["affected"]:
                entry.pop("cpes", None)
                for item in entry["versions"]:
                    if item.get("version") == "10.2.0":
                        item["version"] = start
            document["cveMetadata"]["dateUpdated"] = f"2099-01-01T00:00:00.000Z#{start}"

        return change

    _rewrite(original, update / "CVE-2024-3400.json", words_only("10.2.0"))
    load_paths(db, [update], Limits())
    pan_os = "cpe:2.3:o:paloaltonetworks:pan-os:10.2.3:*:*:*:*:*:*:*"
    upload_inventory(db, ASSET, sbom(tmp_path / "pan.json", pan_os), "ops", Limits())
    wanted = key("o:paloaltonetworks:pan-os", "10.2.3", "CVE-2024-3400")
    assert findings(db)[wanted].state == "open"
    _rewrite(original, update / "CVE-2024-3400.json", words_only("10.2.5"))
    load_paths(db, [update], Limits())
    assert findings(db)[wanted].state == "fixed"


def test_one_vulnerability_under_its_cve_and_jvndb_ids(db: Database, tmp_path: Path) -> None:
    """JVN iPedia's real record JVNDB-2021-002774 names CVE-2021-36745 (Trend Micro
    ServerProtect); an NVD-shaped record for that CVE, written here with one criterion, finds
    the product, and the finding carries the JVNDB id among its aliases."""
    jvn = require_data(
        "jvn", "myjvn-np", "examples", "hnd", "getVulnDetailInfo_hnd_JVNDB-2021-002774.xml"
    )
    record = {
        "id": "CVE-2021-36745",
        "sourceIdentifier": "security@trendmicro.com",
        "vulnStatus": "Analyzed",
        "lastModified": "2024-11-21T06:14:02.260",
        "configurations": [
            {
                "nodes": [
                    {
                        "operator": "OR",
                        "negate": False,
                        "cpeMatch": [
                            {
                                "vulnerable": True,
                                "criteria": "cpe:2.3:a:trendmicro:serverprotect:5.8:*:*:*:*:*:*:*",
                                "matchCriteriaId": "00000000-0000-4000-8000-000000000002",
                            }
                        ],
                    }
                ]
            }
        ],
    }
    nvd = tmp_path / "CVE-2021-36745.json"
    nvd.write_text(json.dumps(record))
    load_paths(db, [nvd, jvn], Limits())
    product = "cpe:2.3:a:trendmicro:serverprotect:5.8:*:*:*:*:*:*:*"
    upload_inventory(db, ASSET, sbom(tmp_path / "sp.json", product), "ops", Limits())
    row = findings(db)[key("a:trendmicro:serverprotect", "5.8", "CVE-2021-36745")]
    assert row.aliases == ["JVNDB-2021-002774"]


def test_a_product_list_and_an_sbom_each_keep_the_other(db: Database, tmp_path: Path) -> None:
    """An asset runs an application (an SBOM of packages) on an appliance (a product list):
    uploading one kind must not drop the other kind's entries or close their findings."""
    load_paths(db, [require_data("osv", "pypi", "vulns", "django")], Limits())
    packages = tmp_path / "requirements.txt"
    packages.write_text("django==3.2.5\n")
    upload_inventory(db, ASSET, packages, "ops", Limits())
    django = {k for k, f in findings(db).items() if k.startswith("pkg:PyPI/") and f.state == "open"}
    assert django
    products = tmp_path / "products.csv"
    products.write_text(f"cpe\n{FORTIOS.format('7.0.1')}\n")
    report = upload_inventory(db, ASSET, products, "ops", Limits())
    assert report.kept == 1  # django, kept from the requirements file
    after = findings(db)
    assert {after[k].state for k in django} == {"open"}
    assert after[key("o:fortinet:fortios", "7.0.1", "CVE-2024-21762")].state == "open"
    packages.write_text("django==5.1.4\n")  # the application is upgraded
    report = upload_inventory(db, ASSET, packages, "ops", Limits())
    assert report.kept == 1  # the FortiOS entry, kept from the product list
    after = findings(db)
    assert {after[k].state for k in django} == {"fixed"}
    assert after[key("o:fortinet:fortios", "7.0.1", "CVE-2024-21762")].state == "open"
    products.write_text(f"cpe\n{FORTIOS.format('7.6.3')}\n")  # the appliance is upgraded
    upload_inventory(db, ASSET, products, "ops", Limits())
    assert findings(db)[key("o:fortinet:fortios", "7.0.1", "CVE-2024-21762")].state == "fixed"
