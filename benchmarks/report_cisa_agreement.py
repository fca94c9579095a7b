"""Report: do Sakimori's derived SSVC points agree with CISA's, given everything else?

For every CVE record in ../shared/data/cve with CISA's SSVC block (CISA ADP "Vulnrichment"),
derive Exploitation, Automatable and Technical Impact with ``sakimori.triage`` from everything
in the record **except** that block (CNA and ADP CVSS vectors, CWE ids, the KEV block,
references, whether the record names a package collection), and compare with CISA's values.

Exploitation is reported three ways, so Sakimori's deliberate local overrides are visible rather
than hidden in one number:

* ``evidence only`` — the AI-era rule and the EPSS override off: KEV block and exploit
  references alone;
* ``default config`` — as shipped (AI-era rule on), no EPSS;
* ``default + EPSS`` — also FIRST EPSS from ../shared/data/epss. That snapshot (2026) is much
  later than CISA's assessments (2024), so it is hindsight: read it as an upper bound.

Automatable and Technical Impact do not depend on the overrides. The report also breaks each
point down by the evidence that set it and lists what drives the disagreements. It then times
``decide`` (median of several runs over all records; warm = the same Evidence objects again,
memoised; cold = new Evidence objects each call).

It is a report, not a gate. Writes ``benchmarks/results/cisa_agreement.json``.

Run: ``.venv/bin/python benchmarks/report_cisa_agreement.py [--runs N]``
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

from _common import DATA, fmt, load_note, machine, table, write_result
from sakimori.formats import cve, ssvc
from sakimori.model.cve import CveRecord
from sakimori.triage.config import DEFAULT_CONFIG, TriageConfig
from sakimori.triage.decide import DecisionTables, decide
from sakimori.triage.derive import Derived, derive_vulnerability
from sakimori.triage.evidence import AssetContext, Evidence, evidence_from_cve

TABLES = DATA / "ssvc" / "data" / "json" / "decision_tables"
CISA_KEYS = {
    "E": {"none": "N", "poc": "P", "active": "A"},
    "A": {"no": "N", "yes": "Y"},
    "TI": {"partial": "P", "total": "T"},
}
ORDER = {"E": ("N", "P", "A"), "A": ("N", "Y"), "TI": ("P", "T")}
EVIDENCE_ONLY = TriageConfig(
    version="report-evidence-only", ai_era_rule=False, epss_poc_threshold=None
)


def load_records() -> list[CveRecord]:
    paths = sorted((DATA / "cve").rglob("CVE-*.json"))
    return [cve.parse(path.read_bytes()) for path in paths]


def load_epss(ids: set[str]) -> dict[str, tuple[float, float]]:
    found: dict[str, tuple[float, float]] = {}
    for path in sorted((DATA / "epss" / "EPSS_CVE_data").glob("*.csv")):
        for line in path.read_text().splitlines():
            cve_id, _, rest = line.partition(";")
            if cve_id in ids:
                score, _, percentile = rest.partition(";")
                found[cve_id] = (float(score), float(percentile))
    return found


def load_tables() -> DecisionTables:
    def one(path: str) -> ssvc.DecisionTable:
        return ssvc.parse((TABLES / path).read_bytes())

    return DecisionTables(
        one("cisa/cisa_coordinator_2_0_3.json"),
        one("ssvc/deployer_patch_application_priority_1_0_0.json"),
        one("cisa/cisa_bod_26_04_1_0_0.json"),
    )


def cisa_values(record: CveRecord) -> dict[str, str]:
    block = record.ssvc
    assert block is not None
    return {
        "E": CISA_KEYS["E"][block.exploitation],
        "A": CISA_KEYS["A"][block.automatable],
        "TI": CISA_KEYS["TI"][block.technical_impact],
    }


def agreement(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    agree = sum(ours == theirs for ours, theirs in pairs)
    return {"n": len(pairs), "agree": agree, "rate": agree / len(pairs) if pairs else None}


def confusion(pairs: list[tuple[str, str]], values: tuple[str, ...]) -> dict[str, dict[str, int]]:
    counts = collections.Counter(pairs)
    return {theirs: {ours: counts[(ours, theirs)] for ours in values} for theirs in values}


def print_confusion(title: str, matrix: dict[str, dict[str, int]], values: tuple[str, ...]) -> None:
    print(f"\n{title} (rows: CISA, columns: Sakimori)")
    rows = [[f"CISA {theirs}", *(matrix[theirs][ours] for ours in values)] for theirs in values]
    print(table(["", *(f"ours {v}" for v in values)], rows))


def by_source(derived: Iterable[tuple[Derived, str]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    for point, theirs in derived:
        source = point.because[0].source if point.because else "?"
        groups[source].append((point.value, theirs))
    return {source: agreement(pairs) for source, pairs in sorted(groups.items())}


def drivers(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts that explain the main disagreements."""
    out: dict[str, Any] = {}
    e_none_poc = [r for r in rows if r["E_evidence"] == "N" and r["E_cisa"] == "P"]
    out["E: CISA poc, ours none (no exploit reference, not in KEV)"] = len(e_none_poc)
    out["E: record has a KEV block (ours active), CISA none"] = sum(
        r["E_evidence"] == "A" and r["E_cisa"] == "N" for r in rows
    )
    out["E: record has a KEV block (ours active), CISA poc"] = sum(
        r["E_evidence"] == "A" and r["E_cisa"] == "P" for r in rows
    )
    e_active_miss = [r for r in rows if r["E_cisa"] == "A" and r["E_evidence"] != "A"]
    out["E: CISA active, record has no KEV block"] = len(e_active_miss)
    e_ref_extra = [r for r in rows if r["E_evidence"] == "P" and r["E_cisa"] == "N"]
    out["E: ours poc from an exploit reference, CISA none"] = len(e_ref_extra)
    e_ai = [r for r in rows if r["E_default"] == "P" and r["E_evidence"] == "N"]
    out["E: raised to poc by the AI-era rule (all)"] = len(e_ai)
    out["E: raised by the AI-era rule where CISA says none"] = sum(r["E_cisa"] == "N" for r in e_ai)
    a_yes_no = [r for r in rows if r["A"] == "Y" and r["A_cisa"] == "N"]
    out["A: ours yes, CISA no"] = len(a_yes_no)
    out["A: ours yes, CISA no — set by CVSS AV:N/AC:L/PR:N/UI:N"] = sum(
        r["A_source"] == "CVSS" for r in a_yes_no
    )
    out["A: ours yes, CISA no — default (no CVSS/CWE)"] = sum(
        r["A_source"] == "default" for r in a_yes_no
    )
    a_no_yes = [r for r in rows if r["A"] == "N" and r["A_cisa"] == "Y"]
    out["A: ours no, CISA yes"] = len(a_no_yes)
    ti_t_p = [r for r in rows if r["TI"] == "T" and r["TI_cisa"] == "P"]
    out["TI: ours total, CISA partial"] = len(ti_t_p)
    out["TI: ours total, CISA partial — default (no CVSS)"] = sum(
        r["TI_source"] == "default" for r in ti_t_p
    )
    out["TI: ours total, CISA partial — v3 scope changed (ambiguous)"] = sum(
        "ambiguous" in r["TI_detail"] for r in ti_t_p
    )
    out["TI: ours partial, CISA total"] = sum(r["TI"] == "P" and r["TI_cisa"] == "T" for r in rows)
    return out


