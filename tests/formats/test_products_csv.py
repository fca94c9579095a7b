"""Product lists as CSV (``formats/products_csv.py``): header variants, Excel's BOM and CRLF, CPE
2.2 URIs, quoting, ANY parts, the agreement of a cpe with the text columns, every refusal with
its line (and column), the limits, sniffing against every inventory fixture we hold, detection,
the example file against the real NVD records, and a Hypothesis property of the conversion."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sakimori.cpe.name import ANY, NA, parse, unquote
from sakimori.errors import InvalidInput, LimitExceeded, MalformedDocument
from sakimori.formats import products_csv
from sakimori.formats.detect import detect, parse_inventory
from sakimori.formats.limits import Limits
from sakimori.formats.products_csv import FORMAT, sniff
from sakimori.formats.products_csv import parse as parse_csv
from sakimori.model.inventory import Component
from tests.conftest import ROOT, require_data

EXAMPLE = ROOT / "examples" / "products.csv"
ASSETS = Path(__file__).parent / "assets"
FORTIOS = "cpe:2.3:o:fortinet:fortios:7.0.1:*:*:*:*:*:*:*"


def cpes(text: str | bytes) -> list[str | None]:
    data = text.encode() if isinstance(text, str) else text
    return [c.cpe for c in parse_csv(data).components]


def refused(text: str | bytes, limits: Limits | None = None) -> str:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(InvalidInput) as info:
        parse_csv(data) if limits is None else parse_csv(data, limits)
    return info.value.diagnostics()


# -- headers and rows -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "vendor,product,version",
        "Vendor,Product,Version",
        "VERSION,PRODUCT,VENDOR",
        " vendor , product ,version ",
        '"vendor","product","version"',
        "name,vendor,product,version,note",
        "cpe,vendor,product,version",
        "note,platform,edition,update,version,product,vendor,part,cpe,name",
    ],
)
def test_header_variants_read_the_same_row(header: str) -> None:
    names = [name.strip().strip('"').lower() for name in header.split(",")]
    values = {"vendor": "Fortinet", "product": "FortiOS", "version": "7.0.1", "part": "o"}
    row = ",".join(values.get(name, "") for name in names)
    (component,) = parse_csv(f"{header}\n{row}\n".encode()).components
    part = "o" if "part" in names else "*"
    assert component.cpe == f"cpe:2.3:{part}:fortinet:fortios:7.0.1:*:*:*:*:*:*:*"
    assert component.version == "7.0.1"
    assert component.ecosystem == "CPE"
    assert component.name == "Fortinet FortiOS"


def test_cpe_only_header() -> None:
    inventory = parse_csv(f"cpe\n{FORTIOS}\n".encode())
    assert inventory.format == FORMAT == "products-csv"
    assert inventory.components == (
        Component(name="fortinet fortios", version="7.0.1", ecosystem="CPE", cpe=FORTIOS),
    )
    assert inventory.skipped == ()


def test_bom_crlf_comments_blank_lines_and_excel_empty_rows() -> None:
    data = (
        b"\xef\xbb\xbf# exported from the asset register\r\n"
        b"\r\n"
        b"Name,Vendor,Product,Version,Note\r\n"
        b"  # a comment after spaces\r\n"
        b",,,,\r\n"
        b'FW,Fortinet,FortiOS,7.0.1,"branch, Osaka"\r\n'
        b"\r\n"
    )
    assert sniff(data)
    (component,) = parse_csv(data).components
    assert component == Component(
        name="FW",
        version="7.0.1",
        ecosystem="CPE",
        cpe="cpe:2.3:*:fortinet:fortios:7.0.1:*:*:*:*:*:*:*",
        note="branch, Osaka",
    )


def test_cr_and_lf_line_ends() -> None:
    for end in ("\r", "\n"):
        assert cpes(end.join(["cpe", FORTIOS, ""])) == [FORTIOS]


def test_line_numbers_count_comments_and_blank_lines() -> None:
    text = "# a list\n\ncpe\n# one\n\n" + FORTIOS + "\ncpe:2.3:o:fortinet\n"
    assert "line 7, column 1 (cpe)" in refused(text)


def test_uri_is_converted_to_the_formatted_string() -> None:
    assert cpes("cpe\ncpe:/o:fortinet:fortios:7.0.1\n") == [FORTIOS]
    assert cpes("cpe\ncpe:/a:qualitia:active%21_mail:6.60.05008561\n") == [
        "cpe:2.3:a:qualitia:active\\!_mail:6.60.05008561:*:*:*:*:*:*:*"
    ]
    assert cpes("cpe\ncpe:/a:microsoft:exchange_server:2019:cumulative_update_8\n") == [
        "cpe:2.3:a:microsoft:exchange_server:2019:cumulative_update_8:*:*:*:*:*:*"
    ]


def test_special_characters_are_quoted() -> None:
    text = (
        "part,vendor,product,version\n"
        "a,Qualitia,Active! mail,6.60.05008561\n"
        'a,"ACME, Inc.","Widget ""Pro""",1.0\n'
        "o,Palo Alto  Networks,PAN-OS,10.2.3-h1\n"
    )
    assert cpes(text) == [
        "cpe:2.3:a:qualitia:active\\!_mail:6.60.05008561:*:*:*:*:*:*:*",
        'cpe:2.3:a:acme\\,_inc.:widget_\\"pro\\":1.0:*:*:*:*:*:*:*',
        "cpe:2.3:o:palo_alto_networks:pan-os:10.2.3-h1:*:*:*:*:*:*:*",
    ]
    wfn = parse(cpes(text)[0] or "")
    assert unquote(wfn.product) == "active!_mail"


