"""OSV records: the whole shared data set, JSON/YAML hash equality, validation, all.zip limits."""

from __future__ import annotations

import copy
import hashlib
import io
import struct
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from sakimori.errors import LimitExceeded, MalformedDocument
from sakimori.formats import osv
from sakimori.formats.limits import Limits
from sakimori.model.advisory import EventKind
from tests.conftest import require_data

RECORD: dict[str, Any] = {
    "schema_version": "1.6.0",
    "id": "PYSEC-0000-1",
    "modified": "2024-01-02T03:04:05Z",
    "published": "2024-01-01T00:00:00Z",
    "aliases": ["CVE-2024-0001", "GHSA-aaaa-bbbb-cccc"],
    "summary": "A test advisory",
    "details": "Details.",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "Example", "purl": "pkg:pypi/example"},
            "ranges": [
                {
                    "type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"fixed": "1.2.3"}],
                    "database_specific": {"x": 1},
                }
            ],
            "versions": ["1.0", "1.1"],
            "ecosystem_specific": {"imports": [{"path": "example"}]},
        }
    ],
    "references": [{"type": "WEB", "url": "https://example.org/advisory"}],
    "database_specific": {"source": "test", "score": 7.5},
    "x_unknown": {"kept": "in the hash"},
}


def _json(record: object) -> bytes:
    return orjson.dumps(record)


def _osv_files() -> list[Path]:
    root = require_data("osv")
    return sorted(p for p in root.rglob("*") if p.suffix in (".json", ".yaml"))


@pytest.mark.slow
def test_every_shared_osv_record_parses() -> None:
    files = _osv_files()
    assert len(files) == 8394
    by_ecosystem: dict[str, int] = {}
    for path in files:
        (advisory,) = osv.parse(path.read_bytes())
        assert advisory.id == path.stem
        assert len(advisory.content_hash) == 64
        for affected in advisory.affected:
            by_ecosystem[affected.ecosystem] = by_ecosystem.get(affected.ecosystem, 0) + 1
    assert {"PyPI", "Go", "crates.io", "npm", "Maven"} <= by_ecosystem.keys()


@pytest.mark.slow
def test_json_records_written_as_yaml_hash_the_same() -> None:
    json_files = [p for p in _osv_files() if p.suffix == ".json"]
    assert len(json_files) == 5733
    for path in json_files:
        data = path.read_bytes()
        as_yaml = yaml.dump(orjson.loads(data), Dumper=yaml.CSafeDumper, allow_unicode=True)
        assert isinstance(as_yaml, str)
        (from_json,) = osv.parse(data)
        (from_yaml,) = osv.parse(as_yaml.encode())
        assert from_yaml == from_json, path
        assert from_yaml.content_hash == from_json.content_hash


@pytest.mark.slow
def test_yaml_records_written_as_json_hash_the_same() -> None:
    # PyYAML's (C)BaseLoader reads every scalar as the string written, which is what the JSON form
    # of these records holds (they have only strings; timestamps are written unquoted).
    yaml_files = [p for p in _osv_files() if p.suffix == ".yaml"]
    assert len(yaml_files) == 2661
    for path in yaml_files:
        data = path.read_bytes()
        as_json = orjson.dumps(yaml.load(data, Loader=yaml.CBaseLoader))
        (from_yaml,) = osv.parse(data)
        (from_json,) = osv.parse(as_json)
        assert from_json == from_yaml, path
        assert from_json.content_hash == from_yaml.content_hash


def test_yaml_timestamps_are_kept_as_written() -> None:
    data = (
        b"id: PYSEC-0000-2\nmodified: 2021-04-28T17:08:00.12345Z\n"
        b"published: 2021-04-28T17:08:00Z\naffected: []\n"
    )
    (advisory,) = osv.parse(data)
    assert advisory.modified == "2021-04-28T17:08:00.12345Z"
    assert advisory.published == "2021-04-28T17:08:00Z"
    canonical = b'{"affected":[],"id":"PYSEC-0000-2","modified":"2021-04-28T17:08:00.12345Z",'
    canonical += b'"published":"2021-04-28T17:08:00Z"}'
    assert advisory.content_hash == hashlib.sha256(canonical).hexdigest()


