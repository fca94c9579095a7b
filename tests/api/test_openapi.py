"""The OpenAPI document: checked in and current, and the API keeps to it (schemathesis)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.api.conftest import World, build_world

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # see conftest: Starlette and httpx2
    import schemathesis
    from schemathesis.config import SchemathesisConfig

ROOT = Path(__file__).resolve().parents[2]


def test_the_checked_in_document_is_current() -> None:
    """Change a route or a model and forget `python scripts/export_openapi.py`: this fails."""
    from scripts.export_openapi import TARGET, render

    assert TARGET == ROOT / "docs" / "openapi.json"
    assert TARGET.read_text(encoding="utf-8") == render(), (
        "docs/openapi.json is stale: run python scripts/export_openapi.py"
    )


def test_the_export_script_checks() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "export_openapi.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


class DeferredApp:
    """An ASGI app that forwards to the one the fixture builds (the schema needs one at import)."""

    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


APP = DeferredApp()
#: Generated from the checked-in document (so what CI fuzzes is what clients read), sent to the
#: application in process (ASGI), not over the network.
#: A schema-valid request may still be refused with 400 by the services: an uploaded file that
#: is no inventory or VEX document, a lifecycle move that needs a justification or a future
#: expiry, a slug already taken (409). The schema cannot say these; everything else is checked.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "413"]
            }
        }
    }
)
schema = schemathesis.openapi.from_dict(
    json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")), config=CONFIG
)
schema.app = APP


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with build_world("sqlite", tmp_path_factory.mktemp("fuzz")) as built:
        APP.target = built.app
        yield built
        APP.target = None


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("SAKIMORI_FUZZ_EXAMPLES", "8")),  # CI: small; locally: more
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_document(case: Any, fuzzed: World) -> None:
    """No 5xx, answers that match the schemas, bad input refused, for the coordinator admin."""
    case.call_and_validate(headers=fuzzed.headers("coordinator_admin"))