def test_non_ascii_display_name_is_kept() -> None:
    text = "name,part,vendor,product,version\n学内ウェブメール,a,Qualitia,Active! mail,6.60\n"
    (component,) = parse_csv(text.encode()).components
    assert component.name == "学内ウェブメール"
    # an ideographic space typed in a vendor is whitespace like any other
    (other,) = parse_csv("vendor,product,version\nPalo\u3000Alto,PAN-OS,1\n".encode()).components
    assert other.cpe == "cpe:2.3:*:palo_alto:pan-os:1:*:*:*:*:*:*:*"


@pytest.mark.parametrize(
    ("word", "part"),
    [
        ("a", "a"),
        ("Application", "a"),
        ("o", "o"),
        ("OS", "o"),
        ("operating system", "o"),
        ("Operating  System", "o"),
        ("h", "h"),
        ("hardware", "h"),
        ("", "*"),
        ("*", "*"),
    ],
)
def test_part_words(word: str, part: str) -> None:
    text = f"part,vendor,product,version\n{word},Cisco,IOS XE,17.9.3\n"
    assert cpes(text) == [f"cpe:2.3:{part}:cisco:ios_xe:17.9.3:*:*:*:*:*:*:*"]


def test_part_not_given_is_any() -> None:
    (cpe,) = cpes("vendor,product,version\nCisco,IOS XE,17.9.3\n")
    assert cpe is not None
    assert parse(cpe).part is ANY


def test_update_edition_platform() -> None:
    text = (
        "vendor,product,version,update,edition,platform\n"
        "Microsoft,Exchange Server,2019,Cumulative Update 8,,\n"
        "Acme,Router,2.1,,enterprise,x64\n"
    )
    assert cpes(text) == [
        "cpe:2.3:*:microsoft:exchange_server:2019:Cumulative_Update_8:*:*:*:*:*:*",
        "cpe:2.3:*:acme:router:2.1:*:enterprise:*:*:*:x64:*",
    ]


