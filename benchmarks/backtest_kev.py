"""Backtest: do SSVC's Act + Attend pick more KEV-listed CVEs than CVSS or EPSS at equal effort?

Universe: every CVE id in the loaded intel — the ids and aliases of every OSV record in
../shared/data/osv (all ecosystems; withdrawn records left out) and every CVE record in
../shared/data/cve (rejected ones left out). Each CVE's evidence is merged from all of them and
then **stripped of KEV listing, KEV due date and KEV's CWE ids, EPSS, CISA's SSVC block and the
CVE records' CISA ADP KEV block**; CVSS vectors (CNA, ADP, OSV), other CWE ids, references, fixed
versions and the open-source flag are kept. Ground truth: CVEs of the universe listed in the KEV
catalog in ../shared/data/kev.

Selectors, compared at equal effort N:

* SSVC — ``sakimori.triage.decide`` (CISA coordinator table 2.0.3), the CVEs decided Act or
  Attend (N is the size of that set); also Act + Attend + Track* as a wider set;
* CVSS — the N highest CVSS base scores (``cvss`` library; highest of all a CVE's vectors, any
  version); CVEs without a readable vector rank last; ties broken by CVE id (older first), with
  the range any other tie-break could give;
* EPSS — the N highest EPSS scores of ../shared/data/epss (a 2026 snapshot: hindsight);
* chance — N × KEV / universe.

Asset contexts: ``AssetContext.unknown()`` (exposure open, criticality medium: a bare scan) and
an internet-facing, high-criticality asset. Ablations: the AI-era rule off; the EPSS override
on (hindsight). Universes: all loaded intel; only CVEs named by OSV records (the CVE record set
was partly chosen *because* CVEs are in KEV, which biases the first); and all loaded intel with
CISA ADP's CVSS and CWE also withheld (CISA may have scored after exploitation was known).

It is a report, not a gate. Writes ``benchmarks/results/backtest_kev.json`` and ``.md``.

Run: ``.venv/bin/python benchmarks/backtest_kev.py``
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import time
from collections.abc import Collection, Iterable, Mapping
from datetime import date
from typing import Any

from _common import DATA, RESULTS, fmt, load_advisories, machine, table, write_result
from report_cisa_agreement import load_epss, load_records, load_tables
from sakimori.formats import kev as kev_format
from sakimori.model.intel import KevEntry
from sakimori.triage.backtest import (
    Metrics,
    base_score,
    evidence_by_cve,
    measure,
    random_expectation,
    ratio,
    top_n,
    withhold_exploitation,
)
from sakimori.triage.config import DEFAULT_CONFIG, TriageConfig
from sakimori.triage.decide import DecisionTables, decide
from sakimori.triage.evidence import AssetContext, Evidence, evidence_from_cve, evidence_from_osv

CONTEXTS: dict[str, AssetContext] = {
    "unknown": AssetContext.unknown(),
    "internet-facing, high": AssetContext("high", True),
}
CONTEXT_NOTES = {
    "unknown": "AssetContext.unknown(): exposure open, criticality medium (MWI M)",
    "internet-facing, high": "AssetContext('high', internet_facing=True): MWI H, exposure open",
}
NO_AI_ERA = TriageConfig(version="backtest-no-ai-era", ai_era_rule=False)
CONFIGS: dict[str, TriageConfig] = {
    "default": DEFAULT_CONFIG,
    "AI-era rule off": NO_AI_ERA,
    "default + EPSS override (hindsight)": DEFAULT_CONFIG,
}
SETS: dict[str, frozenset[str]] = {
    "Act+Attend": frozenset({"Act", "Attend"}),
    "Act+Attend+Track*": frozenset({"Act", "Attend", "Track*"}),
}
CISA_ADP = "adp:CISA-ADP"
CVE_SNAPSHOT = date(2024, 10, 24)  # cisagov/vulnrichment commit of ../shared/data/cve
EPSS_SNAPSHOT = date(2026, 8, 16)  # ../shared/data/epss/SOURCES.md
TARGET = "KEV coverage SSVC Act+Attend vs CVSS at equal effort"


@dataclasses.dataclass(frozen=True)
class Universe:
    name: str
    note: str
    evidence: dict[str, Evidence]


def load_kev() -> kev_format.KevCatalog:
    path = DATA / "kev" / "known_exploited_vulnerabilities.json"
    return kev_format.parse(path.read_bytes())


def gather() -> tuple[dict[str, Evidence], set[str], dict[str, int]]:
    """Withheld evidence per CVE id of all loaded intel, the ids OSV records name, and counts."""
    advisories = [a for a in load_advisories() if a.withdrawn is None]
    records = [r for r in load_records() if not r.rejected]
    osv_parts = [evidence_from_osv(a) for a in advisories]
    cve_parts = [
        evidence_from_cve(dataclasses.replace(r, kev=None, ssvc=None), with_cisa_ssvc=False)
        for r in records
    ]
    merged = evidence_by_cve([*cve_parts, *osv_parts])
    withheld = {i: withhold_exploitation(e) for i, e in merged.items()}
    assert not any(e.kev or e.epss is not None or e.cisa_ssvc for e in withheld.values())
    from_osv = set(evidence_by_cve(osv_parts))
    counts = {"osv_records": len(advisories), "cve_records": len(records)}
    return withheld, from_osv, counts


def without_cisa_adp(evidence: Evidence) -> Evidence:
    return dataclasses.replace(
        evidence,
        cvss=tuple(c for c in evidence.cvss if CISA_ADP not in c.source),
        cwes=tuple(w for w in evidence.cwes if CISA_ADP not in w.source),
    )


def decisions(
    evidence: Mapping[str, Evidence],
    tables: DecisionTables,
    config: TriageConfig,
    context: AssetContext,
) -> dict[str, tuple[str, str]]:
    """CVE id -> (coordinator decision name, ``E/A/TI`` value keys)."""
    out = {}
    for identifier, item in evidence.items():
        found = decide(item, context, tables, config)
        points = "/".join(found.point(key).value for key in ("E", "A", "TI"))
        out[identifier] = (found.decision.name, points)
    return out


def compare(
    selected: Collection[str],
    label: str,
    universe: Collection[str],
    positives: Collection[str],
    rankings: Mapping[str, Mapping[str, float | None]],
) -> dict[str, Any]:
    """SSVC's selection against each ranking at the same N, and chance."""
    n = len(selected)
    ours = measure(label, selected, positives, universe)
    rows: list[Metrics] = [ours]
    ties: dict[str, Any] = {}
    for name, scores in rankings.items():
        picked = top_n(scores, n, positives)
        rows.append(measure(f"{name} top-N", picked.ids, positives, universe))
        ties[name] = picked.to_dict()
    expected = random_expectation(n, len(positives), len(universe))
    rows.append(Metrics("chance (expected)", n, expected, len(positives), len(universe)))
    return {
        "n": n,
        "rows": [r.to_dict() for r in rows],
        "ties": ties,
        "ratio_vs_cvss": ratio(ours.hits, rows[1].hits),
        "ratio_vs_cvss_best_tie_break": ratio(ours.hits, ties["CVSS"]["hits_best"]),
        "ratio_vs_cvss_worst_tie_break": ratio(ours.hits, ties["CVSS"]["hits_worst"]),
        "ratio_vs_cvss_random_tie_break": ratio(
            ours.hits, ties["CVSS"]["hits_expected_random_tie_break"]
        ),
        "ratio_vs_epss": ratio(ours.hits, rows[2].hits),
    }


