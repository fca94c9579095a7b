"""Policy and policy-set files: strict loading (one test per kind of error), sectors."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files

import pytest

from sakimori.errors import InvalidInput, MalformedDocument
from sakimori.triage.policy import SECTORS, DeadlineInputs, Policy, Rule, deadline
from sakimori.triage.policy_files import (
    builtin_policies,
    load_policy,
    load_policy_set,
)
from tests.conftest import ROOT

HEAD = """
[policy]
name = "test"
version = "1"
"""
BOD_RULES = """
[[rules]]
id = "fast"
when = { bod = ["3D", "3DF"] }
deadline = "3d"

[[rules]]
id = "medium"
when = { bod = "14D" }
deadline = "14d"

[[rules]]
id = "slow"
when = { bod = ["60D", "FSU"] }
deadline = "60d"
"""
CATCH_ALL = """
[[rules]]
id = "rest"
deadline = "30d"
"""
VALID = HEAD + BOD_RULES + CATCH_ALL


def refused(text: str, where: str | None = None) -> str:
    with pytest.raises(MalformedDocument) as caught:
        load_policy(text.encode(), where=where)
    return caught.value.diagnostics()


def test_a_valid_file_loads() -> None:
    policy = load_policy(VALID.encode())
    assert (policy.name, policy.version, len(policy.rules)) == ("test", "1", 4)
    assert policy.rules[0] == Rule("fast", "3d", bod=("3D", "3DF"))
    assert policy.rules[-1].is_catch_all


def test_every_builtin_file_is_in_the_package() -> None:
    folder = files("sakimori.triage").joinpath("policies")
    names = sorted(item.name for item in folder.iterdir() if item.name.endswith(".toml"))
    assert names == [f"{name}.toml" for name in sorted(builtin_policies())]


def test_invalid_toml() -> None:
    assert "invalid TOML" in refused("[policy\nname = 1")


def test_unknown_top_level_key() -> None:
    message = refused(VALID + "\n[extra]\nx = 1\n")
    assert "the policy file: unknown key 'extra'; expected one of policy, rules" in message


def test_unknown_policy_key() -> None:
    message = refused(HEAD + 'kev_grase = "3d"\n' + BOD_RULES + CATCH_ALL)
    assert (
        "[policy]: unknown key 'kev_grase'; expected one of name, version, description" in message
    )


def test_unknown_rule_key() -> None:
    message = refused(VALID.replace('deadline = "14d"', 'dedline = "14d"'))
    assert "rules[1] 'medium': unknown key 'dedline'; expected one of id, when, deadline" in message


def test_unknown_condition_key() -> None:
    message = refused(
        VALID.replace('when = { bod = "14D" }', 'when = { bod = "14D", exposure = "open" }')
    )
    assert (
        "rules[1] 'medium'.when: unknown key 'exposure'; expected one of bod, decision" in message
    )


@pytest.mark.parametrize("duration", ["3x", "14", "0d", "-3d", "1.5d", "3 d", "3651d", "2w", ""])
def test_invalid_duration(duration: str) -> None:
    message = refused(VALID.replace('deadline = "14d"', f'deadline = "{duration}"'))
    assert f"rules[1] 'medium'.deadline: {duration!r} " in message
    assert "(hours or days), 'kev_due_date' or 'none'" in message


def test_duration_limits_are_inclusive() -> None:
    policy = load_policy(VALID.replace('deadline = "14d"', 'deadline = "3650d"').encode())
    assert policy.rules[1].deadline == "3650d"


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ('bod = "14d"', "unknown BOD 26-04 outcome '14d'; expected one of FSU, 60D, 14D, 3D, 3DF"),
        ('bod = "14D", decision = "act"', "unknown decision 'act'; expected one of Track, Track*"),
        ('bod = "14D", priority = "Urgent"', "unknown priority 'Urgent'; expected one of Defer"),
        ('bod = "14D", sector = "energy"', "unknown sector 'energy'; expected one of information_"),
    ],
)
def test_unknown_outcome_or_sector_name(condition: str, message: str) -> None:
    text = refused(VALID.replace('when = { bod = "14D" }', f"when = {{ {condition} }}"))
    assert "rules[1] 'medium'.when." in text
    assert message in text


def test_missing_catch_all() -> None:
    message = refused(VALID.replace('id = "rest"\n', 'id = "rest"\nwhen = { kev = true }\n'))
    assert "rules[3] 'rest': a policy must end with a catch-all rule" in message


def test_catch_all_before_the_end() -> None:
    message = refused(HEAD + CATCH_ALL + BOD_RULES + CATCH_ALL.replace('"rest"', '"rest2"'))
    assert "rules[0] 'rest' is a catch-all (no conditions) but not the last rule" in message


def test_an_outcome_value_no_rule_covers() -> None:
    message = refused(VALID.replace('bod = ["60D", "FSU"]', 'bod = "60D"'))
    assert (
        "no rule covers BOD 26-04 outcome 'FSU': findings with it would always fall through to "
        "the catch-all rule 'rest'; add a rule that names 'FSU'"
    ) in message


def test_a_decision_no_rule_covers() -> None:
    rules = "".join(
        f'[[rules]]\nid = "r{n}"\nwhen = {{ decision = "{d}" }}\ndeadline = "3d"\n'
        for n, d in enumerate(("Act", "Attend", "Track"))
    )
    assert "no rule covers decision 'Track*'" in refused(HEAD + rules + CATCH_ALL)


def test_a_shadowed_rule() -> None:
    shadowed = '[[rules]]\nid = "late"\nwhen = { bod = "3D", kev = true }\ndeadline = "24h"\n'
    message = refused(HEAD + BOD_RULES + shadowed + CATCH_ALL)
    assert "rules[3] 'late' never applies: no finding can match it, or earlier rules" in message


def test_a_rule_no_finding_can_match() -> None:
    impossible = '[[rules]]\nid = "x"\nwhen = { kev = false }\ndeadline = "kev_due_date"\n'
    message = refused(HEAD + 'kev_grace = "1d"\n' + impossible + BOD_RULES + CATCH_ALL)
    assert "rules[0] 'x' never applies" in message


def test_duplicate_rule_ids() -> None:
    message = refused(VALID.replace('id = "medium"', 'id = "fast"'))
    assert "rules[1] 'fast': the rule id is used twice" in message


def test_a_value_listed_twice() -> None:
    message = refused(VALID.replace('["3D", "3DF"]', '["3D", "3D", "3DF"]'))
    assert "rules[0] 'fast'.when.bod: a value is listed twice" in message


def test_kev_due_date_without_grace() -> None:
    kev = '[[rules]]\nid = "kev"\ndeadline = "kev_due_date"\n'
    message = refused(HEAD + kev + BOD_RULES + CATCH_ALL)
    assert "policy.kev_grace is required when a rule uses kev_due_date" in message


def test_cap_without_grace() -> None:
    message = refused(HEAD + "cap_at_kev_due_date = true\n" + BOD_RULES + CATCH_ALL)
    assert "policy.kev_grace is required" in message


def test_unused_grace() -> None:
    message = refused(HEAD + 'kev_grace = "3d"\n' + BOD_RULES + CATCH_ALL)
    assert "policy.kev_grace is set but no rule uses kev_due_date" in message


def test_invalid_grace() -> None:
    message = refused(
        HEAD + 'kev_grace = "soon"\ncap_at_kev_due_date = true\n' + BOD_RULES + CATCH_ALL
    )
    assert "policy.kev_grace: 'soon' is not a duration" in message


def test_a_kev_due_date_catch_all() -> None:
    message = refused(
        VALID.replace('id = "rest"\ndeadline = "30d"', 'id = "rest"\ndeadline = "kev_due_date"')
    )
    assert "rules[3] 'rest': the catch-all rule cannot use 'kev_due_date'" in message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('when = { bod = "14D" }', 'when = { bod = "14D", internet_facing = "any" }'),
         "rules[1] 'medium'.when.internet_facing must be true or false (omit it to match either)"),
        (('when = { bod = "14D" }', 'when = { bod = [] }'),
         "rules[1] 'medium'.when.bod must be a name or a non-empty list of names"),
        (('when = { bod = "14D" }', 'when = { bod = 14 }'),
         "rules[1] 'medium'.when.bod must be a name or a non-empty list of names"),
        (('deadline = "14d"', "deadline = 14"), "rules[1] 'medium'.deadline must be a string"),
        (('id = "medium"\n', ""), "rules[1].id is missing"),
        (('id = "medium"', 'id = "Medium Rule"'), "rules[1].id 'Medium Rule' must be lower-case"),
        (('deadline = "14d"', 'deadline = "14d"\nforensic_triage = "yes"'),
         "rules[1] 'medium'.forensic_triage must be true or false"),
        (('version = "1"', 'version = 1'), "[policy].version must be a string"),
        (('version = "1"', 'version = "one two"'), "policy.version 'one two' must be letters"),
        (('name = "test"\n', ""), "[policy].name is missing"),
    ],
)  # fmt: skip
def test_wrong_types_and_missing_parts(change: tuple[str, str], message: str) -> None:
    assert message in refused(VALID.replace(*change, 1))


def test_missing_tables() -> None:
    assert "[policy] must be a table" in refused(BOD_RULES + CATCH_ALL)
    assert "[[rules]] is missing" in refused(HEAD)


def test_errors_name_the_file() -> None:
    message = refused(VALID.replace('"14d"', '"14x"'), where="policies/national.toml")
    assert message.startswith("policies/national.toml: rules[1] 'medium'.deadline: '14x'")
    assert message.endswith("(see docs/policies.md for the policy file format)")


def test_oversized_files_are_refused() -> None:
    with pytest.raises(InvalidInput, match="more than the limit"):
        load_policy(VALID.encode() + b"#" * (1024 * 1024))


# --- policy sets: a policy per sector ------------------------------------------------------------

SET = """
[policy_set]
name = "jp-national"
version = "2026.1"
description = "Critical infrastructure gets the strict preset."
default = "cisa-bod-26-04"

