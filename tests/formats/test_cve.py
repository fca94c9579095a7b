"""CVE List V5 records: all 1,023 real records parse; the fields triage uses; optional parts
tolerated; broken required parts refused with our errors only; Hypothesis fuzzing."""

from __future__ import annotations

import contextlib
import copy
import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sakimori.errors import InvalidInput, LimitExceeded, MalformedDocument
from sakimori.formats import cve
from sakimori.formats.limits import Limits
from sakimori.model.cve import CisaSsvc, CveKev, CvssMetric, Weakness
from tests.conftest import require_data

SMALL = Limits(max_bytes=1 << 20)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def record_path(cve_id: str) -> Path:
    year, number = cve_id.split("-")[1:]
    folder = f"{number[:-3]}xxx" if len(number) > 3 else "0xxx"
    return require_data("cve", year, folder, f"{cve_id}.json")


@cache
def raw(cve_id: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(record_path(cve_id).read_bytes())
    return value


def parsed(document: Any) -> cve.CveRecord:
    return cve.parse(orjson.dumps(document))


@pytest.mark.slow
def test_every_real_record_parses() -> None:
    paths = sorted(require_data("cve").rglob("CVE-*.json"))
    assert len(paths) == 1023
    records = [cve.parse(path.read_bytes()) for path in paths]
    assert all(cve.sniff(path.read_bytes()) for path in paths[:50])
    assert {r.id for r in records} == {p.stem for p in paths}
    assert all(r.state == "PUBLISHED" and not r.rejected for r in records)
    assert all(r.ssvc is not None for r in records)  # every record here has CISA's SSVC block
    assert sum(r.kev is not None for r in records) == 222
    assert sum(bool(r.cvss) for r in records) == 897
    assert all(not r.notes for r in records)
    assert len({r.content_hash for r in records}) == 1023


def test_cisa_enriched_record() -> None:
    record = cve.parse(record_path("CVE-2019-1069").read_bytes())
    assert record.id == "CVE-2019-1069"
    assert record.assigner == "microsoft"
    assert record.date_updated == "2024-09-18T18:25:47.913Z"
    assert record.data_version == "5.1"
    vector = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"
    assert record.cvss == (CvssMetric("3.1", vector, "adp:CISA-ADP", 7.8),)
    assert record.cvss[0].type == "CVSS_V3"
    assert record.weaknesses == (Weakness("CWE-59", "adp:CISA-ADP"),)
    assert record.cwes == ("CWE-59",)
    assert record.ssvc == CisaSsvc(
        "active", "no", "total", "2.0.3", "2024-09-18T18:07:57.773732Z", "CISA Coordinator"
    )
    assert record.kev == CveKev(
        "2024-09-18",
        "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
    )
    assert record.references[0].url == "https://www.kb.cert.org/vuls/id/119704"
    assert record.references[0].source == "cna:microsoft"
    assert record.references[0].name == "VU#119704"
    assert "third-party-advisory" in record.references[0].tags
    assert record.affected[0]["vendor"] == "Microsoft"  # the CNA's list, raw


def test_cvss_versions_and_sources() -> None:
    vuldb = cve.parse(record_path("CVE-2024-0769").read_bytes())
    assert [(m.version, m.source) for m in vuldb.cvss] == [
        ("3.1", "cna:VulDB"),
        ("3.0", "cna:VulDB"),
        ("2.0", "cna:VulDB"),
    ]
    assert vuldb.cvss[2].vector == "AV:N/AC:L/Au:N/C:P/I:N/A:N"
    assert vuldb.cvss[2].type == "CVSS_V2"
    assert any("exploit" in r.tags for r in vuldb.references)
    suse = cve.parse(record_path("CVE-2023-22644").read_bytes())
    assert suse.cvss[0].version == "4.0"
    assert suse.cvss[0].type == "CVSS_V4"


def test_capitalised_ssvc_values_are_folded() -> None:
    record = cve.parse(record_path("CVE-2019-7256").read_bytes())
    assert record.ssvc is not None
    assert (record.ssvc.exploitation, record.ssvc.automatable) == ("active", "yes")
    assert record.ssvc.technical_impact == "total"


def test_cwe_from_description_when_no_cwe_id() -> None:
    record = cve.parse(record_path("CVE-2022-41716").read_bytes())
    assert record.cwes == ("CWE-158",)


def test_content_hash_is_canonical() -> None:
    data = record_path("CVE-2019-1069").read_bytes()
    document = orjson.loads(data)
    expected = hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert cve.parse(data).content_hash == expected
    reordered = orjson.dumps(dict(reversed(list(document.items()))), option=orjson.OPT_INDENT_2)
    assert cve.parse(reordered).content_hash == expected
    document["cveMetadata"]["dateUpdated"] = "2030-01-01T00:00:00Z"
    assert parsed(document).content_hash != expected


def _minimal() -> dict[str, Any]:
    return {
        "dataType": "CVE_RECORD",
        "dataVersion": "5.1",
        "cveMetadata": {"cveId": "CVE-2024-0001", "state": "PUBLISHED", "assignerOrgId": "x"},
        "containers": {"cna": {"providerMetadata": {"orgId": "x"}}},
    }


def test_minimal_record_and_rejected_record() -> None:
    record = parsed(_minimal())
    assert (record.id, record.cvss, record.ssvc, record.kev, record.references) == (
        "CVE-2024-0001",
        (),
        None,
        None,
        (),
    )
    assert record.date_updated is None
    rejected = _minimal()
    rejected["cveMetadata"]["state"] = "REJECTED"
    rejected["containers"]["cna"]["rejectedReasons"] = [{"lang": "en", "value": "dup"}]
    assert parsed(rejected).rejected


def _with_cisa(options: list[dict[str, Any]]) -> dict[str, Any]:
    document = _minimal()
    document["containers"]["adp"] = [
        {
            "title": "CISA ADP Vulnrichment",
            "providerMetadata": {"orgId": "y", "shortName": "CISA-ADP"},
            "metrics": [{"other": {"type": "ssvc", "content": {"options": options}}}],
        }
    ]
    return document


def test_unreadable_optional_parts_are_noted_not_fatal() -> None:
    document = _minimal()
    cna = document["containers"]["cna"]
    cna["metrics"] = [{"cvssV3_1": {"baseScore": 5}}, "oops", {"other": {"type": "kev"}}]
    cna["references"] = [{"name": "no url"}, {"url": "https://a.example", "tags": "patch"}]
    cna["problemTypes"] = [{"descriptions": [{"lang": "en", "description": "no cwe here"}]}, 3]
    document["containers"]["adp"] = {"not": "a list"}
    record = parsed(document)
    assert record.cvss == ()
    assert [r.url for r in record.references] == ["https://a.example"]
    assert record.references[0].tags == ()
    assert record.cwes == ()
    assert len(record.notes) == 6
    assert all(note.endswith("; ignored") for note in record.notes)


@pytest.mark.parametrize(
    "options",
    [
        [{"Exploitation": "maybe"}, {"Automatable": "no"}, {"Technical Impact": "total"}],
        [{"Exploitation": "none"}, {"Automatable": "no"}],
        [{"Exploitation": 1}, {"Automatable": "no"}, {"Technical Impact": "total"}],
    ],
)
def test_bad_ssvc_block_is_left_out(options: list[dict[str, Any]]) -> None:
    record = parsed(_with_cisa(options))
    assert record.ssvc is None
    assert record.notes


def test_ssvc_block_with_extra_points_and_only_from_cisa() -> None:
    options = [
        {"Exploitation": "PoC"},
        {"Automatable": "Yes"},
        {"Technical Impact": "Partial"},
        {"Mission Prevalence": "Minimal"},
    ]
    assert parsed(_with_cisa(options)).ssvc == CisaSsvc("poc", "yes", "partial")
    other = _with_cisa(options)
    other["containers"]["adp"][0].update(title="Someone else", providerMetadata={"shortName": "X"})
    assert parsed(other).ssvc is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(dataType="CVE_X"), "dataType"),
        (lambda d: d.update(dataVersion="4.0"), "dataVersion"),
        (lambda d: d.update(dataVersion=5.1), "dataVersion"),
        (lambda d: d.pop("cveMetadata"), "cveMetadata must be an object"),
        (lambda d: d["cveMetadata"].update(cveId="CVE-99"), "is not a CVE id"),
        (lambda d: d["cveMetadata"].update(cveId=2024), "is not a CVE id"),
        (lambda d: d["cveMetadata"].update(state="DRAFT"), "state 'DRAFT'"),
        (lambda d: d.update(containers=[]), "containers must be an object"),
        (lambda d: d["containers"].pop("cna"), "containers.cna must be an object"),
        (lambda d: d["containers"].update(cna="x"), "containers.cna must be an object"),
    ],
)
def test_broken_required_parts_are_refused(mutate: Any, message: str) -> None:
    document = copy.deepcopy(raw("CVE-2019-1069"))
    mutate(document)
    with pytest.raises(MalformedDocument, match=message):
        parsed(document)