def test_fields_are_read() -> None:
    (advisory,) = osv.parse(_json(RECORD))
    assert advisory.id == "PYSEC-0000-1"
    assert advisory.ids == ("PYSEC-0000-1", "CVE-2024-0001", "GHSA-aaaa-bbbb-cccc")
    assert advisory.severity[0].type == "CVSS_V3"
    assert advisory.references == ("https://example.org/advisory",)
    assert advisory.database_specific == {"source": "test", "score": 7.5}
    (affected,) = advisory.affected
    assert (affected.ecosystem, affected.name, affected.purl) == (
        "PyPI",
        "Example",
        RECORD["affected"][0]["package"]["purl"],
    )
    assert affected.versions == ("1.0", "1.1")
    (rng,) = affected.ranges
    assert [(e.kind, e.version) for e in rng.events] == [
        (EventKind.INTRODUCED, "0"),
        (EventKind.FIXED, "1.2.3"),
    ]
    expected = hashlib.sha256(orjson.dumps(RECORD, option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert advisory.content_hash == expected


def test_hash_covers_unknown_fields_and_ignores_key_order() -> None:
    (base,) = osv.parse(_json(RECORD))
    reordered = dict(reversed(list(RECORD.items())))
    assert osv.parse(_json(reordered))[0].content_hash == base.content_hash
    changed = copy.deepcopy(RECORD)
    changed["x_unknown"]["kept"] = "changed"
    assert osv.parse(_json(changed))[0].content_hash != base.content_hash
    assert osv.parse(b"  \n" + _json(RECORD))[0].content_hash == base.content_hash
    assert osv.parse(b"\xef\xbb\xbf" + _json(RECORD))[0] == base


def test_array_of_records() -> None:
    second = {**RECORD, "id": "PYSEC-0000-2"}
    assert [a.id for a in osv.parse(_json([RECORD, second]))] == ["PYSEC-0000-1", "PYSEC-0000-2"]
    assert osv.parse(b"[]") == []


def test_git_only_entry_without_package_is_skipped() -> None:
    record = copy.deepcopy(RECORD)
    git = {"ranges": [{"type": "GIT", "repo": "https://x", "events": [{"introduced": "abc"}]}]}
    record["affected"].append(git)
    (advisory,) = osv.parse(_json(record))
    assert len(advisory.affected) == 1
    assert advisory.content_hash != osv.parse(_json(RECORD))[0].content_hash


def _without(path: tuple[object, ...]) -> dict[str, Any]:
    record = copy.deepcopy(RECORD)
    target: Any = record
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return record


def _with(path: tuple[object, ...], value: object) -> dict[str, Any]:
    record = copy.deepcopy(RECORD)
    target: Any = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return record


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (_without(("id",)), "id is missing"),
        (_with(("id",), 5), "id must be a string"),
        (_without(("modified",)), "modified is missing"),
        (_with(("modified",), ""), "modified is empty"),
        (_with(("affected",), {"a": 1}), "affected must be a list"),
        (_with(("affected", 0), "PyPI"), "affected[0] must be an object"),
        (_without(("affected", 0, "package")), "affected[0].package is missing"),
        (_with(("affected", 0, "package"), "x"), "affected[0].package must be an object"),
        (_without(("affected", 0, "package", "name")), "affected[0].package.name is missing"),
        (_with(("affected", 0, "package", "ecosystem"), 1), "package.ecosystem must be a string"),
        (_without(("affected", 0, "ranges", 0, "type")), "affected[0].ranges[0].type is missing"),
        (_with(("affected", 0, "ranges", 0, "events"), []), "ranges[0].events is empty"),
        (_without(("affected", 0, "ranges", 0, "events")), "ranges[0].events is missing"),
        (
            _with(("affected", 0, "ranges", 0, "events", 0), {"introduced": "0", "fixed": "1"}),
            "events[0] must have exactly one of introduced, fixed, last_affected, limit (has 2)",
        ),
        (_with(("affected", 0, "ranges", 0, "events", 1), {"other": "1"}), "(has 0)"),
        (_with(("affected", 0, "ranges", 0, "events", 1), {"fixed": 1.2}), "fixed must be a str"),
        (_with(("affected", 0, "versions"), ["1.0", 2]), "affected[0].versions[1] must be"),
        (_with(("affected", 0, "versions"), "1.0"), "affected[0].versions must be a list"),
        (_with(("severity",), [{"type": "CVSS_V3"}]), "severity[0].score is missing"),
        (_with(("aliases",), "CVE-1"), "aliases must be a list of strings"),
        (_with(("references",), [{"type": "WEB"}]), "references[0].url is missing"),
        (_with(("database_specific",), []), "database_specific must be an object"),
        (_with(("summary",), 3), "summary must be a string"),
    ],
)
def test_invalid_records_name_the_record_and_field(record: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedDocument) as caught:
        osv.parse(_json(record))
    message = caught.value.message
    assert field in message
    if "id" in record and isinstance(record["id"], str):
        assert "OSV record PYSEC-0000-1:" in message
    else:
        assert "OSV record (without id):" in message


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b'{"id": ', "invalid JSON"),
        (b"id: [unclosed\n", "invalid YAML"),
        (b"42", "not a number"),
        (b"- just\n- strings\n", "array item 0 must be a record"),
        (b"id: X\nmodified: !!binary aGVsbG8=\n", "modified must be a string"),
        (b"id: X\nmodified: '1'\n? [a]\n: b\n", "invalid YAML"),
        (b"{1: 2}", "invalid JSON"),
        (b"1: 2\nid: X\nmodified: Y\n", "cannot be written as JSON"),
        (b"id: X\nmodified: !!python/object:os.system {}\n", "invalid YAML"),
    ],
)
def test_malformed_documents(data: bytes, text: str) -> None:
    with pytest.raises(MalformedDocument, match=None) as caught:
        osv.parse(data)
    assert text in caught.value.message or text in str(caught.value)


