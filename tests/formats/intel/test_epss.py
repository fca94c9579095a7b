"""FIRST EPSS CSV: both layouts, gzip, the whole shared data set, and bad rows by line number."""

from __future__ import annotations

import gzip
import zlib

import pytest

from sakimori.errors import LimitExceeded, MalformedDocument
from sakimori.formats import epss
from sakimori.formats.limits import Limits
from sakimori.model.intel import EpssScore
from tests.conftest import require_data

OFFICIAL = (
    b"#model_version:v2025.03.14,score_date:2025-03-15T12:55:00Z\n"
    b"cve,epss,percentile\n"
    b"CVE-1999-0001,0.01141,0.77813\n"
    b"CVE-2021-44228,0.94358,0.99957\n"
    b"CVE-2024-12345,0.0004,0.0\n"
)


def test_every_shared_epss_file_parses() -> None:
    files = sorted(require_data("epss", "EPSS_CVE_data").glob("CVE_*_EPSS.csv"))
    assert len(files) == 28
    total = 0
    for path in files:
        data = path.read_bytes()
        assert epss.sniff(data)
        parsed = epss.parse(data)
        assert parsed.model_version is None
        assert parsed.score_date is None
        year = path.name.split("_")[1]
        assert all(cve.startswith(f"CVE-{year}-") for cve in parsed.cve_ids)
        assert parsed.count == len(parsed.epss) == len(parsed.percentiles)
        total += parsed.count
    assert total == 360_142


def test_known_score_from_shared_data() -> None:
    path = require_data("epss", "EPSS_CVE_data", "CVE_2021_EPSS.csv")
    parsed = epss.parse(path.read_bytes())
    scores = {score.cve_id: score for score in parsed.scores()}
    log4shell = scores["CVE-2021-44228"]
    assert log4shell.epss > 0.9
    assert log4shell.percentile > 0.99
    # The same file, gzip-compressed and in FIRST's official layout, gives the same scores.
    official = b"#model_version:v2025.03.14,score_date:2026-08-15T00:00:00Z\ncve,epss,percentile\n"
    official += path.read_bytes().replace(b";", b",")
    again = epss.parse(gzip.compress(official))
    assert (again.cve_ids, again.epss, again.percentiles) == (
        parsed.cve_ids,
        parsed.epss,
        parsed.percentiles,
    )
    assert again.model_version == "v2025.03.14"


def test_official_gzip_form() -> None:
    data = gzip.compress(OFFICIAL)
    assert epss.sniff(data)
    parsed = epss.parse(data)
    assert parsed.model_version == "v2025.03.14"
    assert parsed.score_date == "2025-03-15T12:55:00Z"
    assert parsed.count == 3
    assert list(parsed.scores())[1] == EpssScore("CVE-2021-44228", 0.94358, 0.99957)
    assert list(parsed.rows())[2] == ("CVE-2024-12345", 0.0004, 0.0)


def test_official_form_uncompressed_with_crlf() -> None:
    parsed = epss.parse(OFFICIAL.replace(b"\n", b"\r\n"))
    assert parsed.count == 3
    assert parsed.score_date == "2025-03-15T12:55:00Z"


def test_header_without_comment_and_blank_lines() -> None:
    parsed = epss.parse(b"cve,epss,percentile\n\nCVE-2020-0001,0.5,0.5\n\n\nCVE-2020-0002,1,1\n")
    assert parsed.cve_ids == ("CVE-2020-0001", "CVE-2020-0002")
    assert parsed.model_version is None


def test_semicolon_form() -> None:
    parsed = epss.parse(b"CVE-2021-47987;0.001200000;0.021680000\nCVE-2021-0001;0;1\n")
    assert parsed.epss == (0.0012, 0.0)
    assert parsed.percentiles == (0.02168, 1.0)


def test_multi_member_gzip() -> None:
    data = gzip.compress(OFFICIAL[:80]) + gzip.compress(OFFICIAL[80:])
    assert epss.parse(data).count == 3


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (OFFICIAL + b"CVE-2024-0002,high,0.5\n", "EPSS line 6: epss 'high' is not a number"),
        (OFFICIAL + b"CVE-2024-0002,0.5,1.5\n", "EPSS line 6: percentile '1.5' is not between"),
        (OFFICIAL + b"CVE-2024-0002,-0.1,0.5\n", "line 6: epss '-0.1' is not between 0 and 1"),
        (OFFICIAL + b"CVE-2024-0002,nan,0.5\n", "line 6: epss 'nan' is not between 0 and 1"),
        (OFFICIAL + b"CVE-2024-0002,inf,0.5\n", "line 6: epss 'inf' is not between 0 and 1"),
        (OFFICIAL + b"GHSA-1234,0.1,0.5\n", "line 6: 'GHSA-1234' is not a CVE id"),
        (OFFICIAL + b"CVE-24-1,0.1,0.5\n", "line 6: 'CVE-24-1' is not a CVE id"),
        (OFFICIAL + b"CVE-2024-0002,0.1\n", "line 6: has 2 fields, expected 3"),
        (OFFICIAL + b"CVE-2024-0002,0.1,0.2,CVE-2024-0003\n0.3,0.4\n", "line 6: has 4 fields"),
        (b"CVE-2021-0001;0.1;0.2\nCVE-2021-0002;0.1\n", "EPSS line 2: has 2 fields"),
        (b"\n\nCVE-2021-0001;0.1;x\n", "EPSS line 3: percentile 'x'"),
        (b"", "no score rows"),
        (b"#model_version:v1\ncve,epss,percentile\n", "no score rows"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_rows_name_the_line(data: bytes, text: str) -> None:
    with pytest.raises(MalformedDocument) as caught:
        epss.parse(data)
    assert text in caught.value.message


def test_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"0" * (8 * 1024 * 1024))
    with pytest.raises(LimitExceeded, match="expands to more than"):
        epss.parse(bomb, Limits(max_bytes=1024 * 1024))


@pytest.mark.parametrize(
    "data",
    [
        gzip.compress(OFFICIAL)[:-12],  # truncated
        b"\x1f\x8b" + b"\x00" * 30,  # not deflate
        gzip.compress(OFFICIAL) + b"trailing",
    ],
)
def test_corrupt_gzip(data: bytes) -> None:
    with pytest.raises(MalformedDocument, match="gzip"):
        epss.parse(data)


def test_gunzip_tolerates_zero_padding() -> None:
    assert epss.gunzip(gzip.compress(b"abc") + b"\x00" * 10, 100) == b"abc"
    with pytest.raises(LimitExceeded):
        epss.gunzip(gzip.compress(b"a" * 101), 100)
    assert epss.gunzip(gzip.compress(b"a" * 100), 100) == b"a" * 100
    with pytest.raises(MalformedDocument):
        epss.gunzip(b"\x1f\x8b\x08\x00" + zlib.compress(b"x"), 100)


def test_sniff() -> None:
    assert epss.sniff(OFFICIAL)
    assert epss.sniff(b"cve,epss,percentile\nCVE-1999-0001,0.1,0.2\n")
    assert epss.sniff(b"CVE-1999-0001;0.011;0.778\n")
    assert not epss.sniff(b"")
    assert not epss.sniff(b"name,version\nrequests,2.0\n")
    assert not epss.sniff(b'{"id": "CVE-1999-0001"}')
    assert not epss.sniff(b"\x1f\x8bnot really gzip")
