"""GET /v1/products/suggestions over the real NVD records: ranked, explained, chosen by no one."""

from __future__ import annotations

from pathlib import Path

from sakimori.formats.limits import Limits
from sakimori.services.intel import load_paths
from tests.api.conftest import World
from tests.conftest import require_data


def test_suggestions_rank_the_loaded_names_and_explain_them(world: World, tmp_path: Path) -> None:
    nvd = tmp_path / "nvd"
    nvd.mkdir()
    for year in ("2020", "2024"):
        for record in require_data("nvd", year).glob("*.json"):
            (nvd / record.name).write_bytes(record.read_bytes())
    load_paths(world.db, [nvd], Limits())
    answer = world.client.get(
        "/v1/products/suggestions",
        params={"text": "Palo Alto PAN-OS", "limit": 3},
        headers=world.headers("member_user"),
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert (found[0]["vendor"], found[0]["product"]) == ("paloaltonetworks", "pan-os")
    assert "tokens matched" in found[0]["explanation"]
    assert 0 < found[0]["score"] <= 1
    assert len(found) <= 3
    bad = world.client.get(
        "/v1/products/suggestions", params={"text": ""}, headers=world.headers("member_user")
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
