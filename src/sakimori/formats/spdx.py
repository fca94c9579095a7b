"""SPDX 2.2/2.3 documents in JSON, YAML and XML; SPDX RDF/XML is recognised and refused.

API. One reader per serialisation, each a ``(format, sniff, parse)`` triple, all listed in
``READERS``:

- ``FORMAT_JSON = "spdx-json"``: ``sniff_json``, ``parse_json``;
- ``FORMAT_YAML = "spdx-yaml"``: ``sniff_yaml``, ``parse_yaml`` (same structure as the JSON);
- ``FORMAT_XML = "spdx-xml"``: ``sniff_xml``, ``parse_xml`` (the SPDX 2.3 XML serialisation,
  whose elements mirror the JSON keys: ``<Document>``, repeated ``<packages>``…);
- ``FORMAT_RDF = "spdx-rdf"``: ``sniff_rdf`` recognises SPDX RDF/XML and ``parse_rdf`` always
  raises ``UnsupportedFormat`` with a conversion hint. RDF/XML is a graph serialisation: the same
  package may be described in several places, nested inside another element, referenced with
  ``rdf:resource`` or written as a ``rdf:Description`` with an ``rdf:type``. Reading it correctly
  needs an RDF library (not a dependency), and an approximate reader could miss a package without
  saying so, which in a vulnerability scanner means a silent false negative. SPDX 3 dropped it.

Sniffers look at the first ``SNIFF_BYTES`` only. JSON and XML sniffers look for
``spdxVersion: SPDX-2.x`` or an ``SPDXID`` of the form ``SPDXRef-…`` (documents written with sorted
keys put ``files`` before ``spdxVersion``, but every element starts with its ``SPDXID``). YAML and
tag-value both write ``SPDXID: SPDXRef-…`` at the start of a line, so ``key_style`` decides between
them from the first other top-level key: YAML keys are camelCase (``spdxVersion``), tag-value tags
are PascalCase (``SPDXVersion``); the two sniffers can never both say yes.

What becomes a component: every package (``packages``); files and snippets are not components
and are counted in ``Inventory.skipped``. The package the document describes is a component too:
SPDX 2 has no separate slot for the product, and an SBOM of a library describes that library.
``package_component`` (shared with the tag-value and SPDX 3 readers) turns one package into a
``Component``: the purl (``externalRefs`` of type ``purl``) gives ecosystem and name through
``parse_purl``; ``versionInfo`` gives the version (else the purl's); ``cpe23Type`` (else
``cpe22Type``) gives the CPE; ``SPDXID`` becomes ``bom_ref``. ``null`` counts as absent; other
wrong types are ``MalformedDocument`` naming the path (YAML reads ``versionInfo: 1.10`` as the
number 1.1, so numbers are refused rather than turned back into text).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal
from xml.etree.ElementTree import Element

from sakimori.errors import InvalidInput, MalformedDocument, UnsupportedFormat
from sakimori.formats import limits as _limits
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, check_components
from sakimori.model.ecosystem import PackageRef, parse_purl
from sakimori.model.inventory import Component, Inventory

FORMAT_JSON: Final = "spdx-json"
FORMAT_YAML: Final = "spdx-yaml"
FORMAT_XML: Final = "spdx-xml"
FORMAT_RDF: Final = "spdx-rdf"

#: How much of the input the sniffers look at.
SNIFF_BYTES: Final = 16 * 1024

_JSON_MARKER = re.compile(rb'"spdxVersion"\s*:\s*"SPDX-2\.|"SPDXID"\s*:\s*"SPDXRef-')
_XML_MARKER = re.compile(rb"<spdxVersion>\s*SPDX-2\.|<SPDXID>\s*SPDXRef-")
_RDF_TERMS = b"http://spdx.org/rdf/terms"
_RDF_SYNTAX = re.compile(rb"<rdf:RDF\b|http://www\.w3\.org/1999/02/22-rdf-syntax-ns#")
_SPDX_EVIDENCE = re.compile(rb"SPDXRef-|SPDX-2\.")
_KEY_LINE = re.compile(rb"([\"']?)([A-Za-z][A-Za-z0-9_]*)\1[ \t]*:(?:[ \t]|$)")
_NO_VALUE: Final = frozenset({"NOASSERTION", "NONE"})


def head(data: bytes) -> bytes:
    """The part of ``data`` a sniffer looks at, without a UTF-8 BOM or leading white space."""
    return data[:SNIFF_BYTES].removeprefix(b"\xef\xbb\xbf").lstrip()


def key_style(start: bytes) -> Literal["yaml", "tag-value"] | None:
    """``yaml`` or ``tag-value`` from the first top-level key other than ``SPDXID``, else None."""
    for raw in start.splitlines():
        line = raw.rstrip()
        if not line or line.startswith((b"#", b"---", b"%")):
            continue
        match = _KEY_LINE.match(line)
        if match is None:
            return None
        key = match.group(2)
        if key != b"SPDXID":
            return "tag-value" if key[:1].isupper() else "yaml"
    return None


def sniff_json(data: bytes) -> bool:
    start = head(data)
    return (
        start.startswith(b"{")
        and _JSON_MARKER.search(start) is not None
        and b'"bomFormat"' not in start
    )


def sniff_yaml(data: bytes) -> bool:
    start = head(data)
    return key_style(start) == "yaml" and _SPDX_EVIDENCE.search(start) is not None


def sniff_xml(data: bytes) -> bool:
    start = head(data)
    return (
        start.startswith(b"<") and _RDF_TERMS not in start and _XML_MARKER.search(start) is not None
    )


def sniff_rdf(data: bytes) -> bool:
    start = head(data)
    return start.startswith(b"<") and _RDF_TERMS in start and _RDF_SYNTAX.search(start) is not None


# --- helpers shared by the SPDX readers ---------------------------------------------------------


def kind(value: object) -> str:
    """``a string``, ``a number``… for error messages about wrong types."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else f"a {type(value).__name__}"


