"""Triage fixtures: the three decision tables, loaded from ../shared/data/ssvc as a deployment
would load them from its data directory."""

from __future__ import annotations

import pytest

from sakimori.formats import ssvc
from sakimori.triage.decide import DecisionTables
from tests.conftest import require_data

COORDINATOR = ("cisa", "cisa_coordinator_2_0_3.json")
DEPLOYER = ("ssvc", "deployer_patch_application_priority_1_0_0.json")
BOD = ("cisa", "cisa_bod_26_04_1_0_0.json")


def load_table(*parts: str) -> ssvc.DecisionTable:
    return ssvc.parse(require_data("ssvc", "data", "json", "decision_tables", *parts).read_bytes())


@pytest.fixture(scope="session")
def tables() -> DecisionTables:
    return DecisionTables(load_table(*COORDINATOR), load_table(*DEPLOYER), load_table(*BOD))
