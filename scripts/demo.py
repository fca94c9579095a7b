"""`make run`: load vulnerability intelligence, then scan example inventories.

With ../shared/data present (the project's public data sets) the intel is loaded from there,
offline; otherwise it is synced from the upstream feeds (or SAKIMORI_MIRROR). Each step is a
real `sakimori` command, printed before it runs.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SAKIMORI_TEST_DATA", ROOT.parent / "shared" / "data"))
SAKIMORI = str(Path(sys.executable).with_name("sakimori"))


def run(*args: str) -> int:
    print(f"\n$ sakimori {shlex.join(args)}", flush=True)
    return subprocess.call([SAKIMORI, *args])


def main() -> int:
    if DATA.is_dir():
        code = run(
            "intel",
            "load",
            str(DATA / "osv"),
            str(DATA / "kev" / "known_exploited_vulnerabilities.json"),
            str(DATA / "epss" / "EPSS_CVE_data"),
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
    print(
        "\nNext: `sakimori scan --format json FILE`, `--format sarif`, `--fail-on high|kev`, "
        "`sakimori scan --purl pkg:pypi/django@2.2.24`; see README.md.",
    )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
