"""``sakimori watch`` in batch mode: read logs (files, gzip, standard input), parse, detect.

The edge of the monitoring package: it opens the sources, detects each one's format from its
first lines (unless told), feeds every record to one ``DetectorSet`` (sources in the order
given, as the parts of one rotated log would be), and returns the alerts and per-source parse
counts. Every source is checked for readability before any is read, so a typo in the last name
fails fast instead of after an hour of input.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Generator, Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sakimori.errors import InvalidInput, NotFound, UnsupportedFormat
from sakimori.monitoring.detectors import Alert, DetectorConfig, DetectorSet
from sakimori.monitoring.parsers import FORMATS, ParseStats, detect_format, make_parser
from sakimori.monitoring.parsers.interface import DEFAULT_ERROR_SAMPLES, LineParser
from sakimori.monitoring.record import Record

if TYPE_CHECKING:
    from sakimori.monitoring.detectors.interface import Detector
    from sakimori.monitoring.sigma import CompiledRule

STDIN = "-"
#: Lines read from the start of a source to detect its format.
DETECT_LINES = 50
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class WatchOptions:
    log_format: str = "auto"  # "auto" or one of parsers.FORMATS
    json_fields: Mapping[str, str] = field(default_factory=dict)
    year: int | None = None  # for syslog timestamps; None: the current year
    zone: tzinfo = UTC  # for syslog timestamps
    config: DetectorConfig = field(default_factory=DetectorConfig)
    error_samples: int = DEFAULT_ERROR_SAMPLES
    sigma_rules: Sequence[CompiledRule] = ()  # run by the ``sigma`` detector when any


def make_detectors(options: WatchOptions) -> DetectorSet:
    """Every detector, and the ``sigma`` detector when there are Sigma rules."""
    extra: tuple[Detector, ...] = ()
    if options.sigma_rules:  # pySigma is imported only when there are rules
        from sakimori.monitoring.sigma import RuleSet, SigmaDetector

        extra = (SigmaDetector(RuleSet(options.sigma_rules), options.config),)
    return DetectorSet(options.config, extra=extra)


def check_options(options: WatchOptions) -> None:
    if options.log_format != "auto" and options.log_format not in FORMATS:
        raise InvalidInput(
            f"unknown log format {options.log_format!r}",
            hint=f"use auto or one of {', '.join(FORMATS)}",
        )


@dataclass
class WatchResult:
    alerts: list[Alert]
    sources: list[ParseStats]

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.sources)


def watch(
    sources: Sequence[str | Path],
    options: WatchOptions | None = None,
    *,
    stdin: BinaryIO | None = None,
) -> WatchResult:
    """Read every source (a path, or ``-`` for standard input) and run every detector."""
    options = options or WatchOptions()
    check_options(options)
    names = [str(s) for s in sources] or [STDIN]
    for name in names:
        if name != STDIN:
            check_readable(Path(name))
    detectors = make_detectors(options)
    stats = []
    for name in names:
        if name == STDIN:
            binary = stdin if stdin is not None else sys.stdin.buffer
            with closing(_text_lines(binary)) as lines:
                stats.append(watch_lines("<stdin>", lines, detectors, options))
        else:
            with Path(name).open("rb") as handle, closing(_text_lines(handle)) as lines:
                stats.append(watch_lines(name, lines, detectors, options))
    return WatchResult(detectors.flush(), stats)


def check_readable(path: Path) -> None:
    if not path.exists():
        raise NotFound("no such log file", where=str(path))
    if path.is_dir():
        raise InvalidInput("is a directory, not a log file", where=str(path))
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InvalidInput(f"cannot read the log file: {exc.strerror}", where=str(path)) from None


def _text_lines(binary: BinaryIO) -> Generator[str, None, None]:
    """Lines of a byte stream, gunzipped when it starts with gzip's magic, UTF-8 with
    undecodable bytes replaced (a log line is never rejected for its encoding)."""
    buffered: Any = binary
    if not isinstance(binary, io.BufferedReader):
        buffered = io.BufferedReader(buffered)  # anything with readinto (BytesIO too)
    stream: Any = buffered
    if buffered.peek(2)[:2] == _GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=buffered)
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline=None)
    try:
        yield from text
    except (OSError, EOFError) as exc:  # a truncated or corrupt gzip member
        raise InvalidInput(f"cannot read compressed log: {exc}") from None
    finally:
        text.detach()  # the caller owns (and closes) the byte stream


def watch_lines(
    name: str, lines: Iterable[str], detectors: DetectorSet, options: WatchOptions
) -> ParseStats:
    """Parse one source's lines and feed the records to ``detectors``; returns the counts."""
    stats = ParseStats(name, max_samples=options.error_samples)
    iterator = iter(lines)
    log_format = options.log_format
    if log_format == "auto":
        head = list(islice(iterator, DETECT_LINES))
        if not any(line.strip() for line in head):
            stats.log_format = "empty"
            stats.lines = len(head)
            return stats
        log_format = detect(name, head, options)
        iterator = chain(head, iterator)
    stats.log_format = log_format
    parser = make_parser(
        log_format, year=options.year, zone=options.zone, json_fields=options.json_fields
    )
    feed_lines(iterator, 0, parser, detectors, stats)
    return stats


def detect(name: str, head: list[str], options: WatchOptions) -> str:
    """The format of a source from its first lines; ``UnsupportedFormat`` when none reads them."""
    detected = detect_format(head, json_fields=options.json_fields)
    if detected is None:
        raise UnsupportedFormat(
            "no log format we read matches the first lines",
            where=name,
            hint=f"formats read: {', '.join(FORMATS)}; name one with --log-format",
        )
    return detected


def feed_lines(
    lines: Iterable[str],
    number: int,
    parser: LineParser,
    detectors: DetectorSet,
    stats: ParseStats,
) -> int:
    """Parse lines (numbered from ``number + 1``) and feed the records; counts go to ``stats``.
    Returns the number of the last line."""
    parse = parser.parse
    feed = detectors.feed
    skipped = stats.skipped
    records = 0
    last = number
    for last, line in enumerate(lines, number + 1):
        result = parse(line, last)
        if type(result) is Record:
            records += 1
            feed(result)
        elif result is None:
            stats.error(last, line)
        else:
            skipped[result] += 1  # type: ignore[index]
    stats.lines = last
    stats.records += records
    return last