def test_unknown_and_not_applicable_versions() -> None:
    text = "vendor,product,version\nCisco,IOS XE,*\nSiemens,S7 PLC,-\n"
    first, second = parse_csv(text.encode()).components
    assert first.version is None
    assert parse(first.cpe or "").version is ANY
    assert second.version == "-"
    assert parse(second.cpe or "").version is NA
    only_cpe = parse_csv(b"cpe\ncpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*\n").components
    assert only_cpe[0].version is None


def test_cpe_and_columns_that_agree() -> None:
    text = (
        "cpe,part,vendor,product,version,update\n"
        f"{FORTIOS},OS,Fortinet,FortiOS,7.0.1,\n"
        "cpe:2.3:a:qualitia:active\\!_mail:6.6:*:*:*:*:*:*:*,,Qualitia,Active! Mail,,\n"
        "cpe:/a:microsoft:exchange_server:2019:cumulative_update_8,a,,,2019,Cumulative Update 8\n"
        "cpe:2.3:a:acme:thing:1.0:*:*:*:*:*:*:*,,,,,\n"
    )
    components = parse_csv(text.encode()).components
    assert [c.name for c in components] == [
        "Fortinet FortiOS",
        "Qualitia Active! Mail",
        "microsoft exchange_server",
        "acme thing",
    ]
    assert components[2].cpe == (
        "cpe:2.3:a:microsoft:exchange_server:2019:cumulative_update_8:*:*:*:*:*:*"
    )


@pytest.mark.parametrize(
    ("row", "column"),
    [
        (f"{FORTIOS},,Fortinet,FortiGate,7.0.1,", "4 (product)"),
        (f"{FORTIOS},,Palo Alto Networks,FortiOS,7.0.1,", "3 (vendor)"),
        (f"{FORTIOS},,Fortinet,FortiOS,7.0.2,", "5 (version)"),
        (f"{FORTIOS},,Fortinet,FortiOS,*,", "5 (version)"),
        (f"{FORTIOS},,,,-,", "5 (version)"),
        (f"{FORTIOS},,,,,h1", "6 (update)"),
        (f"{FORTIOS},a,,,,", "2 (part)"),
        ("cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*,,Fortinet,FortiOS,7.0.1,", "5 (version)"),
    ],
)
def test_cpe_and_columns_that_disagree_are_refused(row: str, column: str) -> None:
    message = refused(f"cpe,part,vendor,product,version,update\n{row}\n")
    assert f"line 2, column {column}" in message
    assert "the cpe says" in message


def test_duplicate_rows_are_kept_once_and_listed() -> None:
    text = (
        "cpe,vendor,product,version,part\n"
        f"{FORTIOS},,,,\n"
        "cpe:/o:fortinet:fortios:7.0.1,,,,\n"
        ",Fortinet,FortiOS,7.0.1,o\n"
        "cpe:2.3:o:Fortinet:FortiOS:7.0.1:*:*:*:*:*:*:*,,,,\n"
        f"{FORTIOS},,,,\n"
        ",Fortinet,FortiOS,7.0.1,\n"
    )
    inventory = parse_csv(text.encode())
    assert [c.cpe for c in inventory.components] == [
        FORTIOS,
        "cpe:2.3:*:fortinet:fortios:7.0.1:*:*:*:*:*:*:*",
    ]
    assert [entry.split(":")[0] for entry in inventory.skipped] == [
        "line 3",
        "line 4",
        "line 5",
        "line 6",
    ]
    assert all("already listed on line 2" in entry for entry in inventory.skipped)


# -- refusals ---------------------------------------------------------------------------------

