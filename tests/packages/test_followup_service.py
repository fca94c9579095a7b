"""The follow-up service on a real platform (SQLite; one concurrency test on PostgreSQL):
report rows and their clocks, reminders and escalations each once, the messages queued for
the right addresses under TLP, filing reports and the refusals that change nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sakimori.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from sakimori.packages import followup as rules
from sakimori.packages.model import Content
from sakimori.services import identity, notifications
from sakimori.services import package_followup as followup
from sakimori.services import packages as package_service
from sakimori.services.access import Principal
from sakimori.store import models
from tests.packages.conftest import LOCKS_PROD, Platform, build_platform, content, upload

H = timedelta(hours=1)
POLICY = rules.Policy.of_hours(72, 24, (24, 72, 720))


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with build_platform("sqlite", tmp_path_factory.mktemp("followup")) as built:
        _endpoints(built)
        yield built


def principal(platform: Platform, user: str) -> Principal:
    return identity.authenticate(platform.db, platform.key, platform.tokens[user])


def _endpoints(platform: Platform) -> dict[str, int]:
    made = {}
    for org, address, kw in (
        ("city-bank", "soc@bank.test", {"language": "ja"}),
        ("city-bank", "user@bank.test", {"user": "bank-user", "language": "en"}),
        ("river-power", "csirt@power.test", {}),
        ("coordination", "desk@coordination.test", {"language": "en"}),
    ):
        view, _ = notifications.create_endpoint(
            platform.db,
            principal(platform, "kanri"),
            platform.key.secret,
            notifications.EndpointSpec(org, "email", address, **kw),  # type: ignore[arg-type]
        )
        made[address] = view.id
    return made


def publish(platform: Platform, **changes: Any) -> int:
    view = package_service.create_draft(
        platform.db, Content.from_dict(content(**changes)), "bunseki"
    )
    package_service.submit(platform.db, view.id, "bunseki")
    package_service.approve(platform.db, view.id, "kanri")
    return view.id


def run(platform: Platform, now: datetime) -> list[followup.Done]:
    with platform.db.transaction() as session:
        return followup.run(session, now, POLICY)


def reports_of(platform: Platform, package_id: int) -> dict[tuple[str, str], Any]:
    with platform.db.transaction() as session:
        rows = session.execute(
            select(models.PackageReportRow, models.Organisation.slug)
            .join(models.Organisation)
            .where(models.PackageReportRow.package_id == package_id)
        ).all()
        return {(slug, r.kind): r for r, slug in rows}


def mails(platform: Platform, package_id: int) -> list[dict[str, Any]]:
    with platform.db.transaction() as session:
        jobs = session.scalars(
            select(models.JobRow)
            .where(models.JobRow.name == followup.MAIL)
            .order_by(models.JobRow.id)
        ).all()
        return [j.payload for j in jobs if j.payload["package"] == package_id]


def audit_steps(platform: Platform, package_id: int) -> list[str]:
    with platform.db.transaction() as session:
        rows = session.scalars(
            select(models.AuditEntryRow).where(
                models.AuditEntryRow.action == followup.AUDIT_ACTION,
                models.AuditEntryRow.object_id == str(package_id),
            )
        ).all()
        return [r.detail["step"] for r in rows]


def recipient(platform: Platform, package_id: int, slug: str) -> package_service.RecipientView:
    return next(
        r for r in package_service.recipients(platform.db, package_id) if r.organisation == slug
    )


def test_reports_open_for_recipient_operators_with_the_configured_clocks(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SAKIMORI_HOME", str(tmp_path))
    monkeypatch.setenv("SAKIMORI_PACKAGE_REPORT_HOURS", "6,48,240")
    package_id = publish(
        platform,
        tlp="GREEN",
        audience={"organisations": ["city-bank", "vendor-co"]},
        reports=["early_warning", "final"],
    )
    found = reports_of(platform, package_id)
    assert set(found) == {("city-bank", "early_warning"), ("city-bank", "final")}  # no vendor
    delivered = recipient(platform, package_id, "city-bank").delivered_at
    early, final = found[("city-bank", "early_warning")], found[("city-bank", "final")]
    assert early.started_at.replace(tzinfo=UTC) == delivered
    assert early.due_at.replace(tzinfo=UTC) == delivered + 6 * H
    assert final.due_at.replace(tzinfo=UTC) == delivered + 240 * H
    # a revision adding a report opens it, its clock starting at the revision's publication
    package_service.revise(
        platform.db,
        package_id,
        Content.from_dict(
            content(
                tlp="GREEN",
                audience={"organisations": ["city-bank", "river-power"]},
                reports=["early_warning", "notification", "final"],
            )
        ),
        "bunseki",
        "notification report too",
    )
    package_service.submit(platform.db, package_id, "bunseki")
    package_service.approve(platform.db, package_id, "kanri")
    again = reports_of(platform, package_id)
    assert len(again) == 6
    assert again[("city-bank", "early_warning")].due_at == early.due_at  # unchanged
    notification = again[("city-bank", "notification")]
    assert notification.started_at.replace(tzinfo=UTC) > delivered
    assert notification.due_at - notification.started_at == 48 * H
    power = recipient(platform, package_id, "river-power").delivered_at
    assert again[("river-power", "final")].started_at.replace(tzinfo=UTC) == power


def test_new_exposure_opens_the_reports_too(platform: Platform) -> None:
    package_id = publish(
        platform,
        audience={"affected": True},
        products=[{"purl": "pkg:pypi/django@2.2.24"}],
        reports=["notification"],
    )
    assert set(reports_of(platform, package_id)) == set()  # nobody holds django 2.2.24 yet
    upload(platform.db, "water-works/billing", *LOCKS_PROD)  # calls on_new_exposure
    assert set(reports_of(platform, package_id)) == {("water-works", "notification")}


def test_reminder_then_escalation_each_once(platform: Platform) -> None:
    package_id = publish(
        platform,
        tlp="AMBER",
        audience={"organisations": ["city-bank", "river-power"]},
        acknowledge_within_hours=2,
    )
    followup_ack = principal(platform, "power-user")
    from sakimori.services import access

    access.acknowledge_package(platform.db, followup_ack, package_id)
    start = recipient(platform, package_id, "city-bank").delivered_at
    assert [d.what for d in run(platform, start + 1 * H) if d.package_id == package_id] == []
    done = [d for d in run(platform, start + 2 * H) if d.package_id == package_id]
    assert [(d.what, d.organisation) for d in done] == [("ack_reminder", "city-bank")]
    assert [d for d in run(platform, start + 3 * H) if d.package_id == package_id] == []
    bank = recipient(platform, package_id, "city-bank")
    assert bank.reminded_at is not None
    assert bank.escalated_at is None
    assert recipient(platform, package_id, "river-power").reminded_at is None  # acknowledged
    reminders = mails(platform, package_id)
    # the shared mailbox and bank-user's own address; not the coordinator's
    assert sorted(m["what"] for m in reminders) == ["ack_reminder", "ack_reminder"]
    assert len({m["endpoint"] for m in reminders}) == 2
    later = bank.reminded_at + 24 * H
    assert [
        d for d in run(platform, later - timedelta(minutes=1)) if d.package_id == package_id
    ] == []
    escalated = [d for d in run(platform, later) if d.package_id == package_id]
    assert [d.what for d in escalated] == ["ack_escalation"]
    assert escalated[0].messages == 3  # the bank's two addresses and the coordinator's desk
    assert [d for d in run(platform, later + 100 * H) if d.package_id == package_id] == []
    assert audit_steps(platform, package_id) == ["ack_reminder", "ack_escalation"]
    assert len(mails(platform, package_id)) == 5


def test_red_follow_up_goes_only_to_the_named_person_and_the_coordinator(
    platform: Platform,
) -> None:
    package_id = publish(platform, tlp="RED", audience={"people": ["bank-user"]})
    start = recipient(platform, package_id, "city-bank").delivered_at
    run(platform, start + 72 * H)
    run(platform, start + 200 * H)
    sent = mails(platform, package_id)
    with platform.db.transaction() as session:
        targets = {
            m["what"]: sorted(
                session.get(models.NotifyEndpointRow, x["endpoint"]).target  # type: ignore[union-attr]
                for x in sent
                if x["what"] == m["what"]
            )
            for m in sent
        }
    assert targets == {
        "ack_reminder": ["user@bank.test"],
        "ack_escalation": ["desk@coordination.test", "user@bank.test"],
    }


def test_overdue_reports_are_escalated_once_and_filed_ones_never(platform: Platform) -> None:
    package_id = publish(
        platform,
        tlp="GREEN",
        audience={"organisations": ["city-bank"]},
        reports=["early_warning", "notification"],
    )
    access_user = principal(platform, "bank-user")
    followup.file_report(
        platform.db, access_user, package_id, "early_warning", {"summary": "Scans only."}
    )
    found = reports_of(platform, package_id)
    due = found[("city-bank", "notification")].due_at.replace(tzinfo=UTC)
    reminded = [d for d in run(platform, due - 10 * H) if d.package_id == package_id]
    assert [(d.what, d.report) for d in reminded] == [("report_reminder", "notification")]
    escalated = [d for d in run(platform, due) if d.package_id == package_id]
    assert [(d.what, d.report) for d in escalated] == [
        ("ack_reminder", None),  # the same 72 h
        ("report_escalation", "notification"),
    ]
    late = [d.what for d in run(platform, due + 1000 * H) if d.package_id == package_id]
    assert late == ["ack_escalation"]  # the reports were followed up already
    after = reports_of(platform, package_id)
    assert after[("city-bank", "early_warning")].reminded_at is None
    assert after[("city-bank", "early_warning")].escalated_at is None
    report_mails = [m for m in mails(platform, package_id) if m["report"]]
    assert {m["report"] for m in report_mails} == {"notification"}
    coordinator = [m for m in report_mails if m["what"] == "report_escalation"]
    assert len(coordinator) == 3  # two bank addresses (GREEN: both) and the coordinator's


def _counts(platform: Platform) -> tuple[int, int, int]:
    with platform.db.transaction() as session:
        filed = session.scalar(
            select(func.count())
            .select_from(models.PackageReportRow)
            .where(models.PackageReportRow.filed_at.is_not(None))
        )
        entries = session.scalar(select(func.count()).select_from(models.AuditEntryRow))
        jobs = session.scalar(select(func.count()).select_from(models.JobRow))
    return filed or 0, entries or 0, jobs or 0


def test_filing_once_and_the_refusals_that_change_nothing(platform: Platform) -> None:
    package_id = publish(
        platform, tlp="AMBER", audience={"organisations": ["city-bank"]}, reports=["final"]
    )
    admin = principal(platform, "bank-admin")
    form = {"summary": "Patched.", "exploitation_observed": False, "measures": "Upgrade"}
    filed = followup.file_report(platform.db, admin, package_id, "final", form)
    assert (filed.organisation, filed.kind, filed.filed_by) == ("city-bank", "final", "bank-admin")
    assert filed.body == {**form, "impact": ""}
    assert filed.filed_at is not None
    before = _counts(platform)
    refusals: list[tuple[str, dict[str, Any], type[Exception], str]] = [
        ("bank-user", {"summary": "again"}, Conflict, "already filed"),
        ("bank-admin", {"summary": "x"}, InvalidInput, "does not require"),
        ("bank-admin", {"summary": ""}, InvalidInput, "summary"),
        ("power-user", {"summary": "x"}, NotFound, "no package"),
        ("kanri", {"summary": "x"}, PermissionDenied, "may not file"),
        ("vendor-psirt", {"summary": "x"}, PermissionDenied, "may not file"),
    ]
    for user, body, error, words in refusals:
        kind = "notification" if "require" in words else "final"
        with pytest.raises(error, match=words):
            followup.file_report(platform.db, principal(platform, user), package_id, kind, body)
    with pytest.raises(InvalidInput, match="report kind"):
        followup.file_report(platform.db, admin, package_id, "incident", {"summary": "x"})
    assert _counts(platform) == before
    [own] = followup.reports(platform.db, principal(platform, "bank-user"), package_id)
    assert own.body["summary"] == "Patched."
    assert len(followup.reports(platform.db, principal(platform, "kanri"), package_id)) == 1
    with pytest.raises(NotFound):
        followup.reports(platform.db, principal(platform, "power-user"), package_id)


@pytest.mark.postgres
def test_two_runs_at_once_remind_once(tmp_path: Path) -> None:
    with build_platform("postgresql", tmp_path) as pg:
        _endpoints(pg)
        package_id = publish(pg, tlp="GREEN", audience={"organisations": ["city-bank"]})
        start = recipient(pg, package_id, "city-bank").delivered_at
        barrier = threading.Barrier(2)
        results: list[list[followup.Done]] = []
        errors: list[BaseException] = []

        def one() -> None:
            try:
                with pg.db.transaction() as session:
                    barrier.wait(timeout=10)
                    results.append(followup.run(session, start + 80 * H, POLICY))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=one) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        assert sorted(len(r) for r in results) == [0, 1]
        assert len(mails(pg, package_id)) == 2
        assert audit_steps(pg, package_id) == ["ack_reminder"]


def test_the_reminder_arrives_once_in_each_addresses_language(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.notify.conftest import drain
    from tests.notify.servers import smtp_server

    package_id = publish(platform, tlp="GREEN", audience={"organisations": ["city-bank"]})
    start = recipient(platform, package_id, "city-bank").delivered_at
    with smtp_server() as mailbox:
        monkeypatch.setenv("SAKIMORI_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SAKIMORI_SMTP_PORT", str(mailbox.port))
        monkeypatch.setenv("SAKIMORI_PUBLIC_URL", "https://sakimori.test")
        for _ in range(2):  # a second run and a second drain send nothing more
            run(platform, start + 72 * H)
            drain(platform)
    followups = [
        m
        for m in mailbox.messages
        if m["Sakimori-Follow-Up"] == "ack_reminder" and f"#{package_id}" in m["Subject"]
    ]
    assert sorted(m["To"] for m in followups) == ["soc@bank.test", "user@bank.test"]
    [ja] = [m for m in followups if m["To"] == "soc@bank.test"]
    [en] = [m for m in followups if m["To"] == "user@bank.test"]
    assert ja["Subject"].strip().startswith("[TLP:GREEN] 受領確認のお願い #")
    assert "受領確認をしてください" in ja.get_content()
    assert "Please" not in ja.get_content()
    assert en["Subject"].strip().startswith("[TLP:GREEN] Please acknowledge #")
    assert "has not acknowledged it yet" in en.get_content()
    assert f"https://sakimori.test/ui/packages/{package_id}" in en.get_content()
    assert en["Message-ID"] != ja["Message-ID"]


def test_the_followup_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.cli.conftest import Cli

    with build_platform("sqlite", tmp_path) as built:
        package_id = publish(built, tlp="GREEN", audience={"organisations": ["city-bank"]})
        cli = Cli(tmp_path, capsys)
        nothing = cli("package", "followup")
        assert nothing.code == 0, nothing.err
        assert "0 follow-up steps" in nothing.out
        start = recipient(built, package_id, "city-bank").delivered_at
        later = (start + 73 * H).isoformat()
        done = cli("package", "followup", "--now", later)
        assert f"package {package_id} city-bank: ack_reminder, 0 e-mails queued" in done.out
        assert "1 follow-up steps" in done.out
        assert "0 follow-up steps" in cli("package", "followup", "--now", later).out
        bad = cli("package", "followup", "--now", "2026-12-04T09:00")
        assert bad.code == 2
        assert "no time zone" in bad.err


def test_the_periodic_job_runs_the_followup(platform: Platform) -> None:
    from sqlalchemy import update

    from sakimori.jobs.handlers import HANDLERS, PACKAGES_FOLLOWUP
    from sakimori.jobs.interface import JobContext
    from tests.notify.conftest import settings_of

    package_id = publish(
        platform,
        tlp="GREEN",
        audience={"organisations": ["river-power"]},
        acknowledge_within_hours=1,
    )
    with platform.db.transaction() as session:
        session.execute(
            update(models.PackageRecipientRow)
            .where(models.PackageRecipientRow.package_id == package_id)
            .values(delivered_at=datetime.now(UTC) - 2 * H)
        )
    with platform.db.transaction() as session:  # as the runner calls it, in the job's transaction
        context = JobContext(
            0, PACKAGES_FOLLOWUP, {}, 1, session, platform.db, settings_of(platform)
        )
        HANDLERS[PACKAGES_FOLLOWUP](context)
    assert recipient(platform, package_id, "river-power").reminded_at is not None
    assert audit_steps(platform, package_id) == ["ack_reminder"]
    assert [m["what"] for m in mails(platform, package_id)] == ["ack_reminder"]
