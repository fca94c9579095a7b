"""MyJVN (JVN iPedia) HND XML: VULDEF 3.x details and the RSS 1.0 overview (``mod_sec`` 3.0).

``parse(bytes) -> list[JvnRecord]`` reads either document, recognised by its root element
(``VULDEF-Document`` or ``rdf:RDF`` with ``sec:identifier`` items). XML goes through
``formats/limits.parse_xml``: a DTD or an entity declaration is refused, never expanded. A
document MyJVN marks as an error (``status:Status retCd="1"``) is refused with its message;
MyJVN's documented answer with no hit (a ``Result`` root in ``http://jvndb.jvn.jp/myjvn/Results``
holding only a successful ``status:Status``) is no record, ``[]``. Everything is read before
anything is returned, so a broken document yields nothing.

Read (see ``../shared/data/jvn/FORMAT.md``): the JVNDB id; title and description in the
document's ``xml:lang``; CVE ids (VULDEF ``RelatedItem type="advisory"`` and RSS
``sec:references`` whose id is a CVE id); CVSS v2/v3 (v4) score, severity and vector; affected
products with their CPE 2.2 URI converted to a CPE 2.3 formatted string (``sakimori.cpe.name``),
and the affected-version free text; vendor advisories and other references; CWE ids;
registration, update and disclosure dates. Escaped HTML in descriptions is kept as JVN wrote it.

Elsewhere: storage (``store/jvn.py``: one row per JVNDB id, languages merged, CVE links that
put JVNDB ids among a CVE finding's aliases), ``intel load`` (``services/intel.py``) and MyJVN
API sync (``intel/myjvn_api.py``, ``services/jvn_sync.py``). Not here yet: the OKA JSON
generation (API 4.0, CSAF-shaped, ``cpeApplicability``) and HND's vendor/product dictionaries.
"""

from __future__ import annotations

import re
from typing import Final
from xml.etree.ElementTree import Element

from sakimori.cpe import name as cpe_name
from sakimori.errors import InvalidInput, MalformedDocument, UnsupportedFormat
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, parse_xml
from sakimori.model.jvn import JvnCvss, JvnProduct, JvnRecord, JvnReference

FORMAT: Final = "myjvn-hnd"

_VULDEF: Final = "{http://jvn.jp/vuldef/}"
_RSS: Final = "{http://purl.org/rss/1.0/}"
_RDF: Final = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_SEC: Final = "{http://jvn.jp/rss/mod_sec/3.0/}"
_DC: Final = "{http://purl.org/dc/elements/1.1/}"
_DCTERMS: Final = "{http://purl.org/dc/terms/}"
_STATUS: Final = "{http://jvndb.jvn.jp/myjvn/Status}Status"
_RESULT: Final = "{http://jvndb.jvn.jp/myjvn/Results}Result"
_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"

_JVNDB = re.compile(r"JVNDB-\d{4}-\d{6}")
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
_CWE = re.compile(r"CWE-\d+")


def sniff(data: bytes) -> bool:
    head = data[:4096]
    return b"VULDEF-Document" in head or (b"rdf:RDF" in head and b"jvn.jp/rss/mod_sec" in head)


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> list[JvnRecord]:
    root = parse_xml(data, limits)
    _check_status(root)
    language = (root.get(_LANG) or "ja").strip() or "ja"
    if root.tag == f"{_VULDEF}VULDEF-Document":
        return [_vulinfo(item, language) for item in root.findall(f"{_VULDEF}Vulinfo")]
    if root.tag == f"{_RDF}RDF":
        return [_item(item, language) for item in root.findall(f"{_RSS}item")]
    if root.tag == _RESULT and [child.tag for child in root] == [_STATUS]:
        return []  # MyJVN's "no hit" (retCd="0"; an error was refused above)
    raise UnsupportedFormat(f"not a MyJVN VULDEF or RSS document (root element {root.tag[:100]})")


def _check_status(root: Element) -> None:
    status = root.find(_STATUS)
    if status is not None and status.get("retCd", "0").strip() not in ("0", ""):
        code, message = status.get("errCd", ""), status.get("errMsg", "")
        raise MalformedDocument(f"MyJVN answered with an error: {code} {message}".strip()[:300])


def _text(element: Element | None) -> str:
    return " ".join((element.text or "").split()) if element is not None else ""


def _body(element: Element | None) -> str:
    """Text content with its line breaks kept (descriptions), trimmed."""
    return (element.text or "").strip() if element is not None else ""


def _required_id(text: str, where: str) -> str:
    if not _JVNDB.fullmatch(text):
        raise MalformedDocument(f"{where}: {text[:80]!r} is not a JVNDB-YYYY-NNNNNN id")
    return text


def _product(vendor: str, product: str, uri: str, versions: tuple[str, ...]) -> JvnProduct:
    cpe23: str | None = None
    if uri:
        try:
            cpe23 = cpe_name.bind_fs(cpe_name.parse_uri(uri))
        except InvalidInput:
            cpe23 = None
    return JvnProduct(vendor, product, uri or None, cpe23, versions)


