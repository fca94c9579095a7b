"""The report API: a package requiring reports lists them with their clocks; a recipient's
member files each once; refusals are problem documents and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from sakimori.store import models
from tests.packages.conftest import Platform, build_platform, content

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with build_platform("sqlite", tmp_path_factory.mktemp("reports-api")) as built:
        yield built


def _publish(client: Any, platform: Platform, value: dict[str, Any]) -> int:
    made = client.post("/v1/packages", json=value, headers=platform.headers("bunseki"))
    assert made.status_code == 201, made.text
    package_id: int = made.json()["id"]
    for user, move in (("bunseki", "submit"), ("kanri", "approve")):
        moved = client.post(
            f"/v1/packages/{package_id}/transitions",
            json={"move": move},
            headers=platform.headers(user),
        )
        assert moved.status_code == 200, moved.text
    return package_id


def _filed(platform: Platform) -> int:
    with platform.db.transaction() as session:
        found = session.scalar(
            select(func.count())
            .select_from(models.PackageReportRow)
            .where(models.PackageReportRow.filed_at.is_not(None))
        )
    return found or 0


def test_reports_through_the_api(client: Any, platform: Platform) -> None:
    value = content(
        tlp="AMBER",
        audience={"organisations": ["city-bank"]},
        reports=["early_warning", "final"],
        acknowledge_within_hours=12,
    )
    package_id = _publish(client, platform, value)
    read = client.get(f"/v1/packages/{package_id}", headers=platform.headers("bank-user"))
    assert read.json()["content"]["reports"] == ["early_warning", "final"]
    assert read.json()["content"]["acknowledge_within_hours"] == 12
    url = f"/v1/packages/{package_id}/reports"
    listed = client.get(url, headers=platform.headers("bank-user"))
    assert listed.status_code == 200
    body = listed.json()
    assert [(r["organisation"], r["kind"]) for r in body] == [
        ("city-bank", "early_warning"),
        ("city-bank", "final"),
    ]
    early = body[0]
    started = datetime.fromisoformat(early["started_at"])
    assert datetime.fromisoformat(early["due_at"]) - started == timedelta(hours=24)
    assert (early["overdue"], early["filed_at"], early["body"]) == (False, None, {})

    form = {"summary": "Scans from one address.", "exploitation_observed": True}
    filed = client.post(f"{url}/early_warning", json=form, headers=platform.headers("bank-user"))
    assert filed.status_code == 201, filed.text
    assert filed.json()["filed_by"] == "bank-user"
    assert filed.json()["body"] == {**form, "impact": "", "measures": ""}
    count = _filed(platform)

    again = client.post(
        f"{url}/early_warning", json={"summary": "again"}, headers=platform.headers("bank-admin")
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert "already filed" in again.json()["detail"]
    cases = [
        ("bank-admin", "notification", {"summary": "x"}, 400, "does not require"),
        ("bank-admin", "final", {"summary": "   "}, 400, "summary"),
        ("bank-admin", "final", {"summary": "x", "extra": 1}, 422, None),
        ("bank-admin", "final", {"summary": "x" * 5001}, 422, None),
        ("bank-admin", "incident", {"summary": "x"}, 422, None),
        ("kanri", "final", {"summary": "x"}, 403, "may not file"),
        ("vendor-psirt", "final", {"summary": "x"}, 403, "may not file"),
        ("power-user", "final", {"summary": "x"}, 404, None),
    ]
    for user, kind, sent, status, words in cases:
        refused = client.post(f"{url}/{kind}", json=sent, headers=platform.headers(user))
        assert refused.status_code == status, (user, kind, refused.text)
        assert refused.headers["content-type"] == PROBLEM
        if words:
            assert words in refused.json()["detail"]
    assert _filed(platform) == count

    staff = client.get(url, headers=platform.headers("kanri"))
    assert [r["filed_by"] for r in staff.json()] == ["bank-user", None]
    assert client.get(url, headers=platform.headers("power-user")).status_code == 404
    missing = client.get("/v1/packages/2147483000/reports", headers=platform.headers("kanri"))
    assert missing.status_code == 404
    recipients = client.get(
        f"/v1/packages/{package_id}/recipients", headers=platform.headers("kanri")
    ).json()
    assert {(r["reminded_at"], r["escalated_at"]) for r in recipients} == {(None, None)}


def test_content_refused_when_reports_or_window_are_wrong(client: Any, platform: Platform) -> None:
    with platform.db.transaction() as session:
        before = session.scalar(select(func.count()).select_from(models.PackageRow))
    for bad in ({"reports": ["incident"]}, {"acknowledge_within_hours": 0}):
        made = client.post("/v1/packages", json=content(**bad), headers=platform.headers("bunseki"))
        assert made.status_code == 422, made.text
    with platform.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(models.PackageRow)) == before
