"""The CrowdSec hub test cases in ../shared/data/weblogs/crowdsec-hub-tests/tests, read as data:
each case's log file and, from its ``scenario.assert``, which source address must trigger which
scenario."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_data

_RESULT = re.compile(
    r"results\[(\d+)\]\.Overflow\.Alert\."
    r'(?:Events\[\d+\]\.GetMeta\("source_ip"\) == "([^"]+)"|GetScenario\(\) == "([^"]+)")'
)


@dataclass(frozen=True)
class Case:
    name: str
    logs: tuple[Path, ...]
    #: (scenario without its author prefix, source address) pairs the test asserts.
    expected: frozenset[tuple[str, str]]


def hub_tests() -> Path:
    return require_data("weblogs", "crowdsec-hub-tests", "tests")


def cases() -> list[Case]:
    found = []
    for directory in sorted(p for p in hub_tests().iterdir() if p.is_dir()):
        expected: set[tuple[str, str]] = set()
        assertion = directory / "scenario.assert"
        if assertion.exists():
            addresses: dict[int, set[str]] = {}
            scenarios: dict[int, str] = {}
            for match in _RESULT.finditer(assertion.read_text(encoding="utf-8")):
                index = int(match.group(1))
                if match.group(2):
                    addresses.setdefault(index, set()).add(match.group(2))
                else:
                    scenarios[index] = match.group(3).rsplit("/", 1)[-1]
            for index, scenario in scenarios.items():
                for address in addresses.get(index, set()):
                    expected.add((scenario, address))
        found.append(
            Case(directory.name, tuple(sorted(directory.glob("*.log"))), frozenset(expected))
        )
    return found
