"""VEX import, application to findings, and export (SQLite and PostgreSQL).

The inventory is the real requirements lockfile from osv-scanner's test data (django 2.2.24), the
intelligence the real OSV django records: findings such as CVE-2021-45115 (alias
GHSA-53qw-q765-4fww). VEX documents are written by hand below in each format's own JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from sakimori.errors import Conflict, InvalidInput, NotFound
from sakimori.formats.limits import Limits
from sakimori.formats.vex import VexFormat
from sakimori.model.lifecycle import Move, State
from sakimori.services import findings as findings_service
from sakimori.services.intel import load_paths
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.services.tracking import upload_inventory
from sakimori.services.vex import export_vex, import_vex, list_statements
from sakimori.services.vex_match import from_data, same_package, same_vulnerability
from sakimori.store import models
from sakimori.store.db import Database, open_database
from tests.conftest import DATA, require_data
from tests.formats.vex.conftest import (
    csaf_validator,  # noqa: F401 - the session fixture, shared with the format tests
    csaf_vex_examples,
    schema_errors,
    vex_profile_problems,
)

ORG, ASSET = "city-bank", "web-portal"
OTHER = "river-bank"
PURL = "pkg:pypi/django@2.2.24"
NOW = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
LOCKFILE = (
    "lockfiles", "osv-scanner-add393a", "cmd", "osv-scanner", "scan", "source", "testdata",
    "locks-requirements", "requirements.prod.txt",
)  # fmt: skip


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    load_paths(database, [require_data("osv", "pypi", "vulns", "django")], Limits())
    for org in (ORG, OTHER):
        create_organisation(database, org, org.title(), "operator", ["finance"])
        create_asset(database, f"{org}/{ASSET}", "Online banking", "critical")
        upload_inventory(database, f"{org}/{ASSET}", require_data(*LOCKFILE), "alice", Limits())
    yield database
    database.dispose()


# -- documents, written in each format's own shape ------------------------------------------------

Said = dict[str, Any]


def said(
    vulnerability: str,
    status: str,
    *,
    purl: str = PURL,
    aliases: tuple[str, ...] = (),
    justification: str | None = None,
    impact: str | None = None,
    action: str | None = None,
) -> Said:
    return {
        "vulnerability": vulnerability,
        "status": status,
        "purl": purl,
        "aliases": list(aliases),
        "justification": justification,
        "impact": impact,
        "action": action,
    }


def openvex_document(statements: list[Said]) -> bytes:
    out = []
    for s in statements:
        item: dict[str, Any] = {
            "vulnerability": {"name": s["vulnerability"], "aliases": s["aliases"]},
            "products": [{"@id": s["purl"]}],
            "status": s["status"],
        }
        for key, field in (
            ("justification", "justification"),
            ("impact_statement", "impact"),
            ("action_statement", "action"),
        ):
            if s[field]:
                item[key] = s[field]
        out.append(item)
    return json.dumps(
        {
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://psirt.django.example/vex/2025-001",
            "author": "Django Vendor PSIRT",
            "timestamp": "2025-05-01T00:00:00Z",
            "version": 1,
            "statements": out,
        }
    ).encode()


_CDX_STATE = {
    "not_affected": "not_affected",
    "affected": "exploitable",
    "fixed": "resolved",
    "under_investigation": "in_triage",
}
_CDX_JUSTIFICATION = {
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "component_not_present": "requires_dependency",
    "vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
    "inline_mitigations_already_exist": "protected_at_runtime",
}


def cyclonedx_document(statements: list[Said]) -> bytes:
    out = []
    for s in statements:
        analysis: dict[str, Any] = {"state": _CDX_STATE[s["status"]]}
        if s["justification"]:
            analysis["justification"] = _CDX_JUSTIFICATION[s["justification"]]
        if s["impact"]:
            analysis["detail"] = s["impact"]
        entry: dict[str, Any] = {
            "id": s["vulnerability"],
            "references": [{"id": a, "source": {"name": a.split("-")[0]}} for a in s["aliases"]],
            "analysis": analysis,
            "affects": [{"ref": s["purl"]}],
        }
        if s["action"]:
            entry["recommendation"] = s["action"]
        out.append(entry)
    return json.dumps(
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "version": 1,
            "metadata": {
                "timestamp": "2025-05-01T00:00:00Z",
                "authors": [{"name": "Django Vendor PSIRT"}],
            },
            "vulnerabilities": out,
        }
    ).encode()


_CSAF_GROUP = {
    "not_affected": "known_not_affected",
    "affected": "known_affected",
    "fixed": "fixed",
    "under_investigation": "under_investigation",
}


def csaf_document(statements: list[Said]) -> bytes:
    pids: dict[str, str] = {}
    for s in statements:
        pids.setdefault(s["purl"], f"CSAFPID-{len(pids) + 1:04d}")
    vulnerabilities = []
    for s in statements:
        pid = pids[s["purl"]]
        entry: dict[str, Any] = {"product_status": {_CSAF_GROUP[s["status"]]: [pid]}}
        vulnerability, aliases = s["vulnerability"], s["aliases"]
        ids = [{"system_name": v.split("-")[0], "text": v} for v in aliases]
        if vulnerability.startswith("CVE-"):
            entry["cve"] = vulnerability
        else:
            ids.insert(0, {"system_name": vulnerability.split("-")[0], "text": vulnerability})
        if ids:
            entry["ids"] = ids
        if s["justification"]:
            entry["flags"] = [{"label": s["justification"], "product_ids": [pid]}]
        if s["impact"]:
            entry["threats"] = [
                {"category": "impact", "details": s["impact"], "product_ids": [pid]}
            ]
        if s["action"]:
            entry["remediations"] = [
                {"category": "vendor_fix", "details": s["action"], "product_ids": [pid]}
            ]
        vulnerabilities.append(entry)
    return json.dumps(
        {
            "document": {
                "category": "csaf_vex",
                "csaf_version": "2.0",
                "publisher": {
                    "category": "vendor",
                    "name": "Django Vendor PSIRT",
                    "namespace": "https://psirt.django.example",
                },
                "title": "Django VEX",
                "tracking": {
                    "current_release_date": "2025-05-01T00:00:00Z",
                    "id": "DJANGO-VEX-2025-001",
                    "initial_release_date": "2025-05-01T00:00:00Z",
                    "revision_history": [
                        {"date": "2025-05-01T00:00:00Z", "number": "1", "summary": "First."}
                    ],
                    "status": "final",
                    "version": "1",
                },
            },
            "product_tree": {
                "full_product_names": [
                    {
                        "name": f"product {pid}",
                        "product_id": pid,
                        "product_identification_helper": {"purl": purl},
                    }
                    for purl, pid in pids.items()
                ]
            },
            "vulnerabilities": vulnerabilities,
        }
    ).encode()


WRITERS: dict[str, Callable[[list[Said]], bytes]] = {
    "openvex": openvex_document,
    "cyclonedx": cyclonedx_document,
    "csaf": csaf_document,
}
EXPORTS = {
    "openvex": VexFormat.OPENVEX,
    "cyclonedx": VexFormat.CYCLONEDX,
    "csaf": VexFormat.CSAF,
}


# -- helpers ---------------------------------------------------------------------------------------


def finding_of(db: Database, vulnerability: str, org: str = ORG) -> findings_service.FindingView:
    found = findings_service.list_findings(
        db, findings_service.Filters(organisation=org, vulnerability=vulnerability)
    )
    assert len(found) == 1, (vulnerability, found)
    return found[0]


def counts(db: Database) -> dict[str, Any]:
    with db.transaction() as session:
        return {
            "documents": session.scalar(select(func.count()).select_from(models.VexDocumentRow)),
            "statements": session.scalar(select(func.count()).select_from(models.VexStatementRow)),
            "transitions": session.scalar(
                select(func.count()).select_from(models.FindingTransition)
            ),
            "states": sorted(
                (row.id, row.state, row.justification)
                for row in session.scalars(select(models.Finding))
            ),
        }


def run_import(db: Database, data: bytes, org: str = ORG, **options: Any) -> Any:
    options.setdefault("asset", ASSET)
    return import_vex(
        db, data, organisation=org, actor="vex-bot", source="vendor.json", now=NOW, **options
    )


def statement_set(db: Database, org: str) -> set[tuple[Any, ...]]:
    """What a statement says: vulnerability ids, product, status, justification, statements."""
    with db.transaction() as session:
        rows = session.scalars(
            select(models.VexStatementRow)
            .join(models.Organisation)
            .where(models.Organisation.slug == org)
        ).all()
        return {
            (
                s.vulnerability,
                frozenset(s.aliases),
                s.products[0].purl,
                s.status.value,
                s.justification,
                s.impact_statement,
                s.action_statement,
            )
            for s in (from_data(row.data) for row in rows)
        }


# -- applying each status, from each format -------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_each_status_applies_from_each_format(db: Database, fmt: str) -> None:
    ready = finding_of(db, "CVE-2021-45452")
    findings_service.transition(db, ready.id, Move(State.FIX_APPLIED, "carol", "upgraded"))
    document = WRITERS[fmt](
        [
            said(
                "CVE-2021-45115", "not_affected",
                justification="vulnerable_code_not_in_execute_path",
                impact="The password validators are not used by this product.",
            ),
            said("CVE-2021-45116", "affected", action="Upgrade Django to 2.2.26 or later."),
            said("CVE-2021-45452", "fixed"),
            said("CVE-2021-44420", "under_investigation"),
            said("CVE-2022-22818", "fixed"),  # open: the lifecycle does not allow open -> fixed
        ]
    )  # fmt: skip
    report = run_import(db, document)

    not_affected = finding_of(db, "CVE-2021-45115")
    assert not_affected.state == "not_affected"
    assert not_affected.justification == "vulnerable_code_not_in_execute_path"
    _, history = findings_service.show(db, not_affected.id)
    last = history[-1]
    at = last.at if last.at.tzinfo else last.at.replace(tzinfo=UTC)  # SQLite: naive UTC
    assert (last.from_state, last.to_state, last.actor, at) == (
        "open", "not_affected", "vex-bot", NOW,
    )  # fmt: skip
    assert "Django Vendor PSIRT" in last.note
    assert "password validators are not used" in last.note

    acknowledged = finding_of(db, "CVE-2021-45116")
    assert acknowledged.state == "acknowledged"
    assert "Upgrade Django to 2.2.26" in findings_service.show(db, acknowledged.id)[1][-1].note
    assert finding_of(db, "CVE-2021-45452").state == "fixed"
    assert finding_of(db, "CVE-2021-44420").state == "open"
    assert finding_of(db, "CVE-2022-22818").state == "open"
    assert {(c.vulnerability, c.from_state, c.to_state) for c in report.applied} == {
        ("CVE-2021-45115", "open", "not_affected"),
        ("CVE-2021-45116", "open", "acknowledged"),
        ("CVE-2021-45452", "fix_applied", "fixed"),
    }
    assert [(s.vulnerability, s.state) for s in report.skipped] == [("CVE-2022-22818", "open")]
    assert "open -> fixed" in report.skipped[0].reason
    assert report.unmatched == ()
    listed = {v.vulnerability: v for v in list_statements(db, organisation=ORG)}
    assert (listed["CVE-2021-44420"].matched, listed["CVE-2021-44420"].applied) == (1, 0)
    assert (listed["CVE-2021-45115"].matched, listed["CVE-2021-45115"].applied) == (1, 1)
    assert (
        listed["CVE-2021-45115"].document
        == {
            "openvex": "vendor.json (https://psirt.django.example/vex/2025-001)",
            "cyclonedx": "vendor.json",  # no serialNumber: the document has no id
            "csaf": "vendor.json (DJANGO-VEX-2025-001)",
        }[fmt]
    )
    # The other organisation's findings are not touched.
    assert finding_of(db, "CVE-2021-45115", OTHER).state == "open"


def test_not_affected_without_justification_is_reported_not_applied(db: Database) -> None:
    document = openvex_document(
        [said("CVE-2021-45115", "not_affected", impact="Only the admin uses this.")]
    )
    report = run_import(db, document)
    assert finding_of(db, "CVE-2021-45115").state == "open"
    assert report.applied == ()
    assert "justification" in report.skipped[0].reason


# -- matching ------------------------------------------------------------------------------------


def test_matches_by_alias_on_either_side(db: Database) -> None:
    document = openvex_document(
        [
            # The statement names the GHSA id; the finding's primary id is the CVE.
            said("GHSA-53qw-q765-4fww", "not_affected", justification="component_not_present"),
            # The statement's primary id is unknown here; its alias is the finding's CVE.
            said(
                "JVNDB-2022-000001", "not_affected", aliases=("CVE-2021-45116",),
                justification="vulnerable_code_not_present",
            ),
        ]
    )  # fmt: skip
    report = run_import(db, document)
    assert finding_of(db, "CVE-2021-45115").state == "not_affected"
    assert finding_of(db, "CVE-2021-45116").state == "not_affected"
    assert len(report.applied) == 2


def test_purl_qualifiers_count_only_when_both_sides_have_them(db: Database) -> None:
    with_qualifier = "pkg:pypi/Django@2.2.24?repository_url=https://pypi.org/simple"
    document = cyclonedx_document(
        [
            said(
                "CVE-2021-45115", "not_affected", purl=with_qualifier,
                justification="vulnerable_code_not_present",
            )
        ]
    )  # fmt: skip
    run_import(db, document)
    assert finding_of(db, "CVE-2021-45115").state == "not_affected"

    assert same_package("pkg:pypi/django@2.2.24?arch=x86", "pkg:pypi/django@2.2.24")
    assert same_package("pkg:pypi/django@2.2.24", "pkg:pypi/django@2.2.24?arch=x86")
    assert same_package("pkg:pypi/django@2.2.24?arch=x86", "pkg:pypi/django@2.2.24?arch=x86")
    assert not same_package("pkg:pypi/django@2.2.24?arch=x86", "pkg:pypi/django@2.2.24?arch=arm")
    assert same_package("pkg:pypi/django", "pkg:pypi/django@2.2.24")  # no version: every one
    assert not same_package("pkg:pypi/django@2.2.25", "pkg:pypi/django@2.2.24")
    assert not same_package("pkg:npm/django@2.2.24", "pkg:pypi/django@2.2.24")
    assert not same_package("not a purl", "pkg:pypi/django@2.2.24")
    assert same_vulnerability(["cve-2021-1", "GHSA-x"], ["CVE-2021-1"])
    assert not same_vulnerability(["CVE-2021-1"], ["CVE-2021-2"])


def test_unknown_product_refuses_the_whole_import(db: Database) -> None:
    before = counts(db)
    document = csaf_document(
        [
            said("CVE-2021-45115", "not_affected", justification="component_not_present"),
            said("CVE-2021-45116", "affected", purl="pkg:pypi/django@2.2.25"),
        ]
    )
    with pytest.raises(InvalidInput) as refused:
        run_import(db, document)
    message = refused.value.diagnostics()
    assert "CVE-2021-45116 in pkg:pypi/django@2.2.25" in message
    assert "nothing was imported" in message
    assert "--allow-unmatched" in message
    assert counts(db) == before

    report = run_import(db, document, allow_unmatched=True)
    assert report.unmatched == ("CVE-2021-45116 in pkg:pypi/django@2.2.25",)
    assert finding_of(db, "CVE-2021-45115").state == "not_affected"
    listed = {v.vulnerability: v for v in list_statements(db, organisation=ORG)}
    assert listed["CVE-2021-45116"].unmatched
    assert not listed["CVE-2021-45115"].unmatched
    with pytest.raises(Conflict, match="imported already"):
        run_import(db, document, allow_unmatched=True)


def test_a_product_in_another_assets_inventory_is_unknown_to_this_asset(db: Database) -> None:
    create_asset(db, f"{ORG}/empty", "No inventory yet")
    document = openvex_document(
        [said("CVE-2021-45115", "not_affected", justification="component_not_present")]
    )
    with pytest.raises(InvalidInput, match="no current inventory of city-bank/empty"):
        run_import(db, document, asset="empty")
    report = run_import(db, document, asset=None)  # the organisation: web-portal has it
    assert len(report.applied) == 1


def test_closed_findings_are_not_reopened_or_reclosed(db: Database) -> None:
    accepted = finding_of(db, "CVE-2021-45115")
    findings_service.transition(
        db,
        accepted.id,
        Move(State.RISK_ACCEPTED, "dave", "internal only", expires=datetime(2099, 1, 1).date()),
    )
    declared = finding_of(db, "CVE-2021-45116")
    findings_service.transition(
        db, declared.id, Move(State.NOT_AFFECTED, "dave", justification="component_not_present")
    )
    before = counts(db)
    document = openvex_document(
        [
            said("CVE-2021-45115", "not_affected", justification="vulnerable_code_not_present"),
            said("CVE-2021-45116", "affected", action="Upgrade."),
            said("CVE-2021-45116", "fixed"),
        ]
    )
    report = run_import(db, document)
    after = counts(db)
    assert after["states"] == before["states"]
    assert after["transitions"] == before["transitions"]
    assert report.applied == ()
    assert sorted((s.vulnerability, s.state) for s in report.skipped) == [
        ("CVE-2021-45115", "risk_accepted"),
        ("CVE-2021-45116", "not_affected"),
        ("CVE-2021-45116", "not_affected"),
    ]
    assert all("does not reopen" in s.reason for s in report.skipped)


# -- export and round trips ------------------------------------------------------------------------

ROUND_TRIP = [
    said(
        "CVE-2021-45115", "not_affected", aliases=("GHSA-53qw-q765-4fww",),
        justification="vulnerable_code_not_in_execute_path",
        impact="The password validators are not used.",
    ),
    said("CVE-2021-45116", "not_affected", justification="component_not_present"),
    said(
        "CVE-2021-45452", "not_affected",
        justification="vulnerable_code_cannot_be_controlled_by_adversary",
        impact="Storage names come from the application only.",
    ),
    said("CVE-2022-22818", "not_affected", justification="inline_mitigations_already_exist"),
    said("CVE-2022-23833", "not_affected", justification="vulnerable_code_not_present"),
    said("CVE-2022-28346", "affected", action="Upgrade Django to 2.2.28."),
    said("CVE-2022-28347", "fixed", action="Fixed by the vendor's backport."),
    said("CVE-2021-44420", "under_investigation"),
]  # fmt: skip


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_round_trip_keeps_every_statement(
    db: Database,
    fmt: str,
    csaf_validator: Draft202012Validator,  # noqa: F811
) -> None:
    run_import(db, WRITERS[fmt](ROUND_TRIP))
    first = statement_set(db, ORG)
    assert len(first) == len(ROUND_TRIP)
    exported = export_vex(db, organisation=ORG, fmt=EXPORTS[fmt], derived=False, now=NOW)
    if fmt == "csaf":
        assert schema_errors(csaf_validator, json.loads(exported)) == []
        assert vex_profile_problems(json.loads(exported)) == []
    run_import(db, exported, org=OTHER)
    assert statement_set(db, OTHER) == first
    # The statements applied in the other organisation as they did in the first.
    assert finding_of(db, "CVE-2021-45115", OTHER).state == "not_affected"
    assert finding_of(db, "CVE-2022-28346", OTHER).state == "acknowledged"


@pytest.mark.parametrize("fmt", [VexFormat.OPENVEX, VexFormat.CYCLONEDX, VexFormat.CSAF])
def test_export_adds_the_findings_states_without_repeating_imported_ones(
    db: Database,
    fmt: VexFormat,
    csaf_validator: Draft202012Validator,  # noqa: F811
) -> None:
    run_import(db, openvex_document(ROUND_TRIP[:1]))
    mitigated = finding_of(db, "CVE-2021-45116")
    findings_service.transition(db, mitigated.id, Move(State.MITIGATED, "erin", "WAF rule 12"))
    exported = export_vex(db, organisation=ORG, asset=ASSET, fmt=fmt, now=NOW)
    if fmt is VexFormat.CSAF:
        assert schema_errors(csaf_validator, json.loads(exported)) == []
        assert vex_profile_problems(json.loads(exported)) == []
    run_import(db, exported, org=OTHER)
    back = statement_set(db, OTHER)
    assert statement_set(db, ORG) <= back
    every = findings_service.list_findings(
        db, findings_service.Filters(organisation=ORG, open_only=False)
    )
    by_id = {}
    for vulnerability, _, _, status, justification, impact, action in back:
        assert (vulnerability, status) not in by_id, "a statement was repeated"
        by_id[vulnerability, status] = (justification, impact, action)
    # One statement per finding: the imported one for CVE-2021-45115, derived ones for the rest.
    assert {v for v, _ in by_id} == {f.vulnerability for f in every}
    assert by_id["CVE-2021-45116", "affected"][2] == "Mitigated: WAF rule 12"
    assert by_id["CVE-2021-45115", "not_affected"][1] == "The password validators are not used."
    # An open finding is exported as under investigation, which moves nothing when read back:
    # the other organisation's copies of those findings are still open.
    still_open = {f.vulnerability for f in every if f.state == "open"}
    assert still_open
    assert {v for v, status in by_id if status == "under_investigation"} == still_open
    assert all(finding_of(db, v, OTHER).state == "open" for v in still_open)


def test_export_of_an_asset_takes_organisation_wide_statements_for_its_products(
    db: Database,
) -> None:
    create_asset(db, f"{ORG}/empty", "No inventory yet")
    run_import(db, openvex_document(ROUND_TRIP[:2]), asset=None)
    portal = json.loads(export_vex(db, organisation=ORG, asset=ASSET, fmt=VexFormat.OPENVEX))
    empty = json.loads(export_vex(db, organisation=ORG, asset="empty", fmt=VexFormat.OPENVEX))
    assert {s["vulnerability"]["name"] for s in portal["statements"]} >= {
        "CVE-2021-45115", "CVE-2021-45116",
    }  # fmt: skip
    assert empty["statements"] == []


# -- the official CSAF VEX examples ---------------------------------------------------------------


def _expected_states(document: dict[str, Any]) -> set[tuple[str, str, str, str | None]]:
    """(vulnerability, product name, status, justification) straight from the CSAF JSON."""
    tree = document["product_tree"]
    names: dict[str, str] = {}
    queue = list(tree.get("branches", []))
    while queue:
        branch = queue.pop()
        if "product" in branch:
            names[branch["product"]["product_id"]] = branch["product"]["name"]
        queue.extend(branch.get("branches", []))
    for product in tree.get("full_product_names", []):
        names[product["product_id"]] = product["name"]
    for link in tree.get("relationships", []):
        names[link["full_product_name"]["product_id"]] = link["full_product_name"]["name"]
    groups = {g["group_id"]: g["product_ids"] for g in tree.get("product_groups", [])}
    status_of = {
        "known_not_affected": "not_affected",
        "known_affected": "affected",
        "first_affected": "affected",
        "last_affected": "affected",
        "fixed": "fixed",
        "first_fixed": "fixed",
        "under_investigation": "under_investigation",
    }
    expected = set()
    for entry in document["vulnerabilities"]:
        vulnerability = entry.get("cve") or entry["ids"][0]["text"]
        labels = {}
        for flag in entry.get("flags", []):
            for pid in [*flag.get("product_ids", []), *(
                p for g in flag.get("group_ids", []) for p in groups[g]
            )]:  # fmt: skip
                labels.setdefault(pid, flag["label"])
        for group, pids in entry["product_status"].items():
            if group not in status_of:
                continue  # "recommended" is not a VEX status
            for pid in pids:
                status = status_of[group]
                label = labels.get(pid) if status == "not_affected" else None
                expected.add((vulnerability, names[pid], status, label))
    return expected


def _example_names() -> list[str]:
    """Names of the csaf_vex examples, read at collection without failing when the data is
    missing (the test then fails or skips through ``require_data``)."""
    root = DATA.joinpath("csaf", "csaf_2.0", "examples", "csaf")
    if not root.exists():
        return ["missing"]
    return sorted(
        path.name
        for path in root.rglob("*.json")
        if json.loads(path.read_bytes()).get("document", {}).get("category") == "csaf_vex"
    )


@pytest.mark.parametrize("name", _example_names())
def test_official_csaf_vex_examples_import_with_the_right_states(db: Database, name: str) -> None:
    data = next(p for p in csaf_vex_examples() if p.name == name).read_bytes()
    with pytest.raises(InvalidInput, match="no current inventory"):
        run_import(db, data)  # their products are not in this bank's inventory
    report = run_import(db, data, allow_unmatched=True)
    assert report.format == "csaf-vex"
    assert report.applied == ()
    with db.transaction() as session:
        rows = session.scalars(
            select(models.VexStatementRow).where(
                models.VexStatementRow.document_id == report.document_id
            )
        ).all()
        got = {
            (row.vulnerability, s.products[0].name, row.status, row.justification)
            for row in rows
            for s in [from_data(row.data)]
        }
    expected = _expected_states(json.loads(data))
    assert expected  # every example says something
    assert got == expected


def test_csaf_examples_export_as_valid_csaf(
    db: Database,
    csaf_validator: Draft202012Validator,  # noqa: F811
) -> None:
    examples = csaf_vex_examples()
    assert len(examples) >= 13
    for path in examples:
        run_import(db, path.read_bytes(), allow_unmatched=True)
    exported = json.loads(export_vex(db, organisation=ORG, fmt=VexFormat.CSAF, now=NOW))
    assert schema_errors(csaf_validator, exported) == []
    assert vex_profile_problems(exported) == []
    # Every imported vulnerability is in the export, and the bank's own findings too.
    written = {v.get("cve") for v in exported["vulnerabilities"]}
    assert {"CVE-2021-44228", "CVE-2020-11896", "CVE-2021-45115"} <= written
    # Their products are known by name only: CycloneDX can say so, OpenVEX cannot.
    as_cyclonedx = export_vex(db, organisation=ORG, fmt=VexFormat.CYCLONEDX, now=NOW)
    assert {v["id"] for v in json.loads(as_cyclonedx)["vulnerabilities"]} == written
    with pytest.raises(InvalidInput, match="OpenVEX cannot name product"):
        export_vex(db, organisation=ORG, fmt=VexFormat.OPENVEX, now=NOW)


def test_nothing_to_export_as_csaf_is_said_plainly(db: Database) -> None:
    create_organisation(db, "new-bank", "New Bank", "operator")
    with pytest.raises(NotFound, match="new-bank has no VEX statement and no finding"):
        export_vex(db, organisation="new-bank", fmt=VexFormat.CSAF)
    empty = json.loads(export_vex(db, organisation="new-bank", fmt=VexFormat.OPENVEX))
    assert empty["statements"] == []
