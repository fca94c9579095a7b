"""Go's ``go.mod``: ``require`` lines and blocks, with ``replace`` directives applied.

https://go.dev/ref/mod#go-mod-file. A required module replaced by another module is reported
as the replacement (the code actually built), with the original in ``note``; one replaced by a
local directory (``=> ./fork``) is the project's own code: skipped, never reported at the
version it replaced. ``// indirect`` requirements are reported like direct ones.

The ``go`` directive is the minimum language version the module needs, and ``toolchain`` only a
suggestion; neither is the toolchain that builds the program, so the standard library is not
reported as ``stdlib`` at either version (a build's own ``go version -m`` output says that).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from sakimori.errors import MalformedDocument
from sakimori.formats.limits import DEFAULT_LIMITS, Limits
from sakimori.formats.lockfiles._common import InventoryBuilder, head_text, read_text
from sakimori.model.inventory import Inventory

FORMAT: Final = "go.mod"
ECOSYSTEM: Final = "Go"

_VERBS = frozenset(
    {
        "module",
        "go",
        "toolchain",
        "godebug",
        "require",
        "replace",
        "exclude",
        "retract",
        "tool",
        "ignore",
    }
)
_VERB_LINE = re.compile(
    r"(module|go|toolchain|godebug|require|replace|exclude|retract|tool|ignore)(\s|\(|$)"
)
# A quoted string runs to the end of the line when unterminated, so that no input makes the
# scanner start over at every quote (the caller refuses it).
_QUOTED = re.compile(r'"(?:[^"\\]++|\\.)*+"|`[^`]*+`')
_TOKEN = re.compile(
    r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)|`[^`]*+(?:`|\Z)|=>|[()]|(?:[^\s"`()=]|=(?!>))+'
)


def sniff(data: bytes) -> bool:
    for line in head_text(data).splitlines():
        line = line.split("//", 1)[0].strip()
        if line:
            return bool(_VERB_LINE.match(line))
    return False


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    builder = InventoryBuilder(FORMAT, limits)
    requires: list[tuple[str, str]] = []
    replaces: dict[tuple[str, str | None], tuple[str, str | None]] = {}
    for number, verb, args in _directives(read_text(data, limits)):
        if verb == "require":
            if len(args) != 2:
                raise MalformedDocument(f"line {number}: require needs a module path and a version")
            requires.append((args[0], args[1]))
        elif verb == "replace":
            replaces.update([_replacement(number, args)])
        elif verb == "go":
            builder.skip(
                f"line {number}: go {' '.join(args)[:40]}: the minimum Go version, not the "
                "toolchain that builds the program; the standard library is not reported"
            )
        elif verb == "toolchain":
            builder.skip(f"line {number}: toolchain {' '.join(args)[:40]}: a suggestion only")
        elif verb == "exclude":
            builder.skip(f"line {number}: exclude {' '.join(args)[:200]}")
    for path, version in requires:
        target = replaces.get((path, version)) or replaces.get((path, None))
        if target is None:
            builder.add(ECOSYSTEM, path, version)
        elif target[1] is None:
            local = target[0][:200]
            builder.skip(f"{path[:200]} {version[:80]}: replaced by the local directory {local}")
        else:
            builder.add(
                ECOSYSTEM, target[0], target[1], note=f"replaces {path[:200]} {version[:80]}"
            )
    return builder.build()


def _replacement(
    number: int, args: list[str]
) -> tuple[tuple[str, str | None], tuple[str, str | None]]:
    if "=>" not in args:
        raise MalformedDocument(f"line {number}: replace needs '=>'")
    arrow = args.index("=>")
    old, new = args[:arrow], args[arrow + 1 :]
    if len(old) not in (1, 2) or len(new) not in (1, 2):
        raise MalformedDocument(f"line {number}: replace needs 'path [version] => path [version]'")
    return (old[0], old[1] if len(old) == 2 else None), (new[0], new[1] if len(new) == 2 else None)


def _directives(text: str) -> Iterator[tuple[int, str, list[str]]]:
    """(line number, verb, arguments) for each directive, blocks expanded."""
    block: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        tokens = _tokens(raw, number)
        if not tokens:
            continue
        if block is not None:
            if tokens == [")"]:
                block = None
            else:
                yield number, block, tokens
            continue
        verb, args = tokens[0], tokens[1:]
        if verb not in _VERBS:
            raise MalformedDocument(f"line {number}: unknown directive {verb[:40]!r}")
        if args == ["("]:
            block = verb
        elif args:
            yield number, verb, args
        else:
            raise MalformedDocument(f"line {number}: {verb} needs arguments")
    if block is not None:
        raise MalformedDocument(f"the {block} block is not closed")


def _tokens(line: str, number: int) -> list[str]:
    tokens: list[str] = []
    for match in _TOKEN.finditer(line):
        token = match.group()
        if "//" in token and not token.startswith(('"', "`")):
            tokens.append(token.split("//", 1)[0])
            break
        if token.startswith(('"', "`")):
            if not _QUOTED.fullmatch(token):
                raise MalformedDocument(f"line {number}: unterminated quoted string")
            token = token[1:-1]
            if not token:
                raise MalformedDocument(f"line {number}: empty quoted string")
        tokens.append(token)
    return [token for token in tokens if token]
