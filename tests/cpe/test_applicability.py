"""NVD applicability configurations: the evaluation rules on small records written here, and
inventories generated from every real record's own bounds (just inside / just outside)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from sakimori.cpe import nvd
from sakimori.cpe.applicability import (
    ApplicabilityIndex,
    CompiledRecord,
    Hit,
    Product,
    ProductSet,
    Truth,
    evaluate,
)
from sakimori.cpe.matching import name_matches
from sakimori.cpe.name import ANY, Wfn, quote
from sakimori.cpe.nvd import Configuration, CpeMatch, NvdRecord
from sakimori.cpe.version import generic_key
from sakimori.errors import InvalidInput, MalformedDocument
from tests.conftest import require_data

APP = "cpe:2.3:a:acme:widget:*:*:*:*:*:*:*:*"
OS_WIN = "cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*"
OS_LINUX = "cpe:2.3:o:linux:linux_kernel:-:*:*:*:*:*:*:*"


def match(criteria: str, vulnerable: bool = True, **bounds: str) -> dict[str, Any]:
    return {"criteria": criteria, "vulnerable": vulnerable, "matchCriteriaId": "x", **bounds}


def record(*configurations: dict[str, Any]) -> NvdRecord:
    return nvd.record_from_dict({"id": "CVE-2000-0001", "configurations": list(configurations)})


def node(*matches: dict[str, Any], operator: str = "OR", negate: bool = False) -> dict[str, Any]:
    return {"operator": operator, "negate": negate, "cpeMatch": list(matches)}


def widget(version: str) -> str:
    return f"cpe:2.3:a:acme:widget:{version}:*:*:*:*:*:*:*"


RANGE = match(APP, versionStartIncluding="2.0", versionEndExcluding="2.4.1")


@pytest.mark.parametrize(
    ("version", "expected"),
    [("1.9", Truth.FALSE), ("2.0", Truth.TRUE), ("2.4.0.9", Truth.TRUE), ("2.4.1", Truth.FALSE)],
)
def test_bounds(version: str, expected: Truth) -> None:
    assert evaluate(record({"nodes": [node(RANGE)]}), [widget(version)]).truth is expected


def test_running_on_needs_the_platform() -> None:
    rec = record({"operator": "AND", "nodes": [node(RANGE), node(match(OS_WIN, False))]})
    alone = evaluate(rec, [widget("2.1")])
    assert alone.truth is Truth.FALSE
    both = evaluate(rec, [widget("2.1"), OS_WIN])
    assert both.truth is Truth.TRUE
    assert [h.match.criteria for h in both.hits] == [APP]  # the platform is not the reason
    assert evaluate(rec, [widget("2.1"), OS_LINUX]).truth is Truth.FALSE


def test_negated_node_excludes_a_platform() -> None:
    # "widget 2.x, but not when running on Windows"
    rec = record(
        {"operator": "AND", "nodes": [node(RANGE), node(match(OS_WIN, False), negate=True)]}
    )
    assert evaluate(rec, [widget("2.1"), OS_LINUX]).truth is Truth.TRUE
    assert evaluate(rec, [widget("2.1")]).truth is Truth.TRUE
    assert evaluate(rec, [widget("2.1"), OS_WIN]).truth is Truth.FALSE


def test_negated_configuration_and_only_platforms_never_make_vulnerable() -> None:
    negated = record({"negate": True, "nodes": [node(RANGE)]})
    assert evaluate(negated, [widget("9.0")]).truth is Truth.FALSE
    platform_only = record({"nodes": [node(match(OS_WIN, False))]})
    assert evaluate(platform_only, [OS_WIN]).truth is Truth.FALSE


def test_and_node_may_be_met_by_two_products() -> None:
    rec = record({"nodes": [node(RANGE, match(OS_WIN, False), operator="AND")]})
    assert evaluate(rec, [widget("2.1"), OS_WIN]).truth is Truth.TRUE
    assert evaluate(rec, [widget("2.1")]).truth is Truth.FALSE


def test_unknown_version_needs_review_and_says_why() -> None:
    rec = record({"nodes": [node(RANGE)]})
    verdict = evaluate(rec, [APP])
    assert verdict.truth is Truth.UNKNOWN
    assert "has no version" in verdict.reasons[0]
    # an unknown that cannot change the outcome is not reported
    rec2 = record({"nodes": [node(RANGE, match(widget("1.0")))]})
    assert evaluate(rec2, [widget("1.0")]).truth is Truth.TRUE
    # Kleene AND: unknown and false is false
    rec3 = record({"operator": "AND", "nodes": [node(RANGE), node(match(OS_WIN, False))]})
    assert evaluate(rec3, [APP, OS_LINUX]).truth is Truth.FALSE
    assert evaluate(rec3, [APP, OS_WIN]).truth is Truth.UNKNOWN


def test_na_version_is_outside_every_range() -> None:
    assert evaluate(record({"nodes": [node(RANGE)]}), [widget("-")]).truth is Truth.FALSE


def test_asset_cpes_may_not_hold_wildcards() -> None:
    with pytest.raises(InvalidInput, match="wildcard"):
        Product.of(widget("2.*"))


def test_wildcard_criteria_vendor_is_tried_for_every_asset() -> None:
    rec = record({"nodes": [node(match("cpe:2.3:a:*:widget:2.?:*:*:*:*:*:*:*"))]})
    index = ApplicabilityIndex([rec])
    assert [v.record_id for v in index.evaluate([widget("2.1")])] == ["CVE-2000-0001"]
    assert index.evaluate([widget("3.1")]) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (match(APP, versionStartIncluding="3.0", versionEndExcluding="2.0"), "contradictory"),
        (match(APP, versionStartIncluding="2.0", versionEndExcluding="2.0"), "contradictory"),
        (match(APP, versionStartIncluding="1", versionStartExcluding="1"), "both"),
        (match("cpe:2.3:a:acme:widget:1.*.2:*:*:*:*:*:*:*"), "embedded"),
        (match("cpe:/a:acme:widget"), "formatted string"),
        (match(widget("1.0"), versionEndExcluding="2.0"), "also has version bounds"),
        ({"criteria": APP}, "vulnerable"),
    ],
)
def test_bad_records_are_refused_clearly(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedDocument) as raised:
        record({"nodes": [node(raw)]})
    assert message in raised.value.message
    assert "CVE-2000-0001" in raised.value.message


def test_bad_operator_is_refused() -> None:
    with pytest.raises(MalformedDocument, match="XOR"):
        record({"nodes": [node(RANGE, operator="XOR")]})


def test_api_envelope() -> None:
    path = require_data("nvd", "api", "google-osv.dev", "vulnfeeds", "test_data", "nvdcve-2.0")
    records = nvd.parse((path / "CVE-2023-4863.json").read_bytes())
    assert [r.id for r in records] == ["CVE-2023-4863"]
    assert len(records[0].configurations) == 6


# -- generated from the real records ---------------------------------------------------------


def above(version: str) -> str:
    return version + ".0.0.1"


def below(version: str) -> str | None:
    key = list(generic_key(version))
    if not key:
        return None
    kind, last = key[-1]
    if kind == 1:
        key = key[:-1]
    else:
        assert isinstance(last, int)
        key = [*key[:-1], (0, last - 1), (0, 99999)]
    return ".".join(str(v) for _, v in key) if key else None


def points(m: CpeMatch) -> tuple[list[str], list[str]]:
    """Versions just inside and just outside the criterion's bounds."""
    inside: list[str] = []
    outside: list[str] = []
    if m.start_including:
        inside.append(m.start_including)
        outside.append(below(m.start_including) or "")
    if m.start_excluding:
        inside.append(above(m.start_excluding))
        outside.append(m.start_excluding)
    if m.end_including:
        inside.append(m.end_including)
        outside.append(above(m.end_including))
    if m.end_excluding:
        inside.append(below(m.end_excluding) or "")
        outside.append(m.end_excluding)
    keys = m.bound_keys

    def within(version: str) -> bool:
        k = generic_key(version)
        return not (
            (keys[0] is not None and k < keys[0])
            or (keys[1] is not None and k <= keys[1])
            or (keys[2] is not None and k > keys[2])
            or (keys[3] is not None and k >= keys[3])
        )

    # the generator's own check that its arithmetic landed where it meant to
    inside = [v for v in inside if v and within(v)]
    outside = [v for v in outside if v and not within(v)]
    return inside, outside


