"""decide(): the three outcomes from the three tables, explanations, JSON, memoisation, and the
table bundle's checks."""

from __future__ import annotations

import dataclasses

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sakimori.errors import ConfigurationError
from sakimori.model.cve import CisaSsvc
from sakimori.triage.config import DEFAULT_CONFIG, TriageConfig
from sakimori.triage.decide import DecisionTables, decide
from sakimori.triage.evidence import AssetContext, Cvss, Evidence, Reference, Weakness
from tests.triage.conftest import BOD, COORDINATOR, DEPLOYER, load_table

LOG4SHELL = Evidence(
    id="CVE-2021-44228",
    aliases=("GHSA-jfh8-c2jp-5v3q",),
    cvss=(Cvss("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "cna:apache"),),
    cwes=(Weakness("CWE-502", "cna:apache"), Weakness("CWE-917", "cna:apache")),
    kev=True,
    kev_due_date="2021-12-24",
    epss=0.944,
    references=(Reference("https://github.com/apache/logging-log4j2/pull/608", ("FIX",)),),
    fix_available=True,
    open_source=True,
)
GRID = AssetContext("high", True, ("electric_power",), "production")


def test_log4shell_on_an_internet_facing_grid_system(tables: DecisionTables) -> None:
    decision = decide(LOG4SHELL, GRID, tables, DEFAULT_CONFIG)
    assert (decision.decision.key, decision.decision.name) == ("AC", "Act")
    assert (decision.priority.key, decision.priority.name) == ("I", "Immediate")
    assert (decision.bod.key, decision.bod.name) == ("3DF", "3 days & forensic investigation")
    assert decision.decision.table == "cisa:DT_CO:2.0.3"
    assert decision.priority.table == "ssvc:DT_DP:1.0.0"
    assert decision.bod.table == "cisa:DT_BOD2604:1.0.0"
    assert [p.point for p in decision.points] == ["E", "A", "TI", "MWI", "EXP", "HI", "PE", "KEV"]
    assert decision.config_version == DEFAULT_CONFIG.version
    assert dict(decision.tables) == tables.versions


def test_quiet_vulnerability_on_an_internal_low_system(tables: DecisionTables) -> None:
    evidence = Evidence(
        id="CVE-2024-0002",
        cvss=(Cvss("CVSS_V3", "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"),),
    )
    decision = decide(evidence, AssetContext("low", False), tables, DEFAULT_CONFIG)
    assert (decision.decision.name, decision.priority.name, decision.bod.key) == (
        "Track",
        "Defer",
        "FSU",
    )


def test_cisa_values_drive_the_cisa_table(tables: DecisionTables) -> None:
    evidence = Evidence(id="CVE-1", cisa_ssvc=CisaSsvc("poc", "yes", "total"))
    context = AssetContext("medium", True)
    assert decide(evidence, context, tables, DEFAULT_CONFIG).decision.name == "Track*"
    context = AssetContext("high", True)
    assert decide(evidence, context, tables, DEFAULT_CONFIG).decision.name == "Attend"


cisa_values = st.builds(
    CisaSsvc,
    st.sampled_from(["none", "poc", "active"]),
    st.sampled_from(["yes", "no"]),
    st.sampled_from(["partial", "total"]),
)
evidence_strategy = st.builds(
    Evidence,
    id=st.just("CVE-2024-0003"),
    cvss=st.lists(
        st.sampled_from(
            [
                Cvss("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
                Cvss("CVSS_V3", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:N"),
                Cvss("CVSS_V4", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N"),
                Cvss("CVSS_V2", "AV:N/AC:L/Au:N/C:C/I:C/A:C"),
                Cvss("CVSS_V3", "garbage"),
            ]
        ),
        max_size=2,
    ).map(tuple),
    cwes=st.lists(st.sampled_from(["CWE-79", "CWE-89", "CWE-400"]).map(Weakness), max_size=2).map(
        tuple
    ),
    kev=st.booleans(),
    epss=st.none() | st.floats(0, 1),
    cisa_ssvc=st.none() | cisa_values,
    fix_available=st.booleans(),
    open_source=st.booleans(),
    sightings=st.none() | st.just("corroborated"),
)
contexts = st.builds(
    AssetContext,
    criticality=st.none() | st.sampled_from(["low", "medium", "high", "critical"]),
    internet_facing=st.none() | st.booleans(),
    sectors=st.lists(st.sampled_from(["finance", "water", "retail"]), max_size=2).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(evidence=evidence_strategy, context=contexts)
def test_outcomes_are_the_tables_own_lookups(
    tables: DecisionTables, evidence: Evidence, context: AssetContext
) -> None:
    decision = decide(evidence, context, tables, DEFAULT_CONFIG)
    values = {p.point: p.value for p in decision.points}
    for table, outcome in (
        (tables.coordinator, decision.decision),
        (tables.deployer, decision.priority),
        (tables.bod, decision.bod),
    ):
        expected = table.outcome({p.key: values[p.key] for p in table.inputs})
        assert (outcome.key, outcome.name) == (expected.key, expected.name)
    assert all(p.because for p in decision.points)
    assert (
        orjson.loads(orjson.dumps(decision.to_dict()))["decision"]["key"] == decision.decision.key
    )
    assert decision.point("KEV").value == ("Y" if evidence.kev else "N")


def test_explanation_names_outcomes_points_sources_and_versions(tables: DecisionTables) -> None:
    evidence = Evidence(id="CVE-2024-0004", cwes=(Weakness("CWE-400", "cna:X"),))
    text = decide(evidence, AssetContext.unknown(), tables, DEFAULT_CONFIG).explain()
    lines = text.splitlines()
    assert lines[0].startswith("CVE-2024-0004: decision ")
    assert "Automatable (A): Yes [unknown, default]" in text
    assert "Technical Impact (TI): Total [unknown, default]" in text
    assert "- default: unknown: no CVSS vector" in text
    assert "cisa:DT_CO:2.0.3, ssvc:DT_DP:1.0.0, cisa:DT_BOD2604:1.0.0" in lines[-1]
    assert DEFAULT_CONFIG.version in lines[-1]


def test_to_dict_is_json_and_complete(tables: DecisionTables) -> None:
    document = orjson.loads(orjson.dumps(decide(LOG4SHELL, GRID, tables, DEFAULT_CONFIG).to_dict()))
    assert document["decision"] == {"key": "AC", "name": "Act", "table": "cisa:DT_CO:2.0.3"}
    assert document["bod"]["key"] == "3DF"
    assert document["tables"]["deployer"] == "ssvc:DT_DP:1.0.0"
    assert document["config_version"] == DEFAULT_CONFIG.version
    assert document["context_unknown"] is False
    first = document["points"][0]
    assert (first["point"], first["value"], first["value_name"]) == ("E", "A", "Active")
    assert first["because"][0]["source"] == "KEV"


def test_derived_points_are_memoised_per_evidence_object(tables: DecisionTables) -> None:
    first = decide(LOG4SHELL, GRID, tables, DEFAULT_CONFIG)
    again = decide(LOG4SHELL, AssetContext("low", False), tables, DEFAULT_CONFIG)
    assert again.points[0] is first.points[0]
    copy = dataclasses.replace(LOG4SHELL)
    fresh = decide(copy, GRID, tables, DEFAULT_CONFIG)
    assert fresh.points[0] is not first.points[0]
    assert fresh == first
    other = TriageConfig(version="other", ai_era_rule=False)
    assert decide(LOG4SHELL, GRID, tables, other).config_version == "other"


def test_tables_in_the_wrong_roles_are_refused() -> None:
    coordinator, deployer, bod = load_table(*COORDINATOR), load_table(*DEPLOYER), load_table(*BOD)
    with pytest.raises(ConfigurationError, match=r"coordinator table ssvc:DT_DP:1\.0\.0"):
        DecisionTables(deployer, coordinator, bod)
    with pytest.raises(ConfigurationError, match="bod table"):
        DecisionTables(coordinator, deployer, load_table("ssvc", "utility_1_0_0.json"))


def test_a_table_lacking_a_value_sakimori_derives_is_refused() -> None:
    from sakimori.formats import ssvc

    raw = orjson.loads(orjson.dumps(_raw(*DEPLOYER)))
    point = raw["decision_points"]["ssvc:EXP:1.0.1"]
    point["values"] = [v for v in point["values"] if v["key"] != "C"]
    raw["mapping"] = [row for row in raw["mapping"] if row["ssvc:EXP:1.0.1"] != "C"]
    deployer = ssvc.table_from_dict(raw)
    with pytest.raises(ConfigurationError, match="has no value 'C'"):
        DecisionTables(load_table(*COORDINATOR), deployer, load_table(*BOD))


def _raw(*parts: str) -> dict:
    from tests.conftest import require_data

    path = require_data("ssvc", "data", "json", "decision_tables", *parts)
    value: dict = orjson.loads(path.read_bytes())
    return value
