"""The detectors produce the alert set recorded in ``assets/alert_summary.json`` (see
``alert_summary.py``): on every CrowdSec hub test case and on a 50,000-line slice of the
benchmark's log, the same alerts — detector, client, count, first and last seen. Guards the
speed-oriented structure of ``DetectorSet`` against changing what is detected."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.monitoring.alert_summary import FIXTURE, bench_summary, hub_summary
from tests.monitoring.hub import hub_tests


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def _diff(expected: list[list[Any]], actual: list[list[Any]]) -> str:
    want = {tuple(r) for r in expected}
    got = {tuple(r) for r in actual}
    return f"missing {sorted(want - got)[:5]}, unexpected {sorted(got - want)[:5]}"


def test_hub_alerts_are_unchanged(recorded: dict[str, Any]) -> None:
    actual = hub_summary(hub_tests())
    assert set(actual) == set(recorded["hub"])
    for case, expected in recorded["hub"].items():
        assert actual[case] == expected, f"{case}: {_diff(expected, actual[case])}"


def test_bench_slice_alerts_are_unchanged(recorded: dict[str, Any]) -> None:
    hub_tests()  # the benchmark log is built from the hub logs: skip (or fail in CI) without them
    actual = bench_summary()
    assert len(recorded["bench"]) > 1000
    assert actual == recorded["bench"], _diff(recorded["bench"], actual)
