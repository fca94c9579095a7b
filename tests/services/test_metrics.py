"""Remediation metrics computed from findings with known histories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sakimori.formats.limits import Limits
from sakimori.model.lifecycle import Move, State
from sakimori.services import findings as service
from sakimori.services.intel import load_paths
from sakimori.services.metrics import report
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.services.tracking import upload_inventory
from sakimori.store import models
from sakimori.store.db import Database, open_database
from tests.conftest import require_data

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    database = open_database(database_url)
    load_paths(database, [require_data("osv", "pypi", "vulns", "django")], Limits())
    create_organisation(database, "bank", "", "operator", ["finance"])
    create_organisation(database, "water-co", "", "operator", ["water"])
    create_asset(database, "bank/web", "")
    create_asset(database, "water-co/scada-hmi", "")
    pins = tmp_path / "r.txt"
    pins.write_text("django==3.2.5\n")
    upload_inventory(database, "bank/web", pins, "a", Limits(), now=T0)
    upload_inventory(database, "water-co/scada-hmi", pins, "a", Limits(), now=T0)
    yield database
    database.dispose()


def decide_by_hand(
    session: Session, rows: list[models.Finding], decision: Callable[[int], str]
) -> None:
    """Give each finding a decision and a deadline 14 days after it was first seen, written as
    assessment would: a shape (and detail) per finding, a context per asset, a rule per
    (class, context)."""
    part = models.Assessment(digest="test", part="context", data={}, created_at=T0)
    revision = models.TriageRevision(
        at=T0,
        why="test",
        policy_set="test",
        shapes_changed=0,
        rules_changed=0,
        findings_changed=0,
        changes={},
    )
    session.add_all([part, revision])
    session.flush()
    contexts: dict[int, int] = {}
    for asset_id in sorted({row.asset_id for row in rows}):
        context = models.TriageContext(digest=f"asset-{asset_id}", data={})
        session.add(context)
        session.flush()
        asset = session.get(models.Asset, asset_id)
        assert asset is not None
        asset.triage_context_id = contexts[asset_id] = context.id
    for index, row in enumerate(rows):
        shape = models.TriageShape(
            digest=f"shape-{index}",
            vulnerability=row.vulnerability,
            aliases=[],
            records=[],
            fixed=False,
            vclass=decision(index),
        )
        session.add(shape)
        session.flush()
        detail = models.FindingDetail(
            digest=f"detail-{index}",
            vulnerability=row.vulnerability,
            aliases=[],
            records=[],
            fixed_versions=[],
            shape_id=shape.id,
            matched_at=T0,
        )
        session.add(detail)
        session.flush()
        row.detail_id = detail.id
    for vclass in {decision(index) for index in range(len(rows))}:
        for context_id in contexts.values():
            session.add(
                models.TriageRule(
                    vclass=vclass,
                    context_id=context_id,
                    decision=vclass,
                    priority="Immediate",
                    bod="14D",
                    policy="test",
                    duration_s=14 * 86400,
                    context_assessment_id=part.id,
                    plan=[],
                    revision_id=revision.id,
                )
            )


def test_open_overdue_on_time_and_time_to_remediate(db: Database) -> None:
    with db.transaction() as session:
        rows = list(session.scalars(select(models.Finding).order_by(models.Finding.id)))
        per_asset = len(rows) // 2
        decide_by_hand(session, rows, lambda index: "Act" if index % 2 == 0 else "Track")
        bank = [r.id for r in rows[:per_asset]]
    # Two of the bank's findings are fixed: one in 10 days (on time), one in 20 (late).
    service.transition(db, bank[0], Move(State.FIX_APPLIED, "ops"), now=T0 + timedelta(days=9))
    service.transition(db, bank[0], Move(State.FIXED, "ops"), now=T0 + timedelta(days=10))
    service.transition(db, bank[1], Move(State.FIX_APPLIED, "ops"), now=T0 + timedelta(days=19))
    service.transition(db, bank[1], Move(State.FIXED, "ops"), now=T0 + timedelta(days=20))
    result = report(db, now=T0 + timedelta(days=30))
    overall = result.overall
    assert overall.closed == 2
    assert overall.open == 2 * per_asset - 2
    assert overall.overdue == overall.open  # every open deadline has passed
    assert overall.on_time_rate == 0.5
    assert overall.median_days_to_remediate == 15.0
    assert sum(overall.open_by_decision.values()) == overall.open
    assert result.organisations["bank"].closed == 2
    assert result.organisations["water-co"].closed == 0
    assert result.sectors["water"].open == per_asset
    assert result.months["2026-01"] == {"opened": 2 * per_asset, "remediated": 2}
    only_water = report(db, now=T0 + timedelta(days=30), sector="water")
    assert only_water.overall.open == per_asset
    assert report(db, organisation="bank").organisations.keys() == {"bank"}
    document = result.to_dict()
    assert document["overall"]["on_time_rate"] == 0.5  # type: ignore[index]
