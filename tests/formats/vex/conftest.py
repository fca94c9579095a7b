"""Shared by the VEX tests: sample paths, the CSAF 2.0 schema validator and the CSAF VEX profile."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT7

from tests.conftest import require_data

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "vex"
VALID = ASSETS / "valid"
INVALID = ASSETS / "invalid"
CSAF_DIR = ("csaf", "csaf_2.0")

# RFC 3339 date-time (what JSON Schema's "date-time" format means); jsonschema checks this format
# only with an optional package we do not install, so the check is registered here.
_DATE_TIME = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:"
    r"([0-5][0-9]|60)(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)


def _format_checker() -> FormatChecker:
    checker = FormatChecker()

    @checker.checks("date-time")
    def date_time(value: object) -> bool:
        return not isinstance(value, str) or _DATE_TIME.fullmatch(value) is not None

    @checker.checks("uri")
    def uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme) and " " not in value

    return checker


@pytest.fixture(scope="session")
def csaf_validator() -> Draft202012Validator:
    """The CSAF 2.0 JSON schema from ../shared/data/csaf, its CVSS references served locally."""
    root = require_data(*CSAF_DIR)
    schema = json.loads((root / "json_schema" / "csaf_json_schema.json").read_text())
    first = root / "referenced_schema" / "first"
    resources = []
    for name, spec in (("cvss-v2.0", DRAFT4), ("cvss-v3.0", DRAFT4), ("cvss-v3.1", DRAFT7)):
        contents = json.loads((first / f"{name}.json").read_text())
        resource = Resource.from_contents(contents, default_specification=spec)
        resources.append((f"https://www.first.org/cvss/{name}.json", resource))
    registry: Registry[Any] = Registry().with_resources(resources)
    return Draft202012Validator(schema, registry=registry, format_checker=_format_checker())


def schema_errors(validator: Draft202012Validator, document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def vex_profile_problems(document: dict[str, Any]) -> list[str]:
    """The CSAF 2.0 VEX profile (§4.5) and the mandatory tests that bite VEX writers: product ids
    defined once and referenced only when defined (6.1.1, 6.1.2), no contradicting product status
    (6.1.6), one entry per CVE (6.1.23), an impact statement for every known_not_affected product
    and an action statement for every known_affected one (6.1.27.9, 6.1.27.10)."""
    problems: list[str] = []
    if document["document"]["category"] != "csaf_vex":
        problems.append("category is not csaf_vex")
    tree = document.get("product_tree", {})
    defined: list[str] = []
    queue = list(tree.get("branches", []))
    for branch in queue:
        if "product" in branch:
            defined.append(branch["product"]["product_id"])
        queue.extend(branch.get("branches", []))
    defined += [p["product_id"] for p in tree.get("full_product_names", [])]
    defined += [r["full_product_name"]["product_id"] for r in tree.get("relationships", [])]
    if len(defined) != len(set(defined)):
        problems.append("a product id is defined twice")
    for relationship in tree.get("relationships", []):
        for key in ("product_reference", "relates_to_product_reference"):
            if relationship[key] not in defined:
                problems.append(f"relationship refers to undefined {relationship[key]}")
    groups = {g["group_id"]: g["product_ids"] for g in tree.get("product_groups", [])}

    def targets(item: dict[str, Any]) -> list[str]:
        return [
            *item.get("product_ids", []),
            *(p for g in item.get("group_ids", []) for p in groups[g]),
        ]

    cves = [v["cve"] for v in document.get("vulnerabilities", []) if "cve" in v]
    if len(cves) != len(set(cves)):
        problems.append("a CVE has two vulnerability entries")
    classes = {
        "known_not_affected": "not affected",
        "known_affected": "affected",
        "first_affected": "affected",
        "last_affected": "affected",
        "fixed": "fixed",
        "first_fixed": "fixed",
        "under_investigation": "under investigation",
    }
    for index, vulnerability in enumerate(document.get("vulnerabilities", [])):
        where = f"vulnerabilities[{index}]"
        if not vulnerability.get("notes"):
            problems.append(f"{where} has no notes")
        if "cve" not in vulnerability and "ids" not in vulnerability:
            problems.append(f"{where} has neither cve nor ids")
        status = vulnerability.get("product_status", {})
        if not any(status.get(k) for k in classes if not k.startswith(("first", "last"))):
            problems.append(f"{where} has no VEX product status")
        seen: dict[str, str] = {}
        for key, pids in status.items():
            for pid in pids:
                if pid not in defined:
                    problems.append(f"{where}.product_status.{key} names undefined {pid}")
                if key in classes and seen.setdefault(pid, classes[key]) != classes[key]:
                    problems.append(f"{where}: {pid} has contradicting statuses")
        flagged = {p for f in vulnerability.get("flags", []) for p in targets(f)}
        impact = {
            p
            for t in vulnerability.get("threats", [])
            if t["category"] == "impact"
            for p in targets(t)
        }
        remedied = {p for r in vulnerability.get("remediations", []) for p in targets(r)}
        for pid in status.get("known_not_affected", []):
            if pid not in flagged | impact:
                problems.append(f"{where}: not-affected {pid} has no impact statement")
        for pid in status.get("known_affected", []):
            if pid not in remedied:
                problems.append(f"{where}: affected {pid} has no action statement")
    return problems


def csaf_vex_examples() -> list[Path]:
    """Every CSAF document of category csaf_vex among the official examples."""
    root = require_data(*CSAF_DIR, "examples", "csaf")
    return sorted(
        path
        for path in root.rglob("*.json")
        if json.loads(path.read_bytes()).get("document", {}).get("category") == "csaf_vex"
    )
