"""A server process freezes its heap when it starts serving and once more after warming up
(sakimori.api.heap); an app built for tests or tools leaves the collector alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sakimori.api import create_app, heap
from tests.api.conftest import settings_for


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_the_warm_up_freezes_once_after_its_requests() -> None:
    warmup = heap.Warmup(after=3)
    warmup.tick()
    warmup.tick()
    assert gc.get_freeze_count() == 0
    warmup.tick()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    gc.unfreeze()
    warmup.tick()  # the fourth and later: nothing more
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("serving", [True, False])
def test_only_a_serving_app_freezes_its_heap(tmp_path: Path, serving: bool) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'sakimori.db'}", tmp_path)
    app = create_app(settings, serving=serving)
    with TestClient(app) as client:
        assert (gc.get_freeze_count() > 0) is serving  # at start-up
        gc.unfreeze()
        for _ in range(heap.WARM_REQUESTS):
            assert client.get("/healthz").status_code == 200
        assert (gc.get_freeze_count() > 0) is serving  # after warming up
