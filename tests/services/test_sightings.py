"""Sightings at the coordinator: reports, tenancy, review, corroboration into triage evidence.

One platform per module and backend: the coordinator, three member organisations, a vendor,
Django's OSV records (so CVE ids have GHSA/PYSEC aliases) and the SSVC tables. Each test uses
vulnerabilities of its own, so the shared state does not mix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import stix2  # type: ignore[import-untyped]
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from sakimori.errors import InvalidInput, NotFound, PermissionDenied
from sakimori.formats.limits import Limits
from sakimori.jobs.handlers import ASSESS_OPEN
from sakimori.monitoring.sightings import Sighting
from sakimori.services import audit, identity
from sakimori.services import sightings as service
from sakimori.services.access import Principal
from sakimori.services.assessment_evidence import VulnerabilityShape, evidence_by_shape
from sakimori.services.intel import load_paths
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.services.tracking import upload_inventory
from sakimori.store import models
from sakimori.store.db import Database, open_database
from sakimori.triage.config import DEFAULT_CONFIG
from sakimori.triage.derive import exploitation
from tests.conftest import postgres_database, require_data
from tests.packages.conftest import errors
from tests.packages.conftest import stix_validator as stix_validator

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
#: principal -> (user, organisation, role)
PEOPLE = {
    "analyst": ("bunseki", "coordination", "analyst"),
    "admin": ("kanri", "coordination", "coordinator_admin"),
    "bank": ("bank-user", "city-bank", "member_user"),
    "power": ("power-admin", "river-power", "member_admin"),
    "rail": ("rail-user", "harbour-rail", "member_user"),
    "vendor": ("vendor-psirt", "vendor-co", "vendor"),
}


@dataclass
class Platform:
    db: Database
    home: Path
    who: dict[str, Principal]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    home = tmp_path_factory.mktemp("sightings")
    if request.param == "sqlite":
        with _built(f"sqlite:///{home / 'sakimori.db'}", home) as built:
            yield built
    else:
        with postgres_database() as url, _built(url, home) as built:
            yield built


class _built:
    def __init__(self, url: str, home: Path) -> None:
        self.url, self.home = url, home

    def __enter__(self) -> Platform:
        db = self.db = open_database(self.url)
        load_paths(
            db,
            [
                require_data("osv", "pypi", "vulns", "django"),
                require_data("ssvc", "data", "json", "decision_tables"),
            ],
            Limits(),
        )
        create_organisation(db, "coordination", "National Coordination Office", "coordinator")
        create_organisation(db, "city-bank", "City Bank", "operator", ["finance"])
        create_organisation(db, "river-power", "River Power", "operator", ["electric_power"])
        create_organisation(db, "harbour-rail", "Harbour Rail", "operator", ["railways"])
        create_organisation(db, "vendor-co", "Vendor Co", "vendor")
        create_asset(db, "city-bank/web-portal", "Portal", "high", internet_facing=True)
        pins = self.home / "requirements.txt"
        pins.write_text("django==2.2.24\n")
        upload_inventory(db, "city-bank/web-portal", pins, "setup", Limits())
        key = identity.TokenKey.load(self.home / "token.key")
        who = {}
        for name, (user, organisation, role) in PEOPLE.items():
            identity.create_user(db, user, organisation=organisation, role=role)
            _, secret = identity.create_token(db, key, user, name, ["read", "write"])
            who[name] = identity.authenticate(db, key, secret)
        return Platform(db, self.home, who)

    def __exit__(self, *exc: object) -> None:
        self.db.dispose()


def seen(
    vulnerabilities: tuple[str, ...] = (),
    *,
    client: str = "203.0.113.0/24",
    rule: str = "r-1",
    first: datetime = T0,
    count: int = 3,
) -> Sighting:
    return Sighting(
        client,
        "sigma",
        rule,
        "2026-01-02",
        "Exploitation attempt",
        "local",
        vulnerabilities,
        first,
        first + timedelta(minutes=5),
        count,
    )


def rows(db: Database, table: type[models.Base]) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def assess_jobs(db: Database) -> list[str]:
    with db.transaction() as session:
        return [
            str(j.payload.get("why"))
            for j in session.scalars(
                select(models.JobRow)
                .where(models.JobRow.name == ASSESS_OPEN)
                .order_by(models.JobRow.id)
            )
        ]


def is_corroborated(db: Database, *ids: str) -> bool:
    from sakimori.store.sightings import corroborated

    with db.transaction() as session:
        return bool(corroborated(session, {"v": ids}))


def summary_of(platform: Platform, vulnerability: str) -> service.VulnerabilitySummary:
    found = [
        v
        for v in service.summary(platform.db, platform.who["analyst"])
        if v.vulnerability == vulnerability
    ]
    assert len(found) == 1, vulnerability
    return found[0]


# -- reporting ------------------------------------------------------------------------------------


def test_a_report_is_stored_with_the_organisation_and_a_resend_grows_it(platform: Platform) -> None:
    db, bank = platform.db, platform.who["bank"]
    made = seen(("cve-2099-1001",), rule="resend")
    outcome = service.report(db, bank, [made], "truncate")
    assert (outcome.received, outcome.stored, outcome.merged) == (1, 1, 0)
    grown = replace(made, last_seen=made.last_seen + timedelta(hours=1), count=9)
    again = service.report(db, bank, [grown, made], "truncate")
    assert (again.stored, again.merged) == (0, 2)
    (view,) = service.list_sightings(db, bank, service.Filters(vulnerability="CVE-2099-1001"))
    assert (view.organisation, view.reported_by, view.privacy) == (
        "city-bank",
        "bank-user",
        "truncate",
    )
    assert view.sighting.count == 9
    assert view.sighting.last_seen == grown.last_seen
    assert view.sighting.vulnerabilities == ("CVE-2099-1001",)
    with db.transaction() as session:
        entry = session.scalars(
            select(models.AuditEntryRow).order_by(models.AuditEntryRow.seq.desc()).limit(1)
        ).one()
    assert (entry.action, entry.actor, entry.object_id) == (
        "sighting.report",
        "bank-user",
        "city-bank",
    )
    assert audit.verify(db).ok


@pytest.mark.parametrize(
    ("change", "privacy", "why"),
    [
        ({"client": "203.0.113.9"}, "truncate", "privacy"),
        ({"client": "203.0.113.0/24"}, "hash", "privacy"),
        ({"client": "203.0.113.9"}, "full", None),  # the only good one
        ({"detector": "Not A Detector"}, "truncate", "detector"),
        ({"source": "somewhere"}, "truncate", "source"),
        ({"vulnerabilities": ("log4shell",)}, "truncate", "vulnerability id"),
        ({"count": 0}, "truncate", "count"),
        ({"last_seen": T0 - timedelta(days=4)}, "truncate", "before"),
        (
            {"first_seen": T0 + timedelta(days=800), "last_seen": T0 + timedelta(days=800)},
            "truncate",
            "future",
        ),
        ({"title": "a\nb"}, "truncate", "title"),
    ],
)
def test_one_bad_sighting_and_nothing_is_stored(
    platform: Platform, change: dict[str, object], privacy: str, why: str | None
) -> None:
    db, bank = platform.db, platform.who["bank"]
    good = seen(("CVE-2099-1002",), rule="bad-input", first=T0 - timedelta(days=3))
    bad = replace(good, rule="bad-input-2", **change)  # type: ignore[arg-type]
    before = (rows(db, models.SightingRow), rows(db, models.AuditEntryRow))
    if why is None:
        service.report(db, bank, [bad], privacy)
        return
    with pytest.raises(InvalidInput, match=why) as refused:
        service.report(db, bank, [replace(good, client=bad.client), bad], privacy)
    assert str(refused.value).startswith("sighting 1" if "client" in change else "sighting 2")
    assert (rows(db, models.SightingRow), rows(db, models.AuditEntryRow)) == before


def test_who_may_report_and_read(platform: Platform) -> None:
    db, who = platform.db, platform.who
    for caller in ("analyst", "admin", "vendor"):
        with pytest.raises(PermissionDenied):
            service.report(db, who[caller], [seen(("CVE-2099-1003",))], "truncate")
    service.report(db, who["power"], [seen(("CVE-2099-1003",), rule="tenancy")], "truncate")
    service.report(db, who["bank"], [seen(("CVE-2099-1003",), rule="tenancy")], "truncate")
    filters = service.Filters(vulnerability="CVE-2099-1003")
    assert {v.organisation for v in service.list_sightings(db, who["bank"], filters)} == {
        "city-bank"
    }
    assert {v.organisation for v in service.list_sightings(db, who["analyst"], filters)} == {
        "city-bank",
        "river-power",
    }
    with pytest.raises(NotFound):
        service.list_sightings(db, who["bank"], replace(filters, organisation="river-power"))
    with pytest.raises(PermissionDenied):
        service.list_sightings(db, who["vendor"], filters)
    for caller in ("bank", "vendor"):
        with pytest.raises(PermissionDenied):
            service.summary(db, who[caller])
        with pytest.raises(PermissionDenied):
            service.review(db, who[caller], "CVE-2099-1003", "confirmed")


# -- review and corroboration ---------------------------------------------------------------------


def test_attempts_on_known_vulnerabilities_are_flagged_for_review(platform: Platform) -> None:
    db, bank = platform.db, platform.who["bank"]
    service.report(db, bank, [seen(("CVE-2021-44420", "CVE-2099-1004"), rule="flag")], "truncate")
    known = summary_of(platform, "CVE-2021-44420")
    assert (known.status, known.needs_review, known.organisations) == ("pending", True, 1)
    assert not known.corroborated
    unknown = summary_of(platform, "CVE-2099-1004")
    assert (unknown.status, unknown.needs_review) == (None, False)


def test_two_organisations_corroborate_and_reassessment_is_enqueued_once(
    platform: Platform,
) -> None:
    db, who = platform.db, platform.who
    jobs = len(assess_jobs(db))
    service.report(db, who["bank"], [seen(("CVE-2021-45452",), rule="two-orgs")], "truncate")
    service.report(
        db,
        who["bank"],
        [seen(("CVE-2021-45452",), rule="two-orgs", client="198.51.100.0/24")],
        "truncate",
    )
    assert not is_corroborated(db, "CVE-2021-45452")
    assert len(assess_jobs(db)) == jobs
    service.report(db, who["power"], [seen(("CVE-2021-45452",), rule="two-orgs")], "truncate")
    assert is_corroborated(db, "CVE-2021-45452")
    assert len(assess_jobs(db)) == jobs + 1
    assert "CVE-2021-45452" in assess_jobs(db)[-1]
    service.report(db, who["rail"], [seen(("CVE-2021-45452",), rule="two-orgs")], "truncate")
    assert len(assess_jobs(db)) == jobs + 1  # already corroborated: nothing new to assess
    summary = summary_of(platform, "CVE-2021-45452")
    assert (summary.organisations, summary.sightings, summary.requests) == (3, 4, 12)
    assert summary.corroborated


def test_sightings_naming_aliases_of_one_vulnerability_corroborate_it(platform: Platform) -> None:
    db, who = platform.db, platform.who
    service.report(db, who["bank"], [seen(("CVE-2021-45115",), rule="alias")], "truncate")
    service.report(db, who["power"], [seen(("GHSA-53qw-q765-4fww",), rule="alias")], "truncate")
    assert is_corroborated(db, "CVE-2021-45115", "GHSA-53qw-q765-4fww", "PYSEC-2022-1")
    assert not is_corroborated(db, "CVE-2021-45115")  # one organisation per id alone
    # reviewed under its CVE id, whichever id the sighting named
    assert summary_of(platform, "CVE-2021-45115").status == "pending"
    assert "GHSA-53qw-q765-4fww" not in {
        v.vulnerability for v in service.summary(db, who["analyst"]) if v.status
    }


def test_an_analyst_confirms_or_rejects_and_new_sightings_count_again(platform: Platform) -> None:
    db, who = platform.db, platform.who
    jobs = len(assess_jobs(db))
    service.report(db, who["bank"], [seen(("CVE-2022-22818",), rule="review")], "truncate")
    confirmed = service.review(
        db, who["analyst"], "cve-2022-22818", "confirmed", "seen by JPCERT too"
    )
    assert (confirmed.status, confirmed.decided_by, confirmed.corroborated) == (
        "confirmed",
        "bunseki",
        True,
    )
    assert len(assess_jobs(db)) == jobs + 1
    service.report(db, who["power"], [seen(("CVE-2022-22818",), rule="review")], "truncate")
    rejected = service.review(db, who["admin"], "CVE-2022-22818", "rejected", "a test harness")
    assert (rejected.corroborated, rejected.needs_review) == (False, False)
    assert len(assess_jobs(db)) == jobs + 2  # the decisions go back
    service.report(db, who["bank"], [seen(("CVE-2022-22818",), rule="review-2")], "truncate")
    assert summary_of(platform, "CVE-2022-22818").needs_review  # new attempts since rejected
    assert not is_corroborated(db, "CVE-2022-22818")
    service.report(db, who["rail"], [seen(("CVE-2022-22818",), rule="review-2")], "truncate")
    assert is_corroborated(db, "CVE-2022-22818")
    assert len(assess_jobs(db)) == jobs + 3
    with pytest.raises(InvalidInput):
        service.review(db, who["analyst"], "CVE-2022-22818", "maybe")
    with db.transaction() as session:
        actions = list(
            session.scalars(
                select(models.AuditEntryRow.action).where(
                    models.AuditEntryRow.object_id == "CVE-2022-22818"
                )
            )
        )
    assert actions == ["sighting.review", "sighting.review"]


# -- into triage ----------------------------------------------------------------------------------


def test_corroborated_sightings_make_exploitation_active_in_the_evidence(
    platform: Platform,
) -> None:
    db, who = platform.db, platform.who
    shape = VulnerabilityShape(
        "CVE-2022-28346", ("GHSA-2gwj-7jmv-h26r", "PYSEC-2022-190"), ("PYSEC-2022-190",), True
    )
    with db.transaction() as session:
        before = evidence_by_shape(session, [shape])[shape]
    assert before.sightings is None
    assert exploitation(before, DEFAULT_CONFIG).value != "A"
    service.report(db, who["bank"], [seen(("GHSA-2gwj-7jmv-h26r",), rule="evidence")], "truncate")
    service.report(
        db,
        who["rail"],
        [seen(("CVE-2022-28346",), rule="evidence")],
        "hash" if False else "truncate",
    )
    with db.transaction() as session:
        after = evidence_by_shape(session, [shape])[shape]
    assert after.sightings == "corroborated"
    assert replace(after, sightings=None) == before  # nothing else changed
    derived = exploitation(after, DEFAULT_CONFIG)
    assert derived.value == "A"
    assert [b.source for b in derived.because] == ["sightings"]


def test_the_reassessment_job_makes_every_decision_see_it(platform: Platform) -> None:
    """End to end through public entry points: sightings → job → the finding's explanation."""
    from sakimori.config import Settings
    from sakimori.jobs.handlers import HANDLERS
    from sakimori.jobs.runner import Runner
    from sakimori.services import access, findings

    db, who = platform.db, platform.who
    (finding,) = findings.list_findings(
        db, findings.Filters(organisation="city-bank", vulnerability="CVE-2022-28347")
    )

    def exploitation_point() -> dict[str, object]:
        explained = access.finding_explanation(db, who["bank"], finding.id)
        return next(p for p in explained["points"] if p["name"] == "Exploitation")

    assert exploitation_point()["value"] != "A"
    service.report(db, who["power"], [seen(("CVE-2022-28347",), rule="e2e")], "truncate")
    service.report(db, who["rail"], [seen(("CVE-2022-28347",), rule="e2e")], "truncate")
    url = db.engine.url.render_as_string(hide_password=False)
    settings = Settings(
        home=platform.home, database_url=url, token_key_file=platform.home / "token.key"
    )
    runner = Runner(db, settings, HANDLERS, "test")
    try:
        while runner.run_one():
            pass
    finally:
        runner.close()
    point = exploitation_point()
    assert point["value"] == "A"
    assert any(b["source"] == "sightings" for b in point["because"])  # type: ignore[attr-defined]


