"""What the authorisation matrix (tests/api/test_authorization_matrix.py) sends to the
``/v1/updates`` routes: a repository hosted for ``vendor-co`` with one published release
linked to a package that member A receives, and the vendor's next upload staged."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sakimori.packages.model import Content
from sakimori.services import identity
from sakimori.services import packages as package_service
from sakimori.services import updates as service
from sakimori.services.organisations import create_organisation
from sakimori.updates import keys
from sakimori.updates.acceptance import Release
from sakimori.updates.repository import (
    Thresholds,
    VendorRepository,
    add_target,
    init_repository,
    record_uploaded,
)

VENDOR = "vendor-co"
RELEASE_PATH = "gateway/gw-1.0.bin"


@dataclass
class Hosted:
    target_url: str
    next_upload: dict[str, tuple[str, bytes, str]]


_HOSTED: dict[Path, Hosted] = {}


def _principal(world: Any, who: str) -> Any:
    return identity.authenticate(world.db, world.key, world.tokens[who])


def _release(world: Any, base: Path, repo: VendorRepository, version: str, package: int) -> Path:
    artefact = base / f"gw-{version}.bin"
    artefact.write_bytes(f"gateway {version}\n".encode() * 50)
    offline = base / "offline"
    add_target(
        repo,
        artefact,
        line="gateway",
        release=Release(version, f"SAKIMORI-PKG-{package:06d}", ("CVE-2099-0001",)),
        signers=[keys.load_signer(offline / "gateway-1.key")],
    )
    return artefact


def hosted(world: Any, organisation_a: str) -> Hosted:
    """Once per world: register, publish release 1.0, stage release 2.0."""
    home: Path = world.settings.home
    found = _HOSTED.get(home)
    if found is not None:
        return found
    hosting = service.Hosting.of(world.settings)
    info = service.register_repository(
        world.db, _principal(world, "coordinator_admin"), hosting, VENDOR
    )
    base = home / "matrix-vendor"
    online = keys.write_public_keys(base / "platform-keys", info.online_keys)
    repo = init_repository(
        base / "repo",
        lines=["gateway"],
        offline_keys=base / "offline",
        online_keys=online,
        thresholds=Thresholds(root_keys=1, root_threshold=1, line_keys=1, line_threshold=1),
    )
    content = Content.from_dict(
        {
            "title": "Matrix update package",
            "tlp": "AMBER",
            "audience": {"organisations": [organisation_a]},
            "vulnerabilities": ["CVE-2099-0001"],
            "products": [{"purl": "pkg:pypi/django@2.2.24"}],
        }
    )
    package = package_service.create_draft(world.db, content, "bunseki")
    package_service.submit(world.db, package.id, "bunseki")
    package_service.approve(world.db, package.id, "kanri")
    artefact = _release(world, base, repo, "1.0", package.id)
    service.upload(
        world.db,
        _principal(world, "vendor"),
        hosting,
        VENDOR,
        repo.staged(),
        {t: p.read_bytes() for t, p in repo.staged_artefacts().items()},
    )
    record_uploaded(repo)
    digest = service.list_releases(world.db, _principal(world, "analyst"), hosting)[0].sha256
    _release(world, base, repo, "2.0", package.id)
    ((target, path),) = repo.staged_artefacts().items()
    found = Hosted(
        target_url=f"/v1/updates/{VENDOR}/targets/gateway/{digest}.{artefact.name}",
        next_upload={
            "metadata": ("gateway.json", repo.staged()["gateway"], "application/json"),
            "artefacts": (target, path.read_bytes(), "application/octet-stream"),
        },
    )
    _HOSTED[home] = found
    return found


def call(
    world: Any, method: str, path: str, principal: str, organisation_a: str, asset_a: str
) -> dict[str, Any]:
    """The request (``url``, ``json``, ``files``) for one matrix cell of a /v1/updates route."""
    found = hosted(world, organisation_a)
    suffix = principal.replace("_", "-")
    if (method, path) == ("POST", "/v1/updates/repositories"):
        slug = f"vendor-{suffix}"
        create_organisation(world.db, slug, f"Vendor {suffix}", "vendor")
        return {"url": path, "json": {"vendor": slug}}
    if path == "/v1/updates/{vendor}/targets/{line}/{name}":
        return {"url": found.target_url}
    if path == "/v1/updates/reports":
        body = {
            "vendor": VENDOR,
            "asset": asset_a,
            "event": "rollout-completed",
            "line": "gateway",
            "version": "1.0",
        }
        return {"url": path, "json": body}
    url = path.format(vendor=VENDOR, name="timestamp.json")
    if path.endswith("/uploads"):
        return {"url": url, "files": found.next_upload}
    return {"url": url}


def releases_seen(principal: str, body: Any) -> None:
    """Member A receives the package the release is linked to; member B does not."""
    paths = {r["path"] for r in body}
    if principal == "member_user_b":
        assert RELEASE_PATH not in paths
    else:
        assert RELEASE_PATH in paths
