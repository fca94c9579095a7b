"""Real records for the CPE tests: every NVD record in ../shared/data/nvd and every CVE record
in ../shared/data/cve, parsed once per session."""

from __future__ import annotations

import pytest

from sakimori.cpe import nvd
from sakimori.cpe.nvd import NvdRecord
from sakimori.formats import cve
from sakimori.model.cve import CveRecord
from tests.conftest import require_data


@pytest.fixture(scope="session")
def nvd_records() -> list[NvdRecord]:
    root = require_data("nvd")
    records: list[NvdRecord] = []
    for path in sorted(root.glob("20*/CVE-*.json")):
        records.extend(nvd.parse(path.read_bytes()))
    return records


@pytest.fixture(scope="session")
def cve_records() -> list[CveRecord]:
    root = require_data("cve")
    return [cve.parse(path.read_bytes()) for path in sorted(root.glob("20*/*/CVE-*.json"))]