# -- STIX and the package rules watch runs --------------------------------------------------------

SIGMA = """
title: Example gateway upload exploitation
id: 0f8e0d56-2b1e-4f6a-9a51-3c1d2f4e5a6b
date: 2026-10-01
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: '/gateway/upload.cgi'
    condition: selection
level: high
"""


def publish(platform: Platform, title: str, organisations: list[str], tlp: str = "AMBER") -> int:
    from sakimori.packages.model import Content
    from sakimori.services import packages

    content = Content.from_dict(
        {
            "title": title,
            "tlp": tlp,
            "audience": {"organisations": organisations},
            "vulnerabilities": ["CVE-2099-2001"],
            "products": [{"vendor": "Example", "product": "Gateway"}],
            "detection_rules": [{"sigma": SIGMA}],
        }
    )
    view = packages.create_draft(platform.db, content, "bunseki")
    packages.submit(platform.db, view.id, "bunseki")
    packages.approve(platform.db, view.id, "kanri")
    return view.id


def test_package_rules_reach_the_organisations_the_package_reaches(platform: Platform) -> None:
    from sakimori.services import packages

    db, who = platform.db, platform.who
    ours = publish(platform, "Gateway rules for the bank", ["city-bank"])
    gone = publish(platform, "Withdrawn gateway rules", ["city-bank"])
    packages.withdraw(db, gone, "kanri")
    found = {p.package_id: p for p in service.package_rules(db, who["bank"])}
    assert ours in found
    assert gone not in found
    assert found[ours].vulnerabilities == ("CVE-2099-2001",)
    assert found[ours].rules == (SIGMA,)
    assert ours not in {p.package_id for p in service.package_rules(db, who["power"])}
    assert ours in {p.package_id for p in service.package_rules(db, who["analyst"])}
    with db.transaction() as session:
        entry = session.scalars(
            select(models.AuditEntryRow).order_by(models.AuditEntryRow.seq.desc()).limit(1)
        ).one()
    assert (entry.object_kind, entry.tlp) == ("package.rules", "AMBER")