def test_yaml_alias_bomb_is_refused() -> None:
    bomb = b'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    for level in "bcdefgh":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous},*{previous},*{previous},*{previous}]\n".encode()
    with pytest.raises(LimitExceeded):
        osv.parse(bomb, Limits(max_nodes=10_000))


def test_sniff() -> None:
    assert osv.sniff(_json(RECORD))
    assert osv.sniff(_json([RECORD]))
    assert osv.sniff(yaml.safe_dump(RECORD).encode())
    assert not osv.sniff(b"")
    assert not osv.sniff(b"\x00\x01garbage")
    assert not osv.sniff(b'{"bomFormat": "CycloneDX", "specVersion": "1.5"}')
    stix = {"type": "vulnerability", "id": "vulnerability--1", "modified": "2024-01-01"}
    assert not osv.sniff(_json(stix))
    assert not osv.sniff(b"CVE-2021-44228;0.9;1.0\n")


def test_sniff_real_files() -> None:
    root = require_data("osv")
    samples = [
        next((root / sub).rglob(f"*.{ext}"))
        for sub, ext in [("pypi", "yaml"), ("go", "json"), ("ghsa", "json"), ("rustsec", "json")]
    ]
    assert all(osv.sniff(path.read_bytes()) for path in samples)
    kev = require_data("kev", "known_exploited_vulnerabilities.json")
    assert not osv.sniff(kev.read_bytes())