def product_for(m: CpeMatch, version: str | None = None) -> Wfn:
    name = m.name
    if version is not None:
        return dataclasses.replace(name, version=quote(version))
    if m.has_bounds:
        inside, _ = points(m)
        return dataclasses.replace(name, version=quote(inside[0]))
    return name


def platform_products(config: Configuration, skip: int) -> list[Wfn]:
    """Products that meet every node of an AND configuration except node ``skip``."""
    products: list[Wfn] = []
    for index, n in enumerate(config.nodes):
        if index == skip or n.negate:
            continue
        chosen = n.matches if n.operator == "AND" else n.matches[:1]
        products.extend(product_for(m) for m in chosen)
    return products


def test_real_configurations_inside_and_outside_every_bound(
    nvd_records: list[NvdRecord],
) -> None:
    index = ApplicabilityIndex(nvd_records)
    checked = {"inside": 0, "outside": 0, "without_platform": 0, "criteria": 0}
    for rec in nvd_records:
        for config in rec.configurations:
            alone = CompiledRecord(NvdRecord(rec.id, (config,)))
            for position, n in enumerate(config.nodes):
                for m in n.matches:
                    if not m.vulnerable or n.negate:
                        continue
                    checked["criteria"] += 1
                    platform = (
                        platform_products(config, position) if config.operator == "AND" else []
                    )
                    if n.operator == "AND":
                        platform += [product_for(o) for o in n.matches if o is not m]
                    inside, outside = points(m) if m.has_bounds else ([None], [])
                    assert inside, f"{rec.id}: no version inside {m.describe()}"
                    for version in inside:
                        app = product_for(m, version)
                        assets = ProductSet.of([app, *platform])
                        verdict = alone.evaluate(assets)
                        assert verdict.truth is Truth.TRUE, (rec.id, m.describe(), version)
                        assert Hit(m, app) in verdict.hits, (rec.id, m.describe(), version)
                        full = {v.record_id for v in index.evaluate(assets)}
                        assert rec.id in full
                        assert full == {v.record_id for v in index.evaluate_naive(assets)}
                        checked["inside"] += 1
                        if config.operator == "AND" and not any(
                            name_matches(o.name, app)
                            for other in config.nodes
                            if other is not n
                            for o in other.matches
                        ):
                            assert alone.evaluate(ProductSet.of([app])).truth is Truth.FALSE
                            checked["without_platform"] += 1
                    for version in outside:
                        app = product_for(m, version)
                        assets = ProductSet.of([app, *platform])
                        verdict = alone.evaluate(assets)
                        assert Hit(m, app) not in verdict.hits, (rec.id, m.describe(), version)
                        assert {v.record_id for v in index.evaluate(assets)} == {
                            v.record_id for v in index.evaluate_naive(assets)
                        }
                        checked["outside"] += 1
    vulnerable = sum(
        1
        for r in nvd_records
        for c in r.configurations
        for n in c.nodes
        for m in n.matches
        if m.vulnerable and not n.negate
    )
    bounded = sum(1 for r in nvd_records for m in r.matches() if m.vulnerable and m.has_bounds)
    assert checked["criteria"] == vulnerable
    assert checked["outside"] >= bounded  # every bounded criterion has a point outside it
    assert checked["without_platform"] > 0


