"""Report: how often the product-name normaliser finds the CPE vendor/product of a KEV entry.

For every entry of the CISA KEV catalog (../shared/data/kev) whose CVE is among the loaded NVD
records (../shared/data/nvd) or CVE records (../shared/data/cve), the right answer is known
from the records themselves: the (vendor, product) of the NVD record's vulnerable criteria and
of the CVE record's ``affected[].cpes``. The normaliser is asked with KEV's ``vendorProject``
and ``product`` (vendor given apart) against the vocabulary of all loaded records, and an entry
counts when its **top** suggestion (and, in a second column, any of the top 3) is one of the
right pairs. Entries whose records name no CPE are counted apart (no answer to find).

Two vocabularies: CPE names only, and CPE names plus the aliases learned from CVE records (the
CNA's free-text vendor/product next to a CPE). Aliases come from the same loaded records that
hold the answers, so the first row is the stricter figure.

Run: ``.venv/bin/python benchmarks/report_kev_normaliser.py``
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from _common import DATA, machine, table, write_result
from sakimori.cpe import nvd
from sakimori.cpe.cve_affected import entry_cpes
from sakimori.cpe.name import unquote
from sakimori.cpe.normalise import Vocabulary
from sakimori.cpe.nvd import NvdRecord
from sakimori.formats import cve
from sakimori.model.cve import CveRecord


def load() -> tuple[list[NvdRecord], list[CveRecord], list[dict[str, Any]]]:
    records: list[NvdRecord] = []
    for path in sorted((DATA / "nvd").glob("20*/CVE-*.json")):
        records.extend(nvd.parse(path.read_bytes()))
    cves = [cve.parse(p.read_bytes()) for p in sorted((DATA / "cve").glob("20*/*/CVE-*.json"))]
    kev = json.loads((DATA / "kev" / "known_exploited_vulnerabilities.json").read_bytes())
    return records, cves, kev["vulnerabilities"]


def answers(records: list[NvdRecord], cves: list[CveRecord]) -> dict[str, set[tuple[str, str]]]:
    """CVE id -> the CPE (vendor, product) pairs its records name as affected."""
    found: dict[str, set[tuple[str, str]]] = {}
    for record in records:
        pairs = found.setdefault(record.id, set())
        for match in record.matches():
            if match.vulnerable and isinstance(match.name.vendor, str):
                pairs.add(_pair(match.name.vendor, match.name.product))
    for record in cves:
        pairs = found.setdefault(record.id, set())
        for entry in record.affected:
            for name in entry_cpes(entry)[0]:
                if isinstance(name.vendor, str) and isinstance(name.product, str):
                    pairs.add(_pair(name.vendor, name.product))
    return found


def _pair(vendor: Any, product: Any) -> tuple[str, str]:
    return unquote(vendor).lower(), unquote(product).lower()


def evaluate(vocabulary: Vocabulary, kev: list[dict[str, Any]], right: dict[str, set]) -> dict:
    counts: Counter[str] = Counter()
    misses: list[dict[str, Any]] = []
    started = time.perf_counter()
    for entry in kev:
        wanted = right.get(entry["cveID"])
        if wanted is None:
            continue
        if not wanted:
            counts["no_cpe_in_records"] += 1
            continue
        counts["asked"] += 1
        suggestions = vocabulary.suggest(entry["product"], vendor=entry["vendorProject"], limit=3)
        pairs = [(s.vendor, s.product) for s in suggestions]
        if pairs[:1] and pairs[0] in wanted:
            counts["top1"] += 1
        if any(p in wanted for p in pairs):
            counts["top3"] += 1
        elif len(misses) < 25:
            misses.append(
                {
                    "cve": entry["cveID"],
                    "kev": f"{entry['vendorProject']} / {entry['product']}",
                    "right": sorted(":".join(p) for p in wanted)[:5],
                    "top": suggestions[0].explain() if suggestions else None,
                }
            )
    seconds = time.perf_counter() - started
    asked = counts["asked"] or 1
    return {
        "asked": counts["asked"],
        "no_cpe_in_records": counts["no_cpe_in_records"],
        "top1": counts["top1"],
        "top3": counts["top3"],
        "top1_fraction": counts["top1"] / asked,
        "top3_fraction": counts["top3"] / asked,
        "seconds": seconds,
        "misses_sample": misses,
    }


def main() -> None:
    info = machine()
    records, cves, kev = load()
    right = answers(records, cves)
    rows = []
    results: dict[str, Any] = {"kev_entries": len(kev), "vocabularies": {}}
    for label, aliases in (("CPE names only", False), ("CPE names + CVE aliases", True)):
        vocabulary = Vocabulary.from_records(records, cves, aliases=aliases)
        outcome = evaluate(vocabulary, kev, right)
        outcome["vocabulary_pairs"] = len(vocabulary)
        results["vocabularies"][label] = outcome
        rows.append(
            (
                label,
                len(vocabulary),
                outcome["asked"],
                f"{outcome['top1']} ({outcome['top1_fraction']:.1%})",
                f"{outcome['top3']} ({outcome['top3_fraction']:.1%})",
                f"{outcome['seconds']:.2f} s",
            )
        )
    print(
        f"KEV entries: {len(kev)}; with a loaded NVD or CVE record: "
        f"{sum(1 for e in kev if e['cveID'] in right)}; of those, records naming no CPE: "
        f"{results['vocabularies']['CPE names only']['no_cpe_in_records']}"
    )
    print(table(["vocabulary", "pairs", "asked", "top-1 right", "top-3 right", "time"], rows))
    path = write_result("kev_normaliser", results, info)
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
