"""CycloneDX's analysis vocabulary ↔ the CISA / OpenVEX / CSAF one, in both directions.

CycloneDX (``vulnerabilities[].analysis``) has nine justifications and six states; OpenVEX and
CSAF share CISA's five justification labels and four statuses. Into our model the mapping is
many-to-one; out of it, each label has one *representative* CycloneDX value. A CycloneDX value
that is not its label's representative is kept in the statement (``source_justification`` /
``source_status``) and written back unchanged, so CycloneDX → model → CycloneDX loses nothing.
Through OpenVEX or CSAF bytes only the label survives, and the representative comes back.
Each choice and its reasoning is in ``docs/vex.md``; the tables below are the only copy in code.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from sakimori.model.vex import Justification, VexStatus

J = Justification

#: CycloneDX ``analysis.justification`` (1.4–1.6) → CISA label.
FROM_CYCLONEDX: Final[Mapping[str, Justification]] = MappingProxyType(
    {
        "code_not_present": J.VULNERABLE_CODE_NOT_PRESENT,
        "code_not_reachable": J.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
        "requires_configuration": J.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
        "requires_dependency": J.COMPONENT_NOT_PRESENT,
        "requires_environment": J.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY,
        "protected_by_compiler": J.INLINE_MITIGATIONS_ALREADY_EXIST,
        "protected_at_runtime": J.INLINE_MITIGATIONS_ALREADY_EXIST,
        "protected_at_perimeter": J.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY,
        "protected_by_mitigating_control": J.INLINE_MITIGATIONS_ALREADY_EXIST,
    }
)

#: CISA label → the CycloneDX value written for it (its representative).
TO_CYCLONEDX: Final[Mapping[Justification, str]] = MappingProxyType(
    {
        J.COMPONENT_NOT_PRESENT: "requires_dependency",
        J.VULNERABLE_CODE_NOT_PRESENT: "code_not_present",
        J.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH: "code_not_reachable",
        J.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY: "requires_environment",
        J.INLINE_MITIGATIONS_ALREADY_EXIST: "protected_at_runtime",
    }
)

#: CycloneDX ``analysis.state`` → status.
STATE_TO_STATUS: Final[Mapping[str, VexStatus]] = MappingProxyType(
    {
        "resolved": VexStatus.FIXED,
        "resolved_with_pedigree": VexStatus.FIXED,
        "exploitable": VexStatus.AFFECTED,
        "in_triage": VexStatus.UNDER_INVESTIGATION,
        "false_positive": VexStatus.NOT_AFFECTED,
        "not_affected": VexStatus.NOT_AFFECTED,
    }
)

#: Status → the CycloneDX state written for it.
STATUS_TO_STATE: Final[Mapping[VexStatus, str]] = MappingProxyType(
    {
        VexStatus.FIXED: "resolved",
        VexStatus.AFFECTED: "exploitable",
        VexStatus.UNDER_INVESTIGATION: "in_triage",
        VexStatus.NOT_AFFECTED: "not_affected",
    }
)


def from_cyclonedx(value: str) -> tuple[Justification, str | None]:
    """The label for a CycloneDX justification, and the value itself when it is not the label's
    representative (to keep in ``source_justification``). ``ValueError`` for an unknown value."""
    label = FROM_CYCLONEDX.get(value)
    if label is None:
        raise ValueError(f"unknown CycloneDX justification {value!r}")
    return label, (None if TO_CYCLONEDX[label] == value else value)


def to_cyclonedx(label: Justification, source: str | None = None) -> str:
    """The CycloneDX justification to write: ``source`` when it is a CycloneDX value for this
    label, else the label's representative."""
    if source is not None and FROM_CYCLONEDX.get(source) == label:
        return source
    return TO_CYCLONEDX[label]


def status_from_cyclonedx(state: str) -> tuple[VexStatus, str | None]:
    """The status for a CycloneDX state, and the state itself when it says more than the status
    (``resolved_with_pedigree``, ``false_positive``). ``ValueError`` for an unknown state."""
    status = STATE_TO_STATUS.get(state)
    if status is None:
        raise ValueError(f"unknown CycloneDX analysis state {state!r}")
    return status, (None if STATUS_TO_STATE[status] == state else state)


def status_to_cyclonedx(status: VexStatus, source: str | None = None) -> str:
    """The CycloneDX state to write: ``source`` when it is a CycloneDX state for this status,
    else the status's default state."""
    if source is not None and STATE_TO_STATUS.get(source) == status:
        return source
    return STATUS_TO_STATE[status]
