"""Counter-measure packages in the browser's pages: an analyst drafts and submits, the
coordinator's administrator approves (not the author), the bank reads and acknowledges, and the
coordinator sees the receipt; the other bank sees nothing."""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterator

import pytest

from sakimori.api import create_app
from sakimori.services import identity
from tests.web.conftest import BANK, OTHER_BANK, PASSWORD, Platform, build_platform
from tests.web.helpers import csrf_of, sign_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

PACKAGE = re.compile(r"/ui/packages/(\d+)$")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    built = build_platform(tmp_path_factory.mktemp("packages-web"))
    identity.create_user(
        built.db, "bunseki", organisation="coordination", role="analyst", password=PASSWORD
    )
    yield built
    built.db.dispose()


def signed_in(platform: Platform, user: str) -> TestClient:
    client = TestClient(create_app(platform.settings), base_url="http://127.0.0.1")
    client.__enter__()
    code = functools.partial(platform.code, user)
    assert sign_in(client, user, PASSWORD, code).status_code == 303
    return client


def post(client: TestClient, path: str, data: dict[str, str]) -> object:
    csrf = csrf_of(client.get("/ui/packages").text)
    return client.post(path, data={"csrf": csrf, **data}, follow_redirects=False)


def test_draft_review_publish_read_acknowledge(platform: Platform) -> None:
    analyst, admin = signed_in(platform, "bunseki"), signed_in(platform, "kanri")
    bank, other = signed_in(platform, "bank-user"), signed_in(platform, "harbour-user")
    form = analyst.get("/ui/packages/new")
    assert form.status_code == 200
    answer = analyst.post(
        "/ui/packages",
        data={
            "csrf": csrf_of(form.text),
            "title": "FortiOS SSL-VPN: patch or isolate now",
            "tlp": "AMBER",
            "organisations": BANK,
            "vulnerabilities": "CVE-2024-21762",
            "products": "cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*\nFortinet/FortiProxy@7.0.1",
            "guidance": "## Now\n\n- Upgrade to 7.0.14.\n- <script>alert(1)</script>",
            "references": "https://www.fortiguard.com/psirt/FG-IR-24-015",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    found = PACKAGE.search(answer.headers["location"])
    assert found is not None
    url = f"/ui/packages/{found.group(1)}"
    page = analyst.get(url).text
    assert 'id="state">draft' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # guidance is text, never markup
    assert "<script>alert(1)" not in page
    assert post(analyst, url + "/move", {"move": "submit"}).status_code == 303
    # The author cannot approve their own package: the page says why, nothing is published.
    refused = post(analyst, url + "/move", {"move": "approve"})
    assert refused.status_code == 403
    assert "publishing needs a second person" in refused.text
    assert bank.get(url).status_code == 404  # not published yet
    assert post(admin, url + "/move", {"move": "approve"}).status_code == 303
    listed = bank.get("/ui/packages").text
    assert f'href="{url}"' in listed
    opened = bank.get(url).text
    assert "FortiOS SSL-VPN" in opened
    assert 'id="form-acknowledge"' in opened
    assert post(bank, url + "/acknowledge", {}).status_code == 303
    assert "Acknowledged by bank-user" in bank.get(url, headers={"Accept-Language": "en"}).text
    receipts = admin.get(url, headers={"Accept-Language": "en"}).text
    row = re.search(rf'<tr data-organisation="{BANK}".*?</tr>', receipts, re.S)
    assert row is not None
    assert "(bank-user)" in row.group(0)  # read and acknowledged, by whom
    assert other.get(url).status_code == 404
    assert f'href="{url}"' not in other.get("/ui/packages").text
    assert OTHER_BANK not in receipts


def test_report_clocks_and_forms(platform: Platform) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from sakimori.packages.model import Content
    from sakimori.services import packages as package_service
    from sakimori.store import models

    view = package_service.create_draft(
        platform.db,
        Content.from_dict(
            {
                "title": "Report what you see",
                "tlp": "GREEN",
                "audience": {"organisations": [BANK]},
                "vulnerabilities": ["CVE-2024-21762"],
                "products": [{"purl": "pkg:npm/lodash@4.17.4"}],
                "acknowledge_within_hours": 12,
                "reports": ["early_warning", "notification"],
            }
        ),
        "bunseki",
    )
    package_service.submit(platform.db, view.id, "bunseki")
    package_service.approve(platform.db, view.id, "kanri")
    with platform.db.transaction() as session:  # the notification is two hours overdue
        session.execute(
            update(models.PackageReportRow)
            .where(
                models.PackageReportRow.package_id == view.id,
                models.PackageReportRow.kind == "notification",
            )
            .values(due_at=datetime.now(UTC) - timedelta(hours=2, minutes=5))
        )
    bank, admin = signed_in(platform, "bank-user"), signed_in(platform, "kanri")
    url = f"/ui/packages/{view.id}"
    english = {"Accept-Language": "en"}
    page = bank.get(url, headers=english).text
    assert re.search(r'id="ack-due">Acknowledge by <time datetime="[^"]+">[^<]+ JST</time>', page)
    early = re.search(r'<article class="report" id="report-early_warning".*?</article>', page, re.S)
    assert early is not None
    assert re.search(r"due in 2[34] h \d+ min", early.group(0))
    assert 'name="csrf"' in early.group(0)
    late = re.search(r'id="report-notification".*?</article>', page, re.S)
    assert late is not None
    assert '<span class="late">overdue by 2 h 5 min</span>' in late.group(0)
    assert "残り 2" in bank.get(url, headers={"Accept-Language": "ja"}).text

    form = {"summary": "Two scans, no compromise.", "exploitation_observed": "true"}
    answer = post(bank, f"{url}/reports/early_warning", form)
    assert answer.status_code == 303  # type: ignore[attr-defined]
    filed = bank.get(url, headers=english).text
    assert "filed " in filed
    assert "by bank-user" in filed
    assert "Two scans, no compromise." in filed
    again = post(bank, f"{url}/reports/early_warning", {"summary": "again"})
    assert again.status_code == 409  # type: ignore[attr-defined]
    assert "already filed" in again.text  # type: ignore[attr-defined]

    staff = admin.get(url, headers=english).text
    row = re.search(rf'<tr data-organisation="{BANK}".*?</tr>', staff, re.S)
    assert row is not None
    assert '<li data-kind="notification" class="overdue">' in row.group(0)
    assert 'Early warning: <span class="filed">filed' in row.group(0)


def test_recipients_show_remediation_progress(platform: Platform) -> None:
    from sakimori.model.lifecycle import Move, State
    from sakimori.packages.model import Content
    from sakimori.services import findings
    from sakimori.services import packages as package_service

    held = platform.findings_of(OTHER_BANK)
    vulnerability = held[0].vulnerability
    mine = [f for f in held if f.vulnerability == vulnerability]
    view = package_service.create_draft(
        platform.db,
        Content.from_dict(
            {
                "title": "Patch the shop",
                "tlp": "GREEN",
                "audience": {"organisations": [OTHER_BANK, BANK]},
                "vulnerabilities": [vulnerability],
                "products": [{"purl": "pkg:npm/lodash@4.17.4"}],
            }
        ),
        "bunseki",
    )
    package_service.submit(platform.db, view.id, "bunseki")
    package_service.approve(platform.db, view.id, "kanri")
    findings.transition(platform.db, mine[0].id, Move(State.MITIGATED, "harbour-user", "WAF"))
    progress = {
        r.organisation: (r.findings_open, r.findings_closed)
        for r in package_service.recipients(platform.db, view.id)
    }
    assert progress == {OTHER_BANK: (len(mine) - 1, 1), BANK: (0, 0)}
    page = signed_in(platform, "kanri").get(
        f"/ui/packages/{view.id}", headers={"Accept-Language": "en"}
    )
    row = re.search(rf'<tr data-organisation="{OTHER_BANK}".*?</tr>', page.text, re.S)
    assert row is not None
    assert f"1 of {len(mine)} findings closed" in row.group(0)
