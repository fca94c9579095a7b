"""CVE List V5 records (CVE JSON 5.x, https://github.com/CVEProject/cve-schema): bytes in,
:class:`CveRecord` out.

Required, and refused with :class:`MalformedDocument` when broken: ``dataType`` ``CVE_RECORD``,
``dataVersion`` 5.x, ``cveMetadata.cveId`` and ``state``, and the CNA container. Everything else
is optional: absent is fine, and a part that is present but unreadable (a metric without a
vector, a reference without a URL, an SSVC block with a value SSVC does not define) is left out
and named in ``CveRecord.notes`` rather than losing the whole record.

Read from every container (CNA and ADPs), each fact labelled with its container
(``cna:<shortName>`` / ``adp:<shortName>``): CVSS v2.0 / v3.0 / v3.1 / v4.0 vectors, CWE ids
(``problemTypes``; ``cweId``, or a ``CWE-n`` leading the description), references. From CISA's
ADP ("CISA ADP Vulnrichment", shortName ``CISA-ADP``): the ``ssvc`` and ``kev`` ``other``
metrics.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn, cast

import orjson

from sakimori.errors import InvalidInput, MalformedDocument
from sakimori.formats.archive import json_members
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json
from sakimori.model.cve import (
    CVSS_BLOCKS,
    CisaSsvc,
    CveKev,
    CveRecord,
    CveReference,
    CvssMetric,
    Exploitation,
    TechnicalImpact,
    Weakness,
    YesNo,
)

_HINT = "a CVE record follows the CVE JSON 5.x schema (CVEProject/cve-schema)"
_CVE_ID = re.compile(r"CVE-[0-9]{4}-[0-9]{4,19}")
_MEMBER = re.compile(r"(?:^|/)CVE-[0-9]{4}-[0-9]{4,19}\.json$")
_CWE = re.compile(r"CWE-([0-9]{1,6})(?![0-9])", re.IGNORECASE)
_CISA_ADP = "CISA-ADP"
_CISA_TITLE = "CISA ADP Vulnrichment"
_STATES = ("PUBLISHED", "REJECTED")
_SSVC_OPTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "exploitation": ("exploitation", ("none", "poc", "active")),
    "automatable": ("automatable", ("yes", "no")),
    "technical impact": ("technical_impact", ("partial", "total")),
}


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> CveRecord:
    """Parse one CVE record (JSON)."""
    return record_from_dict(load_json(data, limits))


def iter_zip(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Iterator[CveRecord]:
    """Every CVE record in a zip archive of a record set (``CVE-YYYY-NNNN.json`` members at any
    depth, as in the CVEProject/cvelistV5 and cisagov/vulnrichment repository archives); other
    members are skipped. A record that does not parse ends the iteration with its member name."""
    for name, content in json_members(data, limits):
        if not _MEMBER.search(name):
            continue
        try:
            yield record_from_dict(load_json(content, limits))
        except InvalidInput as exc:
            raise exc.located(name) from None


def record_from_dict(document: Any) -> CveRecord:
    """Build a :class:`CveRecord` from a decoded CVE record."""
    if not isinstance(document, dict):
        raise _malformed("the record must be a JSON object")
    if document.get("dataType") != "CVE_RECORD":
        raise _malformed(f"dataType is {document.get('dataType')!r}, not 'CVE_RECORD'")
    data_version = document.get("dataVersion")
    if not isinstance(data_version, str) or not data_version.startswith("5."):
        raise _malformed(f"dataVersion {data_version!r} is not a CVE JSON 5.x version")
    meta = document.get("cveMetadata")
    if not isinstance(meta, dict):
        raise _malformed("cveMetadata must be an object")
    cve_id = meta.get("cveId")
    if not isinstance(cve_id, str) or not _CVE_ID.fullmatch(cve_id):
        raise _malformed(f"cveMetadata.cveId {cve_id!r} is not a CVE id (CVE-YYYY-NNNN)")
    reader = _Reader(cve_id)
    state = meta.get("state")
    if state not in _STATES:
        reader.fail(f"cveMetadata.state {state!r} is not PUBLISHED or REJECTED")
    containers = document.get("containers")
    if not isinstance(containers, dict):
        reader.fail("containers must be an object")
    cna = containers.get("cna")
    if not isinstance(cna, dict):
        reader.fail("containers.cna must be an object")
    adps = containers.get("adp", [])
    if not isinstance(adps, list):
        reader.note("containers.adp is not a list")
        adps = []
    parts: list[tuple[str, str, Mapping[str, Any]]] = [
        ("containers.cna", reader.label(cna, "cna"), cna)
    ]
    for index, adp in enumerate(adps):
        if isinstance(adp, dict):
            parts.append((f"containers.adp[{index}]", reader.label(adp, "adp"), adp))
        else:
            reader.note(f"containers.adp[{index}] is not an object")
    for path, label, container in parts:
        reader.container(path, label, container)
    affected = cna.get("affected", [])
    if not isinstance(affected, list):
        reader.note("containers.cna.affected is not a list")
        affected = []
    return CveRecord(
        id=cve_id,
        state=cast(str, state),
        content_hash=_content_hash(document, cve_id),
        data_version=data_version,
        assigner=_optional_text(meta, "assignerShortName"),
        date_updated=_optional_text(meta, "dateUpdated") or None,
        date_published=_optional_text(meta, "datePublished") or None,
        title=_optional_text(cna, "title"),
        description=_english(cna.get("descriptions")),
        cvss=tuple(reader.cvss),
        weaknesses=tuple(reader.weaknesses),
        ssvc=reader.ssvc,
        kev=reader.kev,
        references=tuple(reader.references),
        affected=tuple(item for item in affected if isinstance(item, dict)),
        notes=tuple(reader.notes),
    )


class _Reader:
    """Collects the facts of every container, and notes about unreadable optional parts."""

    def __init__(self, cve_id: str) -> None:
        self.cve_id = cve_id
        self.cvss: list[CvssMetric] = []
        self.weaknesses: list[Weakness] = []
        self.references: list[CveReference] = []
        self.ssvc: CisaSsvc | None = None
        self.kev: CveKev | None = None
        self.notes: list[str] = []

    def fail(self, problem: str) -> NoReturn:
        raise _malformed(f"{self.cve_id}: {problem}")

    def note(self, problem: str) -> None:
        self.notes.append(f"{problem}; ignored")

    def label(self, container: Mapping[str, Any], kind: str) -> str:
        meta = container.get("providerMetadata")
        short = meta.get("shortName") if isinstance(meta, dict) else None
        return f"{kind}:{short}" if isinstance(short, str) and short else kind

    def container(self, path: str, label: str, container: Mapping[str, Any]) -> None:
        cisa = label == f"adp:{_CISA_ADP}" or container.get("title") == _CISA_TITLE
        for index, metric in enumerate(self._list(container, "metrics", path)):
            self.metric(f"{path}.metrics[{index}]", label, metric, cisa=cisa)
        for index, problem in enumerate(self._list(container, "problemTypes", path)):
            where = f"{path}.problemTypes[{index}]"
            if not isinstance(problem, dict):
                self.note(f"{where} is not an object")
                continue
            for position, item in enumerate(self._list(problem, "descriptions", where)):
                self.weakness(f"{where}.descriptions[{position}]", label, item)
        for index, item in enumerate(self._list(container, "references", path)):
            self.reference(f"{path}.references[{index}]", label, item)

    def _list(self, obj: Mapping[str, Any], key: str, path: str) -> list[Any]:
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.note(f"{path}.{key} is not a list")
            return []
        return value

    def metric(self, where: str, label: str, metric: object, *, cisa: bool) -> None:
        if not isinstance(metric, dict):
            self.note(f"{where} is not an object")
            return
        for block, version in CVSS_BLOCKS.items():
            if block in metric:
                self.cvss_block(f"{where}.{block}", label, version, metric[block])
        other = metric.get("other")
        if other is None:
            return
        if not isinstance(other, dict):
            self.note(f"{where}.other is not an object")
            return
        kind = other.get("type")
        if kind not in ("ssvc", "kev") or not cisa:
            return  # other producers' metrics ("Textual description of severity"…) are not used
        content = other.get("content")
        if not isinstance(content, dict):
            self.note(f"{where}.other.content is not an object")
        elif kind == "ssvc":
            self.ssvc = self.cisa_ssvc(f"{where}.other.content", content) or self.ssvc
        else:
            self.kev = self.cisa_kev(f"{where}.other.content", content) or self.kev

    def cvss_block(self, where: str, label: str, version: str, block: object) -> None:
        vector = block.get("vectorString") if isinstance(block, dict) else None
        if not isinstance(block, dict) or not isinstance(vector, str) or not vector.strip():
            self.note(f"{where} has no vectorString")
            return
        score = block.get("baseScore")
        number = (
            float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None
        )
        self.cvss.append(CvssMetric(version, vector.strip(), label, number))

    def weakness(self, where: str, label: str, item: object) -> None:
        if not isinstance(item, dict):
            self.note(f"{where} is not an object")
            return
        cwe_id = item.get("cweId")
        text = cwe_id if isinstance(cwe_id, str) else item.get("description")
        if not isinstance(text, str):
            return
        found = _CWE.match(text.strip())
        if found:
            self.weaknesses.append(Weakness(f"CWE-{int(found.group(1))}", label))

    def reference(self, where: str, label: str, item: object) -> None:
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(url, str) or not url:
            self.note(f"{where} has no url")
            return
        tags = item.get("tags", [])
        if not isinstance(tags, list):
            self.note(f"{where}.tags is not a list")
            tags = []
        name = item.get("name")
        self.references.append(
            CveReference(
                url=url,
                tags=tuple(t for t in tags if isinstance(t, str)),
                source=label,
                name=name if isinstance(name, str) else "",
            )
        )

    def cisa_ssvc(self, where: str, content: Mapping[str, Any]) -> CisaSsvc | None:
        options = content.get("options")
        if not isinstance(options, list):
            self.note(f"{where}.options is not a list")
            return None
        found: dict[str, str] = {}
        for option in options:
            if not isinstance(option, dict):
                continue
            for name, value in option.items():
                known = _SSVC_OPTIONS.get(str(name).strip().lower())
                if known is None:
                    continue  # other decision points (Mission Prevalence…) are not used here
                folded = value.strip().lower() if isinstance(value, str) else None
                if folded not in known[1]:
                    self.note(f"{where}: SSVC {name} {value!r} is not one of {known[1]}")
                    return None
                found[known[0]] = folded
        absent = [name for name, (attr, _) in _SSVC_OPTIONS.items() if attr not in found]
        if absent:
            self.note(f"{where}: SSVC block without {', '.join(absent)}")
            return None
        return CisaSsvc(
            exploitation=cast(Exploitation, found["exploitation"]),
            automatable=cast(YesNo, found["automatable"]),
            technical_impact=cast(TechnicalImpact, found["technical_impact"]),
            version=_optional_text(content, "version"),
            timestamp=_optional_text(content, "timestamp"),
            role=_optional_text(content, "role"),
        )

    def cisa_kev(self, where: str, content: Mapping[str, Any]) -> CveKev | None:
        added = content.get("dateAdded")
        if not isinstance(added, str) or not added:
            self.note(f"{where}: KEV block without dateAdded")
            return None
        return CveKev(date_added=added, reference=_optional_text(content, "reference"))


def _optional_text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _english(descriptions: object) -> str:
    if not isinstance(descriptions, list):
        return ""
    texts = [d for d in descriptions if isinstance(d, dict) and isinstance(d.get("value"), str)]
    for item in texts:
        lang = item.get("lang")
        if isinstance(lang, str) and lang.lower().startswith("en"):
            return cast(str, item["value"])
    return cast(str, texts[0]["value"]) if texts else ""


def _content_hash(document: Mapping[str, Any], cve_id: str) -> str:
    try:
        canonical = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise _malformed(f"{cve_id}: the record cannot be written back as JSON ({exc})") from None
    return hashlib.sha256(canonical).hexdigest()


def _malformed(problem: str) -> MalformedDocument:
    return MalformedDocument(f"CVE record: {problem}", hint=_HINT)


def sniff(data: bytes) -> bool:
    """True if ``data`` looks like a CVE List V5 record (``dataType`` CVE_RECORD, cveMetadata)."""
    ends = data[:8192] + data[-8192:]
    if b'"CVE_RECORD"' not in ends and b'"cveMetadata"' not in ends:
        return False
    try:
        document = load_json(data)
    except InvalidInput:
        return False
    return (
        isinstance(document, dict)
        and document.get("dataType") == "CVE_RECORD"
        and isinstance(document.get("cveMetadata"), dict)
    )
