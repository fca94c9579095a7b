"""The dashboard, the metrics API and ``/metrics`` read the pre-aggregated snapshot: they say
what time the figures are as of, and a member still sees only its own organisation."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sakimori.services import identity, metrics_snapshot
from sakimori.services.metrics import report
from sakimori.web.i18n import when
from tests.api.conftest import ORG_A, ORG_B, World, build_world
from tests.web.helpers import sign_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # Starlette asks for its httpx fork
    from fastapi.testclient import TestClient

PASSWORD = "correct horse battery staple"
AS_OF = re.compile(r'id="figures-as-of" data-at="([^"]+)"')


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with build_world(request.param, tmp_path_factory.mktemp("snapshot")) as built:
        identity.create_user(
            built.db, "web-analyst", organisation="coordination", role="analyst", password=PASSWORD
        )
        identity.create_user(
            built.db, "web-member", organisation=ORG_A, role="member_user", password=PASSWORD
        )
        yield built


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers treat the platform as large: they read the snapshot, however old."""
    monkeypatch.setattr(metrics_snapshot, "DIRECT_LIMIT", 0)


def snapshot_at(world: World, moment: datetime) -> datetime:
    with world.db.transaction() as session:
        return metrics_snapshot.refresh(session, moment).at


def dashboard(world: World, user: str) -> str:
    with TestClient(world.app, base_url="http://127.0.0.1") as client:
        assert sign_in(client, user, PASSWORD).status_code == 303
        page = client.get("/ui/dashboard")
    assert page.status_code == 200
    return page.text


@pytest.mark.usefixtures("large")
def test_the_dashboard_shows_the_snapshot_and_its_time(world: World) -> None:
    at = snapshot_at(world, datetime.now(UTC) - timedelta(minutes=20))
    page = dashboard(world, "web-analyst")
    assert page.count('id="figures-as-of"') == 1
    assert page.count('id="sectors"') == 1
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "figures-as-of" not in title
    found = AS_OF.search(page)
    assert found is not None
    assert datetime.fromisoformat(found.group(1)) == at
    assert when(at) in page
    figures = report(world.db, now=at).overall
    assert f'id="open-total">{figures.open}<' in page
    assert ORG_A in page
    assert ORG_B in page


@pytest.mark.usefixtures("large")
def test_a_member_reads_only_its_own_figures_from_the_snapshot(world: World) -> None:
    at = snapshot_at(world, datetime.now(UTC) - timedelta(minutes=5))
    own = report(world.db, now=at, organisation=ORG_A)
    headers = world.headers("member_user")
    answer = world.client.get("/v1/metrics", headers=headers)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body["organisations"]) == {ORG_A}
    assert datetime.fromisoformat(body["at"]) == at
    assert body["overall"] == own.overall.to_dict()
    assert (
        world.client.get("/v1/metrics", headers=headers, params={"organisation": ORG_B}).status_code
        == 404
    )
    page = dashboard(world, "web-member")
    assert f'id="open-total">{own.overall.open}<' in page
    assert ORG_B not in page
    staff = world.client.get("/v1/metrics", headers=world.headers("analyst")).json()
    assert {ORG_A, ORG_B} <= set(staff["organisations"])
    assert staff["overall"] == report(world.db, now=at).overall.to_dict()


@pytest.mark.usefixtures("large")
def test_prometheus_reads_the_open_findings_from_the_snapshot(world: World) -> None:
    at = snapshot_at(world, datetime.now(UTC) - timedelta(minutes=1))
    answer = world.client.get("/metrics", headers=world.headers("analyst"))
    assert answer.status_code == 200
    expected = report(world.db, now=at).overall.open_by_decision
    assert expected
    for decision, count in expected.items():
        line = f'sakimori_findings_open{{decision="{decision}"}} {float(count)}'
        assert line in answer.text


def test_a_small_platform_with_a_pending_refresh_is_computed_directly(
    world: World, tmp_path: Path
) -> None:
    old = snapshot_at(world, datetime.now(UTC) - timedelta(minutes=1))
    finding = world.finding_a
    moved = world.client.post(
        f"/v1/findings/{finding}/transitions",
        headers=world.headers("member_admin"),
        json={"state": "acknowledged", "note": "seen"},
    )
    assert moved.status_code == 201, moved.text
    with world.db.transaction() as session:
        assert metrics_snapshot.pending(session)  # the API's write asked for a refresh
    body = world.client.get("/v1/metrics", headers=world.headers("analyst")).json()
    assert datetime.fromisoformat(body["at"]) > old