[sectors]
finance = "critical-infrastructure@1.0.0"
electric_power = "critical-infrastructure"
government = "kev-due-date"
"""


def test_policy_set_selects_by_sector() -> None:
    presets = builtin_policies()
    policy_set = load_policy_set(SET.encode())
    assert (policy_set.name, policy_set.version) == ("jp-national", "2026.1")
    assert policy_set.policy_for("finance") is presets["critical-infrastructure"]
    assert policy_set.policy_for("electric_power") is presets["critical-infrastructure"]
    assert policy_set.policy_for("government") is presets["kev-due-date"]
    for sector in (None, "water", "medical"):
        assert policy_set.policy_for(sector) is presets["cisa-bod-26-04"]
    with pytest.raises(InvalidInput, match="unknown sector 'energy'"):
        policy_set.policy_for("energy")
    created = datetime(2026, 11, 29, tzinfo=UTC)
    found = DeadlineInputs("14D", "Act", "Immediate", True, sector="finance")
    assert deadline(policy_set.policy_for(found.sector), found, created).rule.id == "act-internet"


def test_policy_set_with_own_policies() -> None:
    own = load_policy(VALID.encode())
    policy_set = load_policy_set(
        SET.replace("critical-infrastructure", "test").replace("@1.0.0", "@1").encode(),
        {"test": own, "cisa-bod-26-04": builtin_policies()["cisa-bod-26-04"], "kev-due-date": own},
    )
    assert policy_set.policy_for("finance") is own


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('"critical-infrastructure@1.0.0"', '"strict"'),
         "[sectors].finance: unknown policy 'strict'; known policies: cisa-bod-26-04, "),
        (('"critical-infrastructure@1.0.0"', '"critical-infrastructure@2.0.0"'),
         "[sectors].finance: pins critical-infrastructure version '2.0.0', but the available "
         "critical-infrastructure is version '1.0.0'"),
        (("finance =", "banking ="), "sectors: unknown sector 'banking'; expected one of"),
        (('default = "cisa-bod-26-04"\n', ""), "[policy_set].default is missing"),
        (('default = "cisa-bod-26-04"', 'default = "bod"'),
         "[policy_set].default: unknown policy 'bod'"),
        (('version = "2026.1"', 'version = "2026.1"\nowner = "nisc"'),
         "[policy_set]: unknown key 'owner'; expected one of name, version, description, default"),
        (("[sectors]", "[sector]"), "the policy-set file: unknown key 'sector'"),
        (('finance = "critical-infrastructure@1.0.0"', "finance = 3"),
         "[sectors].finance must be a policy name (or name@version)"),
    ],
)  # fmt: skip
def test_policy_set_errors(change: tuple[str, str], message: str) -> None:
    with pytest.raises(MalformedDocument) as caught:
        load_policy_set(SET.replace(*change, 1).encode(), where="sets/jp.toml")
    assert caught.value.diagnostics().startswith("sets/jp.toml: ")
    assert message in caught.value.diagnostics()


def test_sectors_are_japans_fifteen() -> None:
    assert len(SECTORS) == len(set(SECTORS)) == 15


def test_policies_built_in_code_are_checked_the_same_way() -> None:
    with pytest.raises(MalformedDocument, match="must end with a catch-all"):
        Policy("p", "1", (Rule("only", "3d", bod=("3D",)),))
    with pytest.raises(MalformedDocument, match="at least one rule"):
        Policy("p", "1", ())


def test_the_examples_in_the_docs_load() -> None:
    text = (ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    blocks = [block.split("```", 1)[0] for block in text.split("```toml\n")[1:]]
    policy = load_policy(blocks[0].encode(), where="docs/policies.md")
    assert [rule.id for rule in policy.rules][:3] == ["forensic", "act-internet", "payments-urgent"]
    policy_set = load_policy_set(blocks[1].encode(), where="docs/policies.md")
    assert policy_set.policy_for("finance").name == "critical-infrastructure"
