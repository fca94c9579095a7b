"""CERT/CC's SSVC decision tables, one JSON document each, from the CERTCC/SSVC repository.

The three tables the triage uses (docs/triage.md): CISA's coordinator table, the deployer
patch-application table, and CISA's BOD 26-04 table. A mirror keeps upstream's ``data/`` layout
under ``ssvc/``, as ../shared/data does.
"""

from __future__ import annotations

from sakimori.formats import ssvc
from sakimori.formats.limits import DEFAULT_LIMITS, Limits

UPSTREAM_BASE = "https://raw.githubusercontent.com/CERTCC/SSVC/main/"

#: Table name → path in the upstream repository (and, under ``ssvc/``, in a mirror).
TABLES = {
    "cisa-coordinator": "data/json/decision_tables/cisa/cisa_coordinator_2_0_3.json",
    "deployer": "data/json/decision_tables/ssvc/deployer_patch_application_priority_1_0_0.json",
    "cisa-bod-26-04": "data/json/decision_tables/cisa/cisa_bod_26_04_1_0_0.json",
}


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> ssvc.DecisionTable:
    return ssvc.parse(data, limits)
