"""`sakimori vex import|export|list` as a person uses them, with a real lockfile."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli
from tests.conftest import require_data

ASSETS = Path(__file__).resolve().parent.parent / "formats" / "assets" / "vex" / "applied"
LOCKFILE = (
    "lockfiles", "osv-scanner-add393a", "cmd", "osv-scanner", "scan", "source", "testdata",
    "locks-requirements", "requirements.prod.txt",
)  # fmt: skip


def register(cli: Cli, org: str) -> None:
    for args in (
        ("org", "create", org, "--sector", "finance"),
        ("asset", "create", f"{org}/web-portal", "--criticality", "high"),
        ("inventory", "upload", f"{org}/web-portal", str(require_data(*LOCKFILE)), "--by", "al"),
    ):
        run = cli(*args)
        assert run.code == 0, run.err


def states(cli: Cli, org: str) -> dict[str, str]:
    run = cli("finding", "list", "--org", org, "--all", "--format", "json")
    assert run.code == 0, run.err
    return {f["vulnerability"]: f["state"] for f in json.loads(run.out)}


def test_import_apply_list_export_reimport(empty_cli: Cli, tmp_path: Path) -> None:
    cli = empty_cli
    assert cli("intel", "load", str(require_data("osv", "pypi", "vulns", "django"))).code == 0
    register(cli, "city-bank")
    before = states(cli, "city-bank")
    assert set(before.values()) == {"open"}
    assert {"CVE-2021-45115", "CVE-2021-45116", "CVE-2021-44420"} <= set(before)

    vex = ASSETS / "django-2.2.24.openvex.json"
    run = cli("vex", "import", "city-bank/web-portal", str(vex), "--actor", "vex-bot")
    assert run.code == 0, run.err
    assert "3 statements" in run.out
    assert "2 findings changed" in run.out
    after = states(cli, "city-bank")
    assert after["CVE-2021-45115"] == "not_affected"  # matched by its GHSA alias
    assert after["CVE-2021-45116"] == "acknowledged"
    assert after["CVE-2021-44420"] == "open"
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"CVE-2021-45115", "CVE-2021-45116"}
    listed = json.loads(cli("finding", "list", "--state", "not_affected", "--format", "json").out)
    shown = cli("finding", "show", str(listed[0]["id"])).out
    assert "vex-bot" in shown
    assert "open -> not_affected: VEX not_affected" in shown
    assert "password validators" in shown

    statements = json.loads(cli("vex", "list", "city-bank", "--format", "json").out)
    assert {(s["vulnerability"], s["status"], s["applied"]) for s in statements} == {
        ("GHSA-53qw-q765-4fww", "not_affected", 1),
        ("CVE-2021-45116", "affected", 1),
        ("CVE-2021-44420", "under_investigation", 0),
    }
    assert all(s["document"].startswith(str(vex)) for s in statements)
    table = cli("vex", "list", "city-bank/web-portal").out
    assert "3 statements" in table

    # An unknown product refuses the whole document: nothing changes.
    run = cli("vex", "import", "city-bank", str(ASSETS / "unknown-product.openvex.json"))
    assert run.code == 2
    assert "CVE-2023-30608 in pkg:pypi/sqlparse@0.4.3" in run.err
    assert "nothing was imported" in run.err
    assert states(cli, "city-bank") == after
    assert len(json.loads(cli("vex", "list", "city-bank", "--format", "json").out)) == 3

    # Export in every format; the imported statements as CSAF to a file, re-imported by another
    # bank with the same lockfile, change its findings as they changed the first bank's.
    register(cli, "river-bank")
    out = tmp_path / "city-bank.csaf.json"
    run = cli(
        "vex", "export", "city-bank/web-portal", "--format", "csaf", "-o", str(out),
        "--imported-only",
    )  # fmt: skip
    assert run.code == 0, run.err
    assert json.loads(out.read_bytes())["document"]["category"] == "csaf_vex"
    run = cli("vex", "import", "river-bank/web-portal", str(out), "--by", "river-ops")
    assert run.code == 0, run.err
    assert states(cli, "river-bank") == after
    for fmt, key in (("openvex", "statements"), ("cyclonedx", "vulnerabilities")):
        run = cli("vex", "export", "city-bank", "--format", fmt)
        assert run.code == 0, run.err
        assert {"CVE-2021-45116", "CVE-2021-44420"} <= {
            (s["vulnerability"]["name"] if fmt == "openvex" else s["id"])
            for s in json.loads(run.out)[key]
        }


def test_clear_errors(empty_cli: Cli, tmp_path: Path) -> None:
    cli = empty_cli
    vex = ASSETS / "django-2.2.24.openvex.json"
    assert "no organisation 'nobody'" in cli("vex", "import", "nobody", str(vex)).err
    assert cli("org", "create", "city-bank").code == 0
    assert "no asset" in cli("vex", "import", "city-bank/web", str(vex)).err
    run = cli("vex", "export", "city-bank", "--format", "spdx")
    assert run.code == 2
    assert "unknown VEX format" in run.err
    broken = tmp_path / "broken.json"
    broken.write_text('{"@context": "https://openvex.dev/ns/v0.2.0", "statements": 3}')
    run = cli("vex", "import", "city-bank", str(broken))
    assert run.code == 2
    assert str(broken) in run.err
    assert "statements" in run.err
