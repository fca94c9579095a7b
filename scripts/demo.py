"""`make run`: load vulnerability intelligence, scan example inventories, then track one asset's
findings: an organisation, an asset, an inventory upload, the decisions, one explained, the report;
then watch a real attack log (with Sigma rules) and probe the example API's own code.

With ../shared/data present (the project's public data sets) the intel is loaded from there,
offline; otherwise it is synced from the upstream feeds (or SAKIMORI_MIRROR). Each step is a
real `sakimori` command, printed before it runs.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SAKIMORI_TEST_DATA", ROOT.parent / "shared" / "data"))
SAKIMORI = str(Path(sys.executable).with_name("sakimori"))
# Rich assumes 80 columns when output is not a terminal (make's is not); tables read better wider.
os.environ.setdefault("COLUMNS", "150")


def run(*args: str) -> int:
    print(f"\n$ sakimori {shlex.join(args)}", flush=True)
    return subprocess.call([SAKIMORI, *args])


def capture(*args: str) -> str:
    print(f"\n$ sakimori {shlex.join(args)}", flush=True)
    return subprocess.run([SAKIMORI, *args], capture_output=True, text=True, check=False).stdout


def track() -> None:
    """The remediation loop on one asset (idempotent: a second `make run` reuses it)."""
    run("org", "create", "city-bank", "--name", "City Bank", "--kind", "operator",
        "--sector", "finance")  # fmt: skip
    run("asset", "create", "city-bank/online-banking", "--name", "Online banking",
        "--criticality", "high", "--internet-facing", "--environment", "production")  # fmt: skip
    run("inventory", "upload", "city-bank/online-banking",
        str(ROOT / "examples" / "requirements.txt"), "--by", "demo")  # fmt: skip
    run("finding", "list", "--asset", "city-bank/online-banking")
    listed = json.loads(
        capture("finding", "list", "--asset", "city-bank/online-banking", "--format", "json")
        or "[]"
    )
    order = {"Act": 0, "Attend": 1, "Track*": 2, "Track": 3}
    ranked = sorted(listed, key=lambda f: (order.get(f.get("decision") or "", 9), f["id"]))
    if ranked:
        run("triage", "explain", str(ranked[0]["id"]))
    run("report")


def defend() -> None:
    """Monitoring and defensive testing: a real attack log, then the example API's own code."""
    log = (DATA / "weblogs" / "crowdsec-hub-tests" / "tests" / "apache_log4j2_cve-2021-44228"
           / "apache_log4j2_cve-2021-44228.log")  # fmt: skip
    rules = DATA / "weblogs" / "sigma"
    if log.is_file():
        run("watch", str(log), *(["--sigma", str(rules)] if rules.is_dir() else []))
    run("probe", str(ROOT / "examples" / "payments-api"))


def main() -> int:
    if DATA.is_dir():
        code = run(
            "intel",
            "load",
            str(DATA / "osv"),
            str(DATA / "kev" / "known_exploited_vulnerabilities.json"),
            str(DATA / "epss" / "EPSS_CVE_data"),
            str(DATA / "cve"),
            str(DATA / "ssvc" / "data" / "json" / "decision_tables"),
        )
    else:
        code = run("intel", "sync")
    if code != 0:
        return code
    run("intel", "status")
    inventories = [str(ROOT / "examples" / "requirements.txt"),
                   str(ROOT / "examples" / "package-lock.json")]  # fmt: skip
    juice_shop = DATA / "sbom" / "cyclonedx" / "juice-shop" / "via_npm" / "flat" / "bom.1.4.json"
    if juice_shop.is_file():
        inventories.append(str(juice_shop))
    code = run("scan", *inventories)
    track()
    defend()
    print(
        "\nNext: `sakimori scan --format json FILE`, `--format sarif`, `--fail-on Attend|kev`, "
        "`sakimori finding set ID acknowledged --by NAME`, `sakimori triage recompute`, "
        "`sakimori watch --follow LOG`, `sakimori probe PATH -f sarif`, `sakimori updates --help`; "
        "see README.md.",
    )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
