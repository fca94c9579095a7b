"""The findings list: one statement per combination of filters, the filters' values sent as
parameters, and what the query planner must know written into the SQL text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from sakimori.errors import InvalidInput, NotFound
from sakimori.model.lifecycle import CLOSED, Move, State
from sakimori.services import findings as service
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.store.db import Database
from tests.services.test_metrics_snapshot import ORGANISATIONS, populated


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    yield from populated(database_url, tmp_path)


def sent(db: Database, filters: service.Filters) -> tuple[list[str], list[Any]]:
    """The statements and parameters one list call sends."""
    statements: list[str] = []
    parameters: list[Any] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        statements.append(statement)
        parameters.append(params)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        service.list_findings(db, filters)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return statements, parameters


def test_the_closed_states_and_the_page_are_written_into_the_sql(db: Database) -> None:
    # PostgreSQL plans a prepared statement once for all parameters: sent as parameters, the
    # closed states made it guess one open finding per vulnerability and sort them all.
    vulnerability = service.list_findings(db, service.Filters(limit=1))[0].vulnerability
    filters = service.Filters(vulnerability=vulnerability, open_only=True, limit=7, offset=3)
    statements, parameters = sent(db, filters)
    assert len(statements) == 1
    values = list(parameters[0].values() if isinstance(parameters[0], dict) else parameters[0])
    assert values == [vulnerability]
    for state in CLOSED:
        assert f"'{state.value}'" in statements[0]
    assert re.search(r"LIMIT 7\s+OFFSET 3", statements[0])


def test_filters_give_what_filtering_every_finding_gives(db: Database) -> None:
    everything = service.list_findings(db, service.Filters(limit=10_000))
    first = next(f for f in everything if f.state == "open")
    service.transition(db, first.id, Move(State.ACKNOWLEDGED, "ops"))
    everything = service.list_findings(db, service.Filters(limit=10_000))
    organisation, _ = first.asset.split("/")
    cases = [
        (service.Filters(organisation=organisation.upper()), lambda f: f.asset == first.asset),
        (service.Filters(asset=first.asset), lambda f: f.asset == first.asset),
        (service.Filters(states=["acknowledged"]), lambda f: f.state == "acknowledged"),
        (service.Filters(open_only=True), lambda f: f.state not in {s.value for s in CLOSED}),
        (
            service.Filters(vulnerability=first.vulnerability, offset=1),
            lambda f: f.vulnerability == first.vulnerability,
        ),
    ]
    for filters, keep in cases:
        expected = [f for f in everything if keep(f)][filters.offset :]
        assert service.list_findings(db, filters) == expected, filters
    assert len({f.asset for f in everything}) == len(ORGANISATIONS) > 1


def test_an_unknown_organisation_or_asset_is_not_found_and_an_empty_one_is_empty(
    db: Database,
) -> None:
    with pytest.raises(NotFound, match="no organisation 'nobody'"):
        service.list_findings(db, service.Filters(organisation="nobody"))
    with pytest.raises(NotFound, match="no asset 'bank/nothing'"):
        service.list_findings(db, service.Filters(asset="bank/nothing"))
    with pytest.raises(InvalidInput):
        service.list_findings(db, service.Filters(asset="no-slash"))
    create_organisation(db, "quiet", "", "operator", [])
    create_asset(db, "quiet/app", "")
    assert service.list_findings(db, service.Filters(organisation="quiet")) == []
    assert service.list_findings(db, service.Filters(asset="quiet/app")) == []
