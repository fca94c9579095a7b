"""Product inventories as CSV: appliances, operating systems and commercial software named by a
CPE, or by vendor / product / version as a person types them. Bytes in, ``Inventory`` out.

The file is UTF-8 (an Excel byte-order mark is allowed), comma-separated, with LF, CRLF or CR
line ends, read with Python's ``csv`` module (``"`` quotes a field, ``""`` is a quote inside
one). Blank lines, lines of empty fields only (Excel writes ``,,,`` for an empty row) and lines
whose first character (after spaces) is ``#`` are skipped; a first field that starts with ``#``
must be quoted. A field cannot span lines; a control character other than tab is refused;
spaces around a field are removed.

The first other line is the header: names from this list, in any order and letter case, each at
most once; any other name is refused.

=========  =====================================================================================
column     meaning
=========  =====================================================================================
cpe        a CPE 2.3 formatted string (``cpe:2.3:o:fortinet:fortios:7.0.1:*:*:*:*:*:*:*``) or
           a CPE 2.2 URI (``cpe:/o:fortinet:fortios:7.0.1``), stored as the formatted string
vendor     free text (``Palo Alto Networks``)
product    free text (``PAN-OS``)
version    free text (``10.2.3-h1``); ``*`` means not known, ``-`` not applicable
part       ``a`` / ``application``, ``o`` / ``os`` / ``operating system``, ``h`` /
           ``hardware``; empty or ``*``: ANY
update     CPE ``update`` (``Cumulative Update 8``, ``R2.3``); empty: ANY
edition    CPE ``edition``; empty: ANY
platform   CPE ``target_hw`` (NVD puts an OS platform in ``target_sw``: use the ``cpe`` column
           for that); empty: ANY
name       display name; default: the vendor and product texts (``vendor product``)
note       kept as the component's note
=========  =====================================================================================

The header names ``cpe``, or ``vendor`` + ``product`` + ``version``, or all four. Each row gives
a ``cpe``, or a vendor, a product and a version (``*`` or ``-`` if the version is unknown or
not applicable; an empty version is refused).

Free text becomes a CPE with :func:`sakimori.cpe.name.from_text` after this normalisation, and
nothing else: surrounding spaces removed and every run of spaces made one; ``vendor`` and
``product`` lower-cased (NVD names are lower case); then every space becomes ``_`` and every
other punctuation character is quoted (``Active! mail`` → ``active\\!_mail``). Other columns
keep their letter case (CPE matching ignores it). "Palo Alto Networks" therefore becomes
``palo_alto_networks``, not NVD's ``paloaltonetworks``: this parser does not guess NVD's names;
``sakimori.cpe.normalise`` *suggests* the canonical vendor/product separately, for a person to
confirm. CPE values are printable ASCII: write a Japanese product's name in the ``name`` column
and its ASCII vendor/product (as NVD has them) in the others.

An omitted ``part`` is ANY (``*``). Wildcards are refused: a ``*`` or ``?`` inside a value, or a
vendor or product that is ANY or NA (``*``/``-``), in a text or in the ``cpe`` column — an
inventory names one product, not a pattern. A row with a ``cpe`` and text columns must agree:
each attribute given as text (after normalisation) equals the CPE's, ignoring case.

Each row becomes ``Component(name=<display>, version=<the CPE version unquoted; None if ANY,
"-" if NA>, ecosystem="CPE", cpe=<formatted string>, note=<note>)``. Rows naming the same CPE
(ignoring case) are kept once, the first one with its name and note; each later one is listed
in ``skipped`` with both line numbers. Errors (``MalformedDocument``, ``LimitExceeded``) say
the line and the column; nothing is returned from a file with one bad row. Data rows count
against ``Limits.max_components``; the file against ``Limits.max_bytes``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Final, NoReturn

from sakimori.cpe.matching import has_wildcards
from sakimori.cpe.name import ANY, PUNCTUATION, Value, Wfn, bind_fs, from_text, unquote
from sakimori.cpe.name import parse as parse_cpe
from sakimori.errors import InvalidInput, LimitExceeded, MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, check_size
from sakimori.model.inventory import Component, Inventory

FORMAT: Final = "products-csv"
ECOSYSTEM: Final = "CPE"

#: Header name -> the WFN attribute it gives (None: not a CPE attribute).
COLUMNS: Final[dict[str, str | None]] = {
    "cpe": None,
    "part": "part",
    "vendor": "vendor",
    "product": "product",
    "version": "version",
    "update": "update",
    "edition": "edition",
    "platform": "target_hw",
    "name": None,
    "note": None,
}
PART_WORDS: Final[dict[str, str]] = {
    "a": "a",
    "application": "a",
    "o": "o",
    "os": "o",
    "operating system": "o",
    "h": "h",
    "hardware": "h",
}
_TEXT_ATTRIBUTES: Final = ("vendor", "product", "version", "update", "edition", "platform")
_SNIFF_BYTES: Final = 8192
_LINE_END: Final = re.compile(r"\r\n|\r|\n")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_PRINTABLE: Final = frozenset(PUNCTUATION) | frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ "
)
_HINT_HEADER: Final = (
    "the first line is a header of: " + ", ".join(COLUMNS) + "; with cpe, or vendor, product "
    "and version (see docs/formats.md, product lists)"
)


@dataclass(frozen=True, slots=True)
class _Header:
    names: tuple[str, ...]
    index: dict[str, int]


def sniff(data: bytes) -> bool:
    """The first line that is not blank or a comment is a header of known column names, each
    once, with ``cpe`` or both ``vendor`` and ``product``; the next such line, if read, has as
    many fields. ``parse`` then says what else is wrong with the header (a missing ``version``
    column). Keep this reader after every other inventory reader."""
    text = data[:_SNIFF_BYTES].decode("utf-8", errors="replace").removeprefix("\ufeff")
    if len(data) > _SNIFF_BYTES:
        lines = _LINE_END.split(text)
        if len(lines) > 1:
            text = "\n".join(lines[:-1])  # the last line may be cut in the middle
    rows = _content_lines(text)
    try:
        _, first = next(rows)
        names = [field.strip().lower() for field in _fields(first)]
        if len(set(names)) != len(names) or not set(names) <= COLUMNS.keys():
            return False
        if "cpe" not in names and not {"vendor", "product"} <= set(names):
            return False
        second = next(rows, None)
        return second is None or len(_fields(second[1])) == len(names)
    except (csv.Error, StopIteration):
        return False


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    check_size(data, limits)
    text = _decode(data)
    rows = _content_lines(text)
    first = next(rows, None)
    if first is None:
        raise MalformedDocument("the product list has no header line", hint=_HINT_HEADER)
    header_line, header_text = first
    header = _header(_fields_at(header_line, header_text))
    if header is None:
        raise MalformedDocument(
            f"line {header_line}: the header has no product columns", hint=_HINT_HEADER
        )
    if isinstance(header, str):
        raise MalformedDocument(f"line {header_line}: {header}", hint=_HINT_HEADER)

    components: list[Component] = []
    seen: dict[str, int] = {}
    skipped: list[str] = []
    count = 0
    for number, line in rows:
        fields = _fields_at(number, line)
        if all(not field.strip() for field in fields):
            continue
        count += 1
        if count > limits.max_components:
            raise LimitExceeded(
                f"line {number}: more than {limits.max_components:,} product rows",
                hint="split the file, or raise SAKIMORI_MAX_COMPONENTS if it is genuine",
            )
        if len(fields) != len(header.names):
            raise MalformedDocument(
                f"line {number}: {len(fields)} fields, but the header (line {header_line}) "
                f"has {len(header.names)}",
                hint="every row has one field per header column; quote a field holding a comma",
            )
        component = _Row(number, header, fields).component()
        assert component.cpe is not None
        key = component.cpe.lower()
        if key in seen:
            skipped.append(
                f"line {number}: {component.cpe} is already listed on line {seen[key]}; kept once"
            )
            continue
        seen[key] = number
        components.append(component)
    return Inventory(format=FORMAT, components=tuple(components), skipped=tuple(skipped))


# -- lines and fields -----------------------------------------------------------------------


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MalformedDocument(
            f"line {line}: not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r})",
            hint="save the file as UTF-8 (Excel: 'CSV UTF-8 (Comma delimited)')",
        ) from None


def _content_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of every line that is not blank or a comment."""
    for number, line in enumerate(_LINE_END.split(text), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield number, line


def _fields(line: str) -> list[str]:
    return next(csv.reader([line], strict=True, skipinitialspace=True))


def _fields_at(number: int, line: str) -> list[str]:
    try:
        fields = _fields(line)
    except csv.Error as exc:
        raise MalformedDocument(
            f"line {number}: not a valid CSV line ({exc})",
            hint='quote a field holding a comma or a quote ("a ""quoted"" word"); '
            "a field cannot span lines",
        ) from None
    for position, field in enumerate(fields, start=1):
        if _CONTROL.search(field):
            raise MalformedDocument(
                f"line {number}, column {position}: a control character in {field[:80]!r}",
                hint="remove it",
            )
    return fields


def _header(fields: Sequence[str]) -> _Header | str | None:
    """The header, or a reason it is wrong, or None if it names no product column."""
    names = tuple(field.strip().lower() for field in fields)
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        if name not in COLUMNS:
            shown = repr(fields[position].strip()[:80]) if name else "an empty name"
            return f"column {position + 1} has {shown}, not a column this format has"
        if name in index:
            return f"column {position + 1} repeats {name!r} (column {index[name] + 1})"
        index[name] = position
    text_columns = {"vendor", "product"} & set(index)
    if text_columns and text_columns != {"vendor", "product"}:
        return "the header names vendor or product without the other"
    if text_columns and "version" not in index:
        return "the header names vendor and product but no version column"
    if not text_columns and "cpe" not in index:
        return None
    return _Header(names, index)


# -- one row --------------------------------------------------------------------------------


class _Row:
    """One data row, turned into a component or refused with its line and column."""

    def __init__(self, number: int, header: _Header, fields: Sequence[str]) -> None:
        self.number = number
        self.header = header
        self.fields = fields

    def cell(self, column: str) -> str:
        position = self.header.index.get(column)
        return "" if position is None else self.fields[position].strip()

    def fail(self, column: str, problem: str, hint: str) -> NoReturn:
        position = self.header.index[column] + 1
        raise MalformedDocument(
            f"line {self.number}, column {position} ({column}): {problem}", hint=hint
        )

    def component(self) -> Component:
        texts = {column: self.text_value(column) for column in _TEXT_ATTRIBUTES}
        part = self.part()
        if self.cell("cpe"):
            wfn = self.cpe_value()
            self.check_agreement(wfn, part, texts)
        else:
            wfn = self.text_wfn(part, texts)
        vendor, product = self.cell("vendor"), self.cell("product")
        if not (vendor and product):
            vendor, product = unquote(wfn.vendor), unquote(wfn.product)
        name = self.cell("name") or " ".join(f"{vendor} {product}".split())
        version = None if wfn.version is ANY else unquote(wfn.version)
        return Component(
            name=name,
            version=version,
            ecosystem=ECOSYSTEM,
            cpe=bind_fs(wfn),
            note=self.cell("note") or None,
        )

    def part(self) -> str | None:
        text = " ".join(self.cell("part").lower().split())
        if text in {"", "*"}:
            return None
        if text not in PART_WORDS:
            self.fail(
                "part",
                f"{self.cell('part')[:80]!r} is not a CPE part",
                "write a / application, o / os / operating system, h / hardware, or leave it "
                "empty for any",
            )
        return PART_WORDS[text]

    def text_value(self, column: str) -> str | None:
        """The cell as ``from_text`` takes it (normalised), or None when empty."""
        raw = self.cell(column)
        if not raw:
            return None
        text = " ".join(raw.split())
        if column in {"vendor", "product"}:
            if text in {"*", "-"}:
                self.fail(column, f"{column} {text!r} names no product", f"write the {column}")
            text = text.lower()
        if text not in {"*", "-"}:
            if "*" in text or "?" in text:
                self.fail(
                    column,
                    f"{raw[:80]!r} holds a wildcard (* or ?)",
                    "an inventory names one product: write the exact value, or * alone if "
                    "it is not known",
                )
            bad = next((char for char in text if char not in _PRINTABLE), None)
            if bad is not None:
                self.fail(
                    column,
                    f"{bad!r} cannot appear in a CPE name (printable ASCII only)",
                    "write the ASCII vendor/product NVD uses and put the local name in the "
                    "name column",
                )
        return text

    def cpe_value(self) -> Wfn:
        text = self.cell("cpe")
        try:
            wfn = parse_cpe(text)
        except InvalidInput as exc:
            where = f": {exc.where}" if exc.where else ""
            self.fail("cpe", exc.message + where, exc.hint or "check the CPE name")
        for attribute in ("vendor", "product"):
            if not isinstance(wfn.get(attribute), str):
                self.fail(
                    "cpe",
                    f"the CPE's {attribute} is {unquote(wfn.get(attribute))}, naming no product",
                    f"write the {attribute} in the CPE name",
                )
        if any(has_wildcards(value) for value in wfn.values()):
            self.fail(
                "cpe",
                f"{text[:120]} holds a wildcard (* or ? inside a value)",
                "an inventory names one product: write the exact value, or * alone if it is "
                "not known",
            )
        return wfn

    def text_wfn(self, part: str | None, texts: dict[str, str | None]) -> Wfn:
        if "vendor" not in self.header.index:
            self.fail("cpe", "the cpe is missing", "write the product's CPE name")
        for column in ("vendor", "product", "version"):
            if texts[column] is None:
                self.fail(
                    column,
                    f"the {column} is missing",
                    "write it; for an unknown version write *, for none -"
                    if column == "version"
                    else f"write the {column}, or give a cpe",
                )
        return _from_texts(part, texts)

    def check_agreement(self, wfn: Wfn, part: str | None, texts: dict[str, str | None]) -> None:
        if part is not None and _folded(wfn.part) != part:
            self.fail("part", f"part {part} but the cpe says {unquote(wfn.part)}", _HINT_AGREE)
        if all(text is None for text in texts.values()):
            return
        # vendor and product may be left empty beside a cpe: only the columns given are compared
        filled: dict[str, str | None] = {
            **texts,
            "vendor": texts["vendor"] or "x",
            "product": texts["product"] or "x",
        }
        given = _from_texts(part, filled)
        for column in _TEXT_ATTRIBUTES:
            if texts[column] is None:
                continue
            attribute = COLUMNS[column]
            assert attribute is not None
            if _folded(given.get(attribute)) != _folded(wfn.get(attribute)):
                self.fail(
                    column,
                    f"the {column} column says {unquote(given.get(attribute))[:80]!r}, "
                    f"the cpe says {unquote(wfn.get(attribute))[:80]!r}",
                    _HINT_AGREE,
                )


def _from_texts(part: str | None, texts: dict[str, str | None]) -> Wfn:
    """``from_text`` of normalised texts; part ANY when not given (``from_text`` wants one)."""
    vendor, product = texts["vendor"], texts["product"]
    assert vendor is not None
    assert product is not None
    wfn = from_text(
        part or "a",
        vendor,
        product,
        texts["version"],
        update=texts["update"],
        edition=texts["edition"],
        target_hw=texts["platform"],
    )
    return wfn if part is not None else replace(wfn, part=ANY)


_HINT_AGREE: Final = "make the columns and the cpe name the same product, or leave one empty"


def _folded(value: Value) -> Value:
    return value.lower() if isinstance(value, str) else value
