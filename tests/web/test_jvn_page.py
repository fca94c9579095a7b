"""The vulnerability page shows JVN iPedia's entry for the CVE, in Japanese as JVN wrote it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from sakimori.api.app import create_app
from sakimori.formats.limits import Limits
from sakimori.services.intel import load_paths
from tests.conftest import require_data
from tests.web.conftest import PASSWORD, Platform, build_platform
from tests.web.helpers import sign_in

JVN = ("jvn", "myjvn-np", "examples", "hnd", "getVulnDetailInfo_hnd_JVNDB-2021-002774.xml")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    built = build_platform(tmp_path_factory.mktemp("jvn-web"))
    load_paths(built.db, [require_data(*JVN)], Limits())
    yield built
    built.db.dispose()


def _title(path: Path) -> str:
    root = ElementTree.parse(path).getroot()
    return next(e.text or "" for e in root.iter() if e.tag.endswith("}Title"))


def test_the_cve_page_shows_the_jvn_entry_in_japanese(platform: Platform) -> None:
    title = _title(require_data(*JVN))
    assert "ServerProtect" in title
    assert any("\u3040" <= ch <= "\u30ff" for ch in title)  # kana: JVN's Japanese text
    with TestClient(create_app(platform.settings), base_url="http://127.0.0.1") as client:
        assert sign_in(client, "bank-user", PASSWORD).status_code == 303
        page = client.get("/ui/vulnerabilities/CVE-2021-36745", headers={"Accept-Language": "en"})
        assert page.status_code == 200
        assert 'data-jvn="JVNDB-2021-002774"' in page.text
        assert title in page.text
        # No English reading is loaded: the Japanese one is shown, marked as Japanese.
        assert '<article lang="ja" data-jvn="JVNDB-2021-002774">' in page.text
        assert "https://jvndb.jvn.jp/ja/contents/2021/JVNDB-2021-002774.html" in page.text
        other = client.get("/ui/vulnerabilities/CVE-2021-44228")
        assert other.status_code == 200
        assert "data-jvn=" not in other.text
