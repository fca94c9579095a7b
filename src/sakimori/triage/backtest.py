"""Backtesting triage against known exploitation: selections at equal effort, and their metrics.

A backtest asks how many vulnerabilities that turned out to be exploited (the *positives*, e.g.
CISA KEV listings) a selector puts at the top of the queue, when it is not told which ones they
are. Three kinds of selector are compared at equal effort (the same number ``n`` of picks):

* a set chosen by a rule (SSVC decisions Act + Attend): :func:`measure` scores it;
* the ``n`` highest by a score (CVSS base score, EPSS): :func:`top_n` picks them, breaks ties
  deterministically (older CVE first, by year then number), and reports the range of hits any
  other tie-break could have given (worst, expected under a random tie-break, best);
* chance: :func:`random_expectation`.

Coverage is hits / positives in the universe (recall); efficiency is hits / ``n`` (precision).
:func:`withhold_exploitation` strips what would give the answer away (KEV listing and its
weaknesses, EPSS, CISA's SSVC block) and :func:`evidence_by_cve` gathers one merged
:class:`~sakimori.triage.evidence.Evidence` per CVE id from many records. Everything here is
pure; ``benchmarks/backtest_kev.py`` reads the data and prints the report.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from sakimori.triage.evidence import Cvss, Evidence, merge
from sakimori.triage.severity import score

_CVE_ID = re.compile(r"CVE-([0-9]{4})-([0-9]{4,})")
#: The source prefix :func:`~sakimori.triage.evidence.evidence_from_cve` gives KEV's CWE ids.
KEV_SOURCE = "KEV "


@dataclass(frozen=True, slots=True)
class Metrics:
    """How one selection did: ``hits`` of its ``n`` picks are among the ``positives`` of a
    universe of ``universe`` vulnerabilities."""

    selector: str
    n: int
    hits: float
    positives: int
    universe: int

    @property
    def coverage(self) -> float | None:
        """Share of the positives selected (recall); None when there are no positives."""
        return self.hits / self.positives if self.positives else None

    @property
    def efficiency(self) -> float | None:
        """Share of the picks that are positives (precision); None when nothing was picked."""
        return self.hits / self.n if self.n else None

    @property
    def lift(self) -> float | None:
        """Efficiency over the base rate (1.0 = no better than chance)."""
        efficiency = self.efficiency
        if efficiency is None or not self.positives:
            return None
        return efficiency / (self.positives / self.universe)

    def to_dict(self) -> dict[str, object]:
        return {
            "selector": self.selector,
            "n": self.n,
            "hits": self.hits,
            "positives": self.positives,
            "universe": self.universe,
            "coverage": self.coverage,
            "efficiency": self.efficiency,
            "lift": self.lift,
        }


@dataclass(frozen=True, slots=True)
class TopN:
    """The ``n`` highest-scoring ids and how the cut-off tie was broken.

    ``ids`` are in rank order (score high to low, unscored last, ties by :func:`cve_key`).
    ``cutoff`` is the score of the last pick (None when it had no score, or nothing was picked);
    ``tied`` is how many ids of the universe share that score, ``above`` how many picks scored
    strictly higher. ``hits`` is what the deterministic tie-break gave; ``hits_worst`` /
    ``hits_best`` bound any other tie-break and ``hits_expected`` is a random one's mean.
    """

    ids: tuple[str, ...]
    cutoff: float | None
    above: int
    tied: int
    hits: int
    hits_worst: int
    hits_best: int
    hits_expected: float

    def to_dict(self) -> dict[str, object]:
        return {
            "n": len(self.ids),
            "cutoff": self.cutoff,
            "above_cutoff": self.above,
            "tied_at_cutoff": self.tied,
            "hits": self.hits,
            "hits_worst": self.hits_worst,
            "hits_best": self.hits_best,
            "hits_expected_random_tie_break": self.hits_expected,
        }


def cve_key(identifier: str) -> tuple[int, int, str]:
    """Sort key: CVE ids by year, then number (``CVE-2021-9999`` before ``CVE-2021-10000``);
    anything else after every CVE id, by text."""
    found = _CVE_ID.fullmatch(identifier)
    if found is None:
        return (10_000, 0, identifier)
    return (int(found.group(1)), int(found.group(2)), identifier)


def base_score(vectors: Iterable[Cvss]) -> float | None:
    """The highest CVSS base score among readable vectors (any version), or None."""
    best: float | None = None
    for cvss in vectors:
        text = cvss.vector.strip().strip("()").removeprefix("CVSS:2.0/")
        found = score(cvss.type, text).score
        if found is not None and (best is None or found > best):
            best = found
    return best


def withhold_exploitation(evidence: Evidence) -> Evidence:
    """The evidence without what says or predicts exploitation: KEV listing, due date and KEV's
    weakness ids, EPSS, CISA's SSVC block. Everything else (CVSS, other CWE ids, references,
    fix, open source, sightings) is kept."""
    return dataclasses.replace(
        evidence,
        kev=False,
        kev_due_date=None,
        epss=None,
        epss_percentile=None,
        cisa_ssvc=None,
        cwes=tuple(w for w in evidence.cwes if not w.source.startswith(KEV_SOURCE)),
    )


def evidence_by_cve(parts: Iterable[Evidence]) -> dict[str, Evidence]:
    """One merged :class:`Evidence` per CVE id named by any part (its id or an alias).

    A part that names several CVE ids contributes to each of them; parts are merged in the
    order given, under the CVE id. Parts that name no CVE id are left out.
    """
    grouped: dict[str, list[Evidence]] = defaultdict(list)
    for part in parts:
        for identifier in dict.fromkeys(part.ids):
            if _CVE_ID.fullmatch(identifier):
                grouped[identifier].append(part)
    return {
        identifier: merge(Evidence(id=identifier), *found)
        for identifier, found in sorted(grouped.items(), key=lambda item: cve_key(item[0]))
    }


def top_n(scores: Mapping[str, float | None], n: int, positives: Collection[str]) -> TopN:
    """The ``n`` ids with the highest scores (None ranks last), ties broken by :func:`cve_key`."""
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    ranked = sorted(scores.items(), key=lambda item: (_rank(item[1]), cve_key(item[0])))
    n = min(n, len(ranked))
    chosen = tuple(identifier for identifier, _ in ranked[:n])
    hits = sum(identifier in positives for identifier in chosen)
    if n == 0:
        return TopN((), None, 0, 0, 0, 0, 0, 0.0)
    cutoff = ranked[n - 1][1]
    group = [identifier for identifier, value in ranked if _rank(value) == _rank(cutoff)]
    above = sum(_rank(value) < _rank(cutoff) for _, value in ranked)
    hits_above = sum(identifier in positives for identifier, _ in ranked[:above])
    need, tied = n - above, len(group)
    tied_hits = sum(identifier in positives for identifier in group)
    return TopN(
        ids=chosen,
        cutoff=cutoff,
        above=above,
        tied=tied,
        hits=hits,
        hits_worst=hits_above + max(0, need - (tied - tied_hits)),
        hits_best=hits_above + min(tied_hits, need),
        hits_expected=hits_above + need * tied_hits / tied,
    )


def _rank(value: float | None) -> tuple[int, float]:
    return (1, 0.0) if value is None else (0, -value)


def measure(
    selector: str, selected: Collection[str], positives: Collection[str], universe: Collection[str]
) -> Metrics:
    """Metrics of a selection within a universe (ids outside the universe are an error)."""
    chosen, members, truth = set(selected), set(universe), set(positives)
    if not chosen <= members or not truth <= members:
        raise ValueError("the selection and the positives must be inside the universe")
    return Metrics(selector, len(chosen), len(chosen & truth), len(truth), len(members))


def random_expectation(n: int, positives: int, universe: int) -> float:
    """Expected hits of ``n`` picks drawn at random from the universe."""
    return n * positives / universe if universe else 0.0


def ratio(ours: float, theirs: float) -> float | None:
    """``ours / theirs``, or None when ``theirs`` is zero (undefined, not infinite)."""
    return ours / theirs if theirs else None