def _score(text: str | None, where: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise MalformedDocument(f"{where}: CVSS score {text[:40]!r} is not a number") from None
    if not 0.0 <= value <= 10.0:
        raise MalformedDocument(f"{where}: CVSS score {value} is outside 0-10")
    return value


def _vulinfo(item: Element, language: str) -> JvnRecord:
    v = _VULDEF
    identifier = _required_id(_text(item.find(f"{v}VulinfoID")), "Vulinfo")
    data = item.find(f"{v}VulinfoData")
    if data is None:
        raise MalformedDocument(f"{identifier}: no VulinfoData")
    products = []
    notes = []
    for affected in data.iterfind(f"{v}Affected/{v}AffectedItem"):
        product = _product(
            _text(affected.find(f"{v}Name")),
            _text(affected.find(f"{v}ProductName")),
            _text(affected.find(f"{v}Cpe")),
            tuple(_text(n) for n in affected.findall(f"{v}VersionNumber") if _text(n)),
        )
        if product.cpe22 and product.cpe23 is None:
            notes.append(f"CPE {product.cpe22!r} is not a valid CPE 2.2 URI")
        products.append(product)
    cvss = tuple(
        JvnCvss(
            version=(node.get("version") or "").strip(),
            score=_score(_text(node.find(f"{v}Base")), identifier),
            severity=_text(node.find(f"{v}Severity")) or None,
            vector=_text(node.find(f"{v}Vector")) or None,
        )
        for node in data.iterfind(f"{v}Impact/{v}Cvss")
    )
    references = []
    for related in data.iterfind(f"{v}Related/{v}RelatedItem"):
        references.append(
            JvnReference(
                kind=(related.get("type") or "reference").strip(),
                source=_text(related.find(f"{v}Name")),
                id=_text(related.find(f"{v}VulinfoID")),
                url=_text(related.find(f"{v}URL")) or None,
                title=_text(related.find(f"{v}Title")) or None,
            )
        )
    cves = [r.id for r in references if r.kind == "advisory" and _CVE.fullmatch(r.id)]
    cwes = [r.id for r in references if r.kind == "cwe" and _CWE.fullmatch(r.id)]
    title = _text(data.find(f"{v}Title"))
    if not title:
        raise MalformedDocument(f"{identifier}: no Title")
    return JvnRecord(
        id=identifier,
        titles=((language, title),),
        descriptions=((language, _body(data.find(f"{v}VulinfoDescription/{v}Overview"))),),
        cve_ids=tuple(dict.fromkeys(cves)),
        cvss=cvss,
        products=tuple(products),
        references=tuple(references),
        cwe_ids=tuple(dict.fromkeys(cwes)),
        published=_text(data.find(f"{v}DateFirstPublished")) or None,
        modified=_text(data.find(f"{v}DateLastUpdated")) or None,
        disclosed=_text(data.find(f"{v}DatePublic")) or None,
        source="vuldef",
        notes=tuple(notes),
    )


def _item(item: Element, language: str) -> JvnRecord:
    identifier = _required_id(_text(item.find(f"{_SEC}identifier")), "RSS item")
    references = []
    for node in item.findall(f"{_SEC}references"):
        reference_id = (node.get("id") or "").strip()
        source = (node.get("source") or "").strip()
        kind = "cwe" if _CWE.fullmatch(reference_id) else "advisory" if source else "reference"
        if source == "関連文書":  # "related document": vendor pages and other material
            kind = "reference"
        references.append(
            JvnReference(kind, source, reference_id, _text(node) or None, node.get("title"))
        )
    products = []
    notes = []
    for node in item.findall(f"{_SEC}cpe"):
        product = _product(
            (node.get("vendor") or "").strip(), (node.get("product") or "").strip(), _text(node), ()
        )
        if product.cpe22 and product.cpe23 is None:
            notes.append(f"CPE {product.cpe22!r} is not a valid CPE 2.2 URI")
        products.append(product)
    cvss = tuple(
        JvnCvss(
            version=(node.get("version") or "").strip(),
            score=_score(node.get("score"), identifier),
            severity=(node.get("severity") or "").strip() or None,
            vector=(node.get("vector") or "").strip() or None,
        )
        for node in item.findall(f"{_SEC}cvss")
    )
    cves = [r.id for r in references if r.source in ("CVE", "NVD") and _CVE.fullmatch(r.id)]
    title = _text(item.find(f"{_RSS}title"))
    if not title:
        raise MalformedDocument(f"{identifier}: no title")
    return JvnRecord(
        id=identifier,
        titles=((language, title),),
        descriptions=((language, _body(item.find(f"{_RSS}description"))),),
        cve_ids=tuple(dict.fromkeys(cves)),
        cvss=cvss,
        products=tuple(products),
        references=tuple(references),
        cwe_ids=tuple(dict.fromkeys(r.id for r in references if r.kind == "cwe")),
        published=_text(item.find(f"{_DCTERMS}issued")) or None,
        modified=_text(item.find(f"{_DCTERMS}modified")) or _text(item.find(f"{_DC}date")) or None,
        source="rss",
        notes=tuple(notes),
    )
