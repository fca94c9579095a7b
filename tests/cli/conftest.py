"""Run the real ``sakimori`` entry point in-process, and a home with the real intel loaded."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_data


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


class Cli:
    """Calls ``sakimori.cli.main.main`` with argv and environment, capturing what it prints."""

    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home = home
        self.capsys = capsys

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Run:
        from sakimori.cli import main as cli_main

        saved_argv, saved_env = sys.argv, dict(os.environ)
        sys.argv = ["sakimori", *args]
        os.environ["SAKIMORI_HOME"] = str(self.home)
        os.environ.pop("SAKIMORI_DATABASE_URL", None)
        os.environ.update(env or {})
        self.capsys.readouterr()
        try:
            cli_main.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        else:  # pragma: no cover - main always exits
            code = 0
        finally:
            sys.argv = saved_argv
            os.environ.clear()
            os.environ.update(saved_env)
        captured = self.capsys.readouterr()
        return Run(code, captured.out, captured.err)


@pytest.fixture(scope="session")
def loaded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SAKIMORI_HOME with all shared OSV data, KEV, EPSS, CVE records and the SSVC decision
    tables loaded once per test session."""
    from sakimori.config import Settings
    from sakimori.services.intel import load_paths
    from sakimori.store.db import open_database

    home = tmp_path_factory.mktemp("home")
    settings = Settings.load({"SAKIMORI_HOME": str(home)})
    db = open_database(settings.database_url)
    try:
        load_paths(
            db,
            [
                require_data("osv"),
                require_data("kev", "known_exploited_vulnerabilities.json"),
                require_data("epss", "EPSS_CVE_data"),
                require_data("cve"),
                require_data("ssvc", "data", "json", "decision_tables"),
            ],
            settings.limits,
        )
    finally:
        db.dispose()
    return home


@pytest.fixture
def cli(loaded_home: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(loaded_home, capsys)


@pytest.fixture
def empty_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path / "home", capsys)
