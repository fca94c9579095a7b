"""`sakimori scan` on the real data: expected hits, output formats, exit codes, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli
from tests.conftest import require_data

LOCKS = ("lockfiles", "osv-scanner-add393a", "cmd", "osv-scanner")
FIXTURES = ("lockfiles", "osv-scanner-5058d47", "pkg", "lockfile", "fixtures")
JUICE_SHOP = ("sbom", "cyclonedx", "juice-shop", "via_npm", "flat", "bom.1.4.json")


def scan_json(cli: Cli, *args: str) -> dict[str, Any]:
    run = cli("scan", "--format", "json", *args)
    assert run.code == 0, run.err
    document: dict[str, Any] = json.loads(run.out)
    return document


def ids(finding: dict[str, Any]) -> set[str]:
    return {finding["vulnerability"], *finding["aliases"]}


# The known-vulnerable entries named in ../shared/data/lockfiles/SOURCES.md, with one id each
# that the OSV data in ../shared/data/osv must report for them.
EXPECTED = [
    (
        (*LOCKS, "scan", "image", "testdata", "python-fixture", "requirements.txt"),
        "flask", "0.12.2", "CVE-2019-1010083",
    ),
    # The upstream fixture's comment names CVE-2021-35042 for django 1.11.29, but PyPA's record
    # of it (PYSEC-2021-109) affects only 3.1 and 3.2; the data names CVE-2021-33203 instead.
    (
        (*LOCKS, "scan", "image", "testdata", "python-fixture", "requirements.txt"),
        "django", "1.11.29", "CVE-2021-33203",
    ),
    # Likewise CVE-2018-18074 is fixed in 2.20.0 itself (PYSEC-2018-28); 2.20.0 is affected by
    # CVE-2023-32681 (PYSEC-2023-74), the one record SOURCES.md's own exact-version count finds.
    (
        (*LOCKS, "scan", "image", "testdata", "python-fixture", "requirements.txt"),
        "requests", "2.20.0", "CVE-2023-32681",
    ),
    (
        (*LOCKS, "scan", "source", "testdata", "locks-insecure", "my-yarn.lock"),
        "ansi-html", "0.0.1", "CVE-2021-23424",
    ),
    (
        (*LOCKS, "scan", "source", "testdata", "locks-many", "package-lock.json"),
        "ansi-html", "0.0.8", "CVE-2021-23424",
    ),
    (
        (*LOCKS, "scan", "source", "testdata", "locks-insecure", "composer.lock"),
        "league/flysystem", "1.0.8", "CVE-2021-32708",
    ),
    (
        (*LOCKS, "fix", "testdata", "override-maven", "pom.xml"),
        "org.jsoup:jsoup", "1.14.1", "CVE-2022-36033",
    ),
    (
        (*LOCKS, "scan", "source", "testdata", "locks-requirements", "requirements.prod.txt"),
        "django", "2.2.24", "CVE-2021-44420",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("parts", "package", "version", "vulnerability"), EXPECTED)
def test_expected_hits_named_in_the_lockfile_sources(
    cli: Cli, parts: tuple[str, ...], package: str, version: str, vulnerability: str
) -> None:
    document = scan_json(cli, str(require_data(*parts)))
    matching = [
        f for f in document["findings"] if f["package"] == package and f["version"] == version
    ]
    assert matching, f"no finding for {package} {version}"
    assert any(vulnerability in ids(f) for f in matching), [f["vulnerability"] for f in matching]


def pypa_records_listing(package: str, version: str) -> set[str]:
    """PYSEC records whose enumerated `versions` name this exact release (read independently)."""
    import yaml

    found = set()
    for path in require_data("osv", "pypi", "vulns", package).glob("*.yaml"):
        record = yaml.safe_load(path.read_text())
        if record.get("withdrawn"):
            continue
        for affected in record.get("affected", []):
            if version in affected.get("versions", []):
                found.add(record["id"])
    return found


@pytest.mark.parametrize(
    ("parts", "counts"),
    [
        ((*LOCKS, "scan", "image", "testdata", "python-fixture", "requirements.txt"),
         {("flask", "0.12.2"): 3, ("django", "1.11.29"): 1, ("requests", "2.20.0"): 1,
          ("idna", "2.7"): 1, ("urllib3", "1.24.3"): 4}),
        ((*LOCKS, "scan", "source", "testdata", "locks-requirements", "requirements.prod.txt"),
         {("django", "2.2.24"): 8}),
        ((*FIXTURES, "pip", "multiple-packages-constrained.txt"),
         {("certifi", "2020.12.5"): 2, ("django", "2.2.24"): 8}),
    ],
)  # fmt: skip
def test_pypa_records_match_the_sources_sanity_counts(
    cli: Cli, parts: tuple[str, ...], counts: dict[tuple[str, str], int]
) -> None:
    """Exactly the PyPA records that enumerate each pinned release are reported (and their
    number is the one ../shared/data/lockfiles/SOURCES.md gives)."""
    document = scan_json(cli, str(require_data(*parts)))
    for (package, version), count in counts.items():
        expected = pypa_records_listing(package, version)
        assert len(expected) == count
        reported = {
            record
            for f in document["findings"]
            if f["package"] == package and f["version"] == version
            for record in f["records"]
            if record.startswith("PYSEC-")
        }
        assert reported == expected, (package, version)


def test_json_findings_have_every_documented_field(cli: Cli) -> None:
    document = scan_json(cli, str(require_data(*JUICE_SHOP)))
    assert set(document) >= {"findings", "inventories"}
    assert document["inventories"][0]["components"] == 1115
    assert document["inventories"][0]["format"] == "cyclonedx-json"
    required = {"vulnerability", "aliases", "ecosystem", "package", "version", "purl", "fixed",
                "severity", "kev", "epss", "inventory"}  # fmt: skip
    assert len(document["findings"]) > 20
    for finding in document["findings"]:
        assert required <= finding.keys()
        assert finding["ecosystem"] == "npm"
        assert finding["purl"].startswith("pkg:npm/")
        assert isinstance(finding["kev"], bool)
        assert finding["epss"] is None or 0 <= finding["epss"] <= 1


def test_one_finding_per_component_and_vulnerability_with_aliases_merged(cli: Cli) -> None:
    document = scan_json(cli, str(require_data(*JUICE_SHOP)))
    seen: dict[tuple[str, str], list[set[str]]] = {}
    for finding in document["findings"]:
        seen.setdefault((finding["package"], finding["version"]), []).append(ids(finding))
    for package, groups in seen.items():
        for i, first in enumerate(groups):
            for second in groups[i + 1 :]:
                assert not first & second, f"{package}: {first} and {second} share an id"


def test_records_from_several_databases_merge_into_one_finding(cli: Cli) -> None:
    """PYSEC and GHSA records of the same CVE give one finding with every id."""
    document = scan_json(cli, "--purl", "pkg:pypi/django@2.2.24")
    cve = [f for f in document["findings"] if f["vulnerability"] == "CVE-2021-44420"]
    assert len(cve) == 1
    assert {"PYSEC-2021-439", "GHSA-v6rh-hp5x-86rv"} <= set(cve[0]["aliases"])


def test_kev_and_epss_are_attached_and_sorted_first(cli: Cli) -> None:
    document = scan_json(cli, "--purl", "pkg:pypi/salt@3000.1", "--purl", "pkg:pypi/flask@0.12.2")
    findings = document["findings"]
    kev = [f for f in findings if f["kev"]]
    assert {"CVE-2020-11651", "CVE-2020-11652"} <= {f["vulnerability"] for f in kev}
    first_non_kev = next(i for i, f in enumerate(findings) if not f["kev"])
    assert all(f["kev"] for f in findings[:first_non_kev])
    assert all(f["epss"] is not None for f in kev)


def test_fixed_versions_and_severity_are_reported(cli: Cli) -> None:
    document = scan_json(cli, "--purl", "pkg:pypi/requests@2.19.0")
    finding = next(f for f in document["findings"] if "CVE-2018-18074" in ids(f))
    assert finding["fixed"] == ["2.20.0"]
    document = scan_json(cli, "--purl", "pkg:npm/ansi-html@0.0.7")
    finding = next(f for f in document["findings"] if "CVE-2021-23424" in ids(f))
    assert finding["fixed"] == ["0.0.9"]
    assert finding["rating"] == "high"
    assert finding["score"] == 7.5
    assert any(s["type"] == "CVSS_V3" for s in finding["severity"])


def test_fail_on_thresholds_set_the_exit_code(cli: Cli) -> None:
    assert cli("scan", "--purl", "pkg:pypi/salt@3000.1", "--fail-on", "kev").code == 1
    assert cli("scan", "--purl", "pkg:pypi/requests@2.20.0", "--fail-on", "kev").code == 0
    assert cli("scan", "--purl", "pkg:pypi/requests@2.20.0", "--fail-on", "any").code == 1
    assert cli("scan", "--purl", "pkg:pypi/requests@2.31.0", "--fail-on", "any").code == 0


def test_table_output_is_readable(cli: Cli) -> None:
    run = cli("scan", str(require_data(*LOCKS, "scan", "image", "testdata", "python-fixture",
                                       "requirements.txt")))  # fmt: skip
    assert run.code == 0
    assert "vulnerability" in run.out
    assert "CVE-2019-1010083" in run.out
    assert "findings" in run.out
    assert "inventories" in run.out


def test_sarif_output(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "scan.sarif"
    run = cli("scan", "--format", "sarif", "-o", str(target), str(require_data(*JUICE_SHOP)))
    assert run.code == 0
    sarif = json.loads(target.read_text())
    assert sarif["version"] == "2.1.0"
    assert "sarif" in sarif["$schema"]
    driver = sarif["runs"][0]["tool"]["driver"]
    results = sarif["runs"][0]["results"]
    assert results
    assert {r["ruleId"] for r in results} == {rule["id"] for rule in driver["rules"]}
    scored = {f["vulnerability"] for f in scan_json(cli, str(require_data(*JUICE_SHOP)))["findings"]
              if f["score"] is not None}  # fmt: skip
    assert scored
    for rule in driver["rules"]:
        assert ("security-severity" in rule["properties"]) == (rule["id"] in scored)


def test_requirements_includes_are_followed(cli: Cli) -> None:
    document = scan_json(cli, str(require_data(*FIXTURES, "pip", "file-format-example.txt")))
    sources = {Path(i["source"]).name for i in document["inventories"]}
    assert sources == {"file-format-example.txt", "other-file.txt"}


def test_a_version_no_comparator_accepts_is_reported_not_evaluated(
    cli: Cli, tmp_path: Path
) -> None:
    sbom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "components": [
            {"type": "library", "name": "django", "version": "not a version!",
             "purl": "pkg:pypi/django@not%20a%20version%21"},
            {"type": "library", "name": "mystery"},
        ],
    }  # fmt: skip
    path = tmp_path / "bom.json"
    path.write_text(json.dumps(sbom))
    document = scan_json(cli, str(path))
    reasons = {
        (n["name"], n["advisory"] is not None): n["reason"] for n in document["not_evaluated"]
    }
    assert ("django", True) in reasons
    assert "not a version" in reasons[("django", True)]
    assert ("mystery", False) in reasons


# ---------------------------------------------------------------------------------------------
# Bad input: one line on stderr naming the file, exit code 2.


def one_line_error(cli: Cli, *args: str, env: dict[str, str] | None = None) -> str:
    run = cli(*args, env=env)
    assert run.code == 2, (run.out, run.err)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert "Traceback" not in run.err
    return lines[0]


def test_unknown_format(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Dear diary,\nnothing to see here.\n")
    assert str(path) in one_line_error(cli, "scan", str(path))


def test_missing_file_and_directory_without_inventories(cli: Cli, tmp_path: Path) -> None:
    assert "no such file" in one_line_error(cli, "scan", str(tmp_path / "absent.json"))


def test_invalid_json_and_xml_with_entities(cli: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "bom.json"
    broken.write_text('{"bomFormat": "CycloneDX", "specVersion": "1.4", "components": [')
    assert "bom.json" in one_line_error(cli, "scan", str(broken))
    bomb = tmp_path / "bom.xml"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        '<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components/></bom>'
    )
    message = one_line_error(cli, "scan", str(bomb))
    assert "DTD" in message or "entit" in message


def test_oversized_input_is_refused_before_reading(cli: Cli) -> None:
    message = one_line_error(
        cli, "scan", str(require_data(*JUICE_SHOP)), env={"SAKIMORI_MAX_INPUT_BYTES": "1000"}
    )
    assert "limit" in message


def test_a_2_gib_file_is_refused_without_reading_it(cli: Cli, tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:  # sparse: takes no disk space
        handle.truncate(2 * 1024**3)
    message = one_line_error(cli, "scan", str(huge))
    assert "huge.json" in message
    assert "2,147,483,648 bytes" in message


@pytest.mark.parametrize("purl", ["pkg:pypi/django", "not-a-purl", "pkg:generic/thing@1.0"])
def test_bad_purls_on_the_command_line(cli: Cli, purl: str) -> None:
    one_line_error(cli, "scan", "--purl", purl)


def test_scan_without_intel_says_what_to_do(empty_cli: Cli) -> None:
    message = one_line_error(empty_cli, "scan", "--purl", "pkg:pypi/django@2.2.24")
    assert "intel sync" in message


def test_usage_errors_exit_with_2(cli: Cli) -> None:
    assert cli("scan", "--format", "yaml", "x").code == 2
    assert cli("scan").code == 2


def test_scan_json_carries_decisions_for_an_unknown_context(cli: Cli) -> None:
    document = scan_json(cli, "--purl", "pkg:maven/org.springframework/spring-beans@5.3.17")
    assert "context unknown" in document["context"]
    spring = next(f for f in document["findings"] if f["vulnerability"] == "CVE-2022-22965")
    assert spring["kev"] is True
    assert spring["decision"] == "Act"
    assert spring["bod"] in {"3D", "3DF"}
    assert spring["deadline"] is not None
    points = {p["point"]: p for p in spring["explanation"]["points"]}
    assert points["EXP"]["unknown"] is True  # exposure unknown for a bare file: open
    assert cli("scan", "--purl", "pkg:maven/org.springframework/spring-beans@5.3.17",
               "--fail-on", "Act").code == 1  # fmt: skip
    assert cli("scan", "--purl", "pkg:pypi/requests@2.31.0", "--fail-on", "Track").code == 0


def test_triage_explain_names_every_input(empty_cli: Cli, tmp_path: Path) -> None:
    cli = empty_cli
    load = cli(
        "intel", "load", str(require_data("osv", "ghsa", "maven")),
        str(require_data("kev", "known_exploited_vulnerabilities.json")),
        str(require_data("ssvc", "data", "json", "decision_tables")),
    )  # fmt: skip
    assert load.code == 0, load.err
    cli("org", "create", "power-co", "--sector", "electric_power")
    cli("asset", "create", "power-co/portal", "--criticality", "high", "--internet-facing")
    bom = {
        "bomFormat": "CycloneDX", "specVersion": "1.5",
        "components": [{"type": "library", "name": "spring-beans", "version": "5.3.17",
                        "purl": "pkg:maven/org.springframework/spring-beans@5.3.17"}],
    }  # fmt: skip
    path = tmp_path / "bom.json"
    path.write_text(json.dumps(bom))
    assert cli("inventory", "upload", "power-co/portal", str(path)).code == 0
    listed = json.loads(cli("finding", "list", "--format", "json").out)
    spring = next(f for f in listed if f["vulnerability"] == "CVE-2022-22965")
    assert spring["decision"] == "Act"
    text = cli("triage", "explain", str(spring["id"])).out
    for needle in ("Exploitation", "KEV", "Publicly Exposed", "electric_power", "deadline"):
        assert needle in text, needle
    assert "no triage revision" not in cli("triage", "history").out  # the upload made one
    recompute = cli("triage", "recompute", env={"SAKIMORI_POLICY": "critical-infrastructure"})
    assert recompute.code == 0
    assert "critical-infrastructure" in recompute.out
    changed = int(recompute.out.split()[0])
    newest = cli("triage", "history", "--limit", "1").out.strip().splitlines()
    assert len(newest) == 1
    assert "critical-infrastructure 1.0.0" in newest[0]
    assert f"{changed} findings" in newest[0]
    assert newest[0].endswith("policy critical-infrastructure")
