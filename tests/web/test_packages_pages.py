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
