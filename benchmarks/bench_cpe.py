"""Benchmark: NVD CPE applicability for 100,000 product entries on one core.

Records: the 60 real NVD records of ../shared/data/nvd, plus synthetic replicas of them with
distinct vendor and product names (``fortinet`` → ``fortinet_r17``), 3,060 records in all, so
the (part, vendor, product) index has to pick among many.

Product entries: 100,000 CPE 2.3 formatted strings in 50,000 assets of two. Half of the assets
are derived from the records' own vulnerable criteria (real or replica names) with versions
taken just inside or just outside a bound (or the criterion's own version), paired with the
platform that the record's AND configuration names, or with an unrelated product; the other
half name products that no record names. Timed, per run: parsing every string, grouping each
asset's products, and evaluating every asset with ``ApplicabilityIndex.evaluate_many`` (the
cyclic garbage collector paused during the batch, as ``matching/batch.py`` does for the OSV
index; reference counting frees as usual).

Baseline, measured in the same run: the naive scan (``evaluate_naive``: every record for every
asset) over a sample of 1,000 assets, scaled to the whole; its answers are compared with the
index's for the sample.

Also reported (not timed): the CVE List V5 ``affected`` evaluation over the real records in
../shared/data/cve — each entry asked about each version it lists — tallied by status, with
the needs-review reasons grouped.

Run: ``.venv/bin/python benchmarks/bench_cpe.py [--runs N] [--replicas N]``
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import random
import re
import time
from collections import Counter
from typing import Any

from _common import (
    DATA,
    fmt,
    load_note,
    machine,
    print_targets,
    stats,
    table,
    target,
    write_result,
)
from sakimori.cpe import nvd
from sakimori.cpe.applicability import ApplicabilityIndex, Product, ProductSet, Truth
from sakimori.cpe.cve_affected import version_status
from sakimori.cpe.name import ANY, bind_fs, parse_fs, quote
from sakimori.cpe.nvd import CpeMatch, NvdRecord
from sakimori.formats import cve
from sakimori.matching.batch import cyclic_gc_paused

ENTRIES = 100_000
SAMPLE = 1_000


def load_real() -> tuple[list[dict[str, Any]], list[NvdRecord]]:
    import json

    documents = [json.loads(p.read_bytes()) for p in sorted((DATA / "nvd").glob("20*/CVE-*.json"))]
    return documents, [nvd.record_from_dict(d) for d in documents]


def replicate(documents: list[dict[str, Any]], copies: int) -> list[NvdRecord]:
    """``copies`` renamed copies of every record: each criterion's vendor and product get a
    ``_r<n>`` suffix, the CVE id a ``-r<n>`` one."""
    records: list[NvdRecord] = []
    for copy in range(1, copies + 1):
        suffix = f"_r{copy}"
        for document in documents:
            clone = {
                "id": f"{document['id']}-r{copy}",
                "configurations": [
                    {
                        **config,
                        "nodes": [
                            {
                                **node,
                                "cpeMatch": [
                                    {**m, "criteria": _rename(m["criteria"], suffix)}
                                    for m in node["cpeMatch"]
                                ],
                            }
                            for node in config["nodes"]
                        ],
                    }
                    for config in document.get("configurations", [])
                ],
            }
            records.append(nvd.record_from_dict(clone))
    return records


def _rename(criteria: str, suffix: str) -> str:
    name = parse_fs(criteria)
    assert isinstance(name.vendor, str)
    assert isinstance(name.product, str)
    return bind_fs(
        dataclasses.replace(name, vendor=name.vendor + suffix, product=name.product + suffix)
    )


def version_near(match: CpeMatch, rng: random.Random) -> str | None:
    """A version just inside or just outside one of the criterion's bounds."""
    bounds = [
        b
        for b in (
            match.start_including,
            match.start_excluding,
            match.end_including,
            match.end_excluding,
        )
        if b
    ]
    if not bounds:
        return None
    bound = rng.choice(bounds)
    return rng.choice([bound, bound + ".0.1", _down(bound)])


