"""CSAF 2.0 advisories and STIX 2.1 bundles: valid against the official schemas, the CSAF
mandatory tests that apply, parsed back with stix2, TLP 2.0 mapped and marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stix2
from jsonschema import Draft202012Validator

from sakimori.model.ecosystem import parse_purl
from sakimori.packages import csaf, stix
from sakimori.packages.model import Content, Tlp
from tests.packages.conftest import content, errors

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
RELEASES = [csaf.Release(1, T0, ""), csaf.Release(2, T0 + timedelta(days=2), "Adds a workaround.")]

VARIANTS: list[dict[str, Any]] = [
    content(),
    content(
        tlp="CLEAR",
        audience={"everyone": True},
        vulnerabilities=["CVE-2021-35042", "GHSA-xpfp-f569-q3p2", "PYSEC-2021-98"],
        products=[
            {"purl": "pkg:pypi/django@1.11.29"},
            {"cpe": "cpe:2.3:a:djangoproject:django:1.11.29:*:*:*:*:*:*:*"},
            {"vendor": "ACME", "product": "Billing Portal", "version": "4.2"},
            {"purl": "pkg:npm/lodash@2.4.2", "vendor": "lodash", "product": "lodash"},
        ],
        mitigations=[],
        detection_rules=[],
        deadlines=[],
        references=[],
        guidance="",
    ),
    content(tlp="AMBER+STRICT", audience={"sectors": ["finance"]}),
    content(tlp="RED", audience={"people": ["bank-user"]}, summary=""),
    content(tlp="GREEN", audience={"organisations": ["city-bank"]}, deadlines=[]),
]


def mandatory_problems(document: dict[str, Any]) -> list[str]:
    """The CSAF 2.0 mandatory tests (section 6.1) that apply to what this writer produces:
    6.1.1/6.1.2 product ids defined once and before use, 6.1.6 no contradicting status, 6.1.13
    valid purls, 6.1.14/6.1.16/6.1.21/6.1.22 the revision history (sorted, matches the
    version, no gaps, no duplicates), 6.1.17 final status is not draft, 6.1.23 a CVE once,
    6.1.27.1–6 the security advisory profile (document notes, an external reference, a
    product tree, notes and product status for every vulnerability), 6.1.29 remediations name
    their products."""
    problems: list[str] = []
    doc = document["document"]
    tree = document.get("product_tree")
    if tree is None:
        return ["6.1.27.4 no product tree"]
    defined = [p["product_id"] for p in tree.get("full_product_names", [])]
    defined += [r["full_product_name"]["product_id"] for r in tree.get("relationships", [])]
    if len(defined) != len(set(defined)):
        problems.append("6.1.2 a product id is defined twice")
    for p in tree.get("full_product_names", []):
        helper = p.get("product_identification_helper", {})
        if "purl" in helper:
            parse_purl(helper["purl"])
    history = doc["tracking"]["revision_history"]
    numbers = [int(h["number"]) for h in history]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        problems.append("6.1.14/6.1.22 revision history unsorted or duplicated")
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append("6.1.21 a revision is missing")
    if doc["tracking"]["version"] != history[-1]["number"]:
        problems.append("6.1.16 the version is not the last revision")
    if doc["tracking"]["status"] == "draft":
        problems.append("6.1.17 a final document is a draft")
    categories = {n["category"] for n in doc.get("notes", [])}
    if not categories & {"description", "details", "general", "summary"}:
        problems.append("6.1.27.1 no document note of a required category")
    if not any(r["category"] == "external" for r in doc.get("references", [])):
        problems.append("6.1.27.2 no external reference")
    cves = [v["cve"] for v in document.get("vulnerabilities", []) if "cve" in v]
    if len(cves) != len(set(cves)):
        problems.append("6.1.23 a CVE twice")
    for n, v in enumerate(document.get("vulnerabilities", [])):
        if not v.get("notes"):
            problems.append(f"6.1.27.5 vulnerability {n} has no notes")
        status = v.get("product_status")
        if not status:
            problems.append(f"6.1.27.6 vulnerability {n} has no product status")
            continue
        seen: dict[str, str] = {}
        for key, pids in status.items():
            for pid in pids:
                if pid not in defined:
                    problems.append(f"6.1.1 {pid} is not defined")
                if seen.setdefault(pid, key) != key:
                    problems.append(f"6.1.6 {pid} has contradicting statuses")
        for r in v.get("remediations", []):
            if not r.get("product_ids") and not r.get("group_ids"):
                problems.append("6.1.29 a remediation names no product")
            for pid in r.get("product_ids", []):
                if pid not in defined:
                    problems.append(f"6.1.1 {pid} is not defined")
    return problems


@pytest.mark.parametrize("value", VARIANTS, ids=lambda v: f"{v['tlp']}-{len(v['products'])}")
def test_every_csaf_document_validates(
    value: dict[str, Any], csaf_validator: Draft202012Validator
) -> None:
    document = csaf.render(7, Content.from_dict(value), RELEASES)
    assert errors(csaf_validator, document) == []
    assert mandatory_problems(document) == []
    assert document["document"]["category"] == "csaf_security_advisory"
    assert document["document"]["tracking"]["version"] == "2"


def test_the_mandatory_checks_can_fail() -> None:
    document = csaf.render(7, Content.from_dict(content()), RELEASES)
    document["vulnerabilities"][0]["product_status"]["known_affected"].append("CSAFPID-9999")
    document["document"]["references"] = []
    assert len(mandatory_problems(document)) == 2


@pytest.mark.parametrize(
    ("tlp", "label", "restriction"),
    [
        ("CLEAR", "WHITE", "not limited"),
        ("GREEN", "GREEN", "community"),
        ("AMBER", "AMBER", "clients"),
        ("AMBER+STRICT", "AMBER", "organisation only"),
        ("RED", "RED", "named recipients"),
    ],
)
def test_tlp_2_is_mapped_to_the_labels_csaf_knows(tlp: str, label: str, restriction: str) -> None:
    audience = {"people": ["x"]} if tlp == "RED" else {"affected": True}
    document = csaf.render(1, Content.from_dict(content(tlp=tlp, audience=audience)), RELEASES)
    distribution = document["document"]["distribution"]
    assert distribution["tlp"]["label"] == label
    assert f"TLP:{tlp}" in distribution["text"]
    assert restriction in distribution["text"]


@pytest.mark.parametrize("value", VARIANTS, ids=lambda v: f"{v['tlp']}-{len(v['products'])}")
def test_every_stix_bundle_validates_and_parses_back(
    value: dict[str, Any], stix_validator: Draft202012Validator
) -> None:
    parsed = Content.from_dict(value)
    objects = stix.objects(3, parsed, created=T0, modified=T0 + timedelta(days=1))
    bundle = stix.bundle(objects)
    assert errors(stix_validator, bundle) == []
    back = stix2.parse(bundle, allow_custom=True)
    kinds = [o.type for o in back.objects]
    assert kinds.count("vulnerability") == len(parsed.vulnerabilities)
    assert kinds.count("indicator") == len(parsed.detection_rules)
    marking = stix.TLP2_MARKING_IDS[parsed.tlp]
    for item in bundle["objects"]:
        if item["type"] not in {"marking-definition", "identity"}:
            assert item["object_marking_refs"] == [marking]
    definitions = [o for o in bundle["objects"] if o["type"] == "marking-definition"]
    assert [d["id"] for d in definitions] == [marking]
    extension = definitions[0]["extensions"][stix.TLP2_EXTENSION]
    assert extension["tlp_2_0"] == parsed.tlp.value.lower()


def test_sigma_rules_are_indicators_with_the_sigma_pattern_type() -> None:
    parsed = Content.from_dict(content())
    indicators = [
        o for o in stix.objects(1, parsed, created=T0, modified=T0) if o["type"] == "indicator"
    ]
    assert [(i["pattern_type"], i["pattern"]) for i in indicators] == [
        ("sigma", parsed.detection_rules[0].sigma)
    ]


def test_a_revision_is_a_new_version_of_the_same_objects() -> None:
    parsed = Content.from_dict(content())
    first = stix.objects(1, parsed, created=T0, modified=T0)
    second = stix.objects(1, parsed, created=T0, modified=T0 + timedelta(days=1))
    assert [o["id"] for o in first] == [o["id"] for o in second]
    assert all(a["modified"] < b["modified"] for a, b in zip(first, second, strict=True))
    withdrawn = stix.objects(1, parsed, created=T0, modified=T0, revoked=True)
    assert withdrawn[0]["type"] == "report"
    assert withdrawn[0]["revoked"] is True


def test_shared_objects_are_checked() -> None:
    parsed = Content.from_dict(content(tlp="GREEN"))
    good = stix.objects(1, parsed, created=T0, modified=T0)[1]
    assert stix.check(good)[0] == good
    assert stix.check({**good, "spec_version": "2.0"})[0] is None
    assert "valid" in stix.check({"type": "indicator", "spec_version": "2.1", "id": "x"})[1]
    red = {**good, "object_marking_refs": [stix.TLP2_MARKING_IDS[Tlp.RED]]}
    assert "TLP:RED" in stix.check(red)[1]
