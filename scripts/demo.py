"""`make run`: load vulnerability intelligence, build the demo world, and serve the platform.

With ../shared/data present (the project's public data sets) the intel is loaded from there,
offline; otherwise it is synced from the upstream feeds (or SAKIMORI_MIRROR). Then `sakimori
demo` builds (or completes) a realistic demo world — a coordinator, a financial regulator, banks,
insurers, a power company, a telecom operator, a ministry and two vendors, whose assets carry real
SBOMs and lockfiles — and `sakimori serve` runs the API and the web interface at
http://127.0.0.1:8000/ in the foreground (Ctrl-C stops it). The URL and the demo logins are
printed first. Each step is a real `sakimori` command, printed before it runs.

`python scripts/demo.py --walkthrough` first runs the command-line tour of earlier releases
(scan, track one asset, explain a decision, report, watch an attack log, probe code);
`--no-serve` stops before serving.
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


def load_intel() -> int:
    if DATA.is_dir():
        return run(
            "intel",
            "load",
            str(DATA / "osv"),
            str(DATA / "kev" / "known_exploited_vulnerabilities.json"),
            str(DATA / "epss" / "EPSS_CVE_data"),
            str(DATA / "cve"),
            str(DATA / "nvd"),
            str(DATA / "ssvc" / "data" / "json" / "decision_tables"),
        )
    return run("intel", "sync")


def walkthrough() -> None:
    """The command-line tour: scan example inventories, track one asset, watch, probe."""
    run("intel", "status")
    inventories = [str(ROOT / "examples" / "requirements.txt"),
                   str(ROOT / "examples" / "package-lock.json")]  # fmt: skip
    juice_shop = DATA / "sbom" / "cyclonedx" / "juice-shop" / "via_npm" / "flat" / "bom.1.4.json"
    if juice_shop.is_file():
        inventories.append(str(juice_shop))
    run("scan", *inventories)
    track()
    defend()


def main(argv: list[str]) -> int:
    host, port = "127.0.0.1", os.environ.get("SAKIMORI_DEMO_PORT", "8000")
    code = load_intel()
    if code != 0:
        return code
    if "--walkthrough" in argv:
        walkthrough()
    code = run("demo", "--data", str(DATA))
    if code != 0:
        return code
    url = f"http://{host}:{port}/"
    print(
        f"\nSakimori: {url}  (the server starts below; Ctrl-C stops it)\n"
        "Sign in as kanri (the coordinator's administrator: national dashboard), bunseki "
        "(analyst), sakura-admin (a bank), kanto-admin (the power company) … with the demo "
        "password printed above; administrators then give a code of the demo TOTP key printed "
        "above. DEMO ONLY: these accounts, this password and this key are public.\n"
        "API: curl -H 'Authorization: Bearer TOKEN' " + url + "v1/findings "
        "(make a token under Tokens in the web interface); see docs/api.md.",
        flush=True,
    )
    if "--no-serve" not in argv:
        print(f"\n$ sakimori serve --host {host} --port {port}", flush=True)
        # The server replaces this process, so Ctrl-C reaches uvicorn, which stops cleanly.
        os.execv(SAKIMORI, [SAKIMORI, "serve", "--host", host, "--port", port])  # noqa: S606
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
