"""Evidence builders (CVE record, OSV advisory, merge), the triage configuration, and the
memoised readers of CVSS vectors and references."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from sakimori.errors import ConfigurationError
from sakimori.formats import cve, osv
from sakimori.model.intel import EpssScore, KevEntry
from sakimori.triage import signals
from sakimori.triage.config import DEFAULT_CONFIG, JAPAN_CI_SECTORS, TriageConfig
from sakimori.triage.evidence import (
    AssetContext,
    Cvss,
    Evidence,
    Reference,
    Weakness,
    evidence_from_cve,
    evidence_from_osv,
    merge,
    normalise_cwe,
)
from tests.conftest import require_data


def cve_record(cve_id: str) -> cve.CveRecord:
    return cve.parse(next(require_data("cve").rglob(f"{cve_id}.json")).read_bytes())


@pytest.mark.parametrize(
    ("text", "expected"),
    [("CWE-79", "CWE-79"), ("cwe-079", "CWE-79"), (" 89 ", "CWE-89"), ("NVD-CWE-Other", None)],
)
def test_normalise_cwe(text: str, expected: str | None) -> None:
    assert normalise_cwe(text) == expected


def test_evidence_from_cve_record() -> None:
    record = cve_record("CVE-2019-1069")
    evidence = evidence_from_cve(record)
    assert evidence.id == "CVE-2019-1069"
    assert evidence.kev  # from the record's KEV block
    assert evidence.kev_due_date is None
    assert evidence.cisa_ssvc == record.ssvc
    assert evidence.cvss == (
        Cvss(
            "CVSS_V3",
            "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
            "CVE-2019-1069 adp:CISA-ADP",
        ),
    )
    assert evidence.cwes == (Weakness("CWE-59", "CVE-2019-1069 adp:CISA-ADP"),)
    assert evidence.references[0].source == "CVE-2019-1069 cna:microsoft"
    assert not evidence.open_source
    assert evidence_from_cve(record, with_cisa_ssvc=False).cisa_ssvc is None


def test_evidence_from_cve_with_kev_entry_and_epss() -> None:
    record = cve_record("CVE-2024-0769")
    kev = KevEntry(
        "CVE-2024-0769", "D-Link", "DIR-859", "n", "2024-05-16", "2024-06-06", cwes=("CWE-22",)
    )
    evidence = evidence_from_cve(record, kev=kev, epss=EpssScore("CVE-2024-0769", 0.9, 0.99))
    assert evidence.kev
    assert evidence.kev_due_date == "2024-06-06"
    assert (evidence.epss, evidence.epss_percentile) == (0.9, 0.99)
    assert Weakness("CWE-22", "KEV CVE-2024-0769") in evidence.cwes


def _record(**cna: Any) -> cve.CveRecord:
    document = {
        "dataType": "CVE_RECORD",
        "dataVersion": "5.1",
        "cveMetadata": {"cveId": "CVE-2024-0005", "state": "PUBLISHED"},
        "containers": {"cna": {"providerMetadata": {"shortName": "GitHub_M"}, **cna}},
    }
    return cve.parse(orjson.dumps(document))


def _affected(**fields: Any) -> dict[str, Any]:
    return {"affected": [{"vendor": "v", "product": "p", **fields}]}


def _versions(**fields: str) -> dict[str, Any]:
    return _affected(versions=[fields])


@pytest.mark.parametrize(
    ("cna", "fix", "open_source"),
    [
        ({}, False, False),
        ({"references": [{"url": "https://x.example/c", "tags": ["patch"]}]}, True, False),
        (_versions(version="2.1", status="unaffected"), True, False),
        (_versions(version="0", lessThan="2.1", status="affected"), True, False),
        (_versions(version="0", lessThan="*", status="affected"), False, False),
        (_affected(packageName="jinja2", collectionURL="https://pypi.org"), False, True),
        (_affected(repo="https://github.com/a/b"), False, True),
    ],
)
def test_fix_and_open_source_from_cve(cna: dict[str, Any], fix: bool, open_source: bool) -> None:
    evidence = evidence_from_cve(_record(**cna))
    assert (evidence.fix_available, evidence.open_source) == (fix, open_source)


def test_evidence_from_osv_advisory() -> None:
    path = require_data("osv", "ghsa", "maven", "GHSA-65fg-84f6-3jq3.json")
    (advisory,) = osv.parse(path.read_bytes())
    evidence = evidence_from_osv(advisory)
    assert evidence.ids == ("GHSA-65fg-84f6-3jq3", "CVE-2022-23305")
    assert evidence.open_source
    assert evidence.cwes == (Weakness("CWE-89", "GHSA-65fg-84f6-3jq3"),)
    assert evidence.cvss[0].vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    assert not evidence.fix_available  # log4j 1.x: last_affected, never fixed
    with_fix = dataclasses.replace(advisory, references=())
    typed = (Reference("https://github.com/a/b/commit/1", ("FIX",), "GHSA"),)
    assert evidence_from_osv(with_fix, references=typed).fix_available


def test_merge_joins_records_of_one_vulnerability() -> None:
    osv_part = Evidence(
        id="GHSA-1", aliases=("CVE-1",), cwes=(Weakness("CWE-89"),), open_source=True
    )
    cve_part = Evidence(
        id="CVE-1",
        cwes=(Weakness("CWE-89"), Weakness("CWE-20")),
        kev=True,
        epss=0.2,
        references=(Reference("https://x.example"),),
    )
    epss_part = Evidence(id="CVE-1", epss=0.5, epss_percentile=0.9, kev_due_date="2024-01-01")
    merged = merge(osv_part, cve_part, epss_part)
    assert merged.id == "GHSA-1"
    assert merged.aliases == ("CVE-1",)
    assert merged.cwes == (Weakness("CWE-89"), Weakness("CWE-20"))
    assert merged.kev
    assert merged.open_source
    assert (merged.epss, merged.epss_percentile, merged.kev_due_date) == (0.5, 0.9, "2024-01-01")
    assert merge(osv_part) == osv_part


def test_asset_context_unknown() -> None:
    assert AssetContext.unknown().is_unknown
    assert AssetContext.unknown() == AssetContext()
    assert not AssetContext("medium").is_unknown


# --- configuration ------------------------------------------------------------------------------


def test_config_sectors_match_the_model() -> None:
    from sakimori.model.organisation import SECTORS

    assert set(SECTORS) == JAPAN_CI_SECTORS


def test_config_is_hashable_and_versioned() -> None:
    assert hash(DEFAULT_CONFIG) == hash(TriageConfig())
    assert DEFAULT_CONFIG.version
    assert DEFAULT_CONFIG.impact("high", ("water",)) == ("H", "H", "water")
    assert DEFAULT_CONFIG.impact("low", ("water", "finance")) == ("M", "M", "water")
    assert DEFAULT_CONFIG.impact("low", ()) == ("L", "L", None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"version": " "}, "needs a version"),
        ({"epss_poc_threshold": 1.5}, "not between 0 and 1"),
        (
            {"mwi_by_criticality": (("low", "L"),)},
            "MWI mapping gives None for criticality 'medium'",
        ),
        ({"hi_by_criticality": (("low", "Q"),)}, "HI mapping gives 'Q'"),
        ({"default_criticality": "extreme"}, "default criticality"),
        ({"sector_floor_hi": "X"}, "sector floors"),
    ],
)
def test_bad_config_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TriageConfig(**fields)


# --- memoised readers ---------------------------------------------------------------------------


def test_vector_facts_are_memoised_and_tolerant() -> None:
    vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:L"
    first = signals.vector_facts("CVSS_V3", vector)
    hits = signals.vector_facts.cache_info().hits
    assert signals.vector_facts("CVSS_V3", vector) is first
    assert signals.vector_facts.cache_info().hits == hits + 1
    assert first is not None
    assert (first.automatable, first.total, first.ambiguous) == (True, True, False)
    for bad in ("", "CVSS:3.1/", "CVSS:4.0/AV:N", "AV:Z/AC:L/Au:N/C:P/I:P/A:P", "7.5"):
        assert signals.vector_facts("CVSS_V3", bad) is None


def test_reference_classifier_is_per_config_and_memoised() -> None:
    classifier = signals.exploit_references(DEFAULT_CONFIG)
    assert signals.exploit_references(DEFAULT_CONFIG) is classifier
    url = "https://www.exploit-db.com/exploits/1"
    assert classifier.classify(url) == "an exploit site (exploit-db.com)"
    assert classifier.classify(url) == "an exploit site (exploit-db.com)"
    assert classifier.classify.cache_info().hits >= 1  # type: ignore[attr-defined]
    custom = TriageConfig(version="custom", exploit_sites=("exploits.example",), exploit_words=())
    other = signals.exploit_references(custom)
    assert other.classify("https://sub.exploits.example/x") == "an exploit site (exploits.example)"
    assert other.classify(url) is None
    assert other.classify("https://github.com/a/CVE-1-poc") is None


def test_asset_context_checks_criticality_and_keeps_sectors_hashable() -> None:
    from sakimori.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown asset criticality 'extreme'"):
        AssetContext("extreme")  # type: ignore[arg-type]
    context = AssetContext("high", True, ["water"])  # type: ignore[arg-type]
    assert context.sectors == ("water",)
    assert hash(context) == hash(AssetContext("high", True, ("water",)))
