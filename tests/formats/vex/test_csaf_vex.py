"""CSAF 2.0 VEX: the official csaf_vex examples import with the right product states, rendered
documents validate against the CSAF 2.0 schema and meet the VEX profile, and round trips keep every
statement."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from sakimori.errors import InvalidInput, MalformedDocument, UnsupportedFormat
from sakimori.formats.vex import csaf_vex
from sakimori.model.vex import (
    Justification,
    RemediationCategory,
    VexDocument,
    VexProduct,
    VexStatement,
    VexStatus,
)
from tests.conftest import require_data
from tests.formats.vex.conftest import (
    CSAF_DIR,
    VALID,
    csaf_vex_examples,
    schema_errors,
    vex_profile_problems,
)

NA, A, F, UI = (
    VexStatus.NOT_AFFECTED,
    VexStatus.AFFECTED,
    VexStatus.FIXED,
    VexStatus.UNDER_INVESTIGATION,
)
ABC = {
    "Example Company ABC 4.2": NA,
    "Example Company ABC >=1.0|<=2.3": NA,
    "Example Company ABC 2.5": NA,
    "Example Company ABC >=2.7|<=2.8": NA,
    "Example Company ABC 2.4": A,
    "Example Company ABC 2.6": A,
    "Example Company ABC >=2.9|<=4.1": A,
}
TCP_IP = [f"CVE-2020-{n}" for n in range(11896, 11915)]  # Ripple20: CVE-2020-11896 … 11914
#: Vulnerability → product name → status, per official example (written out from the documents).
EXPECTED: dict[str, dict[str, dict[str, VexStatus]]] = {
    "2022-evd-uc-01-a-001.json": {"CVE-2021-44228": {"Example Company DEF 1.0": A}},
    "2022-evd-uc-01-f-001.json": {"CVE-2021-44228": {"Example Company DEF 1.1": F}},
    "2022-evd-uc-01-na-001.json": {"CVE-2021-44228": {"Example Company ABC 4.2": NA}},
    "2022-evd-uc-01-ui-001.json": {"CVE-2021-44228": {"Example Company GHI 17.4": UI}},
    "2022-evd-uc-02-na-001.json": {cve: {"Example Company ABC 4.2": NA} for cve in TCP_IP},
    "2022-evd-uc-03-ms-001.json": {
        cve: {"Example Company GHI 17.4": status}
        for cve, status in zip(
            TCP_IP,
            # 11896 … 11914, in order
            [UI, NA, A, NA, UI, F, NA, UI, UI, NA, NA, A, UI, A, A, A, F, NA, F],
            strict=True,
        )
    },
    "2022-evd-uc-04-001.json": {
        "CVE-2021-44228": {
            "Example Company ABC 2.4": A,
            "Example Company ABC 2.6": A,
            "Example Company ABC >=2.9|<=4.1": A,
        }
    },
    "2022-evd-uc-05-001.json": {"CVE-2021-44228": {"Example Company XYZ all versions": UI}},
    "2022-evd-uc-06-001.json": {"CVE-2021-44228": ABC},
    "2022-evd-uc-07-001.json": {
        "CVE-2021-44228": {
            **ABC,
            "Example Company JKL >=4.5|<=5.0": A,
            "Example Company JKL >=1.0|<=4.4": NA,
            "Example Company JKL 5.1": F,
        }
    },
    "2022-evd-uc-08-001.json": {
        "CVE-2021-44228": {
            **ABC,
            "Example Company JKL >=4.5|<=5.0": A,
            "Example Company JKL >=1.0|<=4.4": NA,
            "Example Company JKL 5.1": F,
            "Example Company JKL 5.2": F,  # also "recommended", which is not a status
        },
        "CVE-2021-45105": {
            **ABC,
            "Example Company JKL 5.1": A,
            "Example Company JKL >=1.0|<=4.4": NA,
            "Example Company JKL 5.2": F,
        },
    },
    "2022-evd-uc-09-001.json": {
        "CVE-2021-44228": {"Example Company PROD_ALPHA": NA, "Example Company PROD_BETA": A},
        "CVE-2021-45105": {"Example Company PROD_ALPHA": NA, "Example Company PROD_BETA": A},
    },
    "sec-vex-2022-0001.json": {
        cve: {"Secvisogram <=1.14.0": NA}
        for cve in ("CVE-2021-44228", "CVE-2021-45046", "CVE-2021-45105")
    },
}
NOT_VEX = {
    "bsi-2022-0001.json": "csaf_security_advisory",
    "cisco-sa-20180328-smi2.json": "Cisco Security Advisory",
    "rhsa-2019_1862.json": "csaf_informational_advisory",
    "rhsa-2021_5186.json": "csaf_security_advisory",
    "rhsa-2021_5217.json": "csaf_security_advisory",
    "rhsa-2022_0011.json": "csaf_security_advisory",
}
RENDER = {"tlp": "WHITE", "publisher_namespace": "https://sakimori.example.jp"}


def states(document: VexDocument) -> dict[str, dict[str, VexStatus]]:
    found: dict[str, dict[str, VexStatus]] = {}
    for statement in document.split():
        product = statement.products[0]
        assert product.name is not None
        assert product.name not in found.get(statement.vulnerability, {}), "one status each"
        found.setdefault(statement.vulnerability, {})[product.name] = statement.status
    return found


def example(name: str) -> Path:
    return next(path for path in csaf_vex_examples() if path.name == name)


def test_every_csaf_vex_example_is_covered() -> None:
    assert sorted(path.name for path in csaf_vex_examples()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_official_example_imports_with_the_right_states(name: str) -> None:
    document = csaf_vex.parse(example(name).read_bytes())
    assert states(document) == EXPECTED[name]
    raw = json.loads(example(name).read_bytes())
    assert document.id == raw["document"]["tracking"]["id"]
    assert document.author == raw["document"]["publisher"]["name"]


def test_example_details_impact_action_and_justification() -> None:
    secvisogram = csaf_vex.parse(example("sec-vex-2022-0001.json").read_bytes())
    first = secvisogram.statements[0]
    assert first.justification is Justification.COMPONENT_NOT_PRESENT
    assert first.impact_statement == "Secvisogram is written in JavaScript. No Java is included."
    assert first.timestamp == datetime(2022, 5, 27, 10, tzinfo=UTC)  # the flag's date
    affected = csaf_vex.parse(example("2022-evd-uc-01-a-001.json").read_bytes()).statements[0]
    assert affected.action_statement == (
        "Customers should update to version 1.1 of product DEF which fixes the issue."
    )
    assert affected.remediation_category is RemediationCategory.VENDOR_FIX
    multi = csaf_vex.parse(example("2022-evd-uc-07-001.json").read_bytes())
    impacts = {s.impact_statement for s in multi.statements if s.status is NA}
    assert impacts == {
        "Class with vulnerable code was removed before shipping.",
        "Log4j was not included in those versions at all.",
    }


@pytest.mark.parametrize("name", sorted(NOT_VEX))
def test_other_csaf_profiles_are_refused(name: str) -> None:
    path = require_data(*CSAF_DIR, "examples", "csaf", name)
    with pytest.raises(UnsupportedFormat, match=NOT_VEX[name]):
        csaf_vex.parse(path.read_bytes())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_round_trip_keeps_every_statement_and_validates(
    name: str, csaf_validator: Draft202012Validator
) -> None:
    document = csaf_vex.parse(example(name).read_bytes())
    written = csaf_vex.render(document, **RENDER)
    rendered = json.loads(written)
    assert schema_errors(csaf_validator, rendered) == []
    assert vex_profile_problems(rendered) == []
    assert csaf_vex.parse(written) == document


def test_sample_with_relationships_groups_and_helpers(csaf_validator: Draft202012Validator) -> None:
    data = (VALID / "relationships.csaf.json").read_bytes()
    assert schema_errors(csaf_validator, json.loads(data)) == []
    assert vex_profile_problems(json.loads(data)) == []
    document = csaf_vex.parse(data)
    assert document.version == 2
    assert document.timestamp == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert document.last_updated == datetime(2024, 6, 1, 10, tzinfo=UTC)
    log4shell = document.statements[0]
    assert log4shell.aliases == ("GHSA-jfh8-c2jp-5v3q",)
    assert log4shell.products == (
        VexProduct(
            purl="pkg:generic/acme/acme-app@2.4.0",
            cpe="cpe:2.3:a:acme:acme_app:2.4.0:*:*:*:*:*:*:*",
            name="Apache Log4j Core 2.14.1 in Acme App 2.4.0",
            subcomponents=(
                VexProduct(
                    purl="pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
                    name="Apache Log4j Core 2.14.1",
                ),
            ),
        ),
    )
    assert log4shell.justification is Justification.VULNERABLE_CODE_NOT_PRESENT
    by_id = {(s.vulnerability, p.name): s for s in document.split() for p in s.products}
    first_fixed = by_id["CVE-2021-44228", "Acme App 2.5.0"]
    assert (first_fixed.status, first_fixed.source_status) == (F, "first_fixed")
    grouped = by_id["ACME-2024-17", "Acme App 2.4.0"]  # remediation given through a group id
    assert grouped.status is A
    assert grouped.action_statement == "Upgrade to Acme App 2.5.0."
    assert grouped.aliases == ()
    last = by_id["CVE-2021-45105", "Acme Appliance firmware 7"]
    assert (last.status, last.source_status) == (A, "last_affected")
    assert last.remediation_category is RemediationCategory.NO_FIX_PLANNED
    written = csaf_vex.render(document, **RENDER)
    assert schema_errors(csaf_validator, json.loads(written)) == []
    assert vex_profile_problems(json.loads(written)) == []
    assert csaf_vex.parse(written) == document


def build(*statements: VexStatement, version: int = 1) -> VexDocument:
    return VexDocument(
        statements=statements,
        id="SAKIMORI-VEX-1",
        author="Sakimori Coordination Centre",
        timestamp=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        version=version,
    )


def test_rendered_document_from_our_model_is_valid(csaf_validator: Draft202012Validator) -> None:
    app = VexProduct(purl="pkg:npm/%40acme/app@1.0.0", cpe="cpe:2.3:a:acme:app:1.0.0:*:*:*:*:*:*:*")
    lib = VexProduct(purl="pkg:npm/lodash@4.17.20")
    lib2 = VexProduct(cpe="cpe:/a:zlib:zlib:1.2.11")
    document = build(
        VexStatement(
            "CVE-2021-23337",
            (VexProduct(purl=app.purl, cpe=app.cpe, subcomponents=(lib, lib2)),),
            NA,
        ),
        VexStatement("GHSA-35jh-r3h4-6jhm", (app,), A, aliases=("CVE-2021-23337x",)),
        VexStatement("CVE-2024-0001", (app, VexProduct(name="Acme appliance")), F),
        VexStatement(
            "CVE-2024-0002",
            (app,),
            NA,
            justification=Justification.INLINE_MITIGATIONS_ALREADY_EXIST,
            timestamp=datetime(2025, 1, 1, tzinfo=UTC),
        ),
        VexStatement("CVE-2024-0003", (VexProduct(ref="https://acme.example/products/x"),), UI),
        version=3,
    )
    for tlp in ("WHITE", "green", "AMBER", "RED"):
        rendered = json.loads(
            csaf_vex.render(document, tlp=tlp, publisher_namespace="https://x.example")
        )
        assert schema_errors(csaf_validator, rendered) == []
        assert vex_profile_problems(rendered) == []
        assert rendered["document"]["distribution"]["tlp"]["label"] == tlp.upper()
    assert [r["number"] for r in rendered["document"]["tracking"]["revision_history"]] == [
        "1",
        "2",
        "3",
    ]
    again = csaf_vex.parse(csaf_vex.render(document, **RENDER))
    assert [(s.vulnerability, s.status) for s in again.split()] == [
        (s.vulnerability, s.status) for s in document.split()
    ]
    assert again.statements[0].products == (  # the chain of relationships, read back
        VexProduct(
            purl=app.purl,
            cpe=app.cpe,
            name="cpe:/a:zlib:zlib:1.2.11 in lodash 4.17.20 in app 1.0.0",
            subcomponents=(
                VexProduct(purl=lib.purl, name="lodash 4.17.20"),
                VexProduct(cpe=lib2.cpe, name=lib2.cpe),
            ),
        ),
    )


def test_latest_statement_wins_when_one_product_has_two() -> None:
    app = VexProduct(purl="pkg:pypi/app@1.0")
    early, late = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)
    document = build(
        VexStatement("CVE-2025-0001", (app,), F, timestamp=late),
        VexStatement("CVE-2025-0001", (app,), UI, timestamp=early),
    )
    again = csaf_vex.parse(csaf_vex.render(document, **RENDER))
    assert [s.status for s in again.statements] == [F]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tlp": "CLEAR"}, "TLP label"),
        ({"publisher_namespace": "not a url"}, "namespace"),
        ({"publisher_category": "government"}, "publisher category"),
        ({"status": "published"}, "status"),
    ],
)
def test_render_refuses_bad_parameters(options: dict[str, str], message: str) -> None:
    document = build(VexStatement("CVE-2025-0001", (VexProduct(purl="pkg:pypi/a@1"),), F))
    with pytest.raises(InvalidInput, match=message):
        csaf_vex.render(document, **{**RENDER, **options})


def test_render_needs_author_and_date() -> None:
    statement = VexStatement("CVE-2025-0001", (VexProduct(purl="pkg:pypi/a@1"),), F)
    with pytest.raises(InvalidInput, match="author"):
        csaf_vex.render(VexDocument((statement,), timestamp=datetime.now(UTC)), **RENDER)
    with pytest.raises(InvalidInput, match="release date"):
        csaf_vex.render(VexDocument((statement,), author="A"), **RENDER)


def mutate(path: list[str | int], value: Any) -> bytes:
    document = json.loads((VALID / "relationships.csaf.json").read_bytes())
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return orjson.dumps(document)


@pytest.mark.parametrize(
    ("path", "value", "error", "message"),
    [
        (["document", "category"], "csaf_base", UnsupportedFormat, "csaf_base"),
        (["document", "csaf_version"], "2.1", UnsupportedFormat, "2.1"),
        (["product_tree"], ..., MalformedDocument, "product_tree must be"),
        (["vulnerabilities", 0, "cve"], "CVE-21-1", MalformedDocument, r"vulnerabilities\[0\].cve"),
        (["vulnerabilities", 1, "ids"], ..., MalformedDocument, "neither cve nor ids"),
        (["vulnerabilities", 0, "product_status"], ..., MalformedDocument, "product_status"),
        (
            ["vulnerabilities", 0, "product_status", "known_affected"],
            ["FW-7"],
            MalformedDocument,
            "contradiction",
        ),
        (
            ["vulnerabilities", 0, "product_status", "affected"],
            ["FW-7"],
            MalformedDocument,
            "product_status.affected is not",
        ),
        (
            ["vulnerabilities", 0, "product_status", "fixed"],
            ["NOPE"],
            MalformedDocument,
            "'NOPE'",
        ),
        (
            ["vulnerabilities", 0, "flags", 0, "label"],
            "not_vulnerable",
            MalformedDocument,
            "flag label",
        ),
        (["vulnerabilities", 1, "remediations", 0, "group_ids"], ["X"], MalformedDocument, "group"),
        (
            ["vulnerabilities", 1, "remediations", 0, "category"],
            "patch",
            MalformedDocument,
            "remediation",
        ),
        (
            ["vulnerabilities", 2, "cve"],
            "CVE-2021-44228",
            MalformedDocument,
            "already has an entry",
        ),
        (
            ["product_tree", "full_product_names", 1, "product_id"],
            "LOG4J-2141",
            MalformedDocument,
            "defined twice",
        ),
        (
            ["product_tree", "relationships", 0, "product_reference"],
            "GONE",
            MalformedDocument,
            r"relationships\[0\]",
        ),
        (
            ["product_tree", "full_product_names", 0, "product_identification_helper", "purl"],
            "maven:log4j",
            MalformedDocument,
            "not a package URL",
        ),
        (
            ["document", "tracking", "current_release_date"],
            "yesterday",
            MalformedDocument,
            "RFC 3339",
        ),
        (["document", "tracking", "version"], "v2", MalformedDocument, "version"),
    ],
)
def test_bad_documents_are_refused_naming_the_part(
    path: list[str | int], value: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        csaf_vex.parse(mutate(path, value))


def test_the_schema_check_is_not_vacuous(csaf_validator: Draft202012Validator) -> None:
    """The validator used above does refuse bad dates, URIs and purls (formats included)."""
    document = json.loads((VALID / "relationships.csaf.json").read_bytes())
    document["document"]["tracking"]["current_release_date"] = "2024-06-01"
    document["document"]["publisher"]["namespace"] = "not a uri"
    helper = document["product_tree"]["full_product_names"][0]["product_identification_helper"]
    helper["purl"] = "maven:log4j"
    errors = schema_errors(csaf_validator, document)
    assert [error.split(":")[0] for error in errors] == [
        "document/publisher/namespace",
        "document/tracking/current_release_date",
        "product_tree/full_product_names/0/product_identification_helper/purl",
    ]
