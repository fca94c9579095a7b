"""Each of the fourteen CWEs: a vulnerable fixture is found, its safe twin is not."""

from __future__ import annotations

import pytest

from sakimori.probe.rules import CODE_CWES, RULES
from sakimori.probe.scan import probe_tree
from tests.probe.conftest import FIXTURES

CWES = list(CODE_CWES)


def test_every_rule_has_fixtures() -> None:
    assert len(CWES) == 14
    for cwe in CWES:
        assert (FIXTURES / "positive" / f"cwe{cwe}.py").is_file()
        assert (FIXTURES / "negative" / f"cwe{cwe}.py").is_file()


@pytest.mark.parametrize("cwe", CWES)
def test_positive(cwe: int) -> None:
    report = probe_tree(FIXTURES / "positive" / f"cwe{cwe}.py")
    found = [f for f in report.findings if f.cwe == cwe]
    assert found, f"CWE-{cwe} not found: {[f.message for f in report.findings]}"
    finding = found[0]
    assert finding.rule_id == RULES[cwe].id
    if RULES[cwe].taint:
        assert finding.source is not None
        assert finding.source.line <= finding.sink.line


@pytest.mark.parametrize("cwe", CWES)
def test_negative(cwe: int) -> None:
    report = probe_tree(FIXTURES / "negative" / f"cwe{cwe}.py")
    assert not [f for f in report.findings if f.cwe == cwe], [f.message for f in report.findings]
