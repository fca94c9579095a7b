"""The shapes of the model tables: sources, sinks, sanitisers, routes.

Every framework or CWE module holds plain data built from these classes; the engine reads only the
merged tables in :mod:`sakimori.probe.models`. A rule never names a file, a test or a variable: it
names an API (by qualified name, or by method name with an optional receiver type) and the
argument positions that matter.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL = frozenset({22, 78, 79, 89, 90, 94, 501, 502, 601, 611, 643})


@dataclass(frozen=True)
class Sink:
    """A call whose listed arguments must not carry tainted data.

    ``args`` are positions (``-1``: every positional argument), ``kwargs`` keyword names.
    ``receivers``: for method sinks, prefixes of the receiver's qualified name that must match
    (empty: any receiver). ``when``: an extra condition the engine evaluates (``shell``: only with
    ``shell=True`` or a string command; ``unsafe_loader``: ``yaml.load`` without a safe loader).
    """

    cwe: int
    args: tuple[int, ...] = (0,)
    kwargs: tuple[str, ...] = ()
    receivers: tuple[str, ...] = ()
    when: str | None = None
    what: str = ""


@dataclass(frozen=True)
class Pattern:
    """A call that is a weakness by itself (weak hash, weak random, insecure cookie)."""

    cwe: int
    what: str
    when: str | None = None
    receivers: tuple[str, ...] = ()
