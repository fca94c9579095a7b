"""``sakimori updates …`` through the real entry point: vendor, platform and operator, over real
HTTP on 127.0.0.1, with vulnerability ids from the real CISA KEV catalogue."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.conftest import require_data
from tests.updates.servers import Replace, static_server, tampering_proxy


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path / "home", capsys)


def kev_ids(count: int) -> list[str]:
    catalogue = json.loads(require_data("kev", "known_exploited_vulnerabilities.json").read_text())
    return [entry["cveID"] for entry in catalogue["vulnerabilities"][:count]]


def ok(cli: Cli, *args: str) -> str:
    run = cli(*args)
    assert run.code == 0, run.err
    return run.out


def test_vendor_platform_operator_round_trip(cli: Cli, tmp_path: Path) -> None:
    repo, offline, online = tmp_path / "repo", tmp_path / "vendor-keys", tmp_path / "platform-keys"
    state = tmp_path / "operator"
    fixes = kev_ids(2)

    ok(
        cli,
        "updates",
        "init",
        str(repo),
        "--line",
        "gateway",
        "--keys",
        str(offline),
        "--online-keys",
        str(online),
    )
    out = ok(cli, "updates", "publish", str(repo), "--online-keys", str(online))
    assert "published root v1" in out
    fingerprint = re.search(r"root fingerprint \(sha256\): ([0-9a-f]{64})", out)
    assert fingerprint is not None

    build = tmp_path / "gw-1.0.bin"
    build.write_bytes(b"gateway 1.0\n" * 100)
    args = [
        "--line",
        "gateway",
        "--package",
        "CMP-2026-0007",
        "--fixes",
        fixes[0],
        "--fixes",
        fixes[1],
    ]
    out = ok(
        cli,
        "updates",
        "add-target",
        str(repo),
        str(build),
        "--version",
        "1.0",
        *args,
        "--key",
        str(offline / "gateway-1.key"),
    )
    assert "1/2 signatures (more signatures needed)" in out
    refused = cli("updates", "publish", str(repo), "--online-keys", str(online))
    assert refused.code == 2
    assert "below the signing threshold" in refused.err
    out = ok(cli, "updates", "sign", str(repo), "gateway", "--key", str(offline / "gateway-2.key"))
    assert "gateway v2: 2/2 signatures (complete)" in out
    assert "published target gateway/gw-1.0.bin" in ok(
        cli, "updates", "publish", str(repo), "--online-keys", str(online)
    )

    with static_server(repo / "public") as origin, tampering_proxy(origin) as (url, proxy):
        operator = ["--state", str(state)]
        wrong = cli(
            "updates",
            "enrol",
            "--metadata-url",
            f"{url}/metadata",
            "--targets-url",
            f"{url}/targets",
            "--root",
            str(repo / "public/metadata/1.root.json"),
            "--fingerprint",
            "0" * 64,
            *operator,
        )
        assert wrong.code == 2
        assert "not the fingerprint given" in wrong.err
        ok(
            cli,
            "updates",
            "enrol",
            "--metadata-url",
            f"{url}/metadata",
            "--targets-url",
            f"{url}/targets",
            "--root",
            str(repo / "public/metadata/1.root.json"),
            "--fingerprint",
            fingerprint.group(1),
            *operator,
        )

        out = ok(cli, "updates", "verify", *operator)
        assert "verified: root v1" in out
        assert f"gateway/gw-1.0.bin  1.0  package CMP-2026-0007  fixes {fixes[0]}" in out
        listed = json.loads(ok(cli, "updates", "verify", "gateway", "--json", *operator))
        assert listed["releases"][0]["fixes"] == fixes
        assert "staged gateway/gw-1.0.bin 1.0" in ok(cli, "updates", "stage", "gateway", *operator)
        checked = ok(
            cli, "updates", "verify", "gateway/gw-1.0.bin", "--file", str(build), *operator
        )
        assert "as signed" in checked

        hosts = tmp_path / "hosts"
        (state / "rollout.toml").write_text(
            f'install_root = "{hosts}"\n'
            f'health_check = ["{sys.executable}", "-c", "pass"]\n'
            '[[group]]\nname = "canary"\nhosts = ["pay-01"]\n'
            '[[group]]\nname = "rest"\nhosts = ["pay-02"]\n'
        )
        assert "rolled out gateway 1.0 to 2 host(s)" in ok(
            cli, "updates", "rollout", "gateway", *operator
        )
        assert (hosts / "pay-02" / "gateway" / "current" / "gw-1.0.bin").exists()

        # a new release, and a network attacker who swaps the artefact
        build2 = tmp_path / "gw-2.0.bin"
        build2.write_bytes(b"gateway 2.0\n" * 100)
        ok(
            cli,
            "updates",
            "add-target",
            str(repo),
            str(build2),
            "--version",
            "2.0",
            *args,
            "--key",
            str(offline / "gateway-1.key"),
            "--key",
            str(offline / "gateway-2.key"),
        )
        ok(cli, "updates", "publish", str(repo), "--online-keys", str(online))
        import hashlib

        digest = hashlib.sha256(build2.read_bytes()).hexdigest()
        proxy.rules[f"/targets/gateway/{digest}.gw-2.0.bin"] = Replace(b"X" * 1200)
        before = sorted(p.relative_to(state) for p in (state / "staging").rglob("*"))
        attacked = cli("updates", "stage", "gateway", *operator)
        assert attacked.code == 2
        assert attacked.err.startswith(
            "sakimori: error: artefact gateway/gw-2.0.bin does not match"
        )
        assert "nothing was installed" in attacked.err
        assert attacked.err.count("\n") == 1
        assert sorted(p.relative_to(state) for p in (state / "staging").rglob("*")) == before

        # the vendor rotates a root key; the operator follows the signed chain
        out = ok(
            cli,
            "updates",
            "rotate-root",
            str(repo),
            "--revoke",
            str(offline / "root-1.pub.json"),
            "--generate",
            "root-4",
            "--keys",
            str(offline),
        )
        assert "staged root v2" in out
        assert "complete" in ok(cli, "updates", "sign", str(repo), "root", "--keys", str(offline))
        ok(cli, "updates", "publish", str(repo), "--online-keys", str(online))
        proxy.rules.clear()
        assert "verified: root v2" in ok(cli, "updates", "verify", *operator)

    out = ok(cli, "updates", "rollback", "gateway", *operator)
    assert "rolled back 2 host(s)" in out
    assert not (hosts / "pay-01" / "gateway" / "current").exists()
    journal = [
        json.loads(line)["event"] for line in (state / "journal.jsonl").read_text().splitlines()
    ]
    assert "refused" in journal
    assert journal[-1] == "rollback-completed"


def test_operator_commands_need_an_enrolment(cli: Cli, tmp_path: Path) -> None:
    run = cli("updates", "verify", "--state", str(tmp_path / "nowhere"))
    assert run.code == 2
    assert "not enrolled" in run.err
    run = cli("updates", "publish", str(tmp_path / "nothing"), "--online-keys", str(tmp_path))
    assert run.code == 2
    assert "no update repository here" in run.err
