"""Statements keep status, justification, product ids and vulnerability ids through every format:
CycloneDX → OpenVEX → CSAF → CycloneDX, and OpenVEX → CSAF → CycloneDX → OpenVEX. A CycloneDX
justification or state that CSAF and OpenVEX cannot say comes back as its label's representative
through their bytes, and as itself when the statement went through our model only."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from sakimori.formats import vex
from sakimori.formats.vex import csaf_vex, cyclonedx_vex, openvex
from sakimori.formats.vex import justification as mapping
from sakimori.model.vex import VexDocument, VexProduct
from tests.formats.vex.conftest import VALID, schema_errors, vex_profile_problems

CSAF = {"tlp": "GREEN", "publisher_namespace": "https://psirt.acme.example"}
#: Left out of the chain on purpose: OpenVEX cannot name a product known only by its name, and
#: CSAF has no field for a BOM-Link (it would come back as the product's name).
NOT_EXPRESSIBLE = {"CVE-2024-0001", "CVE-2024-0002"}


def ids(product: VexProduct) -> tuple[str | None, str | None]:
    return product.purl, product.cpe


def kept(document: VexDocument) -> set[tuple[Any, ...]]:
    """What must survive every format: per product, vulnerability ids, product ids (and those of
    its subcomponents), status and justification. Aliases are compared per vulnerability: CSAF
    and CycloneDX hold them once per vulnerability entry, so statements of one document about
    one vulnerability share them."""
    aliases: dict[str, set[str]] = {}
    for statement in document.statements:
        aliases.setdefault(statement.vulnerability, set()).update(statement.aliases)
    return {
        (
            statement.vulnerability,
            frozenset(aliases[statement.vulnerability]),
            ids(product),
            tuple(ids(sub) for sub in product.subcomponents),
            statement.status,
            statement.justification,
        )
        for statement in document.split()
        for product in statement.products
    }


def analyses(data: bytes) -> dict[str, dict[str, Any]]:
    return {entry["id"]: entry["analysis"] for entry in json.loads(data)["vulnerabilities"]}


def test_cyclonedx_openvex_csaf_cyclonedx(csaf_validator: Draft202012Validator) -> None:
    source = cyclonedx_vex.parse((VALID / "acme-1.6.cdx.json").read_bytes())
    start = VexDocument(
        statements=tuple(s for s in source.statements if s.vulnerability not in NOT_EXPRESSIBLE),
        id=source.id,
        author=source.author,
        timestamp=source.timestamp,
        version=source.version,
    )
    as_openvex = openvex.render(start)
    step1 = vex.parse(as_openvex)
    as_csaf = csaf_vex.render(step1, **CSAF)
    assert schema_errors(csaf_validator, json.loads(as_csaf)) == []
    assert vex_profile_problems(json.loads(as_csaf)) == []
    step2 = vex.parse(as_csaf)
    as_cyclonedx = cyclonedx_vex.render(step2)
    end = vex.parse(as_cyclonedx)
    assert len(kept(start)) == 14  # 13 statements, one about two products
    assert kept(step1) == kept(start)
    assert kept(step2) == kept(start)
    assert kept(end) == kept(start)

    original = analyses((VALID / "acme-1.6.cdx.json").read_bytes())
    through_bytes = analyses(as_cyclonedx)
    through_model = analyses(cyclonedx_vex.render(start))
    for vulnerability, analysis in through_bytes.items():
        first = original[vulnerability]
        assert through_model[vulnerability].get("justification") == first.get("justification")
        assert through_model[vulnerability]["state"] == first["state"]
        if "justification" in first:
            label = mapping.FROM_CYCLONEDX[first["justification"]]
            assert analysis["justification"] == mapping.TO_CYCLONEDX[label], vulnerability
        status = mapping.STATE_TO_STATUS[first["state"]]
        assert analysis["state"] == mapping.STATUS_TO_STATE[status], vulnerability
    # the values that only the model keeps
    assert through_bytes["CVE-2021-45046"]["justification"] == "code_not_reachable"
    assert through_model["CVE-2021-45046"]["justification"] == "requires_configuration"
    assert through_bytes["CVE-2021-45105"]["state"] == "resolved"
    assert through_model["CVE-2021-45105"]["state"] == "resolved_with_pedigree"


def test_openvex_csaf_cyclonedx_openvex(csaf_validator: Draft202012Validator) -> None:
    start = openvex.parse((VALID / "wolfi-git.openvex.json").read_bytes())
    as_csaf = csaf_vex.render(start, **CSAF)
    assert schema_errors(csaf_validator, json.loads(as_csaf)) == []
    assert vex_profile_problems(json.loads(as_csaf)) == []
    step1 = vex.parse(as_csaf)
    step2 = vex.parse(cyclonedx_vex.render(step1))
    end = vex.parse(openvex.render(step2))
    assert len(kept(start)) == 6
    assert kept(step1) == kept(start)
    assert kept(step2) == kept(start)
    assert kept(end) == kept(start)
    # texts survive too
    texts = {(s.vulnerability, s.impact_statement, s.action_statement) for s in start.statements}
    assert {
        (s.vulnerability, s.impact_statement, s.action_statement) for s in end.statements
    } == texts


def test_detect_names_each_format() -> None:
    assert vex.detect((VALID / "acme-1.6.cdx.json").read_bytes()) is vex.VexFormat.CYCLONEDX
    assert vex.detect((VALID / "product-abc-1.4.cdx.json").read_bytes()) is vex.VexFormat.CYCLONEDX
    assert vex.detect((VALID / "wolfi-git.openvex.json").read_bytes()) is vex.VexFormat.OPENVEX
    assert vex.detect((VALID / "relationships.csaf.json").read_bytes()) is vex.VexFormat.CSAF
