"""The pre-aggregated metrics: the snapshot gives exactly the direct report's numbers, writes
ask for one refresh per burst, and readers follow the freshness contract."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, update

from sakimori.config import Settings
from sakimori.formats.limits import Limits
from sakimori.jobs.handlers import HANDLERS, METRICS_REFRESH
from sakimori.jobs.runner import Runner
from sakimori.model.lifecycle import Move, State
from sakimori.services import findings as service
from sakimori.services import metrics_snapshot
from sakimori.services.intel import load_paths
from sakimori.services.metrics import report
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.services.tracking import upload_inventory
from sakimori.store import models
from sakimori.store.db import Database, aware, open_database
from tests.conftest import require_data
from tests.services.test_metrics import decide_by_hand

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
#: organisation -> sectors: none, one, two (a pair), three, and two sharing "water".
ORGANISATIONS = {
    "bank": ["finance"],
    "water-co": ["water"],
    "grid-co": ["electric_power", "water"],
    "ministry": [],
    "hub": ["information_communications", "finance", "water"],
}
DECISIONS = ("Act", "Attend", "Track*", "Track")


def populate(db: Database, tmp_path: Path) -> None:
    load_paths(db, [require_data("osv", "pypi", "vulns", "django")], Limits())
    pins = tmp_path / "r.txt"
    pins.write_text("django==3.2.5\n")
    for number, (slug, sectors) in enumerate(ORGANISATIONS.items()):
        create_organisation(db, slug, "", "operator", sectors)
        create_asset(db, f"{slug}/app", "")
        upload_inventory(db, f"{slug}/app", pins, "a", Limits(), now=T0 + timedelta(days=number))
    with db.transaction() as session:
        rows = list(session.scalars(select(models.Finding).order_by(models.Finding.id)))
        # Every fifth finding stays untriaged (no shape).
        decided = [row for index, row in enumerate(rows) if index % 5]
        decide_by_hand(session, decided, lambda index: DECISIONS[index % len(DECISIONS)])
        ids = [row.id for row in rows]
    # Closed on time, late, in another month, declared away: every kind of closed figure.
    for step, finding_id in enumerate(ids[::3]):
        moment = T0 + timedelta(days=5 + 9 * step)
        if step % 4 == 3:
            move = Move(State.NOT_AFFECTED, "ops", justification="component_not_present")
            service.transition(db, finding_id, move, now=moment)
            continue
        service.transition(db, finding_id, Move(State.FIX_APPLIED, "ops"), now=moment)
        final = State.MITIGATED if step % 4 == 2 else State.FIXED
        service.transition(db, finding_id, Move(final, "ops"), now=moment + timedelta(hours=5))


def populated(url: str, tmp_path: Path) -> Iterator[Database]:
    """The database at ``url`` with :func:`populate`'s world; disposed when done."""
    database = open_database(url)
    populate(database, tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    yield from populated(database_url, tmp_path)


def refreshed(db: Database, now: datetime) -> metrics_snapshot.Stored:
    with db.transaction() as session:
        info = metrics_snapshot.refresh(session, now)
    return metrics_snapshot.Stored(info.id, info.at, info.findings)


def filters() -> list[tuple[str | None, str | None]]:
    sectors = sorted({s for values in ORGANISATIONS.values() for s in values})
    chosen: list[tuple[str | None, str | None]] = [(None, None), ("nobody", None)]
    chosen += [(None, s) for s in [*sectors, "transport"]]
    chosen += [(o, None) for o in ORGANISATIONS]
    chosen += [(o, s) for o in ORGANISATIONS for s in ["water", "finance"]]
    return chosen


def test_the_snapshot_equals_the_direct_report(db: Database) -> None:
    now = T0 + timedelta(days=40)  # some deadlines passed, some not
    snapshot = refreshed(db, now)
    direct = report(db, now=now)
    assert direct.overall.open
    assert direct.overall.closed
    assert direct.overall.overdue
    assert direct.overall.median_days_to_remediate is not None
    assert "untriaged" in direct.overall.open_by_decision
    for organisation, sector in filters():
        expected = report(db, now=now, organisation=organisation, sector=sector)
        with db.transaction() as session:
            found = metrics_snapshot.view(session, snapshot, organisation, sector)
        # Exactly equal, unrounded: every count, every median, every month.
        assert found == expected, (organisation, sector)
        assert found.to_dict() == expected.to_dict()
    assert snapshot.findings == direct.overall.open + direct.overall.closed


def test_top_organisations_and_the_snapshots_kept(db: Database) -> None:
    now = T0 + timedelta(days=40)
    for _ in range(3):
        snapshot = refreshed(db, now)
    with db.transaction() as session:
        kept = session.scalar(select(func.count()).select_from(models.MetricsSnapshot))
        assert kept == metrics_snapshot.KEEP
        assert metrics_snapshot.latest(session) == snapshot
        top = metrics_snapshot.view(session, snapshot, top=2)
        water = metrics_snapshot.view(session, snapshot, sector="water", top=1)
    everything = report(db, now=now)
    ranked = sorted(everything.organisations.items(), key=lambda kv: (-kv[1].open, kv[0]))
    assert list(top.organisations.items()) == ranked[:2]
    assert top.overall == everything.overall
    in_water = report(db, now=now, sector="water").organisations
    assert list(water.organisations) == [sorted(in_water, key=lambda k: (-in_water[k].open, k))[0]]


def jobs(db: Database) -> list[models.JobRow]:
    with db.transaction() as session:
        query = select(models.JobRow).where(models.JobRow.name == METRICS_REFRESH)
        return list(session.scalars(query.order_by(models.JobRow.id)))


def settings_of(db: Database, home: Path) -> Settings:
    url = db.engine.url.render_as_string(hide_password=False)
    return Settings(home=home, database_url=url, token_key_file=home / "token.key")


def write_then_fail(db: Database) -> None:
    with db.transaction() as session:
        session.execute(update(models.Finding).values(state="open"))
        raise RuntimeError("rolled back")


def test_a_burst_of_writes_asks_for_one_refresh(db: Database, tmp_path: Path) -> None:
    ids = [f.id for f in service.list_findings(db, service.Filters(open_only=True))]
    assert not jobs(db), "the fixture's writes were not watched"
    metrics_snapshot.watch(db)
    before = datetime.now(UTC)
    for finding_id in ids[:3]:
        service.transition(db, finding_id, Move(State.ACKNOWLEDGED, "ops"))
    queued = jobs(db)
    assert len(queued) == 1
    assert queued[0].state == "queued"
    run_after = aware(queued[0].run_after)
    assert run_after >= before + timedelta(seconds=metrics_snapshot.DEBOUNCE)
    # A write that rolls back asks for nothing; a read asks for nothing.
    with pytest.raises(RuntimeError, match="rolled back"):
        write_then_fail(db)
    report(db)
    assert len(jobs(db)) == 1
    # The refresh runs once due (time passes: the test moves its start instead of waiting).
    with db.transaction() as session:
        session.execute(update(models.JobRow).values(run_after=before))
    runner = Runner(db, settings_of(db, tmp_path), HANDLERS, "test")
    try:
        assert runner.run_one()
        assert not runner.run_one()
    finally:
        runner.close()
    assert [j.state for j in jobs(db)] == ["done"]
    with db.transaction() as session:
        snapshot = metrics_snapshot.latest(session)
        assert snapshot is not None
        stored = metrics_snapshot.view(session, snapshot)
    assert stored == report(db, now=snapshot.at)
    assert stored.overall.open_by_decision != {}
    # The next write (a bulk statement this time) asks for the next refresh.
    with db.transaction() as session:
        session.execute(
            update(models.Finding).where(models.Finding.id == ids[3]).values(revision=7)
        )
    assert [j.state for j in jobs(db)] == ["done", "queued"]


def test_readers_follow_the_freshness_contract(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    snapshot = refreshed(db, now - timedelta(minutes=1))
    first = service.list_findings(db, service.Filters(open_only=True))[0]
    # A small platform's fresh snapshot with nothing pending is read as it is.
    assert metrics_snapshot.current(db, now=now).at == snapshot.at
    metrics_snapshot.watch(db)
    service.transition(db, first.id, Move(State.ACKNOWLEDGED, "ops"))
    with db.transaction() as session:
        assert metrics_snapshot.pending(session)
    # A refresh is pending: a small platform computes the figures directly ...
    direct = metrics_snapshot.current(db, now=now)
    assert direct.at == now
    assert direct == report(db, now=now)
    # ... and so it does when its snapshot is older than SMALL_MAX_AGE.
    later = now + metrics_snapshot.SMALL_MAX_AGE + timedelta(minutes=2)
    with db.transaction() as session:
        session.execute(update(models.JobRow).values(state="done"))
    assert metrics_snapshot.current(db, now=later).at == later
    # A large platform reads the snapshot, stale or not, and says when it is from.
    monkeypatch.setattr(metrics_snapshot, "DIRECT_LIMIT", 0)
    with db.transaction() as session:
        session.execute(update(models.JobRow).values(state="queued"))
    stale = metrics_snapshot.current(db, now=later, organisation=first.asset.split("/")[0])
    assert stale.at == snapshot.at
    with db.transaction() as session:
        assert stale == metrics_snapshot.view(session, snapshot, first.asset.split("/")[0])


def test_a_large_platform_without_a_snapshot_makes_one_on_first_read(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_snapshot, "DIRECT_LIMIT", 0)
    now = T0 + timedelta(days=40)
    found = metrics_snapshot.current(db, now=now, sector="water")
    assert found == report(db, now=now, sector="water")
    with db.transaction() as session:
        assert metrics_snapshot.latest(session) is not None


def test_a_large_platform_reads_its_newest_snapshot_once_a_second(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_snapshot, "DIRECT_LIMIT", 0)
    monkeypatch.setattr(metrics_snapshot, "LATEST_TTL", 60.0)  # no test is that slow
    first = refreshed(db, T0 + timedelta(days=40))
    statements: list[str] = []
    listen = event.listens_for(db.engine, "before_cursor_execute")
    listen(lambda _c, _cur, statement, *_rest: statements.append(statement))
    assert metrics_snapshot.current(db).at == first.at  # reads, then remembers
    statements.clear()
    assert metrics_snapshot.current(db).at == first.at
    assert statements == []  # within LATEST_TTL: no query at all
    # A refresh committed in this process is read at once ...
    second = refreshed(db, T0 + timedelta(days=41))
    assert metrics_snapshot.current(db).at == second.at
    # ... one committed elsewhere (here: by hand, as another process would) within the TTL.
    with db.transaction() as session:
        info = metrics_snapshot.refresh(session, T0 + timedelta(days=42))
        event.remove(session, "after_commit", metrics_snapshot._forget_latest)
    assert metrics_snapshot.current(db).at == second.at
    monkeypatch.setattr(metrics_snapshot, "LATEST_TTL", 0.0)  # as when the TTL has passed
    assert metrics_snapshot.current(db).at == info.at
