"""``sakimori package …`` through the real entry point: two people publish, a recipient
acknowledges, someone else is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.packages.conftest import build_platform, content


def test_the_package_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with build_platform("sqlite", tmp_path):
        cli = Cli(tmp_path, capsys)
        source = tmp_path / "package.json"
        source.write_text(json.dumps(content(audience={"organisations": ["city-bank"]})))
        drafted = cli("package", "draft", str(source), "--by", "bunseki")
        assert drafted.code == 0, drafted.err
        package_id = drafted.out.split()[1]
        assert cli("package", "submit", package_id, "--by", "bunseki").code == 0
        refused = cli("package", "publish", package_id, "--by", "bunseki")
        assert refused.code != 0
        assert "second person" in refused.err
        published = cli("package", "publish", package_id, "--by", "kanri")
        assert "[published] rev 1" in published.out
        listed = cli("package", "list", "--by", "bank-user")
        assert f"package {package_id} " in listed.out
        assert f"package {package_id} " not in cli("package", "list", "--by", "power-user").out
        advisory = cli("package", "show", package_id, "--format", "csaf", "--by", "bank-user")
        assert json.loads(advisory.out)["document"]["category"] == "csaf_security_advisory"
        hidden = cli("package", "show", package_id, "--by", "power-user")
        assert hidden.code != 0
        assert "no package" in hidden.err
        acked = cli("package", "ack", package_id, "--by", "bank-admin")
        assert "acknowledged for city-bank by bank-admin" in acked.out
        member = cli("package", "draft", str(source), "--by", "bank-admin")
        assert member.code != 0
        assert "may not" in member.err