def run_universe(
    universe: Universe,
    kev: Mapping[str, KevEntry],
    epss: Mapping[str, tuple[float, float]],
    tables: DecisionTables,
    configs: Mapping[str, TriageConfig],
) -> dict[str, Any]:
    ids = list(universe.evidence)
    positives = {i for i in ids if i in kev}
    cvss = {i: base_score(e.cvss) for i, e in universe.evidence.items()}
    epss_scores = {i: epss[i][0] if i in epss else None for i in ids}
    rankings = {"CVSS": cvss, "EPSS": epss_scores}
    with_epss = {
        i: dataclasses.replace(e, epss=epss[i][0], epss_percentile=epss[i][1]) if i in epss else e
        for i, e in universe.evidence.items()
    }
    out: dict[str, Any] = {
        "note": universe.note,
        "universe": len(ids),
        "kev_in_universe": len(positives),
        "base_rate": len(positives) / len(ids),
        "kev_without_cvss": sum(cvss[i] is None for i in positives),
        "without_cvss": sum(v is None for v in cvss.values()),
        "kev_without_epss": sum(i not in epss for i in positives),
        "without_epss": sum(i not in epss for i in ids),
        "contexts": {},
    }
    for context_name, context in CONTEXTS.items():
        block: dict[str, Any] = {"context": CONTEXT_NOTES[context_name], "configs": {}}
        for config_name, config in configs.items():
            source = with_epss if "EPSS" in config_name else universe.evidence
            decided = decisions(source, tables, config, context)
            result: dict[str, Any] = {
                "decisions": dict(collections.Counter(d for d, _ in decided.values())),
                "kev_by_decision": dict(
                    collections.Counter(decided[i][0] for i in sorted(positives))
                ),
                "kev_by_points": _counts(decided[i][1] for i in positives),
                "all_by_points": _counts(p for _, p in decided.values()),
                "sets": {},
            }
            for set_name, names in SETS.items():
                chosen = {i for i, (d, _) in decided.items() if d in names}
                compared = compare(chosen, f"SSVC {set_name}", ids, positives, rankings)
                compared["selected_without_cvss"] = sum(cvss[i] is None for i in chosen)
                result["sets"][set_name] = compared
            block["configs"][config_name] = result
        out["contexts"][context_name] = block
    return out


