"""The operator's client beyond the attacks: enrolment checks, listing, local verification."""

from __future__ import annotations

from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

from sakimori.errors import (
    ConfigurationError,
    Conflict,
    NotFound,
    PermissionDenied,
    SourceUnavailable,
)
from sakimori.updates.client import enrol, version_key
from sakimori.updates.errors import UpdateRefused
from tests.updates.conftest import LINE, World


def test_enrolment_pins_only_a_self_signed_root(world: World, tmp_path: Path) -> None:
    root = world.repo.layout.versioned("root", 1).read_bytes()
    urls = {"metadata_url": f"{world.url}/metadata", "targets_url": f"{world.url}/targets"}
    with pytest.raises(Conflict, match="already enrolled"):
        enrol(world.state, root=root, **urls)
    with pytest.raises(ConfigurationError, match="not an http"):
        enrol(
            tmp_path / "a", root=root, metadata_url="file:///etc", targets_url=urls["targets_url"]
        )
    with pytest.raises(PermissionDenied, match="not the fingerprint given"):
        enrol(tmp_path / "b", root=root, fingerprint="ab" * 32, **urls)
    unsigned = Metadata.from_bytes(root)
    unsigned.signatures.popitem()
    unsigned.signatures.popitem()  # one of three signatures left; the threshold is 2
    with pytest.raises(PermissionDenied, match="not signed to its own threshold"):
        enrol(tmp_path / "c", root=unsigned.to_bytes(), **urls)
    assert not (tmp_path / "c" / "trusted-root.json").exists()


def test_listing_fetching_and_checking_a_local_file(world: World) -> None:
    world.release("1.10")
    world.release("1.9")
    client = world.client()
    view, releases = client.available(LINE)
    assert view.lines == (LINE,)
    assert [r.version for r in releases] == ["1.0", "1.9", "1.10"]
    assert releases[0].fixes == ("CVE-2024-3400",)
    available, path = client.fetch(LINE)  # the newest
    assert available.version == "1.10"
    assert path.read_bytes() == (world.base / "gw-1.10.bin").read_bytes()
    assert client.verify(available.path, path) == available
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    with pytest.raises(UpdateRefused, match="does not match the length and hashes"):
        client.verify(available.path, path)
    with pytest.raises(NotFound, match="not in the repository"):
        client.fetch(f"{LINE}/gw-9.bin")
    with pytest.raises(NotFound, match="product line 'hsm'"):
        client.available("hsm")


def test_an_unreachable_repository_is_unavailable_not_an_attack(world: World) -> None:
    world.proxy.upstream = "http://127.0.0.1:9"  # nothing listens on the discard port
    with pytest.raises(SourceUnavailable, match="cannot download metadata") as caught:
        world.client().refresh()
    assert not isinstance(caught.value, UpdateRefused)


def test_versions_sort_naturally() -> None:
    versions = ["2.10", "2.9", "2.9.1", "10.0", "1.0-hotfix2", "1.0-hotfix10"]
    assert sorted(versions, key=version_key) == [
        "1.0-hotfix2",
        "1.0-hotfix10",
        "2.9",
        "2.9.1",
        "2.10",
        "10.0",
    ]
