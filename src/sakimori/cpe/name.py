"""CPE 2.3 names: the Well-Formed Name (WFN) model and its two bindings (NISTIR 7695).

A :class:`Wfn` holds the eleven attributes of a CPE name (``part`` … ``other``). Each value is
either a logical value (:data:`ANY`, :data:`NA`) or a string **in the WFN's quoted form**
(NISTIR 7695 §5.3.2): letters, digits and ``_`` stand for themselves, every other printable
character is preceded by a backslash (``1\\.0``, ``active\\!_mail``), and an *unquoted* ``*`` or
``?`` is a special character (multi- / single-character wildcard) allowed only at the start or
the end of the value. The quoted form is kept canonical here: a quoted letter, digit or
underscore is stored unquoted, so two values are the same string exactly when they name the
same thing (before case folding, which the matching specification applies: see ``matching``).

Bindings, both ways (NISTIR 7695 §6):

* formatted string — ``cpe:2.3:part:vendor:product:version:update:edition:language:sw_edition:
  target_sw:target_hw:other``; ``*`` is ANY, ``-`` is NA; ``.``, ``-`` and ``_`` appear unquoted
  inside values, every other punctuation character keeps its backslash (§6.2).
* URI (the CPE 2.2 form) — ``cpe:/part:vendor:product:version:update:edition:language`` with
  the four extended attributes "packed" into ``edition`` as ``~ed~sw~tsw~thw~other``; an empty
  component is ANY, ``-`` is NA; punctuation is percent-encoded, ``%01`` is ``?`` and ``%02`` is
  ``*`` (§6.1).

Hand-written on evidence: the ``cpe`` package on PyPI (1.3.1, the maintained implementation of
NISTIR 7695/7696 in Python) parses about 2,100 names a second and matches about 4,400 a second
on this machine, so 100,000 asset CPEs would take some 47 s to parse alone against the 10 s
budget of ``benchmarks/bench_cpe.py``; this module parses the common name in a few
microseconds.

Decisions where the specification is loose or lossy (each covered by a test):

* Case is kept as written; matching folds case (NISTIR 7696 and the NIST reference
  implementation compare lower-cased values).
* A string value that is exactly a quoted hyphen (``\\-``) would bind to ``-`` and so read back
  as NA in both bindings; it is written ``\\-`` in a formatted string and ``%2d`` in a URI so
  that binding round-trips.
* Whitespace, control characters and non-ASCII characters are refused (WFN values are printable
  ASCII without whitespace, §5.3.2); an empty formatted-string component is refused (write ``*``
  for ANY).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

from sakimori.errors import InvalidInput


class LogicalValue(enum.Enum):
    """The two logical attribute values of a WFN (NISTIR 7695 §5.3.1)."""

    ANY = "ANY"
    NA = "NA"

    def __repr__(self) -> str:
        return self.value


ANY: Final = LogicalValue.ANY
NA: Final = LogicalValue.NA

#: An attribute value: a logical value or a string in WFN quoted form.
Value = LogicalValue | str

#: The attributes of a WFN in binding order.
ATTRIBUTES: Final = (
    "part",
    "vendor",
    "product",
    "version",
    "update",
    "edition",
    "language",
    "sw_edition",
    "target_sw",
    "target_hw",
    "other",
)
PARTS: Final = frozenset({"a", "o", "h"})

_FS_PREFIX: Final = "cpe:2.3:"
_URI_PREFIX: Final = "cpe:/"
_HINT_FS: Final = (
    "a CPE 2.3 formatted string has 13 colon-separated fields, e.g. "
    "cpe:2.3:a:vendor:product:1.0:*:*:*:*:*:*:* (NISTIR 7695 §6.2)"
)
_HINT_URI: Final = "a CPE URI looks like cpe:/a:vendor:product:1.0 (NISTIR 7695 §6.1)"
_ALNUM: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
#: Printable ASCII punctuation: the characters a WFN value holds quoted.
PUNCTUATION: Final = frozenset(chr(c) for c in range(0x21, 0x7F)) - _ALNUM
#: Characters a formatted string writes without their backslash (§6.2.2.2).
_FS_PLAIN: Final = frozenset(".-_")
_SIMPLE: Final = re.compile(r"[A-Za-z0-9_.\-]+")
#: Characters a URI writes as themselves (§6.1.2.3: pct_encode leaves ``-`` and ``.``).
_URI_PLAIN: Final = frozenset(".-")


@dataclass(frozen=True, slots=True)
class Wfn:
    """A CPE 2.3 Well-Formed Name. Build one with :func:`parse`, :func:`parse_fs`,
    :func:`parse_uri` or :func:`from_text`; the constructor does not validate."""

    part: Value = ANY
    vendor: Value = ANY
    product: Value = ANY
    version: Value = ANY
    update: Value = ANY
    edition: Value = ANY
    language: Value = ANY
    sw_edition: Value = ANY
    target_sw: Value = ANY
    target_hw: Value = ANY
    other: Value = ANY

    def values(self) -> tuple[Value, ...]:
        """The eleven values in binding order."""
        return (
            self.part,
            self.vendor,
            self.product,
            self.version,
            self.update,
            self.edition,
            self.language,
            self.sw_edition,
            self.target_sw,
            self.target_hw,
            self.other,
        )

    def get(self, attribute: str) -> Value:
        value: Value = getattr(self, attribute)
        return value

    def to_fs(self) -> str:
        return bind_fs(self)

    def to_uri(self) -> str:
        return bind_uri(self)

    def __str__(self) -> str:
        return bind_fs(self)


def unquote(value: Value) -> str:
    """The plain text of a value (backslashes removed); ``*`` for ANY and ``-`` for NA."""
    if value is ANY:
        return "*"
    if value is NA:
        return "-"
    assert isinstance(value, str)
    if "\\" not in value:
        return value
    out: list[str] = []
    escaped = False
    for char in value:
        if escaped or char != "\\":
            out.append(char)
            escaped = False
        else:
            escaped = True
    return "".join(out)


def quote(text: str) -> str:
    """A plain text as a WFN string value: every punctuation character quoted, no wildcards.
    Whitespace becomes ``_`` (NISTIR 7695 §5.3.2 asks producers to do so)."""
    if not text:
        raise InvalidInput("an empty text is not a CPE attribute value", hint="use ANY instead")
    out: list[str] = []
    for char in text:
        if char in _ALNUM:
            out.append(char)
        elif char.isspace():
            out.append("_")
        elif char in PUNCTUATION:
            out.append("\\" + char)
        else:
            raise InvalidInput(
                f"character {char!r} cannot appear in a CPE name",
                where=text,
                hint="CPE values are printable ASCII",
            )
    return "".join(out)


def from_text(
    part: str,
    vendor: str,
    product: str,
    version: str | None = None,
    **others: str | None,
) -> Wfn:
    """A WFN from plain texts (as a person types them): each quoted with :func:`quote`; a
    missing value or ``*`` is ANY, ``-`` is NA. ``others`` names further attributes."""
    if part not in PARTS:
        raise InvalidInput(f"CPE part {part!r} is not a, o or h", hint="a: application, o: OS")
    unknown = set(others) - set(ATTRIBUTES[4:])
    if unknown:
        raise InvalidInput(f"unknown CPE attribute(s): {', '.join(sorted(unknown))}")

    def value(text: str | None) -> Value:
        if text is None or text.strip() in {"", "*"}:
            return ANY
        if text.strip() == "-":
            return NA
        return quote(text.strip())

    fields = {name: value(text) for name, text in others.items()}
    return Wfn(part, value(vendor), value(product), value(version), **fields)


def parse(text: str) -> Wfn:
    """A CPE name in either binding: ``cpe:2.3:…`` (formatted string) or ``cpe:/…`` (URI)."""
    if not isinstance(text, str):
        raise InvalidInput("a CPE name must be a string")
    if text.startswith(_FS_PREFIX):
        return parse_fs(text)
    if text.startswith(_URI_PREFIX):
        return parse_uri(text)
    raise InvalidInput(
        "not a CPE name (it starts with neither 'cpe:2.3:' nor 'cpe:/')",
        where=_shown(text),
        hint=_HINT_FS,
    )


# -- formatted string ---------------------------------------------------------------------


def parse_fs(text: str) -> Wfn:
    """Unbind a CPE 2.3 formatted string (NISTIR 7695 §6.2.3)."""
    if not text.startswith(_FS_PREFIX):
        raise _fs_error(text, "does not start with 'cpe:2.3:'")
    body = text[len(_FS_PREFIX) :]
    fields = body.split(":") if "\\" not in body else _split_escaped(text, body)
    if len(fields) != 11:
        raise _fs_error(text, f"has {len(fields) + 2} fields, not 13")
    values = [_fs_value(text, name, field) for name, field in zip(ATTRIBUTES, fields, strict=True)]
    _check_part(text, values[0], _HINT_FS)
    return Wfn(*values)


def _split_escaped(text: str, body: str) -> list[str]:
    fields: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            if index + 1 >= len(body):
                raise _fs_error(text, "ends with a lone backslash")
            current.append(body[index : index + 2])
            index += 2
            continue
        if char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    fields.append("".join(current))
    return fields


def _fs_value(text: str, attribute: str, field: str) -> Value:
    if field == "*":
        return ANY
    if field == "-":
        return NA
    if not field:
        raise _fs_error(text, f"{attribute} is empty (write * for ANY, - for NA)")
    if _SIMPLE.fullmatch(field):
        # the common case (names, dotted versions): only "." and "-" to quote
        return field.replace(".", "\\.").replace("-", "\\-")
    out: list[str] = []
    index = 0
    last = len(field) - 1
    while index <= last:
        char = field[index]
        if char in _ALNUM:
            out.append(char)
        elif char == "\\":
            if index == last:
                raise _fs_error(text, f"{attribute} ends with a lone backslash")
            quoted = field[index + 1]
            if quoted in _ALNUM:
                out.append(quoted)
            elif quoted in PUNCTUATION:
                out.append("\\" + quoted)
            else:
                raise _fs_error(text, f"{attribute} quotes {quoted!r}, not a printable character")
            index += 1
        elif char == "*":
            if 0 < index < last:
                raise _fs_error(text, f"{attribute} has an embedded '*' (only at start or end)")
            out.append("*")
        elif char == "?":
            if not _question_ok(field, index):
                raise _fs_error(text, f"{attribute} has an embedded '?' (only at start or end)")
            out.append("?")
        elif char in PUNCTUATION:
            out.append("\\" + char)
        else:
            raise _fs_error(text, f"{attribute} holds {char!r}: CPE values are printable ASCII")
        index += 1
    value = "".join(out)
    _check_specials(text, attribute, value, _HINT_FS)
    return value


def _question_ok(field: str, index: int) -> bool:
    """An unquoted ``?`` is allowed in a run touching the start or the end of the value."""
    start = index
    while start > 0 and field[start - 1] == "?" and not _is_quoted(field, start - 1):
        start -= 1
    end = index
    while end < len(field) - 1 and field[end + 1] == "?":
        end += 1
    return start == 0 or end == len(field) - 1


def _is_quoted(field: str, index: int) -> bool:
    slashes = 0
    while index - slashes - 1 >= 0 and field[index - slashes - 1] == "\\":
        slashes += 1
    return slashes % 2 == 1


def _check_specials(text: str, attribute: str, value: str, hint: str) -> None:
    """A value may not be made of special characters only beyond a single ``*`` (ANY) — e.g.
    ``**`` or ``*?`` name nothing a person could mean."""
    stripped = value.replace("*", "").replace("?", "")
    if not stripped and "*" in value:
        raise InvalidInput(
            f"CPE {attribute} {value!r} is only wildcards", where=_shown(text), hint=hint
        )


def bind_fs(wfn: Wfn) -> str:
    """Bind a WFN to a CPE 2.3 formatted string (NISTIR 7695 §6.2.2)."""
    return _FS_PREFIX + ":".join(_fs_bind_value(v) for v in wfn.values())


def _fs_bind_value(value: Value) -> str:
    if value is ANY:
        return "*"
    if value is NA:
        return "-"
    assert isinstance(value, str)
    if "\\" not in value:
        return value
    if value == "\\-":
        return "\\-"  # a lone hyphen string; unquoted it would read back as NA
    out: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\":
            quoted = value[index + 1]
            out.append(quoted if quoted in _FS_PLAIN else "\\" + quoted)
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


# -- URI ------------------------------------------------------------------------------------

_PCT_DECODE: Final = {f"%{ord(c):02x}": c for c in PUNCTUATION}
_PCT_ENCODE: Final = {c: f"%{ord(c):02x}" for c in PUNCTUATION}


def parse_uri(text: str) -> Wfn:
    """Unbind a CPE URI (the CPE 2.2 binding; NISTIR 7695 §6.1.3)."""
    if not text.startswith(_URI_PREFIX):
        raise _uri_error(text, "does not start with 'cpe:/'")
    components = text[len(_URI_PREFIX) :].split(":")
    if len(components) > 7:
        raise _uri_error(text, f"has {len(components)} components, at most 7")
    components += [""] * (7 - len(components))
    values: dict[str, Value] = {}
    for attribute, component in zip(ATTRIBUTES[:7], components, strict=True):
        if attribute == "edition" and component.startswith("~"):
            packed = component.split("~")
            if len(packed) != 6:
                raise _uri_error(text, "a packed edition has the form ~ed~sw_ed~t_sw~t_hw~other")
            for name, item in zip(
                ("edition", "sw_edition", "target_sw", "target_hw", "other"),
                packed[1:],
                strict=True,
            ):
                values[name] = _uri_value(text, name, item)
        else:
            values[attribute] = _uri_value(text, attribute, component)
    wfn = Wfn(**values)
    _check_part(text, wfn.part, _HINT_URI)
    return wfn


def _uri_value(text: str, attribute: str, component: str) -> Value:
    if component == "":
        return ANY
    if component == "-":
        return NA
    out: list[str] = []
    index = 0
    length = len(component)
    while index < length:
        char = component[index]
        if char == "%":
            form = component[index : index + 3].lower()
            if form == "%01":
                out.append("?")
            elif form == "%02":
                out.append("*")
            elif form in _PCT_DECODE:
                decoded = _PCT_DECODE[form]
                out.append(decoded if decoded in _ALNUM else "\\" + decoded)
            else:
                raise _uri_error(text, f"{attribute} holds {form!r}, not a CPE percent-encoding")
            index += 3
            continue
        if char in _ALNUM:
            out.append(char)
        elif char in "-.~":
            out.append("\\" + char)
        else:
            raise _uri_error(text, f"{attribute} holds {char!r} unencoded")
        index += 1
    value = "".join(out)
    _check_uri_specials(text, attribute, value)
    _check_specials(text, attribute, value, _HINT_URI)
    return value


def _check_uri_specials(text: str, attribute: str, value: str) -> None:
    """``%02`` (``*``) only first or last; ``%01`` (``?``) only in runs at either end."""
    for index, char in enumerate(value):
        if char == "*" and 0 < index < len(value) - 1 and not _is_quoted(value, index):
            raise _uri_error(text, f"{attribute} has an embedded %02 (only at start or end)")
        if char == "?" and not _is_quoted(value, index) and not _question_ok(value, index):
            raise _uri_error(text, f"{attribute} has an embedded %01 (only at start or end)")


def bind_uri(wfn: Wfn) -> str:
    """Bind a WFN to a CPE URI (NISTIR 7695 §6.1.2), packing the extended attributes."""
    parts = [_uri_bind_value(v) for v in wfn.values()[:5]]
    extended = (wfn.sw_edition, wfn.target_sw, wfn.target_hw, wfn.other)
    if all(v is ANY for v in extended):
        parts.append(_uri_bind_value(wfn.edition))
    else:
        packed = [_uri_bind_value(v) for v in (wfn.edition, *extended)]
        parts.append("~" + "~".join(packed))
    parts.append(_uri_bind_value(wfn.language))
    return (_URI_PREFIX + ":".join(parts)).rstrip(":")


def _uri_bind_value(value: Value) -> str:
    if value is ANY:
        return ""
    if value is NA:
        return "-"
    assert isinstance(value, str)
    if value == "\\-":
        return "%2d"  # a lone hyphen string; "-" would read back as NA
    out: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\":
            quoted = value[index + 1]
            out.append(quoted if quoted in _URI_PLAIN else _PCT_ENCODE[quoted])
            index += 2
            continue
        if char == "?":
            out.append("%01")
        elif char == "*":
            out.append("%02")
        else:
            out.append(char)
        index += 1
    return "".join(out)


# -- shared ---------------------------------------------------------------------------------


def _check_part(text: str, part: Value, hint: str) -> None:
    if isinstance(part, str) and part not in PARTS:
        raise InvalidInput(
            f"CPE part {unquote(part)!r} is not a (application), o (OS) or h (hardware)",
            where=_shown(text),
            hint=hint,
        )


def _shown(text: str) -> str:
    return text if len(text) <= 120 else text[:117] + "..."


def _fs_error(text: str, problem: str) -> InvalidInput:
    return InvalidInput(f"CPE formatted string {problem}", where=_shown(text), hint=_HINT_FS)


def _uri_error(text: str, problem: str) -> InvalidInput:
    return InvalidInput(f"CPE URI {problem}", where=_shown(text), hint=_HINT_URI)
