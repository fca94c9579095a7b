"""SPDX 2.x tag-value: the sample, the spdx-examples documents, and bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sakimori.errors import LimitExceeded, MalformedDocument, UnsupportedFormat
from sakimori.formats import spdx, spdx_tagvalue
from sakimori.formats.limits import Limits
from tests.conftest import require_data

ASSETS = Path(__file__).parent / "assets" / "sbom"
SAMPLE = ASSETS / "valid" / "packages-2.3.spdx"


def test_sample() -> None:
    inventory = spdx_tagvalue.parse(SAMPLE.read_bytes())
    assert inventory.format == spdx_tagvalue.FORMAT == "spdx-tag-value"
    assert [(c.bom_ref, c.ecosystem, c.name, c.version) for c in inventory.components] == [
        ("SPDXRef-acme", None, "acme-app", "1.0.0"),  # "PackageVersion: 9.9.9" is inside <text>
        ("SPDXRef-jackson", "Maven", "com.fasterxml.jackson.core:jackson-databind", "2.9.10"),
        ("SPDXRef-urllib3", "PyPI", "urllib3", "1.26.4"),
        ("SPDXRef-busybox", None, "busybox", "1.36.1"),
    ]
    jackson = inventory.components[1]
    assert jackson.cpe == "cpe:2.3:a:fasterxml:jackson-databind:2.9.10:*:*:*:*:*:*:*"
    assert inventory.skipped == ("1 file not read as components (only packages are matched)",)


def test_sniffer() -> None:
    data = SAMPLE.read_bytes()
    assert spdx_tagvalue.sniff(data)
    assert [name for name, sniff, _ in spdx.READERS if sniff(data)] == []
    assert spdx_tagvalue.sniff(b"\xef\xbb\xbf# comment\nSPDXVersion: SPDX-2.2\n")
    assert not spdx_tagvalue.sniff(b"Name: x\nVersion: 1\n")
    assert not spdx_tagvalue.sniff(b"SPDXID: SPDXRef-DOCUMENT\nspdxVersion: SPDX-2.3\n")
    ((fmt, sniff, parse),) = spdx_tagvalue.READERS
    assert (fmt, sniff, parse) == (spdx_tagvalue.FORMAT, spdx_tagvalue.sniff, spdx_tagvalue.parse)


def test_crlf_line_ends_and_text_on_one_line() -> None:
    data = (
        b"SPDXVersion: SPDX-2.2\r\nSPDXID: SPDXRef-DOCUMENT\r\n"
        b"PackageName: left-pad\r\nPackageComment: <text>one line</text>\r\n"
        b"ExternalRef: PACKAGE-MANAGER purl pkg:npm/left-pad@1.3.0\r\n"
    )
    (component,) = spdx_tagvalue.parse(data).components
    assert (component.ecosystem, component.name, component.version) == ("npm", "left-pad", "1.3.0")


def test_spdx_examples_match_an_independent_count() -> None:
    root = require_data("sbom", "spdx", "spdx-examples")
    files = sorted(root.rglob("*.spdx"))
    assert len(files) == 12
    for path in files:
        text = path.read_text(encoding="utf-8")
        expected = len(re.findall(r"^PackageName:", text, flags=re.MULTILINE))
        inventory = spdx_tagvalue.parse(path.read_bytes())
        assert len(inventory.components) == expected, path
    lib = spdx_tagvalue.parse((root / "software/example6/spdx2.2/example6-lib.spdx").read_bytes())
    assert [(c.bom_ref, c.version) for c in lib.components][:2] == [
        ("SPDXRef-Package-godist", "1.15.4"),
        ("SPDXRef-Package-go-compiler", "1.15.4"),
    ]
    names = {c.name for c in lib.components}
    assert names == {"go-1.15", "go", "go.fmt", "go.reflect", "go.strconv"}


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ((ASSETS / "invalid" / "unclosed-text.spdx").read_bytes(), MalformedDocument, "line 8"),
        (
            (ASSETS / "invalid" / "ref-outside-package.spdx").read_bytes(),
            MalformedDocument,
            "line 4: ExternalRef outside a package",
        ),
        (b"SPDXVersion: SPDX-2.3\nthis is not a tag\n", MalformedDocument, "line 2"),
        (
            b"SPDXVersion: SPDX-2.3\nPackageName: a\nExternalRef: SECURITY cpe23Type\n",
            MalformedDocument,
            "line 3: ExternalRef is 'CATEGORY TYPE LOCATOR'",
        ),
        (b"PackageName: a\n", MalformedDocument, "without SPDXVersion"),
        (b"SPDXVersion: SPDX-2.3\nPackageName:\n", MalformedDocument, "line 2: package has no"),
        (b"SPDXVersion: SPDX-1.2\nPackageName: a\n", UnsupportedFormat, "SPDX-1.2 is not"),
        (b"SPDXVersion: SPDX-2.3\nPackageName: \xff\xfe\n", MalformedDocument, "not UTF-8"),
    ],
)
def test_bad_input(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        spdx_tagvalue.parse(data)
    assert message in str(caught.value)


def test_limits() -> None:
    data = SAMPLE.read_bytes()
    with pytest.raises(LimitExceeded, match="bytes"):
        spdx_tagvalue.parse(data, Limits(max_bytes=100))
    with pytest.raises(LimitExceeded, match="components"):
        spdx_tagvalue.parse(data, Limits(max_components=2))


def test_truncation_never_escapes_our_errors() -> None:
    data = SAMPLE.read_bytes()
    for cut in range(len(data)):
        try:
            inventory = spdx_tagvalue.parse(data[:cut])
        except (MalformedDocument, UnsupportedFormat):
            continue
        assert len(inventory.components) <= 4