# --------------------------------------------------------------------------------------------
# all.zip


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """The same bytes in every process (a fixed member time): test ids are built from them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, content in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = method
            archive.writestr(info, content)
    return buffer.getvalue()


def test_iter_zip_reads_json_members_and_skips_others() -> None:
    second = {**RECORD, "id": "PYSEC-0000-2"}
    data = _zip(
        {
            "PYSEC-0000-1.json": _json(RECORD),
            "PYSEC-0000-2.json": _json(second),
            "README.txt": b"not a record",
            "sub/": b"",
        }
    )
    assert [a.id for a in osv.iter_zip(data)] == ["PYSEC-0000-1", "PYSEC-0000-2"]
    stored = _zip({"PYSEC-0000-1.json": _json(RECORD)}, zipfile.ZIP_STORED)
    assert [a.id for a in osv.iter_zip(stored)] == ["PYSEC-0000-1"]


def test_iter_zip_of_real_records() -> None:
    root = require_data("osv", "rustsec", "crates")
    files = sorted(root.glob("*.json"))
    data = _zip({path.name: path.read_bytes() for path in files})
    advisories = list(osv.iter_zip(data))
    assert len(advisories) == len(files) == 1206
    assert advisories[0] == osv.parse(files[0].read_bytes())[0]


def test_invalid_record_in_zip_names_the_member() -> None:
    data = _zip({"GOOD.json": _json(RECORD), "BAD.json": _json(_without(("modified",)))})
    with pytest.raises(MalformedDocument) as caught:
        list(osv.iter_zip(data))
    assert caught.value.where == "BAD.json"
    assert "modified is missing" in caught.value.diagnostics()


@pytest.mark.parametrize(
    "data",
    [b"", b"not a zip at all", b"PK\x03\x04" + b"\x00" * 100, _zip({"A.json": b"{}"})[:-30]],
    ids=["empty", "not a zip", "a bare local header", "a truncated archive"],
)
def test_corrupt_archives(data: bytes) -> None:
    with pytest.raises(MalformedDocument):
        list(osv.iter_zip(data))


def test_damaged_member_data() -> None:
    data = bytearray(_zip({"A.json": _json(RECORD) * 20}))
    data[60:80] = b"\xff" * 20  # inside the deflate stream of the first member
    with pytest.raises(MalformedDocument):
        list(osv.iter_zip(bytes(data)))


def test_zip_bomb_is_refused_by_ratio() -> None:
    bomb = _zip({"BOMB.json": b"\x00" * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    with pytest.raises(LimitExceeded, match="zip bomb"):
        list(osv.iter_zip(bomb))


def test_member_and_archive_limits() -> None:
    padded = {**RECORD, "details": "padding " * 1000}
    data = _zip({f"R{i}.json": _json({**padded, "id": f"R{i}"}) for i in range(5)})
    with pytest.raises(LimitExceeded, match="members"):
        list(osv.iter_zip(data, Limits(max_archive_members=4)))
    with pytest.raises(LimitExceeded, match="declares"):
        list(osv.iter_zip(data, Limits(max_bytes=100)))
    with pytest.raises(LimitExceeded, match="uncompressed bytes"):
        list(osv.iter_zip(data, Limits(max_archive_bytes=len(data) + 1000)))
    with pytest.raises(LimitExceeded, match="archive is"):
        list(osv.iter_zip(data, Limits(max_archive_bytes=100)))


def test_header_that_understates_the_size_is_caught() -> None:
    content = _json(RECORD) * 50
    data = bytearray(_zip({"LIE.json": content}))
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)  # uncompressed size in the central directory
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, 100)
    with pytest.raises(MalformedDocument, match="corrupt"):
        list(osv.iter_zip(bytes(data)))


def test_unsupported_compression_and_encryption_are_refused() -> None:
    bz = _zip({"A.json": _json(RECORD)}, zipfile.ZIP_BZIP2)
    with pytest.raises(MalformedDocument, match="compression method 12"):
        list(osv.iter_zip(bz))
    data = bytearray(_zip({"A.json": _json(RECORD)}))
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1  # general purpose flag: encrypted
    with pytest.raises(MalformedDocument, match="encrypted"):
        list(osv.iter_zip(bytes(data)))
