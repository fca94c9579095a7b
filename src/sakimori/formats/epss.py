"""FIRST EPSS scores (https://www.first.org/epss/) as CSV: bytes in, :class:`EpssData` out.

Two layouts are read, plain or gzip-compressed (detected by the gzip magic bytes):

* FIRST's daily ``epss_scores-YYYY-MM-DD.csv.gz``: a comment line
  ``#model_version:v2025.03.14,score_date:2025-03-15T12:55:00Z``, the header
  ``cve,epss,percentile``, then comma-separated rows;
* the headerless ``CVE-ID;epss;percentile`` files of the per-year split of the full data set.

Every row needs a CVE id and two numbers in [0, 1]; a bad row raises :class:`MalformedDocument`
with its line number. A daily file holds about 300,000 rows, so rows are checked column-wise
(one ``split``, one ``map(float, …)`` per column, one regular expression over all ids); only when
that fast check fails is the input read line by line, to find and report the first bad line.
The scores are kept as columns too: building 300,000 frozen objects costs more than the parse.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

from sakimori.errors import LimitExceeded, MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, check_size, decode_text
from sakimori.model.intel import EpssScore

_GZIP_MAGIC = b"\x1f\x8b"
_HINT = "expected FIRST's EPSS CSV: cve,epss,percentile rows (or CVE;epss;percentile)"
_CVE_ID = re.compile(r"CVE-[0-9]{4}-[0-9]{4,}")
_CVE_IDS = re.compile(r"(?:CVE-[0-9]{4}-[0-9]{4,}\n)*")
_HEADERS = {"cve,epss,percentile", "cve;epss;percentile"}
_SNIFF_ROW = re.compile(r"CVE-[0-9]{4}-[0-9]{4,}[;,][0-9.eE+-]+[;,][0-9.eE+-]+")


@dataclass(frozen=True, slots=True)
class EpssData:
    """One EPSS file: its model version and score date (when it says) and the scores, by column.

    ``cve_ids[i]``, ``epss[i]`` and ``percentiles[i]`` are one row; :meth:`scores` yields them as
    :class:`EpssScore` objects and :meth:`rows` as plain tuples (for bulk inserts).
    """

    model_version: str | None
    score_date: str | None
    cve_ids: tuple[str, ...]
    epss: tuple[float, ...]
    percentiles: tuple[float, ...]

    @property
    def count(self) -> int:
        return len(self.cve_ids)

    def scores(self) -> Iterator[EpssScore]:
        return map(EpssScore, self.cve_ids, self.epss, self.percentiles)

    def rows(self) -> Iterator[tuple[str, float, float]]:
        return zip(self.cve_ids, self.epss, self.percentiles, strict=True)


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> EpssData:
    """Parse an EPSS CSV file in either layout, gzip-compressed or not."""
    check_size(data, limits)
    if data.startswith(_GZIP_MAGIC):
        data = gunzip(data, limits.max_bytes)
    text = decode_text(data)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    metadata: dict[str, str] = {}
    offset = 0
    line_number = 0
    # The preamble: blank lines, "#key:value,key:value" comments, then an optional header.
    while offset < len(text):
        end = text.find("\n", offset)
        end = len(text) if end < 0 else end
        line = text[offset:end].strip()
        if line.startswith("#"):
            metadata.update(_comment_fields(line))
        elif line and line.lower().replace(" ", "") not in _HEADERS:
            break
        offset = end + 1
        line_number += 1
    body = text[offset:]
    columns = _fast_columns(body) or _checked_columns(body, line_number)
    if not columns[0]:
        raise MalformedDocument("the EPSS file has no score rows", hint=_HINT)
    return EpssData(
        model_version=metadata.get("model_version"),
        score_date=metadata.get("score_date"),
        cve_ids=tuple(columns[0]),
        epss=tuple(columns[1]),
        percentiles=tuple(columns[2]),
    )


_Columns = tuple[list[str], list[float], list[float]]


def _fast_columns(body: str) -> _Columns | None:
    """The columns of a well-formed body, or None if anything is off (then the slow path runs)."""
    body = body.rstrip("\n")
    if not body:
        return None
    separator = ";" if ";" in body.partition("\n")[0] else ","
    fields = body.replace("\n", separator).split(separator)
    rows = len(fields) // 3
    ids = fields[0::3]
    # Every id matches CVE-…, and "CVE-" occurs exactly once per line and at each line's start,
    # so no line can have more or fewer than three fields (a misaligned field would be an id).
    if (
        len(fields) != 3 * rows
        or not body.startswith("CVE-")
        or body.count("CVE-") != rows
        or body.count("\nCVE-") != rows - 1
        or not _CVE_IDS.fullmatch("\n".join(ids) + "\n")
    ):
        return None
    try:
        epss = list(map(float, fields[1::3]))
        percentiles = list(map(float, fields[2::3]))
    except ValueError:
        return None
    if not (_in_unit_interval(epss) and _in_unit_interval(percentiles)):
        return None
    return ids, epss, percentiles


def _in_unit_interval(values: list[float]) -> bool:
    # min/max ignore NaN in some positions; a NaN anywhere makes the sum NaN.
    return min(values) >= 0.0 and max(values) <= 1.0 and not math.isnan(sum(values))


def _checked_columns(body: str, first_line: int) -> _Columns:
    """Read the body line by line; raise MalformedDocument at the first bad line."""
    ids: list[str] = []
    epss: list[float] = []
    percentiles: list[float] = []
    separator = ""
    for number, line in enumerate(body.split("\n"), start=first_line + 1):
        line = line.strip()
        if not line:
            continue
        if not separator:
            separator = ";" if ";" in line else ","
        fields = line.split(separator)
        if len(fields) != 3:
            _bad_row(number, f"has {len(fields)} fields, expected 3 (cve, epss, percentile)")
        cve_id, *numbers = fields
        if not _CVE_ID.fullmatch(cve_id):
            _bad_row(number, f"{cve_id[:40]!r} is not a CVE id")
        values = []
        for name, text in zip(("epss", "percentile"), numbers, strict=True):
            try:
                value = float(text)
            except ValueError:
                _bad_row(number, f"{name} {text[:40]!r} is not a number")
            if not 0.0 <= value <= 1.0:
                _bad_row(number, f"{name} {text[:40]!r} is not between 0 and 1")
            values.append(value)
        ids.append(cve_id)
        epss.append(values[0])
        percentiles.append(values[1])
    return ids, epss, percentiles


def _bad_row(number: int, problem: str) -> NoReturn:
    raise MalformedDocument(f"EPSS line {number}: {problem}", hint=_HINT)


def _comment_fields(line: str) -> dict[str, str]:
    fields = {}
    for part in line.lstrip("#").split(","):
        key, sep, value = part.partition(":")
        if sep and key.strip():
            fields[key.strip()] = value.strip()
    return fields


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """Decompress gzip data (one or more members), refusing more than ``max_bytes`` of output."""
    out: list[bytes] = []
    total = 0
    pending = data
    try:
        while pending:
            decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            while not decompressor.eof:
                chunk = decompressor.decompress(pending, max_bytes + 1 - total)
                total += len(chunk)
                if total > max_bytes:
                    raise LimitExceeded(
                        f"gzip data expands to more than {max_bytes:,} bytes",
                        hint="raise SAKIMORI_MAX_INPUT_BYTES if the file is genuine",
                    )
                out.append(chunk)
                pending = decompressor.unconsumed_tail
                if not pending and not decompressor.eof:
                    raise MalformedDocument("gzip data is truncated")
            pending = decompressor.unused_data
            if pending and not pending.startswith(_GZIP_MAGIC):
                if pending.strip(b"\0"):
                    raise MalformedDocument("gzip data is followed by other bytes")
                break
    except zlib.error as exc:
        raise MalformedDocument(f"invalid gzip data: {exc}") from None
    return b"".join(out)


def sniff(data: bytes) -> bool:
    """True if ``data`` looks like an EPSS CSV file (either layout, gzip or not)."""
    head = data[:65536]
    if head.startswith(_GZIP_MAGIC):
        try:
            head = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(head, 4096)
        except zlib.error:
            return False
    text = head[:4096].decode("utf-8-sig", errors="replace")
    for raw in text.splitlines()[:3]:
        line = raw.strip()
        if line.startswith("#model_version") or line.lower() in _HEADERS:
            return True
        if line and not line.startswith("#"):
            return bool(_SNIFF_ROW.fullmatch(line))
    return False
