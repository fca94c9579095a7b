"""A package as STIX 2.1 objects, built with the ``stix2`` library, marked with TLP 2.0.

Per package: a ``report`` (the package: title, summary, the objects below), one
``vulnerability`` per vulnerability covered, one ``course-of-action`` per mitigation (and one for
the guidance), one ``indicator`` per Sigma rule (``pattern_type: sigma``, the rule's YAML as the
pattern), and ``mitigates`` relationships from each course of action to each vulnerability. The
coordinator is an ``identity`` that creates them all.

Ids are derived (UUIDv5) from the package id and the object's role in it, so a revision yields
new *versions* of the same objects (same ``id``, a later ``modified``), which TAXII's versions
endpoint serves. A withdrawn package's report is ``revoked``.

Markings: the five TLP 2.0 marking definitions of the OASIS TLP 2.0 extension
(``extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d``), with their published ids; each
object carries the one of its package in ``object_marking_refs``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

import orjson
import stix2  # type: ignore[import-untyped]

from sakimori.packages.csaf import tracking_id
from sakimori.packages.model import Content, Tlp

TLP2_EXTENSION: Final = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
_TLP2_CREATED: Final = "2022-10-01T00:00:00.000Z"
TLP2_MARKING_IDS: Final[dict[Tlp, str]] = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
_NAMESPACE: Final = uuid.UUID("6f1c2b1e-5a57-4d0c-9a55-5a4b1d0e5e11")


def marking(tlp: Tlp) -> dict[str, Any]:
    """The TLP 2.0 marking definition of ``tlp``, as the extension publishes it."""
    made = stix2.v21.MarkingDefinition(
        id=TLP2_MARKING_IDS[tlp],
        created=_TLP2_CREATED,
        name=f"TLP:{tlp.value}",
        extensions={
            TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": tlp.value.lower()}
        },
    )
    return _plain(made)


def tlp_of(marking_refs: list[str]) -> Tlp | None:
    """The TLP 2.0 label among an object's marking references (the most restrictive)."""
    found = [tlp for tlp, ref in TLP2_MARKING_IDS.items() if ref in marking_refs]
    order = list(Tlp)
    return max(found, key=order.index) if found else None


def _id(kind: str, package_id: int, part: str) -> str:
    return f"{kind}--{uuid.uuid5(_NAMESPACE, f'package/{package_id}/{part}')}"


def identity() -> dict[str, Any]:
    made = stix2.v21.Identity(
        id=f"identity--{uuid.uuid5(_NAMESPACE, 'coordinator')}",
        created="2026-01-01T00:00:00.000Z",
        modified="2026-01-01T00:00:00.000Z",
        name="Sakimori national coordinator",
        identity_class="organization",
    )
    return _plain(made)


def objects(
    package_id: int,
    content: Content,
    *,
    created: datetime,
    modified: datetime,
    revoked: bool = False,
) -> list[dict[str, Any]]:
    """The STIX objects of one package revision (without the marking definition)."""
    author = identity()["id"]
    common: dict[str, Any] = {
        "created": created,
        "modified": modified,
        "created_by_ref": author,
        "object_marking_refs": [TLP2_MARKING_IDS[content.tlp]],
    }
    made: list[Any] = []
    vulnerabilities = []
    for vid in content.vulnerabilities:
        references = [{"source_name": "cve", "external_id": vid}] if vid.startswith("CVE-") else []
        vulnerabilities.append(
            stix2.v21.Vulnerability(
                id=_id("vulnerability", package_id, vid),
                name=vid,
                external_references=references or None,
                **common,
            )
        )
    courses = [
        stix2.v21.CourseOfAction(
            id=_id("course-of-action", package_id, f"mitigation/{n}"),
            name=f"{m.category.replace('_', ' ')}: {content.title}"[:250],
            description=m.details,
            **common,
        )
        for n, m in enumerate(content.mitigations)
    ]
    if content.guidance:
        courses.append(
            stix2.v21.CourseOfAction(
                id=_id("course-of-action", package_id, "guidance"),
                name=f"Guidance: {content.title}"[:250],
                description=content.guidance,
                **common,
            )
        )
    indicators = [
        stix2.v21.Indicator(
            id=_id("indicator", package_id, f"sigma/{n}"),
            name=rule.title,
            pattern_type="sigma",
            pattern=rule.sigma,
            valid_from=created,
            **common,
        )
        for n, rule in enumerate(content.detection_rules)
    ]
    relationships = [
        stix2.v21.Relationship(
            id=_id("relationship", package_id, f"{coa.id}/{v.id}"),
            relationship_type="mitigates",
            source_ref=coa.id,
            target_ref=v.id,
            **common,
        )
        for coa in courses
        for v in vulnerabilities
    ]
    made = [*vulnerabilities, *courses, *indicators, *relationships]
    report = stix2.v21.Report(
        id=_id("report", package_id, "report"),
        name=content.title,
        description=content.summary or None,
        published=modified,
        report_types=["vulnerability"],
        object_refs=[o.id for o in made] or [author],
        external_references=[{"source_name": "sakimori", "external_id": tracking_id(package_id)}],
        revoked=revoked,
        **common,
    )
    return [_plain(report), *(_plain(o) for o in made)]


def bundle(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A STIX bundle of ``items``, with the identity and the marking definitions they use."""
    refs = {ref for item in items for ref in item.get("object_marking_refs", [])}
    markings = [marking(tlp) for tlp, ref in TLP2_MARKING_IDS.items() if ref in refs]
    made = stix2.v21.Bundle(objects=[*markings, identity(), *items], allow_custom=True)
    return _plain(made)


def _plain(made: Any) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(made.serialize())
    return value


def check(item: Any) -> tuple[dict[str, Any] | None, str]:
    """``(object, "")`` for a valid STIX 2.1 object a collection may hold, else
    ``(None, why)``. Custom properties and objects are kept; TLP:RED is refused (it goes to
    named people, never to a shared collection)."""
    if not isinstance(item, dict):
        return None, "not a STIX object"
    if item.get("spec_version") != "2.1":
        return None, "only STIX 2.1 objects (spec_version 2.1) are accepted"
    try:
        parsed = stix2.parse(item, allow_custom=True, version="2.1")
    # stix2 raises many unrelated exception types (its own, ValueError, KeyError…).
    except Exception as exc:
        return None, f"not a valid STIX 2.1 object: {str(exc)[:300]}"
    if (
        tlp_of(list(item.get("object_marking_refs") or [])) is Tlp.RED
        or item.get("id") == (TLP2_MARKING_IDS[Tlp.RED])
    ):
        return None, "TLP:RED objects are not accepted in a shared collection"
    return _plain(parsed), ""
