"""Helpers shared by the lockfile tests: where the samples are, and how to compare inventories."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from sakimori.formats.lockfiles import (
    apk_installed,
    bun_lock,
    cabal_freeze,
    cargo_lock,
    composer_lock,
    deps_json,
    dpkg_status,
    gemfile_lock,
    go_mod,
    gradle_lock,
    maven_pom,
    npm_lock,
    nuget_config,
    nuget_lock,
    pdm_lock,
    pipfile_lock,
    pnpm_lock,
    podfile_lock,
    poetry_lock,
    requirements,
    stack_lock,
    swift_resolved,
    uv_lock,
    yarn_lock,
)
from sakimori.model.inventory import Inventory
from tests.conftest import require_data

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "lockfiles"
INVALID = ASSETS / "invalid"

#: One hand-written valid sample per parser module (every module has one).
SAMPLES: dict[ModuleType, str] = {
    apk_installed: "apk-installed",
    bun_lock: "bun-sources.lock",
    cabal_freeze: "cabal-qualified.project.freeze",
    cargo_lock: "cargo-sources.lock",
    composer_lock: "composer-sources.lock",
    deps_json: "app.deps.json",
    dpkg_status: "dpkg-status",
    gemfile_lock: "gemfile-sources.lock",
    go_mod: "go-edge.mod",
    gradle_lock: "test-only.gradle.lockfile",
    maven_pom: "pom-parent.xml",
    npm_lock: "package-lock.v3.json",
    nuget_config: "packages-ns.config",
    nuget_lock: "packages.lock.multi.json",
    pdm_lock: "pdm-sources.lock",
    pipfile_lock: "Pipfile-categories.lock",
    pnpm_lock: "pnpm-lock.v9.yaml",
    podfile_lock: "Podfile-subspecs.lock",
    poetry_lock: "poetry-v2.lock",
    requirements: "requirements-edge.txt",
    stack_lock: "stack-git.yaml.lock",
    swift_resolved: "Package-v1.resolved",
    uv_lock: "uv-sources.lock",
    yarn_lock: "yarn-berry-protocols.lock",
}


def asset(name: str) -> bytes:
    return (ASSETS / name).read_bytes()


def real(*parts: str) -> bytes:
    """A file of ../shared/data/lockfiles (skipped outside CI when the data set is missing)."""
    return require_data("lockfiles", *parts).read_bytes()


V1 = ("osv-scanner-5058d47", "pkg", "lockfile", "fixtures")
SCAN = ("osv-scanner-add393a", "cmd", "osv-scanner", "scan", "source", "testdata")


def triples(inventory: Inventory) -> list[tuple[str | None, str, str | None]]:
    """(ecosystem, name, version) of each component, in the inventory's order."""
    return [(c.ecosystem, c.name, c.version) for c in inventory.components]


def by_name(inventory: Inventory) -> dict[str, list[str | None]]:
    found: dict[str, list[str | None]] = {}
    for component in inventory.components:
        found.setdefault(component.name, []).append(component.version)
    return found