def time_decide(evidence: list[Evidence], tables: DecisionTables, runs: int) -> dict[str, Any]:
    context = AssetContext("high", True, ("electric_power",), "production")

    def per_call(batch: Callable[[], list[Evidence]]) -> list[float]:
        samples = []
        for _ in range(runs):
            items = batch()
            started = time.perf_counter()
            for item in items:
                decide(item, context, tables, DEFAULT_CONFIG)
            samples.append((time.perf_counter() - started) / len(items) * 1e6)
        return samples

    for item in evidence:  # warm-up: fill the memo
        decide(item, context, tables, DEFAULT_CONFIG)
    warm = per_call(lambda: evidence)
    cold = per_call(lambda: [dataclasses.replace(item) for item in evidence])
    return {
        "warm_us": statistics.median(warm),
        "cold_us": statistics.median(cold),
        "warm_samples": warm,
        "cold_samples": cold,
        "calls_per_run": len(evidence),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    info = machine()

    records = [r for r in load_records() if r.ssvc is not None]
    epss = load_epss({r.id for r in records})
    tables = load_tables()
    rows: list[dict[str, Any]] = []
    evidences: list[Evidence] = []
    derived_a: list[tuple[Derived, str]] = []
    derived_ti: list[tuple[Derived, str]] = []
    derived_e: list[tuple[Derived, str]] = []
    for record in records:
        theirs = cisa_values(record)
        evidence = evidence_from_cve(record, with_cisa_ssvc=False)
        with_epss = evidence
        if record.id in epss:
            score, percentile = epss[record.id]
            with_epss = dataclasses.replace(evidence, epss=score, epss_percentile=percentile)
        evidences.append(evidence)
        e_only, a, ti = derive_vulnerability(evidence, EVIDENCE_ONLY)
        e_default = derive_vulnerability(evidence, DEFAULT_CONFIG)[0]
        e_epss = derive_vulnerability(with_epss, DEFAULT_CONFIG)[0]
        derived_a.append((a, theirs["A"]))
        derived_ti.append((ti, theirs["TI"]))
        derived_e.append((e_default, theirs["E"]))
        rows.append(
            {
                "id": record.id,
                "E_cisa": theirs["E"],
                "E_evidence": e_only.value,
                "E_default": e_default.value,
                "E_epss": e_epss.value,
                "A_cisa": theirs["A"],
                "A": a.value,
                "A_source": a.because[0].source,
                "TI_cisa": theirs["TI"],
                "TI": ti.value,
                "TI_source": ti.because[0].source,
                "TI_detail": ti.because[0].detail,
            }
        )

    def pairs(ours: str, theirs: str) -> list[tuple[str, str]]:
        return [(r[ours], r[theirs]) for r in rows]

    variants = {
        "Exploitation (evidence only)": ("E", pairs("E_evidence", "E_cisa")),
        "Exploitation (default config: AI-era rule on)": ("E", pairs("E_default", "E_cisa")),
        "Exploitation (default + EPSS, hindsight)": ("E", pairs("E_epss", "E_cisa")),
        "Automatable": ("A", pairs("A", "A_cisa")),
        "Technical Impact": ("TI", pairs("TI", "TI_cisa")),
    }
    results: dict[str, Any] = {}
    summary = []
    for name, (point, found) in variants.items():
        stats_ = agreement(found)
        matrix = confusion(found, ORDER[point])
        results[name] = {**stats_, "confusion": matrix}
        summary.append([name, stats_["n"], stats_["agree"], f"{stats_['rate']:.1%}"])
    print(f"CISA SSVC agreement over {len(records):,} CVE records with CISA's SSVC block")
    print(f"(EPSS found for {len(epss):,} of them; snapshot 2026, later than CISA's 2024 values)\n")
    print(table(["point", "records", "agree", "agreement"], summary))
    for name, (point, _) in variants.items():
        print_confusion(name, results[name]["confusion"], ORDER[point])

    sources = {
        "Exploitation (default config)": by_source(derived_e),
        "Automatable": by_source(derived_a),
        "Technical Impact": by_source(derived_ti),
    }
    print("\nAgreement by the evidence that set the point")
    source_rows = [
        [point, source, s["n"], f"{s['rate']:.1%}"]
        for point, groups in sources.items()
        for source, s in groups.items()
    ]
    print(table(["point", "set by", "records", "agreement"], source_rows))
    why = drivers(rows)
    print("\nWhat drives the disagreements")
    print(table(["count", "records"], [[k, v] for k, v in why.items()]))

    timing = time_decide(evidences, tables, args.runs)
    print(
        f"\ndecide(): median {fmt(timing['warm_us'])} µs per call warm (memoised Evidence), "
        f"{fmt(timing['cold_us'])} µs cold (new Evidence objects); "
        f"{args.runs} runs × {timing['calls_per_run']:,} calls"
    )
    note = load_note(info)
    if note:
        print(note)
    path = write_result(
        "cisa_agreement",
        {
            "records": len(records),
            "epss_found": len(epss),
            "agreement": results,
            "by_source": sources,
            "drivers": why,
            "decide_timing": timing,
            "disagreements": [
                r
                for r in rows
                if r["E_default"] != r["E_cisa"] or r["A"] != r["A_cisa"] or r["TI"] != r["TI_cisa"]
            ],
        },
        info,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