def get_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    """``obj[key]`` stripped, ``None`` when absent, null or empty; other types are refused."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    raise MalformedDocument(f"{where}.{key} is {kind(value)}, expected a string")


def get_list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedDocument(f"{where}.{key} is {kind(value)}, expected an array")
    return value


def get_dict(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedDocument(f"{where} is {kind(value)}, expected an object")
    return value


def package_component(
    *,
    where: str,
    name: str | None,
    version: str | None,
    purls: Sequence[str],
    cpes: Sequence[str],
    spdx_id: str | None,
) -> Component:
    """One SPDX package as a component; ``purls`` and ``cpes`` in order of preference.

    The first purl with an OSV ecosystem wins; else the first valid purl, else the first one.
    """
    if version in _NO_VALUE:
        version = None
    best: tuple[str, PackageRef] | None = None
    problem: str | None = None
    for purl in purls:
        try:
            ref = parse_purl(purl)
        except InvalidInput as exc:
            problem = problem or f"purl not understood, so no ecosystem: {exc.message}"
            continue
        if best is None or (ref.ecosystem is not None and best[1].ecosystem is None):
            best = (purl, ref)
        if ref.ecosystem is not None:
            break
    chosen = purls[0] if purls else None
    ecosystem: str | None = None
    release: str | None = None
    note: str | None = problem or "no purl, so no ecosystem"
    if best is not None:
        chosen, ref = best
        if ref.ecosystem is None:
            note = f"purl type {ref.purl_type!r} has no OSV ecosystem"
        else:
            ecosystem, name, release, note = ref.ecosystem, ref.name, ref.release, None
        if version and ref.version and version != ref.version:
            mismatch = f"version {version!r} is used; the purl says {ref.version!r}"
            note = f"{note}; {mismatch}" if note else mismatch
        version = version or ref.version
    if name is None:
        raise MalformedDocument(f"{where} has no name")
    return Component(
        name=name,
        version=version,
        ecosystem=ecosystem,
        purl=chosen,
        cpe=cpes[0] if cpes else None,
        bom_ref=spdx_id,
        release=release,
        note=note,
    )


def ref_kind(reference_type: str) -> Literal["purl", "cpe23", "cpe22"] | None:
    """The kind of an external reference from its type (``purl``, ``…/references/purl``)."""
    last = re.split(r"[/#]", reference_type.strip())[-1]
    if last == "purl":
        return "purl"
    if last == "cpe23Type":
        return "cpe23"
    return "cpe22" if last == "cpe22Type" else None


def not_components(files: int, snippets: int) -> tuple[str, ...]:
    """One ``skipped`` line for the elements that are not components (files, snippets)."""
    parts = [
        f"{count} {what}{'' if count == 1 else 's'}"
        for what, count in (("file", files), ("snippet", snippets))
        if count
    ]
    if not parts:
        return ()
    return (f"{' and '.join(parts)} not read as components (only packages are matched)",)


# --- JSON, YAML and XML share one reader over the decoded document ------------------------------


def _package(obj: object, where: str) -> Component:
    pkg = get_dict(obj, where)
    refs: dict[str, list[str]] = {"purl": [], "cpe23": [], "cpe22": []}
    for j, item in enumerate(get_list(pkg, "externalRefs", where)):
        ref_where = f"{where}.externalRefs[{j}]"
        ref = get_dict(item, ref_where)
        ref_type = get_str(ref, "referenceType", ref_where)
        locator = get_str(ref, "referenceLocator", ref_where)
        found = ref_kind(ref_type) if ref_type else None
        if found is not None and locator is not None:
            refs[found].append(locator)
    return package_component(
        where=where,
        name=get_str(pkg, "name", where),
        version=get_str(pkg, "versionInfo", where),
        purls=refs["purl"],
        cpes=refs["cpe23"] + refs["cpe22"],
        spdx_id=get_str(pkg, "SPDXID", where),
    )


def _read(value: object, fmt: str, limits: Limits) -> Inventory:
    doc = get_dict(value, "$")
    version = get_str(doc, "spdxVersion", "$")
    if version is None:
        raise MalformedDocument("SPDX document without spdxVersion")
    if not version.startswith("SPDX-2."):
        raise UnsupportedFormat(
            f"{version} is not SPDX 2.x",
            hint="SPDX 3 is read from its JSON-LD serialisation",
        )
    packages = get_list(doc, "packages", "$")
    check_components(len(packages), limits)
    components = tuple(_package(item, f"$.packages[{i}]") for i, item in enumerate(packages))
    skipped = not_components(len(get_list(doc, "files", "$")), len(get_list(doc, "snippets", "$")))
    return Inventory(format=fmt, components=components, skipped=skipped)


def parse_json(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    """Read an SPDX 2.x JSON document."""
    return _read(_limits.load_json(data, limits), FORMAT_JSON, limits)


def parse_yaml(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    """Read an SPDX 2.x YAML document."""
    return _read(_limits.load_yaml(data, limits), FORMAT_YAML, limits)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _text(element: Element) -> str | None:
    return (element.text or "").strip() or None


_XML_PACKAGE_FIELDS: Final = frozenset({"SPDXID", "name", "versionInfo"})
_XML_REF_FIELDS: Final = frozenset({"referenceCategory", "referenceType", "referenceLocator"})


def _xml_package(element: Element) -> dict[str, Any]:
    """The fields we read of one ``<packages>`` element, shaped as in the JSON serialisation."""
    pkg: dict[str, Any] = {"externalRefs": []}
    for child in element:
        tag = _local(child.tag)
        if tag in _XML_PACKAGE_FIELDS and tag not in pkg:
            pkg[tag] = _text(child)
        elif tag == "externalRefs":
            ref = {_local(c.tag): _text(c) for c in child if _local(c.tag) in _XML_REF_FIELDS}
            pkg["externalRefs"].append(ref)
    return pkg


def parse_xml(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    """Read an SPDX 2.3 XML document (root ``<Document>``, children named as the JSON keys)."""
    root = _limits.parse_xml(data, limits)
    doc: dict[str, Any] = {"packages": [], "files": [], "snippets": []}
    for child in root:
        tag = _local(child.tag)
        if tag == "spdxVersion":
            doc.setdefault(tag, _text(child))
        elif tag == "packages":
            doc["packages"].append(_xml_package(child))
            check_components(len(doc["packages"]), limits)
        elif tag in {"files", "snippets"}:
            doc[tag].append(None)
    return _read(doc, FORMAT_XML, limits)


def parse_rdf(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    """Refuse SPDX RDF/XML (see the module docstring for why)."""
    _limits.check_size(data, limits)
    raise UnsupportedFormat(
        "SPDX RDF/XML is not supported",
        hint=(
            "convert it to SPDX JSON, e.g. `pyspdxtools -i doc.spdx.rdf.xml -o doc.spdx.json` "
            "(spdx-tools) or `java -jar tools-java-jar-with-dependencies.jar Convert "
            "doc.spdx.rdf.xml doc.spdx.json` (SPDX tools-java)"
        ),
    )


#: ``(format, sniff, parse)`` for each serialisation this module recognises.
Reader = tuple[str, Callable[[bytes], bool], Callable[[bytes, Limits], Inventory]]
READERS: Final[tuple[Reader, ...]] = (
    (FORMAT_JSON, sniff_json, parse_json),
    (FORMAT_YAML, sniff_yaml, parse_yaml),
    (FORMAT_XML, sniff_xml, parse_xml),
    (FORMAT_RDF, sniff_rdf, parse_rdf),
)