HEADER = "name,vendor,product,version,cpe"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{HEADER}\nx,,,,cpe:2.3:o:fortinet:fortios\n", "line 2, column 5 (cpe)"),
        (f"{HEADER}\nx,,,,fortios 7.0.1\n", "line 2, column 5 (cpe)"),
        (f"{HEADER}\nx,,,,cpe:2.3:z:fortinet:fortios:1:*:*:*:*:*:*:*\n", "column 5 (cpe)"),
        (f"{HEADER}\nx,,,,cpe:/o:fortinet:fortios:7.0.1:a:b:c:d\n", "line 2, column 5 (cpe)"),
        (f"{HEADER}\n\nx,Fortinet,FortiOS,,\n", "line 3, column 4 (version): the version is"),
        (f"{HEADER}\nx,Fortinet,,7.0.1,\n", "line 2, column 3 (product): the product is"),
        (f"{HEADER}\nx,,FortiOS,7.0.1,\n", "line 2, column 2 (vendor): the vendor is"),
        (f"{HEADER}\nx,,,,\n", "line 2, column 2 (vendor)"),
        (f"{HEADER}\nx,*,FortiOS,7.0.1,\n", "line 2, column 2 (vendor)"),
        (f"{HEADER}\nx,Fortinet,-,7.0.1,\n", "line 2, column 3 (product)"),
        (f"{HEADER}\nx,Forti*,FortiOS,7.0.1,\n", "line 2, column 2 (vendor): 'Forti*' holds a"),
        (f"{HEADER}\nx,Fortinet,Forti?S,7.0.1,\n", "line 2, column 3 (product)"),
        (f"{HEADER}\nx,Fortinet,FortiOS,7.0.*,\n", "line 2, column 4 (version)"),
        (f"{HEADER}\nx,,,,cpe:2.3:o:*:fortios:7.0.1:*:*:*:*:*:*:*\n", "column 5 (cpe)"),
        (f"{HEADER}\nx,,,,cpe:2.3:o:fortinet:-:7.0.1:*:*:*:*:*:*:*\n", "column 5 (cpe)"),
        (f"{HEADER}\nx,,,,cpe:2.3:o:fortinet:forti*:7.0.1:*:*:*:*:*:*:*\n", "wildcard"),
        (f"{HEADER}\nx,,,,cpe:/o:fortinet:fortios:7.0.%02\n", "line 2, column 5 (cpe)"),
        (f"{HEADER}\nx,Fortinet,FortiOS,7.0.1\n", "line 2: 4 fields, but the header (line 1)"),
        (f"{HEADER}\nx,Fortinet,FortiOS,7.0.1,,\n", "line 2: 6 fields"),
        (f'{HEADER}\nx,Fortinet,"FortiOS,7.0.1,\n', "line 2: not a valid CSV line"),
        (f'{HEADER}\nx,Fortinet,"Forti"OS,7.0.1,\n', "line 2: not a valid CSV line"),
        (f"{HEADER}\nx\x00,Fortinet,FortiOS,7.0.1,\n", "line 2, column 1: a control character"),
        (f"{HEADER}\nx,Fortinet,フォーティ,7.0.1,\n", "line 2, column 3 (product)"),
        (f"{HEADER}\nx,Fortinet,FortiOS,7.0.1\x85,\n", "line 2, column 4: a control character"),
        ("vendor,product,version,part\nFortinet,FortiOS,7.0.1,firmware\n", "column 4 (part)"),
        ("vendor,product,version,colour\n", "line 1: column 4 has 'colour'"),
        ("vendor,product,version,\n", "line 1: column 4 has an empty name"),
        ("Vendor,product,version,VENDOR\n", "line 1: column 4 repeats 'vendor' (column 1)"),
        ("name,version,note\nx,1,\n", "line 1: the header has no product columns"),
        ("vendor,version\nFortinet,1\n", "vendor or product without the other"),
        ("vendor,product\nFortinet,FortiOS\n", "vendor and product but no version column"),
        ("# only a comment\n\n", "no header line"),
        ("", "no header line"),
    ],
)
def test_bad_input_is_refused_with_its_line(text: str, expected: str) -> None:
    message = refused(text)
    assert expected in message


def test_cpe_only_header_and_empty_cpe() -> None:
    assert "line 3, column 2 (cpe): the cpe is missing" in refused(f"name,cpe\na,{FORTIOS}\nb,\n")


