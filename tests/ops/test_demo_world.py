"""`make run`'s demo world: real findings everywhere, a real package, logins that work."""

from __future__ import annotations

import os
import re
import sys
import time
from collections import Counter

import httpx
import pyotp
import pytest
from sqlalchemy import func, select

from sakimori.cli import demo
from sakimori.model.organisation import KINDS, SECTORS
from sakimori.services import findings, identity, organisations
from sakimori.services import packages as package_service
from sakimori.store import models
from tests.conftest import DATA
from tests.ops.conftest import DemoHome

CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def _findings_by_organisation(home: DemoHome) -> Counter[str]:
    found = findings.list_findings(home.db, findings.Filters(limit=100_000))
    return Counter(f.asset.split("/")[0] for f in found)


def test_the_world_has_the_organisations_the_issue_names(demo_home: DemoHome) -> None:
    made = {o.slug: o for o in organisations.list_organisations(demo_home.db)}
    kinds = Counter(made[o.slug].kind for o in demo.WORLD)
    assert kinds == {"coordinator": 1, "agency": 2, "operator": 7, "vendor": 2}
    assert set(kinds) <= set(KINDS)
    sectors = Counter(s for o in demo.WORLD for s in made[o.slug].sectors)
    assert sectors["finance"] == 6  # the regulator, three banks, two insurers
    assert sectors["electric_power"] == sectors["information_communications"] == 1
    assert sectors["government"] == 1
    assert set(sectors) <= set(SECTORS)


def test_every_demo_organisation_with_assets_has_real_findings(demo_home: DemoHome) -> None:
    assert not demo_home.report.missing
    counts = _findings_by_organisation(demo_home)
    members = [o.slug for o in demo.WORLD if o.kind in {"agency", "operator"}]
    assert len(members) == 9
    assert all(o.assets for o in demo.WORLD if o.kind in {"agency", "operator"})
    without = [slug for slug in members if counts[slug] == 0]
    assert not without, f"demo organisations without findings: {without}"
    # Every asset's inventory was read and matched, not only one per organisation.
    assets = organisations.list_assets(demo_home.db)
    assert {a.ref for a in assets if a.inventory_version is None} == set()
    per_asset = Counter(
        f.asset for f in findings.list_findings(demo_home.db, findings.Filters(limit=100_000))
    )
    assert all(per_asset[a.ref] > 0 for a in assets), per_asset
    # Appliances too: the power company's VPN gateway, matched through NVD's configurations.
    remote = findings.list_findings(
        demo_home.db, findings.Filters(asset="kanto-power/remote-access", limit=1000)
    )
    assert ("o:fortinet:fortios", "CVE-2024-21762") in {
        (f.package, f.vulnerability) for f in remote
    }


def test_the_package_is_published_about_a_flaw_every_bank_has(demo_home: DemoHome) -> None:
    for bank in demo.BANKS:
        held = findings.list_findings(
            demo_home.db, findings.Filters(organisation=bank, limit=100_000)
        )
        assert demo.PACKAGE_VULNERABILITY in {f.vulnerability for f in held}, bank
    assert demo_home.report.package_id is not None
    view = package_service.get(demo_home.db, demo_home.report.package_id)
    assert view.state == "published"
    assert view.created_by == demo.PACKAGE_DRAFTED_BY
    assert view.history[-1].approver == demo.PACKAGE_APPROVED_BY
    assert view.content.vulnerabilities == (demo.PACKAGE_VULNERABILITY,)
    recipients = {r.organisation for r in package_service.recipients(demo_home.db, view.id)}
    assert set(demo.BANKS) <= recipients


def test_building_again_changes_nothing(demo_home: DemoHome) -> None:
    def footprint() -> dict[str, int]:
        with demo_home.db.transaction() as session:
            return {
                table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0
                for table in (
                    models.Organisation,
                    models.Asset,
                    models.Inventory,
                    models.User,
                    models.PackageRow,
                    models.PackageRevisionRow,
                )
            }

    before = footprint()
    again = demo.build_world(demo_home.db, demo_home.settings, DATA)
    assert again.uploads == []
    assert again.package_id == demo_home.report.package_id
    assert footprint() == before


def test_every_demo_login_signs_in_to_the_web_interface(
    demo_home: DemoHome, demo_server: str
) -> None:
    users = [(u.name, o.slug) for o in demo.WORLD for u in o.users]
    assert len(users) == len(demo_home.report.users) == 14
    for name, organisation in users:
        with httpx.Client(base_url=demo_server) as client:
            form = client.get("/ui/signin")
            token = CSRF.search(form.text)
            assert token is not None
            answer = client.post(
                "/ui/signin",
                data={
                    "username": name,
                    "password": demo.DEMO_PASSWORD,
                    "csrf": token.group(1),
                    "next": "",
                },
            )
            assert answer.status_code == 303, (name, answer.status_code)
            if name in demo_home.report.second_factor:  # an administrator gives a code
                where = answer.headers["location"]
                assert where.startswith("/ui/signin/code"), name
                step = CSRF.search(client.get(where).text)
                assert step is not None
                for offset in (0, 1):  # the current code may have been used by another test
                    code = pyotp.TOTP(demo.DEMO_TOTP_SECRET).at(time.time(), counter_offset=offset)
                    data = {"code": code, "csrf": step.group(1)}
                    answer = client.post("/ui/signin/code", data=data)
                    if answer.status_code == 303:
                        break
                assert answer.status_code == 303, (name, answer.status_code)
            start = client.get("/ui/", follow_redirects=True)
            assert start.status_code == 200, name
            assert organisation in start.text or "dashboard" in str(start.url), name
    with httpx.Client(base_url=demo_server) as client:
        form = client.get("/ui/signin")
        token = CSRF.search(form.text)
        assert token is not None
        wrong = client.post(
            "/ui/signin",
            data={"username": "kanri", "password": "not-the-demo-one", "csrf": token.group(1)},
        )
        assert wrong.status_code == 401


def test_the_demo_command_prints_the_logins(
    demo_home: DemoHome, capsys: pytest.CaptureFixture[str]
) -> None:
    from sakimori.cli import main as cli_main

    saved_argv, saved_env = sys.argv, dict(os.environ)
    sys.argv = ["sakimori", "demo", "--data", str(DATA)]
    os.environ["SAKIMORI_HOME"] = str(demo_home.settings.home)
    os.environ.pop("SAKIMORI_DATABASE_URL", None)
    try:
        with pytest.raises(SystemExit) as exited:
            cli_main.main()
    finally:
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert "0 inventories uploaded now" in out
    assert "DEMO ONLY" in out
    assert demo.DEMO_PASSWORD in out
    assert demo.DEMO_TOTP_SECRET in out
    assert f"secret={demo.DEMO_TOTP_SECRET}" in out  # the otpauth:// URI
    admins = {name for name, _, role in demo_home.report.users if role.endswith("_admin")}
    assert set(demo_home.report.second_factor) == admins
    for name, _, role in demo_home.report.users:
        assert re.search(rf"^\s+{re.escape(name)}\s+{role}\s", out, re.MULTILINE), name
    assert identity.verify_password(demo_home.db, "kanri", demo.DEMO_PASSWORD)
