"""Shared fixtures: the real data sets in ../shared/data, and service availability rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SAKIMORI_TEST_DATA", ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_data(*parts: str) -> Path:
    """Path below ../shared/data; fail in CI, skip elsewhere, when it is missing."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        message = f"real data set {path} is missing (see ../shared/data/SOURCES.md)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return require_data()
