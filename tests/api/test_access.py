"""Tenancy and permissions are the service layer's: checked here without HTTP."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from sakimori.errors import NotFound, PermissionDenied
from sakimori.services import access, identity
from sakimori.services.findings import Filters
from tests.api.conftest import ORG_A, ORG_B, World


def _no_scopes(role: access.Role) -> access.Principal:
    return access.Principal(1, "nobody", role, 1, ORG_A, frozenset())


def _use_cases() -> list[tuple[str, Any]]:
    found = []
    for module in (access, identity):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            public = function.__module__ == module.__name__ and not name.startswith("_")
            takes_caller = "principal" in inspect.signature(function).parameters
            if public and takes_caller and name != "require":
                found.append((f"{module.__name__}.{name}", function))
    return found


@pytest.mark.parametrize(("name", "use_case"), _use_cases(), ids=[n for n, _ in _use_cases()])
def test_every_use_case_checks_the_caller_before_anything_else(name: str, use_case: Any) -> None:
    """Called with a token that has no scope, each use case refuses before touching anything
    (the database passed is None: any use of it would be an AttributeError, not a refusal)."""
    arguments: dict[str, Any] = {}
    for parameter in inspect.signature(use_case).parameters.values():
        if parameter.default is not inspect.Parameter.empty:
            continue
        arguments[parameter.name] = {
            "principal": _no_scopes(access.Role.COORDINATOR_ADMIN),
            "finding_id": 1,
            "filters": Filters(),
            "data": b"",
            "scopes": ["read"],
        }.get(parameter.name, "x")
        if parameter.name in {"db", "key", "limits"}:
            arguments[parameter.name] = None
    with pytest.raises(PermissionDenied):
        use_case(**arguments)


def test_a_member_is_confined_to_its_organisation_below_http(world: World) -> None:
    member_b = identity.authenticate(world.db, world.key, world.tokens["member_user_b"])
    assert member_b.organisation == ORG_B
    everything = access.list_findings(world.db, member_b, Filters(open_only=False))
    assert everything
    assert {f.asset.split("/")[0] for f in everything} == {ORG_B}
    for attempt in (
        lambda: access.show_finding(world.db, member_b, world.finding_a),
        lambda: access.list_findings(world.db, member_b, Filters(organisation=ORG_A)),
        lambda: access.list_assets(world.db, member_b, ORG_A),
        lambda: access.get_organisation(world.db, member_b, ORG_A),
        lambda: access.list_vex_statements(
            world.db, member_b, organisation=ORG_A.upper(), asset=None
        ),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert [o.slug for o in access.list_organisations(world.db, member_b)] == [ORG_B]


def test_the_permission_table_covers_every_action() -> None:
    assert set(access.PERMISSIONS) == set(access.Action)
    assert set(access.ROLE_KINDS) == set(access.Role)