def test_real_records_without_configurations_apply_to_nothing(
    nvd_records: list[NvdRecord],
) -> None:
    empty = [r for r in nvd_records if not r.configurations]
    assert {r.id for r in empty} == {"CVE-2024-3400", "CVE-2025-0108"}
    assert all(evaluate(r, [widget("1.0")]).truth is Truth.FALSE for r in empty)


def test_update_and_edition_fields_decide(nvd_records: list[NvdRecord]) -> None:
    """NetScaler ranges keyed on sw_edition (fips / ndcpp): another edition is not matched."""
    rec = next(r for r in nvd_records if r.id == "CVE-2023-3519")
    fips = [m for m in rec.matches() if m.name.sw_edition == "fips" and m.has_bounds]
    assert fips
    m = fips[0]
    inside, _ = points(m)
    app = dataclasses.replace(m.name, version=quote(inside[0]))
    assert evaluate(rec, [app]).truth is Truth.TRUE
    other = dataclasses.replace(app, sw_edition="ndcpp")
    assert all(h.match.name.sw_edition != "fips" for h in evaluate(rec, [other]).hits)
    unknown_edition = dataclasses.replace(app, sw_edition=ANY)
    assert Hit(m, unknown_edition) not in evaluate(rec, [unknown_edition]).hits


def test_a_real_api_page_loads_whole_and_a_dash_bound_is_no_bound() -> None:
    """NVD's own response of 200 records (a public project's test data) loads completely;
    CVE-2022-4064 writes ``versionStartIncluding: "-"``, which means no lower bound."""
    import gzip

    path = require_data(
        "nvd", "api", "pablotron-nvd-go", "nvd-api", "testdata", "responses", "cves-2023.json.gz"
    )
    data = gzip.decompress(path.read_bytes())
    assert nvd.sniff(data)
    documents = nvd.documents(data)
    assert len(documents) == 200
    assert len({d.content_hash for d in documents}) == 200
    dashed = next(d for d in documents if d.record.id == "CVE-2022-4064")
    starts = [m.start_including for m in dashed.record.matches()]
    assert "-" not in starts
    assert all(d.last_modified for d in documents)
