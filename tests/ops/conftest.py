"""The demo world of `make run`, built once per session in a SQLite home, and a real server.

The home holds what `make run` loads — the shared OSV data, KEV, CVE records and the SSVC
decision tables (EPSS, the slowest and not needed to have findings, is left out) — and the
world built by ``sakimori.cli.demo.build_world``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from sakimori.api import create_app
from sakimori.cli import demo
from sakimori.config import Settings
from sakimori.services.intel import load_paths
from sakimori.store.db import Database, open_database
from tests.conftest import DATA, require_data


@dataclass
class DemoHome:
    settings: Settings
    db: Database
    report: demo.DemoReport


def home_settings(home: Path) -> Settings:
    return Settings(
        home=home,
        database_url=f"sqlite:///{home / 'sakimori.db'}",
        token_key_file=home / "token.key",
    )


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoHome]:
    settings = home_settings(tmp_path_factory.mktemp("demo-home"))
    db = open_database(settings.database_url)
    load_paths(
        db,
        [
            require_data("osv"),
            require_data("kev", "known_exploited_vulnerabilities.json"),
            require_data("cve"),
            require_data("nvd"),
            require_data("ssvc", "data", "json", "decision_tables"),
        ],
        settings.limits,
    )
    report = demo.build_world(db, settings, DATA)
    yield DemoHome(settings, db, report)
    db.dispose()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running(settings: Settings) -> Iterator[str]:
    """The real app on uvicorn on a free loopback port, as `sakimori serve` runs it."""
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=free_port(),
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    waiting = threading.Event()
    for _ in range(500):
        if server.started:
            break
        waiting.wait(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join()


@pytest.fixture(scope="session")
def demo_server(demo_home: DemoHome) -> Iterator[str]:
    with running(demo_home.settings) as url:
        yield url
