"""The follow-up rules (pure): acknowledgement reminder then escalation, report clocks,
countdowns, the report form, the content's new fields and the e-mails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sakimori.config import Settings
from sakimori.errors import ConfigurationError, InvalidInput, LimitExceeded
from sakimori.packages import followup as rules
from sakimori.packages import followup_message as messages
from sakimori.packages.model import Content, Tlp
from tests.packages.conftest import content

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
POLICY = rules.Policy()


def test_an_unacknowledged_recipient_is_reminded_at_the_deadline_then_escalated() -> None:
    window, grace = 72 * H, 24 * H
    fresh = rules.Receipt(T0)
    assert rules.acknowledgement_step(fresh, window, grace, T0 + 71 * H) is rules.Step.NOTHING
    assert rules.acknowledgement_step(fresh, window, grace, T0 + 72 * H) is rules.Step.REMIND
    reminded = rules.Receipt(T0, reminded_at=T0 + 80 * H)
    assert rules.acknowledgement_step(reminded, window, grace, T0 + 103 * H) is rules.Step.NOTHING
    assert rules.acknowledgement_step(reminded, window, grace, T0 + 104 * H) is rules.Step.ESCALATE
    escalated = rules.Receipt(T0, reminded_at=T0 + 80 * H, escalated_at=T0 + 104 * H)
    assert rules.acknowledgement_step(escalated, window, grace, T0 + 999 * H) is rules.Step.NOTHING
    acknowledged = rules.Receipt(T0, acknowledged_at=T0 + 1 * H)
    assert (
        rules.acknowledgement_step(acknowledged, window, grace, T0 + 999 * H) is rules.Step.NOTHING
    )
    inactive = rules.Receipt(T0, active=False)
    assert rules.acknowledgement_step(inactive, window, grace, T0 + 999 * H) is rules.Step.NOTHING


def test_the_package_window_wins_over_the_default() -> None:
    assert POLICY.window(None) == 72 * H
    assert POLICY.window(6) == 6 * H
    assert POLICY.report_due("early_warning", T0) == T0 + 24 * H
    assert POLICY.report_due("notification", T0) == T0 + 72 * H
    assert POLICY.report_due("final", T0) == T0 + timedelta(days=30)


moments = st.integers(min_value=0, max_value=2000).map(lambda n: T0 + n * H)
optional_moments = st.none() | moments


@given(
    delivered=moments,
    reminded=optional_moments,
    window=st.integers(1, 500).map(lambda n: n * H),
    grace=st.integers(1, 500).map(lambda n: n * H),
    now=moments,
)
def test_escalation_never_comes_before_the_reminder_and_its_grace(
    delivered: datetime,
    reminded: datetime | None,
    window: timedelta,
    grace: timedelta,
    now: datetime,
) -> None:
    step = rules.acknowledgement_step(
        rules.Receipt(delivered, reminded_at=reminded), window, grace, now
    )
    if step is rules.Step.ESCALATE:
        assert reminded is not None
        assert now >= reminded + grace
    if step is rules.Step.REMIND:
        assert reminded is None
        assert now >= delivered + window


@given(
    started=moments,
    clock=st.integers(1, 1000).map(lambda n: n * H),
    filed=optional_moments,
    now=moments,
)
def test_a_filed_report_is_never_overdue_nor_followed_up(
    started: datetime, clock: timedelta, filed: datetime | None, now: datetime
) -> None:
    report = rules.ReportClock("final", started, started + clock, filed)
    if filed is not None:
        assert not report.overdue(now)
        assert report.remaining(now) is None
        assert rules.report_step(report, now) is rules.Step.NOTHING
    else:
        assert report.overdue(now) is (now >= started + clock)
        remaining = report.remaining(now)
        assert remaining is not None
        assert (remaining <= timedelta(0)) is report.overdue(now)


def test_a_report_is_reminded_with_a_quarter_left_and_escalated_when_overdue() -> None:
    clock = rules.ReportClock("notification", T0, T0 + 72 * H)
    assert rules.report_step(clock, T0 + 53 * H) is rules.Step.NOTHING
    assert rules.report_step(clock, T0 + 54 * H) is rules.Step.REMIND
    reminded = rules.ReportClock("notification", T0, T0 + 72 * H, reminded_at=T0 + 54 * H)
    assert rules.report_step(reminded, T0 + 60 * H) is rules.Step.NOTHING
    assert rules.report_step(reminded, T0 + 72 * H) is rules.Step.ESCALATE
    # first seen overdue: escalated at once, no reminder first
    assert rules.report_step(clock, T0 + 100 * H) is rules.Step.ESCALATE
    done = rules.ReportClock("notification", T0, T0 + 72 * H, escalated_at=T0 + 72 * H)
    assert rules.report_step(done, T0 + 200 * H) is rules.Step.NOTHING


def test_countdown() -> None:
    left = rules.countdown(timedelta(hours=23, minutes=12, seconds=59))
    assert (left.overdue, left.days, left.hours, left.minutes) == (False, 0, 23, 12)
    late = rules.countdown(-timedelta(days=2, hours=3, minutes=1))
    assert (late.overdue, late.days, late.hours, late.minutes) == (True, 2, 3, 1)
    assert rules.countdown(timedelta(0)).overdue


def test_the_report_form() -> None:
    form = rules.report_form({"summary": " Scanning seen ", "exploitation_observed": True})
    assert form == {
        "summary": "Scanning seen",
        "impact": "",
        "measures": "",
        "exploitation_observed": True,
    }
    for bad in (
        {},
        {"summary": "  "},
        {"summary": "x", "extra": 1},
        {"summary": 5},
        {"summary": "x", "exploitation_observed": "yes"},
        {"summary": "x" * 5001},
        {"summary": "a\x00b"},
    ):
        with pytest.raises(InvalidInput):
            rules.report_form(bad)
    with pytest.raises(LimitExceeded):
        rules.report_form({"summary": "x", "impact": "y" * 70_000})


def test_content_carries_the_ack_window_and_the_reports() -> None:
    parsed = Content.from_dict(
        content(acknowledge_within_hours=12, reports=["final", "early_warning", "final"])
    )
    assert parsed.acknowledge_within_hours == 12
    assert parsed.reports == ("early_warning", "final")
    assert Content.from_dict(parsed.to_dict()) == parsed
    old = content()  # stored before these fields existed
    loaded = Content.from_dict(old)
    assert (loaded.acknowledge_within_hours, loaded.reports) == (None, ())
    assert "acknowledge_within_hours" not in loaded.to_dict()
    for bad in (
        {"reports": ["incident"]},
        {"reports": "final"},
        {"acknowledge_within_hours": 0},
        {"acknowledge_within_hours": "12"},
        {"acknowledge_within_hours": True},
        {"acknowledge_within_hours": 10_000},
    ):
        with pytest.raises(InvalidInput):
            Content.from_dict(content(**bad))


def test_settings(tmp_path: Path) -> None:
    from sakimori.config import package_followup_settings

    (tmp_path / "sakimori.toml").write_text("package_report_hours = [12, 48, 240]\n")
    from_file = package_followup_settings({"SAKIMORI_HOME": str(tmp_path)})
    assert from_file["package_report_hours"] == (12.0, 48.0, 240.0)
    loaded = Settings.load({"SAKIMORI_HOME": "/nonexistent"})
    assert (loaded.package_ack_hours, loaded.package_escalation_hours) == (72.0, 24.0)
    assert loaded.package_report_hours == (24.0, 72.0, 720.0)
    changed = Settings.load(
        {
            "SAKIMORI_HOME": "/nonexistent",
            "SAKIMORI_PACKAGE_ACK_HOURS": "48",
            "SAKIMORI_PACKAGE_REPORT_HOURS": "12, 48, 240",
        }
    )
    assert changed.package_ack_hours == 48.0
    assert changed.package_report_hours == (12.0, 48.0, 240.0)
    for bad in ("12,48", "a,b,c", "0,1,2"):
        with pytest.raises(ConfigurationError):
            Settings.load({"SAKIMORI_HOME": "/nonexistent", "SAKIMORI_PACKAGE_REPORT_HOURS": bad})


def _followup(what: str, *, withheld: bool = False, report: str | None = None) -> messages.FollowUp:
    return messages.FollowUp(
        what=what,
        package_id=12,
        tlp=Tlp.RED if withheld else Tlp.AMBER,
        title="Django SQL injection",
        organisation="city-bank",
        due_at=T0,
        report=report,
        idempotency_key=messages.idempotency_key(what, 12, 3, 4, report),
        link="https://sakimori.test/ui/packages/12",
        withheld=withheld,
    )


def test_the_emails_in_each_language() -> None:
    ja = messages.email(
        _followup(messages.ACK_REMINDER), language="ja", sender="s@x", to="a@x", moment=T0
    )
    assert ja["Subject"] == "[TLP:AMBER] 受領確認のお願い #12: Django SQL injection"
    assert "2026-12-01 09:00 JST" in ja.get_content()
    assert "Please" not in ja.get_content()
    en = messages.email(
        _followup(messages.REPORT_ESCALATION, report="final"),
        language="en",
        sender="s@x",
        to="a@x",
        moment=T0,
    )
    assert en["Subject"].startswith("[TLP:AMBER] Escalation: report overdue #12")
    assert "final report of city-bank" in en.get_content()
    both = messages.email(
        _followup(messages.ACK_ESCALATION, withheld=True),
        language=None,
        sender="s",
        to="a",
        moment=T0,
    )
    assert "Django" not in both["Subject"] + both.get_content()
    assert "エスカレーション" in both["Subject"]
    assert "Escalation" in both["Subject"]
    keys = {
        messages.idempotency_key(w, 12, 3, 4, r) for w in messages.WHATS for r in (None, "final")
    }
    assert len(keys) == 8
