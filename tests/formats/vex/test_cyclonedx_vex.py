"""CycloneDX 1.4–1.6 VEX: refs resolved through the BOM, every state and justification mapped,
round trips keep every statement and every original CycloneDX value."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from sakimori.errors import MalformedDocument, UnsupportedFormat
from sakimori.formats.vex import cyclonedx_vex
from sakimori.model.vex import (
    Justification,
    RemediationCategory,
    VexDocument,
    VexProduct,
    VexStatement,
    VexStatus,
)
from tests.formats.vex.conftest import VALID

ACME = VALID / "acme-1.6.cdx.json"
APP = VexProduct(
    purl="pkg:generic/acme/acme-app@2.4.0",
    cpe="cpe:2.3:a:acme:acme_app:2.4.0:*:*:*:*:*:*:*",
    name="Acme App 2.4.0",
)
J = Justification


def by_id(document: VexDocument) -> dict[str, VexStatement]:
    return {statement.vulnerability: statement for statement in document.statements}


def test_acme_sample_parses_into_the_model() -> None:
    document = cyclonedx_vex.parse(ACME.read_bytes())
    assert document.id == "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"
    assert (document.author, document.version) == ("Acme PSIRT", 3)
    assert document.timestamp == datetime(2024, 5, 1, 9, tzinfo=UTC)
    found = by_id(document)
    log4shell = found["CVE-2021-44228"]
    assert log4shell.products == (APP,)  # metadata.component, by bom-ref
    assert log4shell.aliases == ("GHSA-jfh8-c2jp-5v3q",)
    assert (log4shell.status, log4shell.justification) == (
        VexStatus.NOT_AFFECTED,
        J.VULNERABLE_CODE_NOT_PRESENT,
    )
    assert log4shell.source_justification is None  # code_not_present is the representative
    assert log4shell.impact_statement == "The JndiLookup class was removed before shipping."
    assert log4shell.timestamp == datetime(2024, 4, 30, 12, tzinfo=UTC)
    second = found["CVE-2021-45046"]
    assert second.products == (
        APP,
        VexProduct(purl="pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar"),
    )
    assert (second.justification, second.source_justification) == (
        J.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
        "requires_configuration",
    )
    assert second.timestamp == document.timestamp  # inherited from metadata.timestamp
    jackson = found["CVE-2020-25649"]
    assert jackson.status is VexStatus.AFFECTED
    assert jackson.action_statement == "Upgrade Acme App to 2.5.0."
    assert jackson.remediation_category is RemediationCategory.VENDOR_FIX  # "update" decides
    assert jackson.timestamp == datetime(2024, 4, 1, tzinfo=timezone(timedelta(hours=9)))
    nested = found["CVE-2021-45105"]
    assert nested.products == (
        VexProduct(
            purl="pkg:maven/org.apache.logging.log4j/log4j-api@2.14.1", name="log4j-api 2.14.1"
        ),
    )
    assert (nested.status, nested.source_status) == (VexStatus.FIXED, "resolved_with_pedigree")
    assert found["CVE-2024-0001"].products == (
        VexProduct(name="Acme API v2"),
        VexProduct(name="Acme bootloader 7"),
    )
    assert found["CVE-2024-0001"].status is VexStatus.UNDER_INVESTIGATION
    false_positive = found["CVE-2024-0002"]
    assert (false_positive.status, false_positive.source_status) == (
        VexStatus.NOT_AFFECTED,
        "false_positive",
    )
    assert false_positive.products == (
        VexProduct(ref="urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#acme-app"),
    )
    resolved = found["CVE-2024-0003"]
    assert resolved.products == (VexProduct(cpe=APP.cpe),)
    assert resolved.timestamp == datetime(2024, 4, 15, 8, 30, tzinfo=UTC)  # the entry's "updated"
    sub = found["CVE-2024-2001"]
    assert sub.products == (
        VexProduct(
            purl=APP.purl,
            cpe=APP.cpe,
            name=APP.name,
            subcomponents=(
                VexProduct(
                    purl="pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
                    name="log4j-core 2.14.1",
                ),
            ),
        ),
    )


@pytest.mark.parametrize(
    ("vulnerability", "label", "original"),
    [
        ("CVE-2024-1001", J.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH, None),
        ("CVE-2024-1002", J.COMPONENT_NOT_PRESENT, None),
        ("CVE-2024-1003", J.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY, None),
        ("CVE-2024-1004", J.INLINE_MITIGATIONS_ALREADY_EXIST, "protected_by_compiler"),
        ("CVE-2024-1005", J.INLINE_MITIGATIONS_ALREADY_EXIST, None),
        (
            "CVE-2024-1006",
            J.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY,
            "protected_at_perimeter",
        ),
        ("CVE-2024-1007", J.INLINE_MITIGATIONS_ALREADY_EXIST, "protected_by_mitigating_control"),
    ],
)
def test_each_justification_is_mapped(
    vulnerability: str, label: Justification, original: str | None
) -> None:
    statement = by_id(cyclonedx_vex.parse(ACME.read_bytes()))[vulnerability]
    assert (statement.justification, statement.source_justification) == (label, original)


def test_round_trip_keeps_every_statement_and_every_original_value() -> None:
    document = cyclonedx_vex.parse(ACME.read_bytes())
    written = cyclonedx_vex.render(document)
    assert cyclonedx_vex.parse(written) == document
    source = {v["id"]: v["analysis"] for v in json.loads(ACME.read_bytes())["vulnerabilities"]}
    again = {v["id"]: v["analysis"] for v in json.loads(written)["vulnerabilities"]}
    for vulnerability, analysis in source.items():
        assert again[vulnerability]["state"] == analysis["state"], vulnerability
        assert again[vulnerability].get("justification") == analysis.get("justification")


def test_cisa_use_case_1_in_1_4() -> None:
    document = cyclonedx_vex.parse((VALID / "product-abc-1.4.cdx.json").read_bytes())
    (statement,) = document.statements
    assert statement.products == (VexProduct(name="ABC 4.2"),)
    assert statement.remediation_category is RemediationCategory.NO_FIX_PLANNED
    assert statement.timestamp == datetime(2022, 3, 3, tzinfo=UTC)
    again = cyclonedx_vex.parse(cyclonedx_vex.render(document))
    assert again.statements == document.statements
    assert (again.id or "").startswith("urn:uuid:")


def mutate(index: int, edit: dict[str, Any], *, spec: str | None = None) -> bytes:
    document = json.loads(ACME.read_bytes())
    if spec is not None:
        document["specVersion"] = spec
    entry = document["vulnerabilities"][index]
    for key, value in edit.items():
        if value is ...:
            entry.pop(key, None)
        else:
            entry[key] = value
    return orjson.dumps(document)


@pytest.mark.parametrize(
    ("index", "edit", "message"),
    [
        (0, {"analysis": {"state": "affected"}}, r"vulnerabilities\[0\].analysis.state 'affected'"),
        (0, {"analysis": {"justification": "code_not_present"}}, r"analysis.state is missing"),
        (0, {"analysis": ...}, r"vulnerabilities\[0\].analysis.state is missing"),
        (
            1,
            {"analysis": {"state": "not_affected", "justification": "vulnerable_code_not_present"}},
            r"vulnerabilities\[1\].analysis.justification",
        ),
        (
            2,
            {"analysis": {"state": "exploitable", "response": ["patch"]}},
            "not a CycloneDX response",
        ),
        (0, {"id": ...}, r"vulnerabilities\[0\].id is missing"),
        (0, {"affects": ...}, r"vulnerabilities\[0\] names no product"),
        (0, {"affects": [{"ref": "nothing-here"}]}, r"affects\[0\].ref 'nothing-here' names no"),
        (0, {"affects": [{}]}, r"affects\[0\].ref is missing"),
        (0, {"affects": [{"ref": "pkg:maven"}]}, "not a package URL"),
        (0, {"references": [{"source": {"name": "x"}}]}, r"references\[0\].id is missing"),
        (0, {"properties": [{"name": "sakimori:vex:subcomponent", "value": "gone"}]}, "gone"),
    ],
)
def test_bad_entries_are_refused_naming_the_part(
    index: int, edit: dict[str, Any], message: str
) -> None:
    with pytest.raises(MalformedDocument, match=message):
        cyclonedx_vex.parse(mutate(index, edit))


@pytest.mark.parametrize("spec", ["1.2", "1.3", "2.0", None])
def test_other_spec_versions_are_refused(spec: str | None) -> None:
    document = json.loads(ACME.read_bytes())
    document["specVersion"] = spec
    with pytest.raises(UnsupportedFormat, match="specVersion"):
        cyclonedx_vex.parse(orjson.dumps(document))


def test_an_sbom_without_vulnerabilities_is_not_vex() -> None:
    data = b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}'
    with pytest.raises(MalformedDocument, match="without VEX statements"):
        cyclonedx_vex.parse(data)


def test_bad_component_identifiers_are_refused() -> None:
    document = json.loads(ACME.read_bytes())
    document["components"][0]["components"][0]["cpe"] = "cpe:2.3:a:only-three"
    with pytest.raises(MalformedDocument, match=r"components\[0\].components\[0\].cpe"):
        cyclonedx_vex.parse(orjson.dumps(document))
