"""Backtest selection and metrics: top-N with ties and missing scores, coverage and efficiency,
withholding exploitation evidence, and merging evidence per CVE id."""

from __future__ import annotations

import pytest

from sakimori.model.cve import CisaSsvc
from sakimori.triage.backtest import (
    Metrics,
    base_score,
    cve_key,
    evidence_by_cve,
    measure,
    random_expectation,
    ratio,
    top_n,
    withhold_exploitation,
)
from sakimori.triage.evidence import Cvss, Evidence, Reference, Weakness

CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
MEDIUM = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"  # 5.4


def test_cve_key_orders_by_year_then_number() -> None:
    ids = ["CVE-2021-10000", "GHSA-xxxx", "CVE-2020-99999", "CVE-2021-9999"]
    assert sorted(ids, key=cve_key) == [
        "CVE-2020-99999",
        "CVE-2021-9999",
        "CVE-2021-10000",
        "GHSA-xxxx",
    ]


def test_base_score_is_the_highest_readable_vector() -> None:
    vectors = (
        Cvss("CVSS_V3", MEDIUM),
        Cvss("CVSS_V2", "AV:N/AC:L/Au:N/C:C/I:C/A:C"),  # 10.0
        Cvss("CVSS_V3", "not a vector"),
    )
    assert base_score(vectors) == 10.0
    assert base_score((Cvss("CVSS_V3", CRITICAL),)) == 9.8
    assert base_score((Cvss("CVSS_V2", "(AV:N/AC:L/Au:N/C:P/I:P/A:P)"),)) == 7.5
    assert base_score((Cvss("CVSS_V3", "garbage"),)) is None
    assert base_score(()) is None


def test_top_n_picks_the_highest_and_ranks_missing_scores_last() -> None:
    scores = {"CVE-2020-0001": None, "CVE-2020-0002": 9.8, "CVE-2020-0003": 5.0}
    picked = top_n(scores, 2, {"CVE-2020-0001"})
    assert picked.ids == ("CVE-2020-0002", "CVE-2020-0003")
    assert picked.hits == 0
    assert (picked.cutoff, picked.above, picked.tied) == (5.0, 1, 1)
    assert picked.hits_worst == picked.hits_best == 0
    # no score ranks below even a zero score, whatever the ids
    assert top_n({"CVE-1999-0001": None, "CVE-2024-0001": 0.0}, 1, ()).ids == ("CVE-2024-0001",)
    everything = top_n(scores, 3, {"CVE-2020-0001"})
    assert everything.ids[-1] == "CVE-2020-0001"
    assert everything.cutoff is None
    assert everything.hits == 1


def test_top_n_breaks_ties_by_cve_id_and_bounds_other_tie_breaks() -> None:
    # four tied at 7.5, two picks from the tie; the positive is the newest of the tie
    scores = {
        "CVE-2019-0001": 9.0,
        "CVE-2020-0004": 7.5,
        "CVE-2020-0002": 7.5,
        "CVE-2020-0010": 7.5,
        "CVE-2020-0003": 7.5,
        "CVE-2018-0001": 1.0,
    }
    positives = {"CVE-2019-0001", "CVE-2020-0010"}
    picked = top_n(scores, 3, positives)
    assert picked.ids == ("CVE-2019-0001", "CVE-2020-0002", "CVE-2020-0003")
    assert (picked.cutoff, picked.above, picked.tied) == (7.5, 1, 4)
    assert picked.hits == 1
    assert (picked.hits_worst, picked.hits_best) == (1, 2)
    assert picked.hits_expected == pytest.approx(1 + 2 * 1 / 4)


def test_top_n_bounds_when_the_tie_holds_more_positives_than_picks() -> None:
    scores = {f"CVE-2020-000{n}": 5.0 for n in range(1, 5)}
    positives = {"CVE-2020-0002", "CVE-2020-0003", "CVE-2020-0004"}
    picked = top_n(scores, 2, positives)
    assert picked.ids == ("CVE-2020-0001", "CVE-2020-0002")
    assert (picked.hits, picked.hits_worst, picked.hits_best) == (1, 1, 2)
    assert picked.hits_expected == pytest.approx(2 * 3 / 4)


def test_top_n_tie_among_unscored() -> None:
    scores = {"CVE-2020-0001": None, "CVE-2020-0002": None, "CVE-2020-0003": 4.0}
    picked = top_n(scores, 2, {"CVE-2020-0002"})
    assert picked.ids == ("CVE-2020-0003", "CVE-2020-0001")
    assert (picked.cutoff, picked.above, picked.tied) == (None, 1, 2)
    assert (picked.hits, picked.hits_worst, picked.hits_best) == (0, 0, 1)
    assert picked.hits_expected == pytest.approx(0.5)


