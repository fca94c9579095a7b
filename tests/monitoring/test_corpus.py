"""``watch`` on our own labelled corpus (tests/monitoring/assets/corpus, made by
scripts/corpus/make_weblog_corpus.py): real tools from Debian's packages against nginx on
loopback, people browsing, and a slow agent-like probe, each session under its own client
address (see docs/monitoring-corpus.md).

Required: every tool's session and the slow probe raise at least one alert for their address
within their time window; the people raise none at all. The assertion messages name the
detectors that fired, per session. Only the committed files are read: no Debian package is
needed to run this test.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sakimori.monitoring.detectors import Alert
from sakimori.monitoring.watch import WatchOptions, WatchResult, watch

CORPUS = Path(__file__).resolve().parent / "assets" / "corpus"
LABELS: dict[str, Any] = json.loads((CORPUS / "labels.json").read_text(encoding="utf-8"))
SESSIONS: list[dict[str, Any]] = LABELS["sessions"]


@pytest.fixture(scope="module")
def result() -> WatchResult:
    return watch([CORPUS / LABELS["log"]], WatchOptions())


@pytest.fixture(scope="module")
def by_client(result: WatchResult) -> dict[str, list[Alert]]:
    alerts: dict[str, list[Alert]] = defaultdict(list)
    for alert in result.alerts:
        alerts[alert.client].append(alert)
    return alerts


def _window(session: dict[str, Any]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(session["start"]), datetime.fromisoformat(session["end"])


def _fired(alerts: list[Alert]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for alert in alerts:
        counts[alert.detector] += alert.count
    return ", ".join(f"{name} ({count})" for name, count in sorted(counts.items())) or "none"


def test_the_log_is_read_whole_and_every_client_is_labelled(result: WatchResult) -> None:
    (stats,) = result.sources
    assert stats.log_format == "combined"
    assert stats.errors == 0, stats.samples
    assert stats.records == LABELS["lines"]
    labelled = {s["client"] for s in SESSIONS}
    assert {a.client for a in result.alerts} <= labelled
    assert len(labelled) == len(SESSIONS)


@pytest.mark.parametrize(
    "session",
    [s for s in SESSIONS if s["expected"] == "detected"],
    ids=lambda s: s["tool"],
)
def test_every_tool_session_and_the_probe_are_detected(
    session: dict[str, Any], by_client: dict[str, list[Alert]]
) -> None:
    assert session["requests_logged"] > 0, f"{session['tool']} sent nothing: regenerate"
    start, end = _window(session)
    inside = [
        a
        for a in by_client.get(session["client"], [])
        if a.first_seen <= end and a.last_seen >= start
    ]
    assert inside, (
        f"{session['tool']} ({session['client']}, {session['requests_logged']} requests, "
        f"{session['start']}–{session['end']}) not detected; detectors fired at any time: "
        f"{_fired(by_client.get(session['client'], []))}"
    )
    print(f"{session['tool']}: {_fired(inside)}")


@pytest.mark.parametrize(
    "session",
    [s for s in SESSIONS if s["expected"] == "clean"],
    ids=lambda s: s["tool"],
)
def test_people_browsing_raise_no_alert(
    session: dict[str, Any], by_client: dict[str, list[Alert]]
) -> None:
    assert session["requests_logged"] >= 20, "too little browsing to mean anything: regenerate"
    alerts = by_client.get(session["client"], [])
    assert not alerts, f"{session['tool']} ({session['client']}): {_fired(alerts)}: " + "; ".join(
        a.reason for a in alerts
    )


def test_the_corpus_holds_every_kind_of_session() -> None:
    tools = {s["tool"] for s in SESSIONS if s["kind"] == "tool"}
    assert tools == {
        "nmap",
        "gobuster",
        "ffuf",
        "dirb",
        "wfuzz",
        "whatweb",
        "dirsearch",
        "sqlmap",
        "wapiti",
    }
    assert sum(s["kind"] == "human" for s in SESSIONS) >= 3
    assert [s["tool"] for s in SESSIONS if s["kind"] == "probe"] == ["slow-probe"]