def test_every_refusal_is_malformed_document_with_a_hint() -> None:
    with pytest.raises(MalformedDocument) as info:
        parse_csv(b"vendor,product,version\nFortinet,FortiOS,\n")
    assert info.value.hint
    assert info.value.where is None  # left for the caller to set to the file name


def test_not_utf8_names_the_line() -> None:
    data = b"vendor,product,version\nFortinet,FortiOS,7.0.1\n" + "富士通,x,1\n".encode("shift_jis")
    message = refused(data)
    assert "line 3: not UTF-8 text" in message
    assert "CSV UTF-8" in message


def test_one_bad_row_refuses_the_whole_file() -> None:
    rows = "".join(f"Acme,Product {n},1.{n}\n" for n in range(50))
    message = refused("vendor,product,version\n" + rows + "Acme,Broken,\n")
    assert "line 52, column 3 (version)" in message


def test_row_limit() -> None:
    text = "vendor,product,version\n,,\nAcme,A,1\nAcme,B,1\n# c\nAcme,C,1\n"
    assert len(parse_csv(text.encode(), Limits(max_components=3)).components) == 3
    with pytest.raises(LimitExceeded) as info:
        parse_csv(text.encode(), Limits(max_components=2))
    assert "line 6: more than 2 product rows" in info.value.diagnostics()


def test_duplicates_count_against_the_row_limit() -> None:
    text = "cpe\n" + f"{FORTIOS}\n" * 3
    with pytest.raises(LimitExceeded):
        parse_csv(text.encode(), Limits(max_components=2))


def test_byte_limit() -> None:
    data = f"cpe\n{FORTIOS}\n".encode()
    with pytest.raises(LimitExceeded):
        parse_csv(data, Limits(max_bytes=len(data) - 1))
    assert len(parse_csv(data, Limits(max_bytes=len(data))).components) == 1


# -- sniffing and detection -------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"cpe\n" + FORTIOS.encode(),
        b"\xef\xbb\xbf# list\r\n\r\nVendor,Product,Version\r\nFortinet,FortiOS,7.0.1\r\n",
        b"name,cpe,note\n",
        b"vendor,product\nFortinet,FortiOS\n",  # parse then says the version column is missing
        b"vendor,product,version\n" + b"Acme,Thing,1\n" * 2000,
    ],
)
def test_sniff_accepts(data: bytes) -> None:
    assert sniff(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"# cpe\n",
        b"name,version\nx,1\n",
        b"vendor,product,version,colour\n",
        b"vendor;product;version\nFortinet;FortiOS;7.0.1\n",
        b"vendor\tproduct\tversion\n",
        b"vendor,product,version\nFortinet,FortiOS\n",
        b'cpe\n"unterminated\n',
        b"requests==2.31.0\n",
        b'{"cpe": "cpe:2.3:o:fortinet:fortios:7.0.1:*:*:*:*:*:*:*"}',
        b"cpe,cpe\n",
        b"vendor,version\nFortinet,7\n",
        b"product,version,note\n",
    ],
)
def test_sniff_refuses(data: bytes) -> None:
    assert not sniff(data)


def _fixture_files() -> list[Path]:
    roots = [ASSETS / "lockfiles", ASSETS / "sbom", ASSETS / "vex", ROOT / "examples"]
    roots += [require_data("lockfiles"), require_data("sbom")]
    files = [p for root in roots for p in sorted(root.rglob("*")) if p.is_file()]
    return [p for p in files if p != EXAMPLE]


def test_sniff_is_false_on_every_other_inventory_fixture() -> None:
    files = _fixture_files()
    assert len(files) > 200  # the fixture trees are where this test thinks they are
    claimed = [str(p) for p in files if sniff(p.read_bytes())]
    assert claimed == []


