"""`sakimori inventory upload` of a product list and `sakimori product suggest`, as a person
uses them, on the real NVD records."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli
from tests.conftest import require_data

ROOT = Path(__file__).resolve().parents[2]


def test_a_product_list_gets_findings_and_a_misspelt_product_a_suggestion(
    empty_cli: Cli, tmp_path: Path
) -> None:
    cli = empty_cli
    nvd = [str(p) for p in sorted(require_data("nvd").glob("20*"))]
    assert cli("intel", "load", *nvd).code == 0
    scanned = cli("scan", str(ROOT / "examples" / "products.csv"), "--format", "json")
    assert scanned.code == 0, scanned.err
    assert "CVE-2024-21762" in scanned.out  # products alone are intel enough to scan against
    assert cli("org", "create", "river-power", "--sector", "electric_power").code == 0
    assert cli("asset", "create", "river-power/site", "--criticality", "high").code == 0
    run = cli("inventory", "upload", "river-power/site", str(ROOT / "examples" / "products.csv"))
    assert run.code == 0, run.err
    assert "products-csv" in run.out
    listed = json.loads(cli("finding", "list", "--format", "json").out)
    assert "CVE-2024-21762" in {f["vulnerability"] for f in listed}
    assert {f["package"] for f in listed} >= {"o:fortinet:fortios", "o:paloaltonetworks:pan-os"}
    typo = tmp_path / "typo.csv"
    typo.write_text("vendor,product,version,part\nPalo Alto Networks,PAN-OS,10.2.3,o\n")
    run = cli("inventory", "upload", "river-power/site", str(typo))
    assert run.code == 0, run.err
    assert "1 product entry names no product the loaded intel knows" in run.err
    assert "cpe:2.3:o:palo_alto_networks:pan-os:10.2.3" in run.err
    run = cli("product", "suggest", "Palo Alto Networks PAN-OS", "--limit", "3")
    assert run.code == 0, run.err
    assert run.out.splitlines()[0].startswith("1. paloaltonetworks:pan-os ")
    assert "tokens matched" in run.out
    nothing = cli("product", "suggest", "zzqx")
    assert nothing.code == 1
    assert "no vendor/product of the loaded intel resembles" in nothing.out
