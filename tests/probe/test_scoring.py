"""The OWASP-Benchmark scoring, and the engine's score on the flawgarden corpus as a floor."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sakimori.probe import scoring
from sakimori.probe.scan import probe_tree
from tests.conftest import ROOT, require_data

sys.path.insert(0, str(ROOT / "benchmarks"))
from _sast_score import flagged_by_bandit, flagged_by_probe

#: Reached on this corpus when the floor was set (strict OWASP score 60.2); a change that lowers
#: it below this fails.
FLOOR = 58.0


def test_score_counts_per_category() -> None:
    cases = [
        scoring.Case("a.py", 89, True),
        scoring.Case("b.py", 89, False),
        scoring.Case("c.py", 78, True),
        scoring.Case("d.py", 78, False),
    ]
    flagged = {"a.py": {89}, "b.py": {89}, "c.py": {77}, "d.py": {79}}
    strict = scoring.score(cases, flagged)
    assert (strict[89].tp, strict[89].fp, strict[78].tp, strict[78].tn) == (1, 1, 0, 1)
    assert strict[89].score == 0.0
    assert strict[78].score == 0.0
    lenient = scoring.score(cases, flagged, lenient=True)
    assert lenient[78].tp == 1
    assert lenient[78].score == 100.0
    assert scoring.owasp_score(lenient) == 50.0
    assert scoring.owasp_score({}) == 0.0


def test_recall() -> None:
    expected = {"a.py": 89, "b.py": 78}
    assert scoring.recall(expected, {"a.py": {89}, "b.py": {22}}, exact=True) == 0.5
    assert scoring.recall(expected, {"a.py": {89}, "b.py": {22}}, exact=False) == 1.0


def test_bandit_report_reading(tmp_path: Path) -> None:
    document = {"results": [{"filename": str(tmp_path / "x" / "a.py"), "issue_cwe": {"id": 78}}]}
    assert flagged_by_bandit(json.loads(json.dumps(document)), tmp_path) == {"x/a.py": {78}}


@pytest.mark.slow
def test_flawgarden_score_stays_above_the_floor() -> None:
    root = require_data("sast", "flawgarden-mutated")
    cases = scoring.load_truth(root / "truth.sarif")
    assert len(cases) == 430
    report = probe_tree(root)
    assert report.skipped == []
    categories = scoring.score(cases, flagged_by_probe(report))
    assert set(categories) == {22, 78, 79, 89, 643}
    assert scoring.owasp_score(categories) >= FLOOR
    assert all(category.score > 50 for category in categories.values())


@pytest.mark.slow
def test_securityeval_is_analysed_without_crashing() -> None:
    root = require_data("sast", "SecurityEval", "Testcases_Insecure_Code")
    report = probe_tree(root)
    assert report.files > 100
    assert len({f.path for f in report.findings}) >= 30
