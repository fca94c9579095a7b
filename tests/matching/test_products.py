"""Product entries against the real NVD records of KEV-listed appliances and a real CNA record
(pure: no database)."""

from __future__ import annotations

import pytest

from sakimori.cpe.applicability import ApplicabilityIndex
from sakimori.cpe.name import parse
from sakimori.cpe.nvd import parse as parse_nvd
from sakimori.formats import cve as cve_format
from sakimori.matching.product_names import (
    PRODUCT_ECOSYSTEM,
    as_product_entry,
    identity,
    product_keys,
    variants,
)
from sakimori.matching.products import match_products
from sakimori.model.cve import CveRecord
from sakimori.model.inventory import Component
from tests.conftest import require_data


@pytest.fixture(scope="module")
def index() -> ApplicabilityIndex:
    records = [
        r for p in sorted(require_data("nvd").glob("20*/*.json")) for r in parse_nvd(p.read_bytes())
    ]
    assert len(records) == 60
    return ApplicabilityIndex(records)


@pytest.fixture(scope="module")
def pan_os_cna() -> CveRecord:
    path = require_data("cve", "2024", "3xxx", "CVE-2024-3400.json")
    return cve_format.parse(path.read_bytes())


def entry(cpe: str) -> Component:
    return Component(name=cpe, version=None, ecosystem=PRODUCT_ECOSYSTEM, cpe=cpe)


def test_identity_keeps_what_tells_two_entries_apart() -> None:
    assert identity(parse("cpe:2.3:o:fortinet:fortios:7.0.1:*:*:*:*:*:*:*")) == (
        "o:fortinet:fortios",
        "7.0.1",
    )
    assert identity(parse("cpe:2.3:o:paloaltonetworks:pan-os:10.2.12:h1:*:*:*:*:*:*")) == (
        "o:paloaltonetworks:pan-os",
        "10.2.12:h1",
    )
    assert identity(parse("cpe:2.3:a:qualitia:active\\!_mail:6.60:*:*:*:*:*:*:*"))[0] == (
        "a:qualitia:active!_mail"
    )
    assert identity(parse("cpe:2.3:h:cisco:rv320:-:*:*:*:*:*:*:*")) == ("h:cisco:rv320", "-")


def test_an_unknown_part_is_tried_as_each_part() -> None:
    name = parse("cpe:2.3:*:fortinet:fortios:7.0.1:*:*:*:*:*:*:*")
    assert [str(v.part) for v in variants(name)] == ["a", "o", "h"]
    assert product_keys(name) == {
        "a:fortinet:fortios",
        "o:fortinet:fortios",
        "h:fortinet:fortios",
        "text:fortinet:fortios",
    }


def test_vulnerable_versions_match_and_name_the_fix(index: ApplicabilityIndex) -> None:
    hits, reviews = match_products([entry("cpe:2.3:o:fortinet:fortios:7.0.1:*:*:*:*:*:*:*")], index)
    by_cve = {h.vulnerability: h for h in hits}
    assert by_cve["CVE-2024-21762"].fixed == ("7.0.14",)
    assert by_cve["CVE-2024-21762"].records == ("NVD:CVE-2024-21762",)
    assert "CVE-2018-13379" not in by_cve  # 6.0.0 - 6.0.4 and 5.x only
    assert reviews == []
    fixed, _ = match_products([entry("cpe:2.3:o:fortinet:fortios:7.6.3:*:*:*:*:*:*:*")], index)
    assert fixed == []


def test_a_product_without_a_version_is_for_review_not_a_finding(
    index: ApplicabilityIndex,
) -> None:
    hits, reviews = match_products([entry("cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*")], index)
    assert hits == []
    assert {r.vulnerability for r in reviews} >= {"CVE-2024-21762", "CVE-2018-13379"}
    assert all("no version" in r.reason for r in reviews)


def test_running_on_needs_the_platform(index: ApplicabilityIndex) -> None:
    firmware = entry("cpe:2.3:o:cisco:rv320_firmware:1.4.2.15:*:*:*:*:*:*:*")
    hardware = entry("cpe:2.3:h:cisco:rv320:-:*:*:*:*:*:*:*")
    alone, _ = match_products([firmware], index)
    assert alone == []
    together, _ = match_products([firmware, hardware], index)
    assert {h.vulnerability for h in together} >= {"CVE-2019-1653"}
    assert {h.component for h in together} == {firmware}  # the platform is not vulnerable


def test_an_entry_typed_without_a_part_meets_the_os_criteria(index: ApplicabilityIndex) -> None:
    hits, _ = match_products([entry("cpe:2.3:*:fortinet:fortios:7.0.1:*:*:*:*:*:*:*")], index)
    assert "CVE-2024-21762" in {h.vulnerability for h in hits}
    assert {h.package for h in hits} == {"*:fortinet:fortios"}  # the entry as written


def test_the_cna_decides_where_nvd_has_no_configuration(
    index: ApplicabilityIndex, pan_os_cna: CveRecord
) -> None:
    inside = entry("cpe:2.3:o:paloaltonetworks:pan-os:10.2.3:*:*:*:*:*:*:*")
    hits, _ = match_products([inside], index, [pan_os_cna])
    assert "CVE-2024-3400" in {h.vulnerability for h in hits}
    fixed = entry("cpe:2.3:o:paloaltonetworks:pan-os:10.2.9-h1:*:*:*:*:*:*:*")
    hits, _ = match_products([fixed], index, [pan_os_cna])
    assert "CVE-2024-3400" not in {h.vulnerability for h in hits}


def test_sbom_components_known_only_by_cpe_become_product_entries() -> None:
    bare = Component(name="FortiOS", version=None, cpe="cpe:/o:fortinet:fortios:7.0.1")
    product = as_product_entry(bare)
    assert product.ecosystem == PRODUCT_ECOSYSTEM
    assert product.cpe == "cpe:2.3:o:fortinet:fortios:7.0.1:*:*:*:*:*:*:*"
    assert product.version == "7.0.1"
    packaged = Component(
        name="django", version="4.2", ecosystem="PyPI", cpe="cpe:2.3:a:djangoproject:django:4.2"
    )
    assert as_product_entry(packaged) is packaged
    broken = Component(name="x", version="1", cpe="not a cpe")
    assert as_product_entry(broken) is broken


def test_real_records_are_all_reachable_by_key(index: ApplicabilityIndex) -> None:
    from sakimori.matching.product_names import nvd_record_keys

    for compiled in index.records:
        keys = nvd_record_keys(compiled.record)
        assert bool(keys) == bool(compiled.record.configurations), compiled.record.id