def test_top_n_edges() -> None:
    scores = {"CVE-2020-0001": 1.0}
    empty = top_n(scores, 0, {"CVE-2020-0001"})
    assert empty.ids == ()
    assert empty.hits == 0
    assert empty.hits_best == 0
    assert top_n(scores, 5, set()).ids == ("CVE-2020-0001",)
    with pytest.raises(ValueError):
        top_n(scores, -1, set())


def test_measure_coverage_efficiency_and_lift() -> None:
    universe = [f"CVE-2020-{n:04d}" for n in range(1, 11)]
    positives = universe[:4]
    metrics = measure("rule", universe[2:7], positives, universe)
    assert (metrics.n, metrics.hits, metrics.positives, metrics.universe) == (5, 2, 4, 10)
    assert metrics.coverage == pytest.approx(0.5)
    assert metrics.efficiency == pytest.approx(0.4)
    assert metrics.lift == pytest.approx(0.4 / 0.4)
    assert metrics.to_dict()["coverage"] == pytest.approx(0.5)


def test_measure_empty_selection_and_no_positives() -> None:
    universe = ["CVE-2020-0001", "CVE-2020-0002"]
    nothing = measure("rule", [], ["CVE-2020-0001"], universe)
    assert nothing.efficiency is None
    assert nothing.coverage == 0.0
    assert nothing.lift is None
    assert measure("rule", universe, [], universe).coverage is None


def test_measure_refuses_ids_outside_the_universe() -> None:
    with pytest.raises(ValueError):
        measure("rule", ["CVE-2020-0009"], [], ["CVE-2020-0001"])
    with pytest.raises(ValueError):
        measure("rule", [], ["CVE-2020-0009"], ["CVE-2020-0001"])


def test_random_expectation_and_ratio() -> None:
    assert random_expectation(50, 10, 1000) == pytest.approx(0.5)
    assert random_expectation(5, 0, 0) == 0.0
    assert ratio(3, 2) == pytest.approx(1.5)
    assert ratio(0, 0) is None
    assert ratio(3, 0) is None
    chance = Metrics("chance", 10, 2.5, 5, 100)
    assert chance.coverage == pytest.approx(0.5)


def test_withhold_exploitation_strips_kev_epss_and_cisa_only() -> None:
    evidence = Evidence(
        id="CVE-2021-44228",
        cvss=(Cvss("CVSS_V3", CRITICAL, "cna"),),
        cwes=(Weakness("CWE-502", "cna"), Weakness("CWE-917", "KEV CVE-2021-44228")),
        kev=True,
        kev_due_date="2021-12-24",
        epss=0.94,
        epss_percentile=0.99,
        cisa_ssvc=CisaSsvc("active", "yes", "total"),
        references=(Reference("https://example.org/fix", ("patch",)),),
        fix_available=True,
        open_source=True,
    )
    withheld = withhold_exploitation(evidence)
    assert not withheld.kev
    assert withheld.kev_due_date is None
    assert withheld.epss is None
    assert withheld.epss_percentile is None
    assert withheld.cisa_ssvc is None
    assert withheld.cwes == (Weakness("CWE-502", "cna"),)
    assert withheld.cvss == evidence.cvss
    assert withheld.references == evidence.references
    assert withheld.fix_available
    assert withheld.open_source


def test_evidence_by_cve_merges_every_record_naming_a_cve() -> None:
    ghsa = Evidence(
        id="GHSA-aaaa",
        aliases=("CVE-2022-0001", "CVE-2022-0002"),
        cvss=(Cvss("CVSS_V3", CRITICAL, "GHSA-aaaa"),),
        open_source=True,
    )
    pysec = Evidence(id="PYSEC-1", aliases=("CVE-2022-0001",), fix_available=True)
    record = Evidence(id="CVE-2022-0001", cwes=(Weakness("CWE-79", "cna"),))
    lone = Evidence(id="RUSTSEC-2022-0001")  # names no CVE: not in the universe
    merged = evidence_by_cve([record, ghsa, pysec, lone])
    assert list(merged) == ["CVE-2022-0001", "CVE-2022-0002"]
    first = merged["CVE-2022-0001"]
    assert first.id == "CVE-2022-0001"
    assert first.fix_available
    assert first.open_source
    assert first.cwes == (Weakness("CWE-79", "cna"),)
    assert first.cvss == ghsa.cvss
    assert set(first.aliases) == {"GHSA-aaaa", "CVE-2022-0002", "PYSEC-1"}
    second = merged["CVE-2022-0002"]
    assert second.cvss == ghsa.cvss
    assert not second.fix_available