def _down(version: str) -> str:
    numbers = re.findall(r"[0-9]+", version)
    if not numbers or int(numbers[-1]) == 0:
        return version + "a"
    return ".".join([*numbers[:-1], str(int(numbers[-1]) - 1)])


def product_text(match: CpeMatch, rng: random.Random) -> str:
    name = match.name
    version = version_near(match, rng)
    if version is not None:
        name = dataclasses.replace(name, version=quote(version))
    elif name.version is ANY:
        name = dataclasses.replace(name, version=quote(f"{rng.randint(1, 20)}.{rng.randint(0, 9)}"))
    return bind_fs(name)


def workload(records: list[NvdRecord], seed: int = 0) -> list[list[str]]:
    """50,000 assets of two CPE strings (see the module docstring)."""
    rng = random.Random(seed)
    vulnerable: list[tuple[CpeMatch, list[CpeMatch]]] = []
    for record in records:
        for config in record.configurations:
            platforms = [
                m
                for n in config.nodes
                for m in n.matches
                if not m.vulnerable and config.operator == "AND"
            ]
            for n in config.nodes:
                vulnerable.extend((m, platforms) for m in n.matches if m.vulnerable)
    assets: list[list[str]] = []
    for index in range(ENTRIES // 2):
        if index % 2 == 0:
            match, platforms = rng.choice(vulnerable)
            first = product_text(match, rng)
            if platforms and rng.random() < 0.8:
                second = product_text(rng.choice(platforms), rng)
            else:
                second = _unrelated(rng)
        else:
            first, second = _unrelated(rng), _unrelated(rng)
        assets.append([first, second])
    return assets


def _unrelated(rng: random.Random) -> str:
    part = rng.choice("aoh")
    vendor = f"vendor{rng.randint(0, 5000)}"
    product = f"product{rng.randint(0, 20000)}"
    return (
        f"cpe:2.3:{part}:{vendor}:{product}:{rng.randint(0, 30)}.{rng.randint(0, 20)}:*:*:*:*:*:*:*"
    )


def run_index(index: ApplicabilityIndex, assets: list[list[str]]) -> dict[str, Any]:
    gc.collect()
    started = time.perf_counter()
    with cyclic_gc_paused():  # a batch load, as the product's batch paths do
        parsed = [[Product.of(parse_fs(text)) for text in asset] for asset in assets]
        parsed_at = time.perf_counter()
        sets = [ProductSet.of(products) for products in parsed]
    grouped_at = time.perf_counter()
    verdicts = index.evaluate_many(sets)
    done = time.perf_counter()
    return {
        "parse": parsed_at - started,
        "group": grouped_at - parsed_at,
        "evaluate": done - grouped_at,
        "total": done - started,
        "verdicts": verdicts,
        "sets": sets,
    }


def run_naive(index: ApplicabilityIndex, sets: list[ProductSet]) -> tuple[float, list[Any]]:
    gc.collect()
    started = time.perf_counter()
    verdicts = [index.evaluate_naive(s) for s in sets]
    return time.perf_counter() - started, verdicts


def cve_summary() -> dict[str, Any]:
    """Each real CVE record's entries asked about every version they list."""
    statuses: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    entries = 0
    for path in sorted((DATA / "cve").glob("20*/*/CVE-*.json")):
        record = cve.parse(path.read_bytes())
        for entry in record.affected:
            entries += 1
            items = entry.get("versions") or []
            asked = {
                str(i.get(k))
                for i in items
                if isinstance(i, dict)
                for k in ("version", "lessThanOrEqual")
                if isinstance(i.get(k), str) and i.get(k) not in {"0", "*"}
            } or {"1.0"}
            for version in sorted(asked):
                answer = version_status(entry, version)
                statuses[answer.status] += 1
                if answer.status == "needs-review":
                    reasons[_reason_class(answer.reason)] += 1
    return {
        "entries": entries,
        "answers": sum(statuses.values()),
        "statuses": dict(statuses),
        "needs_review_reasons": dict(reasons.most_common()),
    }


def _reason_class(reason: str) -> str:
    for label in (
        "contradictory range",
        "both lessThan",
        "cannot be ordered",
        "commit graph",
        "without versionType",
        "states its versions",
        "status change",
        "not known",
    ):
        if label in reason:
            return label
    return reason[:60]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=50)
    args = parser.parse_args()
    info = machine()

    documents, real = load_real()
    records = real + replicate(documents, args.replicas)
    started = time.perf_counter()
    index = ApplicabilityIndex(records)
    build = time.perf_counter() - started
    assets = workload(records)
    entries = sum(len(a) for a in assets)

    samples: dict[str, list[float]] = {"parse": [], "group": [], "evaluate": [], "total": []}
    naive_samples: list[float] = []
    result: dict[str, Any] = {}
    sample = random.Random(1).sample(range(len(assets)), SAMPLE)
    for _ in range(args.runs):
        result = run_index(index, assets)
        for phase in samples:
            samples[phase].append(result[phase])
        sample_sets = [result["sets"][i] for i in sample]
        seconds, naive = run_naive(index, sample_sets)
        naive_samples.append(seconds * len(assets) / SAMPLE)
    disagreements = sum(
        1
        for position, verdicts in zip(sample, naive, strict=True)
        if {(v.record_id, v.truth) for v in result["verdicts"][position]}
        != {(v.record_id, v.truth) for v in verdicts}
    )
    applies = sum(1 for v in result["verdicts"] if any(x.truth is Truth.TRUE for x in v))
    review = sum(1 for v in result["verdicts"] if any(x.truth is Truth.UNKNOWN for x in v))

    ours = stats(samples["total"])
    baseline = stats(naive_samples)
    rows = [
        ("index: parse CPE strings", f"{fmt(stats(samples['parse'])['median'])} s"),
        ("index: group per asset", f"{fmt(stats(samples['group'])['median'])} s"),
        ("index: evaluate", f"{fmt(stats(samples['evaluate'])['median'])} s"),
        ("index: total", f"{fmt(ours['median'])} s"),
        (f"naive scan (sample of {SAMPLE}, scaled)", f"{fmt(baseline['median'])} s"),
        ("ratio naive / index", f"{baseline['median'] / ours['median']:.1f}x"),
    ]
    print(
        f"records: {len(records)} ({len(real)} real + {len(records) - len(real)} replicas); "
        f"index built in {build:.2f} s; product entries: {entries:,} in {len(assets):,} assets"
    )
    print(table(["figure", "median"], rows))
    print(
        f"assets with a record that applies: {applies:,}; needing review: {review:,}; "
        f"index/naive disagreements on the sample: {disagreements}"
    )
    cves = cve_summary()
    print(
        f"\nCVE records: {cves['entries']:,} affected entries, {cves['answers']:,} answers: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(cves["statuses"].items()))
    )
    print(table(["needs-review reason", "answers"], list(cves["needs_review_reasons"].items())))
    targets = [
        target("CPE applicability, 100,000 product entries, one core", ours["median"], "s", 10),
        target("index vs naive scan agreement (sample)", disagreements, "disagreements", 0),
    ]
    print()
    print_targets(targets)
    note = load_note(info)
    if note:
        print(note)
    path = write_result(
        "cpe",
        {
            "records": {"real": len(real), "total": len(records)},
            "index_build_seconds": build,
            "product_entries": entries,
            "assets": len(assets),
            "phases": {phase: stats(values) for phase, values in samples.items()},
            "naive_scaled": baseline,
            "naive_sample": SAMPLE,
            "ratio_naive_over_index": baseline["median"] / ours["median"],
            "assets_applying": applies,
            "assets_needing_review": review,
            "disagreements": disagreements,
            "cve_affected": cves,
            "targets": targets,
        },
        info,
    )
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
