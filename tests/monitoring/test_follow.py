"""``sakimori watch --follow``: a real file written while it is followed, rotated and truncated.

The follower runs in a background thread (or as the real command, in a subprocess); the test
writes lines and waits for the alerts with a generous timeout. How fast they come is measured
by benchmarks/bench_follow_latency.py, not asserted here.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sakimori.monitoring.detectors import Alert
from sakimori.monitoring.follow import CLOSED, OPENED, FollowResult, follow
from sakimori.monitoring.watch import WatchOptions

WAIT = 30.0  # seconds: generous, only to fail instead of hanging


def attack(client: str, second: int = 1) -> str:
    return (
        f'{client} - - [10/Oct/2023:08:32:{second:02d} +0000] "GET /p?id=1%20UNION%20SELECT%20'
        f'password%20FROM%20users-- HTTP/1.1" 200 1 "-" "Mozilla/5.0"\n'
    )


def benign(second: int = 1) -> str:
    return (
        f'192.0.2.1 - - [10/Oct/2023:08:32:{second:02d} +0000] "GET /about HTTP/1.1" 200 1 "-"'
        ' "Mozilla/5.0"\n'
    )


class Follower:
    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, Alert]] = queue.Queue()
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.result: FollowResult | None = None

    def emit(self, event: str, alert: Alert) -> None:
        self.events.put((event, alert))

    def opened_for(self, client: str) -> Alert:
        while True:
            event, alert = self.events.get(timeout=WAIT)
            if event == OPENED and alert.client == client:
                return alert


@contextmanager
def following(path: Path, *, from_start: bool = True) -> Iterator[Follower]:
    follower = Follower()

    def run() -> None:
        follower.result = follow(
            [path],
            WatchOptions(),
            follower.emit,
            follower.stop,
            poll=0.02,
            from_start=from_start,
            ready=follower.ready,
        )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert follower.ready.wait(WAIT)
    try:
        yield follower
    finally:
        follower.stop.set()
        thread.join(WAIT)
        assert not thread.is_alive()


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def test_alerts_open_as_lines_arrive_through_rotation_and_truncation(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(benign(), encoding="utf-8")
    with following(log) as follower:
        append(log, attack("203.0.113.1", 2))
        alert = follower.opened_for("203.0.113.1")
        assert alert.detector == "http-payload"
        assert alert.count == 1

        log.rename(tmp_path / "access.log.1")  # logrotate: rename, create anew
        log.write_text(benign(3) + attack("203.0.113.2", 4), encoding="utf-8")
        assert follower.opened_for("203.0.113.2").detector == "http-payload"

        with log.open("w", encoding="utf-8") as handle:  # copytruncate: the same file, emptied
            handle.write(attack("203.0.113.3", 5))
        assert follower.opened_for("203.0.113.3").detector == "http-payload"

        half = attack("203.0.113.4", 6)  # a line written in two parts is read once, whole
        append(log, half[:30])
        append(log, half[30:])
        assert follower.opened_for("203.0.113.4").count == 1
    result = follower.result
    assert result is not None
    closed = []
    while not follower.events.empty():
        event, alert = follower.events.get()
        if event == CLOSED:
            closed.append(alert.client)
    assert {"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"} <= set(closed)
    stats = result.sources[0]
    assert stats.errors == 0
    assert stats.log_format == "combined"


def test_following_starts_at_the_end(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(attack("203.0.113.9"), encoding="utf-8")
    events: list[tuple[str, Alert]] = []
    stop = threading.Event()
    stop.set()  # open, then stop at once: only what was written after opening would count
    result = follow([log], WatchOptions(), lambda e, a: events.append((e, a)), stop)
    assert events == []
    assert result.sources[0].log_format == "combined"  # detected from the file's head
    result = follow(
        [log], WatchOptions(), lambda e, a: events.append((e, a)), stop, from_start=True
    )
    assert [(e, a.client) for e, a in events] == [
        (OPENED, "203.0.113.9"), (CLOSED, "203.0.113.9"),
    ]  # fmt: skip


def test_a_file_that_appears_later_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    with following(log, from_start=False) as follower:
        log.write_text(benign() + attack("203.0.113.7", 2), encoding="utf-8")
        assert follower.opened_for("203.0.113.7").detector == "http-payload"


def test_the_command_follows_and_stops_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(benign(), encoding="utf-8")
    command = [
        sys.executable, "-c", "from sakimori.cli.main import main; main()",
        "watch", "--follow", "--format", "json", str(log),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    reader = threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True)
    reader.start()
    try:
        # It starts at the end: keep appending until the follower has opened the file.
        for second in range(2, 60):
            append(log, attack("203.0.113.5", second))
            try:
                first = json.loads(lines.get(timeout=0.5))
                break
            except queue.Empty:
                continue
        else:
            raise AssertionError("no alert from the following command")
        assert (first["event"], first["detector"], first["client"]) == (
            "opened", "http-payload", "203.0.113.5",
        )  # fmt: skip
        process.send_signal(signal.SIGTERM)
        code = process.wait(WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(WAIT)
        stdout.close()
    assert process.stderr is not None
    err = process.stderr.read()
    process.stderr.close()
    rest = []
    while not lines.empty():
        rest.append(json.loads(lines.get()))
    assert code == 1, err  # alerts were reported
    assert [e["event"] for e in rest if e["detector"] == "http-payload"] == ["closed"]
    assert "records" in err
