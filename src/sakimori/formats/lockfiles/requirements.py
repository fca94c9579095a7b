"""pip requirements files (``requirements.txt``, ``constraints.txt``, pip-compile output).

Follows pip's own reading order (https://pip.pypa.io/en/stable/reference/requirements-file-format/):
lines ending in a backslash are joined first (unless the line is a comment), then comments are
removed, then a line is an option (``-r``, ``--index-url``…) or a requirement followed by
per-requirement options (``--hash``, ``--config-settings``).

Only a requirement pinned to one version (``==1.2.3`` or ``===1.2.3``) becomes a component.
Everything else a line may say (a range, no version, a URL or path, an editable or VCS install,
a global option) goes to ``skipped`` with its line number and the reason; ``-r`` and ``-c`` go to
``includes`` as written, for the caller to read relative to this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from packaging.requirements import InvalidRequirement, Requirement

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits
from sakimori.formats.lockfiles._common import HEAD_BYTES, InventoryBuilder, head_text, read_text
from sakimori.model.inventory import Inventory

FORMAT: Final = "requirements.txt"
ECOSYSTEM: Final = "PyPI"

_LONG_OPTION = re.compile(r"(--[A-Za-z0-9-]+)[ \t]*=?[ \t]*(.*)")
_SHORT_OPTION = re.compile(r"(-[A-Za-z])[ \t]*=?[ \t]*(.*)")
# "name==1.2.3" where both parts are plainly valid (PEP 508 name, PEP 440 public version).
_SIMPLE_PIN = re.compile(
    r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)[ \t]*+==[ \t]*+"
    r"([0-9]++(?:\.[0-9]++)*+(?:(?:a|b|rc)[0-9]++)?(?:\.post[0-9]++)?(?:\.dev[0-9]++)?)"
)
_INCLUDES = frozenset({"-r", "--requirement", "-c", "--constraint"})
_EDITABLE = frozenset({"-e", "--editable"})
# A sniffed line: a name with optional extras, then a specifier or marker or nothing; an
# option; or a URL / path.
_SNIFF_REQUIREMENT = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]*+[ \t]*+(\[[A-Za-z0-9._, \t-]*+\])?+[ \t]*+"
    r"((===?|>=|<=|!=|~=|<|>)[ \t]*+[A-Za-z0-9.*+!_-]+.*|[;@].*)?"
)
_SNIFF_OTHER = re.compile(r"-{1,2}[A-Za-z][A-Za-z0-9-]*+([ \t=].*)?|(\.{0,2}/|[a-z][a-z+]*://)\S.*")
_SNIFF_LINES: Final = 50


def sniff(data: bytes) -> bool:
    """Every line of the head is a requirement, an option, a URL or a comment; one at least is a
    requirement or an option. This is the least specific sniffer: keep it last."""
    text = head_text(data)
    if len(data) > HEAD_BYTES:
        text = text.rsplit("\n", 1)[0]  # the last line may be cut in the middle
    seen = 0
    for _, logical in _logical_lines(text):
        line = strip_comment(logical).strip()
        if not line:
            continue
        if not (_SNIFF_REQUIREMENT.fullmatch(line) or _SNIFF_OTHER.fullmatch(line)):
            return False
        seen += 1
        if seen >= _SNIFF_LINES:
            break
    return seen > 0


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    builder = InventoryBuilder(FORMAT, limits)
    meaningful = 0
    understood = 0
    for number, line in _logical_lines(read_text(data, limits)):
        line = strip_comment(line).strip()
        if not line:
            continue
        meaningful += 1
        if line.startswith("-"):
            understood += _read_option(builder, number, line)
        else:
            understood += _read_requirement(builder, number, line)
    if meaningful and not understood:
        raise MalformedDocument("no line of this file is a requirement or a pip option")
    return builder.build()


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Join backslash continuations the way pip does (comments are never continued)."""
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), start=1):
        is_comment = line.lstrip().startswith("#")
        if not line.endswith("\\") or is_comment:
            if is_comment:
                line = " " + line  # so that it stays a comment once joined
            if pending:
                pending.append(line)
                yield first, "".join(pending)
                pending = []
            else:
                yield number, line
        else:
            if not pending:
                first = number
            pending.append(line.strip("\\"))
    if pending:
        yield first, "".join(pending)


def strip_comment(line: str) -> str:
    """Remove a ``#`` comment: one at the start of the line or after whitespace (pip's rule)."""
    at = line.find("#")
    while at > 0 and not line[at - 1].isspace():
        at = line.find("#", at + 1)
    return line if at < 0 else line[:at]


def _read_option(builder: InventoryBuilder, number: int, line: str) -> int:
    match = (_LONG_OPTION if line.startswith("--") else _SHORT_OPTION).fullmatch(line)
    if match is None:
        builder.skip(f"line {number}: {line[:200]}: not a pip option")
        return 0
    option, value = match.group(1), match.group(2).strip()
    if option in _INCLUDES and value:
        builder.include(value)
    elif option in _EDITABLE:
        builder.skip(f"line {number}: {value[:200]}: editable install, not a pinned package")
    else:
        builder.skip(f"line {number}: {line[:200]}: pip option, not a requirement")
    return 1


def _read_requirement(builder: InventoryBuilder, number: int, line: str) -> int:
    # pip: the requirement ends at the first space-separated token that starts with "-".
    tokens = line.split(" ")
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            tokens = tokens[:index]
            break
    text = " ".join(tokens).strip()
    simple = _SIMPLE_PIN.fullmatch(text)
    if simple is not None:  # the common "name==1.2.3" line, without the full PEP 508 parser
        builder.add(ECOSYSTEM, simple.group(1), simple.group(2))
        return 1
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        if "/" in text or "\\" in text or text.startswith("."):
            builder.skip(f"line {number}: {text[:200]}: URL or path, not a registry package")
            return 1
        builder.skip(f"line {number}: {text[:200]}: not a valid requirement")
        return 0
    except RecursionError:
        builder.skip(f"line {number}: requirement nested too deeply to read")
        return 0
    name = requirement.name
    if requirement.url:
        builder.skip(f"line {number}: {name}: direct URL reference {requirement.url[:200]}")
        return 1
    specifiers = list(requirement.specifier)
    if len(specifiers) == 1 and specifiers[0].operator in {"==", "==="}:
        version = specifiers[0].version
        if "*" not in version:
            builder.add(ECOSYSTEM, name, version)
            return 1
    constraint = str(requirement.specifier) or "no version specifier"
    builder.skip(f"line {number}: {name}: not pinned ({constraint[:200]})")
    return 1
