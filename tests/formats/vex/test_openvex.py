"""OpenVEX 0.2.0: parse, render, round trip, and bad input refused naming the part."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from sakimori.errors import InvalidInput, MalformedDocument, UnsupportedFormat
from sakimori.formats.vex import _common, openvex
from sakimori.model.vex import Justification, VexDocument, VexProduct, VexStatement, VexStatus
from tests.formats.vex.conftest import VALID

SAMPLE = VALID / "wolfi-git.openvex.json"
CST = timezone(timedelta(hours=-6))
X86 = "pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64"


def test_sample_parses_into_the_model() -> None:
    document = openvex.parse(SAMPLE.read_bytes())
    assert document.id == "https://openvex.dev/docs/example/vex-9fb3463de1b57"
    assert document.author == "Wolfi J Inkinson"
    assert document.version == 2
    assert document.timestamp == datetime(2023, 1, 8, 18, 2, 3, 647787, tzinfo=CST)
    assert document.last_updated == datetime(2023, 1, 9, 9, tzinfo=CST)
    first, second, third, fourth, fifth = document.statements
    assert first.vulnerability == "CVE-2023-12345"
    assert first.aliases == ("GHSA-xxxx-yyyy-zzzz",)  # the name itself is not its own alias
    assert first.status is VexStatus.UNDER_INVESTIGATION
    assert [p.purl for p in first.products] == ["pkg:apk/wolfi/git@2.39.0-r1?arch=armv7", X86]
    assert second.products == (
        VexProduct(
            purl=X86,
            cpe="cpe:2.3:a:git-scm:git:2.39.0:*:*:*:*:*:*:*",
            subcomponents=(VexProduct(purl="pkg:apk/wolfi/curl@8.1.2-r0"),),
        ),
    )
    assert second.justification is Justification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH
    assert second.impact_statement == "git never calls the vulnerable curl function."
    assert second.supplier == "Wolfi"
    assert second.author == "Wolfi J Inkinson"
    assert second.timestamp == document.timestamp  # inherited from the document
    assert third.products == (
        VexProduct(
            purl="pkg:oci/gitserver@sha256%3A1234?repository_url=example.com",
            cpe="cpe:2.3:a:example:gitserver:1.0:*:*:*:*:*:*:*",
            ref="https://example.com/products/gitserver",
        ),
    )
    assert (third.status, third.action_statement) == (
        VexStatus.AFFECTED,
        "Upgrade to gitserver 1.1.",
    )
    assert fourth.vulnerability_ids == ("GHSA-abcd-efgh-ijkl", "CVE-2023-99999")
    assert fourth.products == (VexProduct(cpe="cpe:2.3:a:example:gitserver:1.1:*:*:*:*:*:*:*"),)
    assert (fifth.justification, fifth.impact_statement) == (
        None,
        "The affected transport is compiled out.",
    )


def test_round_trip_keeps_every_statement() -> None:
    document = openvex.parse(SAMPLE.read_bytes())
    written = openvex.render(document)
    assert openvex.parse(written) == document
    out = json.loads(written)
    assert out["@context"] == "https://openvex.dev/ns/v0.2.0"
    assert out["statements"][2]["products"][0] == {
        "@id": "https://example.com/products/gitserver",
        "identifiers": {
            "purl": "pkg:oci/gitserver@sha256%3A1234?repository_url=example.com",
            "cpe23": "cpe:2.3:a:example:gitserver:1.0:*:*:*:*:*:*:*",
        },
    }


def test_old_shape_strings_are_read() -> None:
    document = openvex.parse(
        orjson.dumps(
            {
                "@context": "https://openvex.dev/ns",
                "@id": "https://openvex.dev/docs/public/vex-1",
                "author": "a",
                "timestamp": "2023-01-08T18:02:03Z",
                "version": 1,
                "statements": [
                    {"vulnerability": "CVE-2023-1", "products": [X86], "status": "fixed"}
                ],
            }
        )
    )
    assert document.statements[0].products == (VexProduct(purl=X86),)


def test_required_parts_are_completed_with_placeholders_read_back_as_absent() -> None:
    app = VexProduct(purl="pkg:pypi/app@1.0")
    document = VexDocument(
        statements=(
            VexStatement("CVE-2025-1", (app,), VexStatus.NOT_AFFECTED),
            VexStatement("CVE-2025-2", (app,), VexStatus.AFFECTED),
        ),
        author="Sakimori",
        timestamp=datetime(2025, 1, 1, tzinfo=UTC),
    )
    out = json.loads(openvex.render(document))
    assert out["statements"][0]["impact_statement"] == _common.NO_IMPACT_STATEMENT
    assert out["statements"][1]["action_statement"] == _common.NO_ACTION_STATEMENT
    assert out["@id"].startswith("urn:uuid:")
    again = openvex.parse(openvex.render(document))
    assert [s.impact_statement for s in again.statements] == [None, None]
    assert [s.action_statement for s in again.statements] == [None, None]


def test_render_refuses_what_openvex_cannot_say() -> None:
    named = VexStatement("CVE-2025-1", (VexProduct(name="Acme appliance"),), VexStatus.FIXED)
    when = datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="Acme appliance"):
        openvex.render(VexDocument((named,), author="a", timestamp=when))
    with pytest.raises(InvalidInput, match="author"):
        openvex.render(VexDocument((), timestamp=when))
    with pytest.raises(InvalidInput, match="timestamp"):
        openvex.render(VexDocument((), author="a"))


def mutate(edit: dict[str, Any]) -> bytes:
    document = json.loads(SAMPLE.read_bytes())
    statement = document["statements"][1]
    for key, value in edit.items():
        if value is ...:
            statement.pop(key, None)
        else:
            statement[key] = value
    return orjson.dumps(document)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"status": "exploitable"}, r"statements\[1\].status 'exploitable'"),
        ({"status": ...}, r"statements\[1\].status is missing"),
        ({"justification": "code_not_reachable"}, r"statements\[1\].justification"),
        ({"vulnerability": ...}, r"statements\[1\].vulnerability is missing"),
        ({"vulnerability": {"name": " "}}, r"vulnerability.name is missing"),
        ({"vulnerability": {"id": "CVE-1"}}, r"vulnerability.name is missing"),
        ({"products": ...}, r"statements\[1\] names no product"),
        ({"products": []}, r"statements\[1\] names no product"),
        ({"products": [{"hashes": {"sha1": "00"}}]}, r"products\[0\] has neither @id"),
        ({"products": [{"@id": "pkg:"}]}, r"not a package URL"),
        ({"products": [{"@id": "cpe:2.3:a:x"}]}, r"not a CPE"),
        (
            {
                "products": [
                    {"@id": X86, "subcomponents": [{"@id": X86, "subcomponents": [{"@id": X86}]}]}
                ]
            },
            "cannot have subcomponents",
        ),
        ({"products": "pkg:npm/a@1"}, r"products must be an array"),
        ({"timestamp": "2023-13-45T00:00:00Z"}, r"statements\[1\].timestamp"),
        ({"timestamp": "last week"}, "RFC 3339"),
        ({"supplier": 7}, r"supplier must be a string"),
    ],
)
def test_bad_statements_are_refused_naming_the_part(edit: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedDocument, match=message):
        openvex.parse(mutate(edit))


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"{", MalformedDocument, "invalid JSON"),
        (b"[]", UnsupportedFormat, "not an OpenVEX"),
        (b'{"@context": "https://example.com/ns"}', UnsupportedFormat, "not an OpenVEX"),
        (b'{"@context": "https://openvex.dev/ns/v0.2.0"}', MalformedDocument, "statements"),
        (
            b'{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [], "version": 0}',
            MalformedDocument,
            "version must be a positive integer",
        ),
    ],
)
def test_bad_documents_are_refused(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        openvex.parse(data)