def test_truncated_and_wrong_inputs() -> None:
    data = record_path("CVE-2019-1069").read_bytes()
    for cut in (1, 100, len(data) // 2, len(data) - 1):
        with pytest.raises(MalformedDocument):
            cve.parse(data[:cut])
    for bad in (b"", b"[]", b'"CVE_RECORD"', b"null", b"\xff"):
        with pytest.raises(MalformedDocument):
            cve.parse(bad)
        assert cve.sniff(bad) is False
    with pytest.raises(LimitExceeded):
        cve.parse(data, Limits(max_bytes=100))


def test_sniff() -> None:
    assert cve.sniff(record_path("CVE-2019-1069").read_bytes())
    assert not cve.sniff(b'{"dataType": "CVE_RECORD"}')
    assert not cve.sniff(b'{"cveMetadata": {}, "dataType": "OTHER"}')
    kev = require_data("kev", "known_exploited_vulnerabilities.json").read_bytes()
    assert not cve.sniff(kev)


# --- Hypothesis: whatever the bytes, only InvalidInput escapes ----------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)
SAMPLES = ("CVE-2019-1069", "CVE-2024-0769", "CVE-2023-22644", "CVE-2022-41716")


def _only_invalid_input(data: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        cve.parse(data, SMALL)
    assert isinstance(cve.sniff(data), bool)


@FUZZ
@given(data=st.binary(max_size=2048))
@example(data=b'{"dataType": "CVE_RECORD", "dataVersion": "5.0", "cveMetadata": []}')
def test_fuzz_random_bytes(data: bytes) -> None:
    _only_invalid_input(data)


@FUZZ
@given(data=st.data())
def test_fuzz_byte_mutations(data: st.DataObject) -> None:
    original = bytearray(record_path(data.draw(st.sampled_from(SAMPLES))).read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(original) - 1))
        original[position] = data.draw(st.integers(0, 255))
    _only_invalid_input(bytes(original))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@FUZZ
@given(data=st.data())
def test_fuzz_structure_mutations(data: st.DataObject) -> None:
    document = copy.deepcopy(raw(data.draw(st.sampled_from(SAMPLES))))
    for _ in range(data.draw(st.integers(1, 5))):
        paths = [p for p in _paths(document) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()):
            parent[path[-1]] = data.draw(json_values)
        else:
            del parent[path[-1]]
    _only_invalid_input(orjson.dumps(document))


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_a_repository_archive_yields_its_records_and_skips_the_rest() -> None:
    paths = sorted(require_data("cve", "2021").rglob("CVE-*.json"))[:25]
    members = {f"vulnrichment-develop/2021/{p.parent.name}/{p.name}": p.read_bytes() for p in paths}
    members["vulnrichment-develop/README.md"] = b"# not a record"
    members["vulnrichment-develop/.github/config.json"] = b'{"not": "a record"}'
    records = list(cve.iter_zip(_zip(members)))
    assert [r.id for r in records] == [p.stem for p in paths]


def test_a_broken_record_in_an_archive_names_its_member() -> None:
    good = sorted(require_data("cve", "2021").rglob("CVE-*.json"))[0]
    data = _zip(
        {good.name: good.read_bytes(), "x/2021/1xxx/CVE-2021-1000.json": b'{"dataType": 1}'}
    )
    with pytest.raises(MalformedDocument) as caught:
        list(cve.iter_zip(data))
    assert "x/2021/1xxx/CVE-2021-1000.json" in caught.value.diagnostics()


def test_an_archive_past_the_limits_is_refused() -> None:
    good = sorted(require_data("cve", "2021").rglob("CVE-*.json"))[0]
    data = _zip({good.name: good.read_bytes()})
    with pytest.raises(LimitExceeded):
        list(cve.iter_zip(data, Limits(max_archive_bytes=100)))
