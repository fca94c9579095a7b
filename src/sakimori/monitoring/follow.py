"""``sakimori watch --follow``: follow growing logs as ``tail -F`` does, and report alerts live.

Each file is followed by name. Every ``poll`` seconds (0.1 by default) each file is checked:

- *rotation*: the name now points to another file (another inode, as after ``logrotate``'s
  rename-and-create, or a file moved away and a new one created): what the old file still held is
  read to its end, then the new file is opened and read from its start;
- *truncation*: the file is shorter than what was read (``copytruncate``, ``> access.log``):
  it is read again from its start;
- a file that does not exist (yet, or between rotation steps) is waited for.

Only complete lines are parsed (a line being written is kept until its newline arrives). By
default following starts at the end of the files, as a live view; ``from_start`` reads what they
already hold first. The format is detected from a file's first lines (its head when following
starts, else the first lines that arrive) unless named.

Alerts are reported twice: ``opened`` as soon as a detector's condition holds (after the poll
that read the line completing it, so well within a second of the line being written), and
``closed`` with the final counts when the alert closes (idle for ``alert_idle`` seconds of log
time, or when following stops). Following stops when ``stop`` is set (the command sets it on
SIGINT and SIGTERM); what the files still hold is read first.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from sakimori.monitoring.detectors import Alert, DetectorSet
from sakimori.monitoring.detectors.interface import reason_text
from sakimori.monitoring.parsers import ParseStats, make_parser
from sakimori.monitoring.parsers.interface import LineParser
from sakimori.monitoring.watch import (
    DETECT_LINES,
    WatchOptions,
    check_options,
    detect,
    feed_lines,
    make_detectors,
)

OPENED = "opened"
CLOSED = "closed"
#: Bytes read from one file per step (a burst is read over several steps, without waiting).
CHUNK = 1 << 20

Emit = Callable[[str, Alert], None]


@dataclass
class FollowResult:
    opened: int = 0  # alerts reported as opened
    closed: int = 0  # alerts reported as closed
    sources: list[ParseStats] = field(default_factory=list)


class _Tail:
    """One followed file: its open handle, identity, read position and unfinished line."""

    def __init__(self, path: Path, options: WatchOptions, detectors: DetectorSet) -> None:
        self.path = path
        self.options = options
        self.detectors = detectors
        self.stats = ParseStats(str(path), max_samples=options.error_samples)
        self.handle: BinaryIO | None = None
        self.ident: tuple[int, int] = (0, 0)
        self.pending = b""
        self.number = 0
        self.parser: LineParser | None = None
        if options.log_format != "auto":
            self._use(options.log_format)

    def _use(self, log_format: str) -> None:
        self.stats.log_format = log_format
        options = self.options
        self.parser = make_parser(
            log_format, year=options.year, zone=options.zone, json_fields=options.json_fields
        )

    def start(self, at_end: bool) -> None:
        if self._open() and at_end:
            assert self.handle is not None
            if self.parser is None:  # detect the format from what the file holds
                head = [
                    line.decode("utf-8", "replace") for line in islice(self.handle, DETECT_LINES)
                ]
                if any(line.strip() for line in head):
                    self._use(detect(str(self.path), head, self.options))
            self.handle.seek(0, os.SEEK_END)

    def _open(self) -> bool:
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return False
        stat = os.fstat(handle.fileno())
        self.handle, self.ident, self.pending = handle, (stat.st_dev, stat.st_ino), b""
        return True

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def step(self) -> int:
        """Read and feed what is new; returns the number of lines read."""
        if self.handle is None:
            if not self._open():
                return 0
            return self._read()
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:  # moved away, the new one not there yet: finish the old one
            return self._read()
        if (stat.st_dev, stat.st_ino) != self.ident:
            count = self.drain()
            self.close()
            self._open()
            return count + self._read()
        if stat.st_size < self.handle.tell():
            self.handle.seek(0)
            self.pending = b""
        return self._read()

    def drain(self) -> int:
        """Read to the end of the open file."""
        count = 0
        while True:
            read = self._read()
            if not read:
                return count
            count += read

    def _read(self) -> int:
        assert self.handle is not None
        data = self.handle.read(CHUNK)
        if not data:
            return 0
        data = self.pending + data
        end = data.rfind(b"\n") + 1
        self.pending = data[end:]
        if not end:
            return 0
        lines = data[:end].decode("utf-8", "replace").splitlines(keepends=True)
        if self.parser is None:
            if not any(line.strip() for line in lines):
                return len(lines)
            self._use(detect(str(self.path), lines[:DETECT_LINES], self.options))
        assert self.parser is not None
        self.number = feed_lines(lines, self.number, self.parser, self.detectors, self.stats)
        return len(lines)


class _Reporter:
    """Finds alerts opened or closed since the last look, and emits each once."""

    def __init__(self, detectors: DetectorSet, emit: Emit, result: FollowResult) -> None:
        self.detectors = detectors
        self.emit = emit
        self.result = result
        self.announced: set[tuple[str, str, datetime]] = set()

    def report(self, *, final: bool = False) -> None:
        detectors = self.detectors
        for detector in detectors.all:
            # The open alerts are the detectors' own bookkeeping (``Detector._open``, an ordered
            # map: new alerts are appended, closed ones removed), so the ones not reported yet
            # are its last entries: look from the end, stop at the first one reported.
            fresh = []
            for (name, client), building in reversed(detector._open.items()):
                key = (name, client, building.first)
                if key in self.announced:
                    break
                self.announced.add(key)
                fresh.append(
                    Alert(
                        name,
                        client,
                        building.first,
                        building.last,
                        building.count,
                        tuple(building.examples),
                        reason_text(building.reason),
                    )
                )
            for alert in reversed(fresh):
                self.result.opened += 1
                self.emit(OPENED, alert)
        for alert in detectors.flush() if final else detectors.take():
            self.announced.discard((alert.detector, alert.client, alert.first_seen))
            self.result.closed += 1
            self.emit(CLOSED, alert)


def follow(
    paths: Sequence[str | Path],
    options: WatchOptions,
    emit: Emit,
    stop: threading.Event,
    *,
    poll: float = 0.1,
    from_start: bool = False,
    ready: threading.Event | None = None,
) -> FollowResult:
    """Follow ``paths`` until ``stop`` is set, emitting alerts as they open and close;
    ``ready`` is set once the files that exist are open (what is written after counts)."""
    check_options(options)
    detectors = make_detectors(options)
    tails = [_Tail(Path(p), options, detectors) for p in paths]
    result = FollowResult(sources=[t.stats for t in tails])
    reporter = _Reporter(detectors, emit, result)
    try:
        for tail in tails:
            tail.start(at_end=not from_start)
        if ready is not None:
            ready.set()
        while not stop.is_set():
            if sum(tail.step() for tail in tails):
                reporter.report()
            else:
                stop.wait(poll)
        for tail in tails:  # what was written before the stop
            if tail.handle is not None:
                tail.drain()
        reporter.report(final=True)
    finally:
        for tail in tails:
            tail.close()
    return result
