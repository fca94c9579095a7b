"""What a log parser is, and the counts every parse keeps.

A parser turns one line into a ``Record`` (the line is an event we read), a ``str`` (the line is
well-formed but not an event we use — a blank line, another program's syslog line, an sshd
message that is not an authentication event — the string is the reason, counted), or ``None``
(the line is not in the parser's format: a parse error, counted and sampled, never fatal).
Parsers are pure (no I/O) and may keep small state between lines (the syslog parser tracks the
year across a December→January rollover).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field

from sakimori.monitoring.record import Record

ParseResult = Record | str | None

#: How many bad lines ``ParseStats`` keeps, with their line numbers, by default.
DEFAULT_ERROR_SAMPLES = 10


class LineParser(ABC):
    """One log format."""

    #: The format's name, as ``--log-format`` spells it.
    name: str = ""

    @abstractmethod
    def parse(self, line: str, number: int) -> ParseResult:
        """Parse one line (a trailing newline is allowed); ``number`` is its 1-based position."""


@dataclass
class ParseStats:
    """Counts for one source: lines read, records made, lines skipped by reason, errors."""

    source: str
    log_format: str = ""
    lines: int = 0
    records: int = 0
    errors: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    #: The first bad lines, as (line number, text) pairs, at most ``max_samples``.
    samples: list[tuple[int, str]] = field(default_factory=list)
    max_samples: int = DEFAULT_ERROR_SAMPLES

    def error(self, number: int, line: str) -> None:
        self.errors += 1
        if len(self.samples) < self.max_samples:
            self.samples.append((number, line.rstrip("\r\n")[:500]))

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "log_format": self.log_format,
            "lines": self.lines,
            "records": self.records,
            "skipped": dict(sorted(self.skipped.items())),
            "errors": self.errors,
            "error_samples": [{"line": n, "text": text} for n, text in self.samples],
        }


def blank_or_none(line: str) -> str | None:
    """The skip reason for a blank line, else ``None`` (a parse error)."""
    return "blank line" if not line.strip() else None
