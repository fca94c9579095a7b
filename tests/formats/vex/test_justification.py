"""The CycloneDX ↔ CISA mapping: complete, each label with one representative, lossless through
the model (the tables are the ones documented in docs/vex.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sakimori.formats.vex import justification as mapping
from sakimori.model.vex import Justification, VexStatus

CYCLONEDX_NINE = (
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
)
CYCLONEDX_STATES = (
    "resolved",
    "resolved_with_pedigree",
    "exploitable",
    "in_triage",
    "false_positive",
    "not_affected",
)
DOC = Path(__file__).resolve().parents[3] / "docs" / "vex.md"


def test_every_cyclonedx_justification_has_exactly_one_label() -> None:
    assert set(mapping.FROM_CYCLONEDX) == set(CYCLONEDX_NINE)
    assert set(mapping.FROM_CYCLONEDX.values()) == set(Justification)


def test_every_label_has_a_representative_that_maps_back_to_it() -> None:
    assert set(mapping.TO_CYCLONEDX) == set(Justification)
    for label, value in mapping.TO_CYCLONEDX.items():
        assert mapping.FROM_CYCLONEDX[value] is label
        assert mapping.from_cyclonedx(value) == (label, None)  # nothing extra to keep
        assert mapping.to_cyclonedx(label) == value


@pytest.mark.parametrize("value", CYCLONEDX_NINE)
def test_cyclonedx_value_survives_the_model(value: str) -> None:
    label, source = mapping.from_cyclonedx(value)
    assert mapping.to_cyclonedx(label, source) == value


def test_a_source_value_of_another_label_is_not_written() -> None:
    label = Justification.COMPONENT_NOT_PRESENT
    assert mapping.to_cyclonedx(label, "code_not_reachable") == "requires_dependency"
    assert mapping.to_cyclonedx(label, "not a cyclonedx value") == "requires_dependency"


@pytest.mark.parametrize("state", CYCLONEDX_STATES)
def test_cyclonedx_state_survives_the_model(state: str) -> None:
    status, source = mapping.status_from_cyclonedx(state)
    assert mapping.status_to_cyclonedx(status, source) == state


def test_states_cover_every_status_with_one_default() -> None:
    assert set(mapping.STATE_TO_STATUS) == set(CYCLONEDX_STATES)
    assert set(mapping.STATUS_TO_STATE) == set(VexStatus)
    for status, state in mapping.STATUS_TO_STATE.items():
        assert mapping.status_from_cyclonedx(state) == (status, None)
    assert mapping.status_from_cyclonedx("false_positive") == (
        VexStatus.NOT_AFFECTED,
        "false_positive",
    )
    assert mapping.status_to_cyclonedx(VexStatus.AFFECTED, "resolved") == "exploitable"


def test_unknown_values_are_refused() -> None:
    with pytest.raises(ValueError, match="justification"):
        mapping.from_cyclonedx("because")
    with pytest.raises(ValueError, match="state"):
        mapping.status_from_cyclonedx("affected")


def test_docs_table_is_the_code_table() -> None:
    """docs/vex.md shows the mapping; it must say what the code does."""
    text = DOC.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| `([a-z_]+)` \|", text, flags=re.MULTILINE))
    assert {k: rows[k] for k in CYCLONEDX_NINE} == {
        k: v.value for k, v in mapping.FROM_CYCLONEDX.items()
    }
    representatives = dict(
        re.findall(r"^\| `([a-z_]+)` \| `([a-z_]+)` \(representative\)", text, flags=re.MULTILINE)
    )
    assert representatives == {k.value: v for k, v in mapping.TO_CYCLONEDX.items()}
