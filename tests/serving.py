"""A real ``sakimori serve`` on loopback for the tests that speak HTTP to it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60  # a bound on waiting, not an assertion on speed
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"sakimori serve exited with {process.returncode}: {output}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("sakimori serve did not answer /healthz")


@dataclass
class Served:
    """The server's address; once it has stopped, everything it wrote (stdout and stderr)."""

    base: str
    output: str = ""


@contextmanager
def sakimori_serve(
    env: Mapping[str, str], *, options: Sequence[str] = (), cwd: Path | None = None
) -> Iterator[Served]:
    """``sakimori [options] serve`` on a free port of 127.0.0.1 with ``env``, up when this
    yields; stopped (SIGTERM) afterwards, its output kept for the caller to check."""
    port = free_port()
    command = [sys.executable, "-m", "sakimori", *options, "serve"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    served = Served(f"http://127.0.0.1:{port}")
    try:
        wait_until_up(served.base, process)
        yield served
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
        served.output = output.decode(errors="replace")