def test_the_stix_export_validates_and_keeps_to_the_caller(
    platform: Platform, stix_validator: Draft202012Validator
) -> None:
    db, who = platform.db, platform.who
    package = publish(platform, "Gateway rules for STIX", ["city-bank"])
    rule = replace(
        seen(("CVE-2099-2001",), rule="0f8e0d56-2b1e-4f6a-9a51-3c1d2f4e5a6b"),
        source=f"package:{package}",
        version="2026-10-01",
    )
    builtin = Sighting(
        "198.51.100.7", "http-breadth", "", "0.1.0", "http-breadth", "builtin", (), T0, T0, 40
    )
    service.report(db, who["bank"], [rule], "truncate")
    service.report(db, who["bank"], [builtin], "full")
    service.report(db, who["power"], [replace(rule, client="hmac-sha256:" + "a" * 32)], "hash")
    bundle = service.stix_bundle(db, who["analyst"], service.Filters(vulnerability="CVE-2099-2001"))
    assert errors(stix_validator, bundle) == []
    stix2.parse(bundle, allow_custom=True)
    kinds: dict[str, list[dict[str, object]]] = {}
    for item in bundle["objects"]:
        kinds.setdefault(str(item["type"]), []).append(item)
    sightings = kinds["sighting"]
    assert len(sightings) == 2
    assert {s["sighting_of_ref"] for s in sightings} == {kinds["vulnerability"][0]["id"]}
    names = {i["id"]: i["name"] for i in kinds["identity"]}
    assert {names[s["where_sighted_refs"][0]] for s in sightings} == {"City Bank", "River Power"}
    (indicator,) = kinds["indicator"]
    assert (indicator["pattern_type"], indicator["pattern"]) == ("sigma", SIGMA)
    assert [o["value"] for o in kinds["ipv4-addr"]] == ["203.0.113.0/24"]  # the hash is no address
    amber = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
    assert all(
        amber in o.get("object_marking_refs", [amber])
        for o in bundle["objects"]
        if o["type"] != "marking-definition"
    )

    own = service.stix_bundle(db, who["bank"], service.Filters(), tlp="GREEN")
    assert errors(stix_validator, own) == []
    orgs = {o["name"] for o in own["objects"] if o["type"] == "identity"}
    assert "River Power" not in orgs
    assert "City Bank" in orgs
    by_type = {o["type"] for o in own["objects"]}
    assert {"indicator", "sighting", "observed-data", "ipv4-addr"} <= by_type
    builtin_indicator = next(
        o for o in own["objects"] if o["type"] == "indicator" and o["name"] == "http-breadth"
    )
    assert (builtin_indicator["pattern_type"], builtin_indicator["pattern"]) == (
        "sakimori",
        "detector:http-breadth",
    )
    for label in ("GREEN", "CLEAR", "RED"):
        with pytest.raises(InvalidInput):
            service.stix_bundle(db, who["analyst"], service.Filters(), tlp=label)
    with pytest.raises(InvalidInput):
        service.stix_bundle(db, who["bank"], service.Filters(), tlp="RED")
