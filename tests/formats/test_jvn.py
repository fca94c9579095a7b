"""MyJVN HND XML (VULDEF details, RSS overview) on every real example: all parse, JVNDB ids
link to CVE ids, Japanese text is kept as written, CPE 2.2 URIs are converted to CPE 2.3;
hostile or broken XML is refused with our errors, nothing half-read."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sakimori.errors import InvalidInput, MalformedDocument, UnsupportedFormat
from sakimori.formats import jvn
from sakimori.matching import aliases
from tests.conftest import require_data

EXAMPLES = ("jvn", "myjvn-np", "examples", "hnd")
DETAILS = [
    "getVulnDetailInfo_hnd_JVNDB-2017-009608.xml",
    "getVulnDetailInfo_hnd_JVNDB-2018-009328.xml",
    "getVulnDetailInfo_hnd_JVNDB-2021-002774.xml",
    "getVulnDetailInfo_hnd_JVNDB-2022-000097.xml",
]


def example(name: str) -> bytes:
    return require_data(*EXAMPLES, name).read_bytes()


def test_every_vulnerability_example_parses() -> None:
    """Every HND example holding vulnerabilities: the four detail answers, the detail feed
    (7 entries) and the overview list (2 entries); the other examples are not JVN records."""
    folder = require_data(*EXAMPLES)
    read: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.xml")):
        data = path.read_bytes()
        if path.name == "dataFeed_jvndb_rss_hnd.xml":
            continue  # not well-formed upstream: test_the_broken_upstream_feed_is_refused
        if jvn.sniff(data):
            read[path.name] = [r.id for r in jvn.parse(data)]
        else:
            with pytest.raises(UnsupportedFormat):
                jvn.parse(data)
    assert read == {
        **{name: [name.split("_")[-1].removesuffix(".xml")] for name in DETAILS},
        "dataFeed_jvndb_detail_hnd.xml": [
            "JVNDB-2025-000001",
            "JVNDB-2025-000002",
            "JVNDB-2025-000003",
            "JVNDB-2017-009608",
            "JVNDB-2018-009328",
            "JVNDB-2021-002774",
            "JVNDB-2022-000097",
        ],
        "getVulnOverviewList_hnd.xml": ["JVNDB-2025-002953", "JVNDB-2025-002884"],
    }


def test_a_detail_record() -> None:
    (record,) = jvn.parse(example("getVulnDetailInfo_hnd_JVNDB-2022-000097.xml"))
    assert record.title("ja") == "電子入札コアシステムにおける複数の脆弱性"
    assert record.title("en") is None
    description = record.description("ja")
    assert description is not None
    assert description.startswith("一般財団法人日本建設情報総合センターが提供する")
    assert "<li>クロスサイトスクリプティング (CWE-79) - CVE-2022-41993</li>" in description
    assert record.cve_ids == ("CVE-2022-41993", "CVE-2022-46287", "CVE-2022-46288")
    assert record.aliases == (*record.cve_ids, "JVN#96321933")
    (product,) = record.products
    assert product.vendor == "一般財団法人日本建設情報総合センター"
    assert product.cpe22 == "cpe:/a:jacic:electronic_bidding_core_system"
    assert product.cpe23 == "cpe:2.3:a:jacic:electronic_bidding_core_system:*:*:*:*:*:*:*:*"
    assert product.versions == ("v6 R4 およびそれ以前のバージョン",)
    assert [(c.version, c.score, c.severity) for c in record.cvss] == [
        ("2.0", 4.3, "Medium"),
        ("3.0", 6.1, "Medium"),
    ]
    assert record.cvss[1].vector == "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"
    (vendor,) = record.vendor_advisories
    assert vendor.source == "JACIC"
    assert vendor.url == "https://www.cals.jacic.or.jp/coreconso/pdf/coreconsoinfo20221215.pdf"
    assert record.cwe_ids == ("CWE-79", "CWE-20")
    assert (record.published, record.modified, record.disclosed) == (
        "2022-12-15T12:04:51+09:00",
        "2024-05-29T17:39:51+09:00",
        "2022-12-15T00:00:00+09:00",
    )


def test_records_link_to_cves_and_convert_every_cpe() -> None:
    records = jvn.parse(example("dataFeed_jvndb_detail_hnd.xml"))
    by_id = {r.id: r for r in records}
    assert by_id["JVNDB-2025-000002"].cve_ids == ("CVE-2025-0354", "CVE-2025-0355", "CVE-2025-0356")
    assert by_id["JVNDB-2018-009328"].cve_ids == ()  # JVN names no CVE for it
    products = [p for r in records for p in r.products]
    assert len(products) == 18
    assert all(p.cpe23 is not None and p.cpe23.startswith("cpe:2.3:") for p in products)
    assert all(not r.notes for r in records)
    hitachi = by_id["JVNDB-2018-009328"].vendor_advisories
    assert {v.id for v in hitachi} >= {"hitachi-sec-2018-133", "Article ID:100000477"}


def test_the_overview_list() -> None:
    first, second = jvn.parse(example("getVulnOverviewList_hnd.xml"))
    assert first.source == "rss"
    assert first.title("ja") == (
        "WordPress 用 Sunshine Photo Cart における"
        "信頼できないデータのデシリアライゼーションに関する脆弱性"
    )
    assert first.cve_ids == ("CVE-2025-31084",)
    assert [(c.version, c.score, c.severity) for c in first.cvss] == [("3.0", 9.8, "Critical")]
    assert second.cve_ids == ("CVE-2025-23120",)
    assert "JVNVU#99709964" in second.aliases
    # percent-encoded parentheses in the URI become quoted characters in CPE 2.3
    assert second.products[0].cpe23 == (
        r"cpe:2.3:a:rockwellautomation:industrial_data_center_\(idc\)_with_veeam:*:*:*:*:*:*:*:*"
    )


def test_japanese_and_english_readings_merge() -> None:
    (detail,) = jvn.parse(example("getVulnDetailInfo_hnd_JVNDB-2022-000097.xml"))
    english = example("getVulnDetailInfo_hnd_JVNDB-2022-000097.xml").replace(
        b'xml:lang="ja"', b'xml:lang="en"'
    )
    english = english.replace(
        "電子入札コアシステムにおける複数の脆弱性".encode(),
        b"Multiple vulnerabilities in Electronic Bidding Core System",
    )
    (translated,) = jvn.parse(english)
    merged = detail.merge(translated)
    assert merged.title("ja") == "電子入札コアシステムにおける複数の脆弱性"
    assert merged.title("en") == "Multiple vulnerabilities in Electronic Bidding Core System"
    with pytest.raises(ValueError, match="cannot merge"):
        detail.merge(jvn.parse(example("getVulnDetailInfo_hnd_JVNDB-2017-009608.xml"))[0])


def test_one_vulnerability_under_cve_jvndb_and_ghsa_ids() -> None:
    (record,) = jvn.parse(example("getVulnDetailInfo_hnd_JVNDB-2021-002774.xml"))
    groups = aliases.group(
        {
            record.id: record.aliases,
            "GHSA-xxxx-yyyy-zzzz": ["CVE-2021-36745"],
            "CVE-2021-36745": [],
            "JVNDB-2017-009608": ["CVE-2017-14937"],
        }
    )
    assert sorted(map(sorted, groups)) == [
        ["CVE-2021-36745", "GHSA-xxxx-yyyy-zzzz", "JVNDB-2021-002774"],
        ["JVNDB-2017-009608"],
    ]


def test_the_broken_upstream_feed_is_refused() -> None:
    data = example("dataFeed_jvndb_rss_hnd.xml")  # ``retCd= 0``: an unquoted attribute
    assert jvn.sniff(data)
    with pytest.raises(MalformedDocument, match="invalid XML: not well-formed"):
        jvn.parse(data)


VULDEF_HEAD = b'<VULDEF-Document xmlns="http://jvn.jp/vuldef/" xml:lang="ja">'


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?><!DOCTYPE VULDEF-Document [<!ENTITY a "aaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;">]>' + VULDEF_HEAD + b"<Vulinfo>&b;</Vulinfo>"
        b"</VULDEF-Document>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        + VULDEF_HEAD
        + b"<Vulinfo>&e;</Vulinfo></VULDEF-Document>",
        b'<!DOCTYPE VULDEF-Document SYSTEM "http://example.invalid/x.dtd">'
        + VULDEF_HEAD
        + b"</VULDEF-Document>",
    ],
)
def test_dtds_and_entities_are_refused_never_expanded(document: bytes) -> None:
    with pytest.raises(MalformedDocument, match="DTD or entity"):
        jvn.parse(document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            VULDEF_HEAD + b"<Vulinfo><VulinfoID>JVN-1</VulinfoID></Vulinfo></VULDEF-Document>",
            "is not a JVNDB",
        ),
        (
            VULDEF_HEAD
            + b"<Vulinfo><VulinfoID>JVNDB-2022-000097</VulinfoID></Vulinfo></VULDEF-Document>",
            "no VulinfoData",
        ),
        (
            VULDEF_HEAD + b"<Vulinfo><VulinfoID>JVNDB-2022-000097</VulinfoID><VulinfoData>"
            b"<Title>t</Title><Impact><Cvss version='3.0'><Base>11</Base></Cvss></Impact>"
            b"</VulinfoData></Vulinfo></VULDEF-Document>",
            "outside 0-10",
        ),
        (
            VULDEF_HEAD + b'<status:Status xmlns:status="http://jvndb.jvn.jp/myjvn/Status" '
            b'retCd="1" errCd="ERR01" errMsg="bad vulnId"/></VULDEF-Document>',
            "MyJVN answered with an error: ERR01 bad vulnId",
        ),
    ],
)
def test_broken_records_are_refused(document: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        jvn.parse(document)


def test_an_invalid_cpe_is_noted_not_fatal() -> None:
    document = (
        VULDEF_HEAD + b"<Vulinfo><VulinfoID>JVNDB-2022-000097</VulinfoID><VulinfoData>"
        b"<Title>t</Title><Affected><AffectedItem><Name>v</Name><ProductName>p</ProductName>"
        b"<Cpe version='2.2'>cpe:/x:bad</Cpe></AffectedItem></Affected>"
        b"</VulinfoData></Vulinfo></VULDEF-Document>"
    )
    (record,) = jvn.parse(document)
    assert record.products[0].cpe23 is None
    assert record.notes == ("CPE 'cpe:/x:bad' is not a valid CPE 2.2 URI",)


@given(st.data())
@settings(max_examples=80, deadline=None)
def test_mutated_documents_raise_only_our_errors(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from([*DETAILS, "getVulnOverviewList_hnd.xml"]))
    document = bytearray(example(name))
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(document) - 1))
        document[position] = data.draw(st.sampled_from(b"<>&\"'=/ax0\x00\xff"))
    with contextlib.suppress(InvalidInput):
        jvn.parse(bytes(document))