def _counts(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(collections.Counter(values).items()))


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def hits_text(row: dict[str, Any], ties: dict[str, Any] | None) -> str:
    hits = row["hits"]
    text = f"{hits:.1f}" if isinstance(hits, float) and not hits.is_integer() else f"{hits:g}"
    if ties and ties["hits_worst"] != ties["hits_best"]:
        expected = ties["hits_expected_random_tie_break"]
        text += f" [{ties['hits_worst']}–{ties['hits_best']}, random {expected:.1f}]"
    return text


def print_universe(name: str, found: dict[str, Any], full: bool) -> list[list[Any]]:
    print(
        f"\n## {name}: {found['universe']:,} CVEs, {found['kev_in_universe']:,} in KEV "
        f"(base rate {found['base_rate']:.2%}); no CVSS: {found['without_cvss']:,} "
        f"({found['kev_without_cvss']} of KEV); no EPSS: {found['without_epss']:,} "
        f"({found['kev_without_epss']} of KEV)"
    )
    rows: list[list[Any]] = []
    for context_name, block in found["contexts"].items():
        for config_name, result in block["configs"].items():
            if not full and config_name != "default":
                continue
            for set_name, compared in result["sets"].items():
                for row in compared["rows"]:
                    selector = row["selector"].split(" ")[0]
                    rows.append(
                        [
                            f"{context_name} | {config_name} | {set_name}",
                            selector,
                            row["n"],
                            hits_text(row, compared["ties"].get(selector)),
                            pct(row["coverage"]),
                            pct(row["efficiency"]),
                        ]
                    )
    print(table(["context | config | set", "selector", "N", "KEV hits", "cov.", "eff."], rows))
    return rows