def test_existing_fixtures_are_not_detected_as_products() -> None:
    for path in _fixture_files():
        try:
            name, _, _ = detect(path.read_bytes())
        except InvalidInput:
            continue
        assert name != FORMAT, path


def test_detect_picks_the_product_reader_for_the_example() -> None:
    data = EXAMPLE.read_bytes()
    assert detect(data)[0] == FORMAT
    inventory = parse_inventory(data)
    assert inventory.format == FORMAT
    assert inventory.skipped == ()
    assert [c.cpe for c in inventory.components] == [
        FORTIOS,
        "cpe:2.3:o:paloaltonetworks:pan-os:10.2.3:h1:*:*:*:*:*:*",
        "cpe:2.3:a:ivanti:connect_secure:22.7:R2.3:*:*:*:*:*:*",
        "cpe:2.3:a:citrix:netscaler_application_delivery_controller:13.1-49.13:*:*:*:-:*:*:*",
        "cpe:2.3:o:cisco:ios_xe:17.9.3:*:*:*:*:*:*:*",
        "cpe:2.3:a:atlassian:confluence_data_center:8.5.3:*:*:*:*:*:*:*",
        "cpe:2.3:a:microsoft:exchange_server:2019:Cumulative_Update_8:*:*:*:*:*:*",
        "cpe:2.3:a:vmware:vcenter_server:8.0:update1c:*:*:*:*:*:*",
        "cpe:2.3:a:qualitia:active\\!_mail:6.60.05008561:*:*:*:*:*:*:*",
        "cpe:2.3:o:fortinet:fortios:7.6.3:*:*:*:*:*:*:*",
    ]
    assert inventory.components[8].name == "学内ウェブメール"


def test_example_rows_are_vulnerable_per_the_real_nvd_records() -> None:
    """Each row's note lists exactly the KEV CVEs whose NVD record applies to it; the last row
    (the fixed version) has none."""
    from sakimori.cpe.applicability import ApplicabilityIndex, ProductSet
    from sakimori.cpe.nvd import record_from_dict

    nvd = require_data("nvd")
    records = [record_from_dict(json.loads(p.read_bytes())) for p in sorted(nvd.glob("20*/*.json"))]
    index = ApplicabilityIndex(records)
    components = parse_inventory(EXAMPLE.read_bytes()).components
    for component in components[:-1]:
        verdicts = index.evaluate(ProductSet.of([component.cpe or ""]))
        applying = sorted(v.record_id for v in verdicts if v.applies)
        assert applying == sorted((component.note or "").split(", ")), component.name
    assert index.evaluate(ProductSet.of([components[-1].cpe or ""])) == []


# -- properties -------------------------------------------------------------------------------

_PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="*?")
_TEXT = st.text(_PRINTABLE, min_size=1, max_size=30).filter(lambda t: t.strip() not in {"", "-"})


def _csv_row(*values: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


@settings(max_examples=300, deadline=None)
@given(vendor=_TEXT, product=_TEXT, version=_TEXT)
def test_text_round_trips_through_the_cpe(vendor: str, product: str, version: str) -> None:
    data = ("part,vendor,product,version\n" + _csv_row("a", vendor, product, version)).encode()
    (component,) = parse_csv(data).components
    wfn = parse(component.cpe or "")
    assert unquote(wfn.vendor) == "_".join(vendor.split()).lower()
    assert unquote(wfn.product) == "_".join(product.split()).lower()
    assert unquote(wfn.version) == "_".join(version.split())
    assert component.version == unquote(wfn.version)
    assert component.name == f"{' '.join(vendor.split())} {' '.join(product.split())}"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_after_a_header_parse_or_are_refused(tail: bytes) -> None:
    data = b"cpe,vendor,product,version,part,update\n" + tail
    assert isinstance(sniff(data), bool)
    try:
        inventory = products_csv.parse(data)
    except InvalidInput:
        return
    for component in inventory.components:
        assert component.cpe is not None
        parse(component.cpe)
