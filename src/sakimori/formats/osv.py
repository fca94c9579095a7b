"""OSV advisories (https://ossf.github.io/osv-schema/): bytes in, :class:`Advisory` out, no I/O.

Two kinds of input are read:

* one record, as JSON or YAML (detected: a document whose first character is ``{`` or ``[`` is
  JSON, anything else is YAML), or a JSON array of records — :func:`parse`;
* OSV's per-ecosystem ``all.zip``, a flat zip of ``<ID>.json`` — :func:`iter_zip`, which refuses
  zip bombs before and while it decompresses.

What matching relies on is validated (id, modified, packages, ranges, events, versions), and the
fields kept are type-checked; a bad record raises :class:`MalformedDocument` naming the record id
and the field. Unknown fields are ignored but count towards ``content_hash``, the SHA-256 of the
record's canonical JSON (orjson, sorted keys, no spaces). YAML timestamps are kept as the text
written, so the same record read from YAML or from JSON has the same hash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

import orjson
import yaml

from sakimori.errors import InvalidInput, MalformedDocument
from sakimori.formats.archive import json_members
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, check_size, check_tree, load_json
from sakimori.model.advisory import (
    Advisory,
    AffectedPackage,
    Event,
    EventKind,
    Range,
    RangeType,
    Severity,
)

_HINT = "see https://ossf.github.io/osv-schema/ for the required fields"
_BOM = b"\xef\xbb\xbf"
_EVENT_KINDS = tuple(EventKind)
#: Bytes read from a zip member at a time; the running total is checked after every chunk.


class _YamlLoader(yaml.CSafeLoader):
    """libyaml's safe loader that keeps timestamps as the text written (``modified: 2021-…Z``).

    PyYAML would turn them into ``datetime`` objects, which neither hash like the JSON strings nor
    serialise back to the same text.
    """


def _timestamp_as_text(loader: _YamlLoader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode)  # only scalars resolve to the timestamp tag
    return str(loader.construct_scalar(node))


_YamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


# --------------------------------------------------------------------------------------------
# One record


def advisory_from_dict(record: dict[str, Any]) -> Advisory:
    """Validate one decoded OSV record and reduce it to an :class:`Advisory`.

    Raises :class:`MalformedDocument` naming the record id and the field when a part that
    matching relies on is missing or has the wrong type.
    """
    if not isinstance(record, dict):
        raise MalformedDocument(f"an OSV record is a JSON object, not {_kind(record)}", hint=_HINT)
    raw_id = record.get("id")
    rid = raw_id if isinstance(raw_id, str) and raw_id else "(without id)"
    check = _Checker(rid)
    advisory_id = check.text(record, "id")
    modified = check.text(record, "modified")
    affected = tuple(
        entry
        for index, item in enumerate(check.items(record, "affected"))
        if (entry := check.affected(item, f"affected[{index}]")) is not None
    )
    database_specific = record.get("database_specific")
    if database_specific is None:
        database_specific = {}
    elif not isinstance(database_specific, dict):
        check.fail("database_specific", f"must be an object, not {_kind(database_specific)}")
    return Advisory(
        id=advisory_id,
        modified=modified,
        content_hash=_content_hash(record, rid),
        published=check.optional_text(record, "published"),
        withdrawn=check.optional_text(record, "withdrawn"),
        aliases=check.strings(record, "aliases"),
        related=check.strings(record, "related"),
        summary=check.optional_text(record, "summary", allow_empty=True) or "",
        details=check.optional_text(record, "details", allow_empty=True) or "",
        severity=check.severities(record, "severity"),
        affected=affected,
        references=tuple(
            check.text(ref, "url", f"references[{index}].url")
            for index, ref in enumerate(check.items(record, "references"))
        ),
        database_specific=dict(database_specific),
    )


class _Checker:
    """Typed access to one record's fields; every failure names the record and the field."""

    def __init__(self, record_id: str) -> None:
        self.record_id = record_id

    def fail(self, path: str, problem: str) -> NoReturn:
        raise MalformedDocument(f"OSV record {self.record_id}: {path} {problem}", hint=_HINT)

    def text(self, obj: Mapping[str, Any], key: str, path: str = "") -> str:
        """A required, non-empty string."""
        value = self.optional_text(obj, key, path)
        if value is None:
            self.fail(path or key, "is missing")
        return value

    def optional_text(
        self, obj: Mapping[str, Any], key: str, path: str = "", *, allow_empty: bool = False
    ) -> str | None:
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            self.fail(path or key, f"must be a string, not {_kind(value)}")
        if value == "" and not allow_empty:
            self.fail(path or key, "is empty")
        return value

    def items(self, obj: Mapping[str, Any], key: str, path: str = "") -> list[Mapping[str, Any]]:
        """A list of objects; absent or null is an empty list."""
        path = path or key
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"must be a list, not {_kind(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                self.fail(f"{path}[{index}]", f"must be an object, not {_kind(item)}")
        return value

    def strings(self, obj: Mapping[str, Any], key: str, path: str = "") -> tuple[str, ...]:
        path = path or key
        value = obj.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail(path, f"must be a list of strings, not {_kind(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                self.fail(f"{path}[{index}]", f"must be a non-empty string, not {_kind(item)}")
        return tuple(value)

    def severities(self, obj: Mapping[str, Any], path: str) -> tuple[Severity, ...]:
        return tuple(
            Severity(
                type=self.text(item, "type", f"{path}[{index}].type"),
                score=self.text(item, "score", f"{path}[{index}].score"),
            )
            for index, item in enumerate(self.items(obj, "severity", path))
        )

    def affected(self, item: Mapping[str, Any], path: str) -> AffectedPackage | None:
        ranges = tuple(
            self.range(entry, f"{path}.ranges[{index}]")
            for index, entry in enumerate(self.items(item, "ranges", f"{path}.ranges"))
        )
        package = item.get("package")
        if package is None and ranges and all(r.type == RangeType.GIT for r in ranges):
            # The schema lets an entry with only GIT ranges omit the package (osv.dev's GIT
            # ecosystem). Nothing matches such an entry by package, so it is not kept; it still
            # counts towards the content hash.
            return None
        if package is None:
            self.fail(f"{path}.package", "is missing")
        if not isinstance(package, dict):
            self.fail(f"{path}.package", f"must be an object, not {_kind(package)}")
        return AffectedPackage(
            ecosystem=self.text(package, "ecosystem", f"{path}.package.ecosystem"),
            name=self.text(package, "name", f"{path}.package.name"),
            purl=self.optional_text(package, "purl", f"{path}.package.purl"),
            ranges=ranges,
            versions=self.strings(item, "versions", f"{path}.versions"),
            severity=self.severities(item, f"{path}.severity"),
        )

    def range(self, item: Mapping[str, Any], path: str) -> Range:
        range_type = self.text(item, "type", f"{path}.type")
        if item.get("events") is None:
            self.fail(f"{path}.events", "is missing")
        events = self.items(item, "events", f"{path}.events")
        if not events:
            self.fail(f"{path}.events", "is empty")
        return Range(
            type=range_type,
            events=tuple(
                self.event(event, f"{path}.events[{index}]") for index, event in enumerate(events)
            ),
            repo=self.optional_text(item, "repo", f"{path}.repo"),
        )

    def event(self, item: Mapping[str, Any], path: str) -> Event:
        kinds = [kind for kind in _EVENT_KINDS if kind.value in item]
        if len(kinds) != 1:
            self.fail(
                path,
                "must have exactly one of introduced, fixed, last_affected, limit"
                f" (has {len(kinds)})",
            )
        kind = kinds[0]
        version = item[kind.value]
        if not isinstance(version, str):
            self.fail(f"{path}.{kind.value}", f"must be a string, not {_kind(version)}")
        # An empty version is kept as written (GHSA-3vqj-43w4-2q58 has ``"fixed": ""``);
        # the matcher decides what it means.
        return Event(kind=kind, version=version)


def _content_hash(record: Mapping[str, Any], record_id: str) -> str:
    try:
        canonical = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        raise MalformedDocument(
            f"OSV record {record_id}: cannot be written as JSON ({exc})", hint=_HINT
        ) from None
    return hashlib.sha256(canonical).hexdigest()


def _kind(value: object) -> str:
    """How a JSON/YAML value is named in messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    names |= {int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


# --------------------------------------------------------------------------------------------
# Documents


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> list[Advisory]:
    """One OSV record as JSON or YAML, or a JSON (or YAML) array of records."""
    return _records(_load(data, limits))


def _records(value: Any) -> list[Advisory]:
    if isinstance(value, dict):
        return [advisory_from_dict(value)]
    if isinstance(value, list):
        advisories = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise MalformedDocument(
                    f"OSV array item {index} must be a record (object), not {_kind(item)}"
                )
            advisories.append(advisory_from_dict(item))
        return advisories
    raise MalformedDocument(
        f"an OSV document is a record (object) or an array of records, not {_kind(value)}",
        hint=_HINT,
    )


def _load(data: bytes, limits: Limits) -> Any:
    check_size(data, limits)
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    head = data.lstrip()[:1]
    if not head:
        raise MalformedDocument("the OSV document is empty")
    if head in (b"{", b"["):
        return load_json(data, limits)
    return _load_yaml(data, limits)


def _load_yaml(data: bytes, limits: Limits) -> Any:
    # Like formats.limits.load_yaml, but with the loader that keeps timestamps as text.
    try:
        value = yaml.load(data, Loader=_YamlLoader)  # noqa: S506 - a subclass of CSafeLoader
    except yaml.YAMLError as exc:
        raise MalformedDocument(f"invalid YAML: {' '.join(str(exc).split())}") from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise MalformedDocument(f"invalid YAML: {exc}") from None
    check_tree(value, limits)
    return value


_JSON_KEYS = re.compile(rb'"(id|modified)"\s*:')
_YAML_KEYS = re.compile(rb"^(id|modified):", re.MULTILINE)
_OSV_ONLY_KEYS = {"affected", "aliases", "schema_version", "withdrawn", "related", "details"}


def sniff(data: bytes) -> bool:
    """True if ``data`` looks like OSV JSON or YAML (one record or an array of records)."""
    value = _load_if_keyed(data)
    return value is not None and _shaped_like_osv(value)


def parse_if_osv(data: bytes, limits: Limits = DEFAULT_LIMITS) -> list[Advisory] | None:
    """``parse`` if ``data`` looks like OSV, else ``None``; decodes the document only once."""
    check_size(data, limits)
    value = _load_if_keyed(data, limits)
    if value is None or not _shaped_like_osv(value):
        return None
    return _records(value)


def _load_if_keyed(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    head = body.lstrip()[:1]
    keys = _JSON_KEYS if head in (b"{", b"[") else _YAML_KEYS
    if len(set(keys.findall(body, 0, 1 << 20))) < 2:
        return None
    try:
        return _load(body, limits)
    except InvalidInput:
        return None


def _shaped_like_osv(value: Any) -> bool:
    first = value[0] if isinstance(value, list) and value else value
    return (
        isinstance(first, dict)
        and isinstance(first.get("id"), str)
        and isinstance(first.get("modified"), str)
        and "type" not in first  # a STIX object also has id and modified, and always a type
        and bool(_OSV_ONLY_KEYS & first.keys())
    )


# --------------------------------------------------------------------------------------------
# all.zip


def iter_zip(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Iterator[Advisory]:
    """Advisories from OSV's per-ecosystem ``all.zip`` (a flat zip of ``<ID>.json``).

    Before anything is decompressed, every member's declared size and compression ratio, the
    member count and the total declared size are checked against ``limits``; while reading, the
    actual bytes are capped too, because the sizes in a zip header can lie. Members that are not
    ``.json`` files are skipped. A corrupt archive raises :class:`MalformedDocument`; a record that
    fails validation raises it too (with the member name as location), ending the iteration — the
    caller stores nothing from a feed that does not validate completely.
    """
    for name, content in json_members(data, limits):
        try:
            yield from _records(load_json(content, limits))
        except InvalidInput as exc:
            raise exc.located(name) from None