def markdown(report: dict[str, Any], seconds: float) -> str:
    """A short summary: the verdict, one table of the default configuration, the AI-era
    ablation, the caveats. Every row (and the EPSS-override rows) is in the JSON file."""
    main = report["universes"]["all loaded intel"]
    lines = [
        "# KEV backtest: SSVC Act+Attend vs CVSS and EPSS at equal effort",
        "",
        "A report, not a gate. Generated by `benchmarks/backtest_kev.py` "
        f"({report['machine']['date']}, {seconds:.0f} s); every figure, the EPSS-override "
        "variant and the tie ranges are in `backtest_kev.json`.",
        "",
        f"Universe: {main['universe']:,} CVE ids from {report['counts']['osv_records']:,} OSV "
        f"records and {report['counts']['cve_records']:,} CVE records; "
        f"{main['kev_in_universe']:,} are in KEV (base rate {main['base_rate']:.2%}); "
        f"{main['without_cvss']:,} CVEs, {main['kev_without_cvss']} of them in KEV, have no "
        "CVSS vector at all. KEV, EPSS, CISA's SSVC block and the CVE records' KEV block were "
        "withheld from triage. Selectors at equal effort N: SSVC (the set), the N highest CVSS "
        "base scores (ties by CVE id, older first; [worst–best] over any tie-break), the N "
        "highest EPSS scores (hindsight), and chance (N × base rate).",
        "",
        "## Verdict",
        "",
        *[f"- {line}" for line in report["verdict"]],
        "",
        "## Default configuration",
        "",
        "| universe | context | set | N | KEV hits SSVC / CVSS / EPSS / chance | "
        "coverage SSVC / CVSS / EPSS | efficiency SSVC / CVSS / EPSS | SSVC ÷ CVSS |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for universe_name, found in report["universes"].items():
        for context_name, block in found["contexts"].items():
            for set_name, compared in block["configs"]["default"]["sets"].items():
                ssvc, cvss, epss, chance = compared["rows"]
                ties = compared["ties"]
                lines.append(
                    f"| {universe_name} ({found['kev_in_universe']} KEV / "
                    f"{found['universe']:,}) | {context_name} | {set_name} | {compared['n']:,} | "
                    f"{ssvc['hits']} / {hits_text(cvss, ties['CVSS'])} / "
                    f"{hits_text(epss, ties['EPSS'])} / {chance['hits']:.1f} | "
                    f"{pct(ssvc['coverage'])} / {pct(cvss['coverage'])} / "
                    f"{pct(epss['coverage'])} | {pct(ssvc['efficiency'])} / "
                    f"{pct(cvss['efficiency'])} / {pct(epss['efficiency'])} | "
                    f"{times(compared['ratio_vs_cvss'])} |"
                )
    lines += [
        "",
        "## AI-era rule ablation (all loaded intel)",
        "",
        "| context | set | rule on: N, KEV hits | rule off: N, KEV hits | "
        "CVSS hits at rule-off N |",
        "|---|---|---:|---:|---:|",
    ]
    for context_name, block in main["contexts"].items():
        for set_name in SETS:
            on = block["configs"]["default"]["sets"][set_name]
            off = block["configs"]["AI-era rule off"]["sets"][set_name]
            lines.append(
                f"| {context_name} | {set_name} | {on['n']:,}, {on['rows'][0]['hits']} | "
                f"{off['n']:,}, {off['rows'][0]['hits']} | {off['rows'][1]['hits']} |"
            )
    lines += ["", "## Caveats", "", *[f"- {line}" for line in report["caveats"]], ""]
    return "\n".join(lines)


def verdict(report: dict[str, Any]) -> list[str]:
    """The goal (more KEV coverage than CVSS at equal effort), and what drives the result."""
    main = report["universes"]["all loaded intel"]
    out = []
    for context_name, block in main["contexts"].items():
        compared = block["configs"]["default"]["sets"]["Act+Attend"]
        ssvc, cvss = compared["rows"][0], compared["rows"][1]
        if compared["n"] == 0:
            out.append(
                f"{context_name} context: Act+Attend is empty (N = 0), so the goal cannot be met "
                "or missed. Without KEV, CISA's SSVC or sightings, Exploitation is never "
                "`active`, and at Mission & Well-being M the CISA coordinator table gives at "
                "most Track* otherwise."
            )
        else:
            met = "met" if (compared["ratio_vs_cvss"] or 0) > 1 else "not met"
            out.append(
                f"{context_name} context: goal {met}. Act+Attend takes N = {compared['n']:,} of "
                f"{main['universe']:,} CVEs and finds {ssvc['hits']} of "
                f"{main['kev_in_universe']} KEV CVEs; the top {compared['n']:,} by CVSS find "
                f"{cvss['hits']} ({times(compared['ratio_vs_cvss'])}). "
                f"{compared['selected_without_cvss']:,} of the set have no CVSS vector and "
                "land in Attend through the conservative defaults (Automatable yes, Technical "
                "Impact total), so the set is nearly everything and CVSS, given the same "
                "effort, takes every scored CVE."
            )
    points = main["contexts"]["unknown"]["configs"]["default"]["kev_by_points"]
    out.append(
        f"Of the {main['kev_in_universe']} KEV CVEs, triage without KEV sees Exploitation none "
        f"for {sum(v for k, v in points.items() if k[0] == 'N')} (no exploit reference, the "
        f"AI-era rule does not apply) and Automatable no for "
        f"{sum(v for k, v in points.items() if k[2] == 'N')} (their CVSS vectors need user "
        "interaction, local access, privileges or high complexity: client-side and "
        "privilege-escalation bugs, which KEV lists often); by E/A/TI: "
        + ", ".join(f"{k} {v}" for k, v in points.items())
        + "."
    )
    wins = []
    for u, found in report["universes"].items():
        for c, block in found["contexts"].items():
            for s, x in block["configs"]["default"]["sets"].items():
                if (x["ratio_vs_cvss"] or 0) <= 1:
                    continue
                random = x["ties"]["CVSS"]["hits_expected_random_tie_break"]
                wins.append(
                    f"{u}, {c}, {s}: {x['rows'][0]['hits']} vs {x['rows'][1]['hits']} KEV hits "
                    f"at N = {x['n']:,} (CVSS with a random tie-break: {random:.1f})"
                )
    out.append(
        "With the default configuration SSVC finds more KEV CVEs than CVSS at equal effort "
        "(CVSS ties broken by CVE id) only in: "
        + ("; ".join(wins) if wins else "none")
        + ". Small counts; a tie-break can decide them."
    )
    ablation = main["contexts"]["unknown"]["configs"]
    on = ablation["default"]["sets"]["Act+Attend+Track*"]
    off = ablation["AI-era rule off"]["sets"]["Act+Attend+Track*"]
    out.append(
        f"The AI-era rule raises {on['n'] - off['n']:,} CVEs into Track* in the unknown context "
        f"and {on['rows'][0]['hits'] - off['rows'][0]['hits']} of them are in KEV "
        f"(efficiency of its additions "
        f"{pct(ratio(on['rows'][0]['hits'] - off['rows'][0]['hits'], on['n'] - off['n']))}, "
        f"base rate {main['base_rate']:.2%}). KEV rarely lists open-source library bugs, which "
        "is what the rule targets, so KEV is a poor yardstick for it."
    )
    return out


def findings(report: dict[str, Any]) -> list[str]:
    """Plain statements drawn from the numbers."""
    out = [
        "Exploitation is never `active` here (KEV, CISA's SSVC and sightings are withheld), and "
        "the CISA coordinator table gives at most Track* without active exploitation at Mission "
        "& Well-being M: in the unknown context Act+Attend is empty (N = 0) and the comparison "
        "is undefined, so the wider set Act+Attend+Track* is reported beside it."
    ]
    main = report["universes"]["all loaded intel"]
    points = main["contexts"]["unknown"]["configs"]["default"]["kev_by_points"]
    total = sum(points.values())
    out.append(
        f"What the {total} KEV CVEs look like to triage without KEV (E/A/TI: count): "
        + ", ".join(f"{k}: {v}" for k, v in points.items())
        + f". Exploitation none for {sum(v for k, v in points.items() if k[0] == 'N')}; "
        f"Automatable no for {sum(v for k, v in points.items() if k[2] == 'N')} (their CVSS "
        "vectors need user interaction, privileges, local access or high complexity)."
    )
    for universe_name, found in report["universes"].items():
        for context_name, block in found["contexts"].items():
            default = block["configs"]["default"]
            for set_name, compared in default["sets"].items():
                if compared["n"] == 0:
                    continue
                ssvc, cvss, epss, chance = compared["rows"]
                out.append(
                    f"{universe_name}, {context_name}, {set_name}: N = {compared['n']:,} of "
                    f"{found['universe']:,} ({compared['selected_without_cvss']:,} of them "
                    f"without CVSS); KEV hits SSVC {ssvc['hits']} (coverage "
                    f"{pct(ssvc['coverage'])}, efficiency {pct(ssvc['efficiency'])}), CVSS "
                    f"{cvss['hits']} ({pct(cvss['coverage'])}, {pct(cvss['efficiency'])}), "
                    f"EPSS {epss['hits']} ({pct(epss['coverage'])}, {pct(epss['efficiency'])}), "
                    f"chance {chance['hits']:.1f}; SSVC ÷ CVSS "
                    f"{times(compared['ratio_vs_cvss'])}."
                )
            off = block["configs"].get("AI-era rule off")
            if off is None:
                continue
            for set_name in SETS:
                a, b = default["sets"][set_name], off["sets"][set_name]
                if a["n"] == b["n"] == 0:
                    continue
                out.append(
                    f"AI-era rule ablation ({universe_name}, {context_name}, {set_name}): the "
                    f"rule adds {a['n'] - b['n']:,} CVEs to the set and "
                    f"{a['rows'][0]['hits'] - b['rows'][0]['hits']} KEV hits (rule on: N = "
                    f"{a['n']:,}, {a['rows'][0]['hits']} hits; off: N = {b['n']:,}, "
                    f"{b['rows'][0]['hits']} hits, CVSS at that N {b['rows'][1]['hits']})."
                )
    return out


def caveats(report: dict[str, Any]) -> list[str]:
    kev = report["kev_catalog"]
    return [
        f"EPSS is a snapshot of {EPSS_SNAPSHOT.isoformat()}, later than the exploitation it would "
        "predict: EPSS models are trained on observed exploitation activity, so a CVE exploited "
        "in the wild (and listed in KEV) tends to score high afterwards. EPSS figures here are "
        "hindsight, an upper bound of what EPSS could have done at the time; the SSVC + EPSS "
        "override rows inherit the same hindsight.",
        f"KEV is a lower bound of exploitation: CISA lists only what it has reliable evidence "
        f"for and that has a remediation; an unlisted CVE may well be exploited. The catalog "
        f"used is version {kev['version']} ({kev['entries']:,} entries); "
        f"{kev['added_after_cve_snapshot']} of the KEV CVEs in the universe were added after "
        f"the CVE record snapshot ({CVE_SNAPSHOT.isoformat()}).",
        "CVE records' CVSS and CWE from CISA's ADP (Vulnrichment) were often written in 2024, "
        "after some of these CVEs were already known to be exploited, and CNA references "
        "tagged `exploit` may have been added after exploitation: the evidence is a 2024 "
        "snapshot, not what was known at disclosure. The universe 'CISA ADP CVSS/CWE withheld' "
        "removes CISA's CVSS and CWE from both SSVC and CVSS.",
        "Universe bias: only CVEs with OSV or CVE records in ../shared/data. The CVE record set "
        "is a subset chosen partly *because* the CVEs are in KEV (251 of its 1,023 records), so "
        "'all loaded intel' has a far higher KEV base rate than the world and its KEV CVEs are "
        "mostly vendor products (closed source) seen only through a CVE record. The 'OSV-named "
        "CVEs only' universe is chosen without regard to KEV and is the fairer base rate; its "
        "CVEs are open-source packages, where KEV listings are rare.",
        "SSVC decisions are sets, not rankings: N is whatever the rule selects, and the CVSS "
        "and EPSS selectors are given the same N. CVSS ties at the cut-off are broken by CVE id "
        "(older first); the bracket gives the worst and best any tie-break could give.",
        "CVSS base score: the highest of a CVE's readable vectors (v2, v3.x or v4 from the CNA, "
        "ADPs and OSV records), computed with the `cvss` library; no vector ranks last.",
        "A CVE listed in KEV is decided from withheld evidence; outside the backtest, KEV makes "
        "Exploitation `active` and most KEV CVEs then land in Act or Attend by construction.",
    ]


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    main = report["universes"]["all loaded intel"]
    for context_name, block in main["contexts"].items():
        compared = block["configs"]["default"]["sets"]["Act+Attend"]
        value = compared["ratio_vs_cvss"]
        rows.append(
            {
                "figure": f"{TARGET} ({context_name} context, N = {compared['n']:,})",
                "value": value if value is not None else 0.0,
                "unit": "×" if value is not None else "× (undefined: N = 0)",
                "target": "> 1 (report, not a gate)",
                "met": value is not None and value > 1.0,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    info = machine()
    started = time.perf_counter()
    evidence, from_osv, counts = gather()
    catalog = load_kev()
    kev = {entry.cve_id: entry for entry in catalog.entries}
    epss = load_epss(set(evidence))
    tables = load_tables()
    loaded = time.perf_counter() - started
    universes = [
        Universe("all loaded intel", "OSV record ids/aliases and CVE records.", evidence),
        Universe(
            "OSV-named CVEs only",
            "CVE ids named by OSV records (chosen without regard to KEV); evidence still "
            "includes their CVE records.",
            {i: e for i, e in evidence.items() if i in from_osv},
        ),
        Universe(
            "CVEs with a CVSS vector",
            "Only CVEs with at least one readable CVSS vector, so SSVC's defaults for missing "
            "CVSS (Automatable yes, Technical Impact total) play no part and SSVC and CVSS see "
            "the same vectors.",
            {i: e for i, e in evidence.items() if base_score(e.cvss) is not None},
        ),
        Universe(
            "all loaded intel, CISA ADP CVSS/CWE withheld",
            "As 'all loaded intel', but CISA ADP's CVSS vectors and CWE ids are also withheld.",
            {i: without_cisa_adp(e) for i, e in evidence.items()},
        ),
    ]
    found = {u.name: run_universe(u, kev, epss, tables, CONFIGS) for u in universes}
    seconds = time.perf_counter() - started
    positives = [kev[i] for i in evidence if i in kev]
    report: dict[str, Any] = {
        "machine": info,
        "counts": counts,
        "kev_catalog": {
            "version": catalog.catalog_version,
            "entries": len(kev),
            "added_after_cve_snapshot": sum(
                date.fromisoformat(e.date_added) > CVE_SNAPSHOT for e in positives
            ),
        },
        "universes": found,
    }
    report["findings"] = findings(report)
    report["verdict"] = verdict(report)
    report["caveats"] = caveats(report)
    for index, (name, result) in enumerate(found.items()):
        print_universe(name, result, full=index < 2)
    print()
    for line in report["findings"]:
        print(f"- {line}")
    print(f"\nloading {loaded:.1f} s, total {seconds:.1f} s")
    rows = targets(report)
    print(
        table(
            ["figure", "value", "target", "met"],
            [
                [
                    r["figure"],
                    f"{fmt(r['value'])} {r['unit']}",
                    r["target"],
                    "yes" if r["met"] else "NO",
                ]
                for r in rows
            ],
        )
    )
    payload = {k: v for k, v in report.items() if k != "machine"}
    path = write_result(
        "backtest_kev",
        {**payload, "seconds": {"load": loaded, "total": seconds}, "targets": rows},
        info,
    )
    (RESULTS / "backtest_kev.md").write_text(markdown(report, seconds), encoding="utf-8")
    print(f"\nwrote {path} and {RESULTS / 'backtest_kev.md'}")


if __name__ == "__main__":
    main()
