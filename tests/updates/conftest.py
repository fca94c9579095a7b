"""A vendor repository made by our own code, served over real HTTP on 127.0.0.1 through a
tampering proxy, and an operator enrolled with it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner

from sakimori.updates import keys
from sakimori.updates.acceptance import Release
from sakimori.updates.client import ClientLimits, UpdateClient, enrol
from sakimori.updates.repository import (
    Thresholds,
    VendorRepository,
    add_target,
    init_repository,
    online_signers,
    publish,
)
from tests.updates.servers import TamperingProxy, static_server, tampering_proxy

LINE = "gateway"
THRESHOLDS = Thresholds(
    root_keys=3,
    root_threshold=2,
    targets_keys=2,
    targets_threshold=1,
    line_keys=2,
    line_threshold=2,
)


@dataclass
class World:
    base: Path
    repo: VendorRepository
    offline: Path
    online: Path
    url: str  # the proxy's base URL: what the operator is enrolled with
    proxy: TamperingProxy
    state: Path

    def signer(self, name: str) -> CryptoSigner:
        return keys.load_signer(self.offline / f"{name}.key")

    def release(
        self, version: str, body: bytes | None = None, *, now: datetime | None = None
    ) -> str:
        """Add, sign (both gateway keys) and publish ``gateway/gw-VERSION.bin``; its path."""
        artefact = self.base / f"gw-{version}.bin"
        artefact.write_bytes(
            body if body is not None else f"gateway firmware {version}\n".encode() * 64
        )
        add_target(
            self.repo,
            artefact,
            line=LINE,
            now=now,
            release=Release(version, f"CMP-2026-{version}", ("CVE-2024-3400",)),
            signers=[self.signer(f"{LINE}-1"), self.signer(f"{LINE}-2")],
        )
        publish(self.repo, online_signers(self.online), now=now)
        return f"{LINE}/{artefact.name}"

    def artefact_url_path(self, target: str) -> str:
        directory, _, name = target.rpartition("/")
        digest = hashlib.sha256((self.base / name).read_bytes()).hexdigest()
        return f"/targets/{directory}/{digest}.{name}"

    def client(self, **limits: float) -> UpdateClient:
        return UpdateClient(self.state, limits=ClientLimits(**limits))  # type: ignore[arg-type]

    def staging(self) -> dict[str, bytes]:
        """Every file under the staging directory, with its content."""
        root = self.state / "staging"
        return {
            str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
        }


def build(base: Path, *, now: datetime | None = None) -> tuple[VendorRepository, Path, Path]:
    offline, online = base / "offline-keys", base / "online-keys"
    repo = init_repository(
        base / "repo",
        lines=[LINE],
        offline_keys=offline,
        online_keys=online,
        thresholds=THRESHOLDS,
        now=now,
    )
    publish(repo, online_signers(online), now=now)
    return repo, offline, online


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Release 1.0 published; the operator enrolled (root v1 pinned) through the proxy."""
    repo, offline, online = build(tmp_path)
    with static_server(repo.layout.public) as origin, tampering_proxy(origin) as (url, proxy):
        state = tmp_path / "operator"
        world = World(tmp_path, repo, offline, online, url, proxy, state)
        world.release("1.0")
        enrol(
            state,
            metadata_url=f"{url}/metadata",
            targets_url=f"{url}/targets",
            root=repo.layout.versioned("root", 1).read_bytes(),
        )
        yield world
