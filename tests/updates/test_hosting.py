"""The platform hosts a vendor's TUF repository: a real ``sakimori serve`` on 127.0.0.1 over
PostgreSQL, a vendor signing offline, an operator's ngclient fetching through the API with its
token, a roll-out reported back, and the asset's finding moving to ``fix_applied``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sakimori.config import Settings
from sakimori.formats.limits import Limits
from sakimori.jobs.handlers import HANDLERS, UPDATES_REFRESH
from sakimori.jobs.interface import enqueue
from sakimori.jobs.runner import Runner
from sakimori.packages.model import Content
from sakimori.services import findings, identity
from sakimori.services import packages as package_service
from sakimori.services.intel import load_paths
from sakimori.services.organisations import create_asset, create_organisation
from sakimori.services.tracking import upload_inventory
from sakimori.services.updates import refresh_all
from sakimori.store import models
from sakimori.store.db import open_database
from sakimori.updates import keys
from sakimori.updates.acceptance import Release
from sakimori.updates.client import UpdateClient, enrol, platform_urls
from sakimori.updates.platform import PlatformReporter, upload_staged
from sakimori.updates.repository import (
    Thresholds,
    VendorRepository,
    add_target,
    init_repository,
    sign,
)
from sakimori.updates.rollout import Plan, Rollout
from tests.cli.conftest import Cli
from tests.conftest import postgres_database, require_data
from tests.serving import sakimori_serve

pytestmark = pytest.mark.postgres

VENDOR = "acme"
ASSET = "city-bank/payments"
USERS = {
    "admin": ("kanri", "coordination", "coordinator_admin"),
    "analyst": ("bunseki", "coordination", "analyst"),
    "bank": ("bank-ops", "city-bank", "member_user"),
    "other_bank": ("other-ops", "harbour-bank", "member_user"),
    "vendor": ("acme-psirt", VENDOR, "vendor"),
    "other_vendor": ("zeta-psirt", "zeta", "vendor"),
}


@dataclass
class Platform:
    base: str
    home: Path
    settings: Settings
    tokens: dict[str, str]
    finding: int
    fixes: str  # the vulnerability id the release fixes
    package: int

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    home = tmp_path_factory.mktemp("hosting")
    with postgres_database() as url:
        env = {**os.environ, "SAKIMORI_HOME": str(home), "SAKIMORI_DATABASE_URL": url}
        settings = Settings.load(env)
        db = open_database(url)
        try:
            load_paths(db, [require_data("osv", "pypi", "vulns", "django")], Limits())
            create_organisation(db, "coordination", "Coordination", "coordinator")
            create_organisation(db, "city-bank", "City Bank", "operator", ["finance"])
            create_organisation(db, "harbour-bank", "Harbour Bank", "operator", ["finance"])
            create_organisation(db, VENDOR, "Acme", "vendor")
            create_organisation(db, "zeta", "Zeta", "vendor")
            create_asset(db, ASSET, "Payments", "high", internet_facing=True)
            pins = home / "requirements.txt"
            pins.write_text("django==2.2.24\n")
            upload_inventory(db, ASSET, pins, "setup", Limits())
            found = findings.list_findings(db, findings.Filters(asset=ASSET, limit=1))[0]
            fixes = next((a for a in found.aliases if a.startswith("CVE-")), found.vulnerability)
            content = Content.from_dict(
                {
                    "title": "Patch the payment gateway",
                    "tlp": "AMBER",
                    "audience": {"organisations": ["city-bank"]},
                    "vulnerabilities": [fixes],
                    "products": [{"purl": "pkg:pypi/django@2.2.24"}],
                }
            )
            draft = package_service.create_draft(db, content, "bunseki")
            package_service.submit(db, draft.id, "bunseki")
            package_service.approve(db, draft.id, "kanri")
            key = identity.TokenKey.load(settings.token_key_path)
            tokens = {}
            for who, (user, org, role) in USERS.items():
                identity.create_user(db, user, organisation=org, role=role)
                tokens[who] = identity.create_token(db, key, user, who, ["read", "write"])[1]
        finally:
            db.dispose()
        with sakimori_serve(env) as server:
            yield Platform(server.base, home, settings, tokens, found.id, fixes, draft.id)


def _vendor_repository(base: Path, online_keys: dict[str, dict[str, Any]]) -> VendorRepository:
    """The vendor's machine: offline keys, the platform's online public keys, version 1."""
    online = keys.write_public_keys(base / "platform-keys", online_keys)
    return init_repository(
        base / "repo",
        lines=["gateway"],
        offline_keys=base / "offline",
        online_keys=online,
        thresholds=Thresholds(line_keys=2, line_threshold=2),
    )


def _served_files(home: Path) -> list[str]:
    public = home / "updates-repos" / VENDOR / "public"
    return sorted(str(p.relative_to(public)) for p in public.rglob("*")) if public.exists() else []


@dataclass
class Published:
    repo: VendorRepository
    artefact: Path
    answer: dict[str, Any]
    offline: Path


@pytest.fixture(scope="module")
def published(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Published:
    """The coordinator hosts acme's repository; acme signs release 2.4.1 offline (both gateway
    keys) and uploads it."""
    base = tmp_path_factory.mktemp("vendor")
    answer = httpx.post(
        f"{platform.base}/v1/updates/repositories",
        json={"vendor": VENDOR},
        headers=platform.headers("admin"),
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    repo = _vendor_repository(base, answer.json()["online_keys"])
    artefact = base / "gw-2.4.1.bin"
    artefact.write_bytes(b"gateway firmware 2.4.1\n" * 100)
    offline = base / "offline"
    add_target(
        repo,
        artefact,
        line="gateway",
        release=Release("2.4.1", f"SAKIMORI-PKG-{platform.package:06d}", (platform.fixes,)),
        signers=[
            keys.load_signer(offline / "gateway-1.key"),
            keys.load_signer(offline / "gateway-2.key"),
        ],
    )
    uploaded = upload_staged(repo, platform.base, platform.tokens["vendor"], VENDOR)
    return Published(repo, artefact, uploaded, offline)


def test_the_platform_publishes_a_vendors_upload_with_its_online_keys(
    platform: Platform, published: Published
) -> None:
    assert published.answer["published"] == {"root": 1, "targets": 1, "gateway": 1}
    assert [r["path"] for r in published.answer["releases"]] == ["gateway/gw-2.4.1.bin"]
    assert published.answer["releases"][0]["package_id"] == platform.package
    assert published.answer["notified"] == ["city-bank"]
    for key_file in (platform.home / "updates-keys" / VENDOR).glob("*.key"):
        assert key_file.stat().st_mode & 0o077 == 0
    assert "metadata/1.root.json" in _served_files(platform.home)


def test_a_bad_upload_is_refused_and_nothing_is_written(
    platform: Platform, published: Published, tmp_path: Path
) -> None:
    with httpx.Client(base_url=platform.base, timeout=60) as client:
        _refusals(client, platform, published, tmp_path)


def _refusals(
    client: httpx.Client, platform: Platform, published: Published, tmp_path: Path
) -> None:
    repo, offline = published.repo, published.offline
    before = _served_files(platform.home)
    artefact = tmp_path / "gw-2.4.2.bin"
    artefact.write_bytes(b"gateway firmware 2.4.2\n" * 100)
    release = Release("2.4.2", f"SAKIMORI-PKG-{platform.package:06d}", (platform.fixes,))
    add_target(
        repo,
        artefact,
        line="gateway",
        release=release,
        signers=[keys.load_signer(offline / "gateway-1.key")],
    )
    # under the gateway role's threshold (1 of 2)
    refused = _raw_upload(client, repo, platform.headers("vendor"))
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert "gateway is signed by 1/2 of its keys" in refused.json()["detail"]
    assert _served_files(platform.home) == before
    sign(repo, "gateway", [keys.load_signer(offline / "gateway-2.key")])

    # an artefact whose bytes differ from the signed hashes
    staged_artefact = repo.layout.staged_targets / "gateway" / artefact.name
    staged_artefact.write_bytes(b"evil" * 10)
    refused = _raw_upload(client, repo, platform.headers("vendor"))
    assert refused.status_code == 400
    assert "gateway/gw-2.4.2.bin" in refused.json()["detail"]
    assert _served_files(platform.home) == before
    staged_artefact.write_bytes(artefact.read_bytes())

    # a release naming no counter-measure package of this platform
    unlinked = tmp_path / "gw-2.4.3.bin"
    unlinked.write_bytes(b"gateway firmware 2.4.3\n" * 100)
    add_target(
        repo,
        unlinked,
        line="gateway",
        release=Release("2.4.3", "CMP-2026-0007", (platform.fixes,)),
        signers=[keys.load_signer(offline / f"gateway-{n}.key") for n in (1, 2)],
    )
    refused = _raw_upload(client, repo, platform.headers("vendor"))
    assert refused.status_code == 400
    assert "no counter-measure package of this platform" in refused.json()["detail"]
    assert _served_files(platform.home) == before

    # only acme's vendor uploads to acme: another vendor 404, a member 403
    assert _raw_upload(client, repo, platform.headers("other_vendor")).status_code == 404
    assert _raw_upload(client, repo, platform.headers("bank")).status_code == 403
    assert _served_files(platform.home) == before


def test_an_operator_stages_through_the_api_rolls_out_and_the_finding_is_fix_applied(
    platform: Platform, published: Published, tmp_path: Path
) -> None:
    with httpx.Client(base_url=platform.base, timeout=60) as client:
        _roll_out(client, platform, published, tmp_path)


def _roll_out(
    client: httpx.Client, platform: Platform, published: Published, tmp_path: Path
) -> None:
    repo, artefact = published.repo, published.artefact
    # the operator enrols with the vendor's root (out of band) and stages through the API
    state = tmp_path / "operator"
    metadata_url, targets_url = platform_urls(platform.base, VENDOR)
    enrol(
        state,
        metadata_url=metadata_url,
        targets_url=targets_url,
        root=repo.layout.versioned("root", 1).read_bytes(),
        server=platform.base,
        vendor=VENDOR,
    )
    available, staged = UpdateClient(state, token=platform.tokens["bank"]).stage("gateway")
    assert (available.version, available.fixes) == ("2.4.1", (platform.fixes,))
    assert staged.read_bytes() == artefact.read_bytes()

    # without a token the platform serves nothing
    with pytest.raises(Exception, match="401"):
        UpdateClient(tmp_path / "operator", token=None).refresh()

    # the bank's releases are those of the packages it receives; the other bank sees none
    mine = client.get("/v1/updates/releases", headers=platform.headers("bank")).json()
    assert [r["path"] for r in mine] == ["gateway/gw-2.4.1.bin"]
    assert client.get("/v1/updates/releases", headers=platform.headers("other_bank")).json() == []

    # another bank may not report on the bank's asset: 404, the finding unchanged
    other = PlatformReporter(
        platform.base, platform.tokens["other_bank"], vendor=VENDOR, asset=ASSET
    )
    with pytest.raises(Exception, match="404"):
        other.report({"event": "rollout-completed", "line": "gateway", "version": "2.4.1"})
    other.close()
    assert _finding(client, platform)["finding"]["state"] == "open"

    # roll out with the platform reporter: the finding moves to fix_applied
    plan = Plan.from_dict(
        {
            "install_root": str(tmp_path / "hosts"),
            "group": [
                {"name": "canary", "hosts": ["pay-01"]},
                {"name": "rest", "hosts": ["pay-02"]},
            ],
        },
        base=tmp_path,
    )
    reporter = PlatformReporter(platform.base, platform.tokens["bank"], vendor=VENDOR, asset=ASSET)
    result = Rollout(state, plan, reporters=[reporter]).rollout("gateway")
    reporter.close()
    assert result.installed == ("pay-01", "pay-02")
    events = [a["event"] for a in reporter.sent]
    assert events[0] == "rollout-started"
    assert events[-1] == "rollout-completed"
    assert reporter.sent[-1]["moved"] == [platform.finding]
    shown = _finding(client, platform)
    assert shown["finding"]["state"] == "fix_applied"
    last = shown["history"][-1]
    assert last["actor"] == "bank-ops"
    assert "gateway/gw-2.4.1.bin" in last["note"]
    assert "next inventory" in last["note"]
    # the platform stored each step with its stage (the group the client sent)
    db = open_database(platform.settings.database_url)
    try:
        with db.transaction() as session:
            stored = session.execute(
                select(models.UpdateReportRow.event, models.UpdateReportRow.stage).order_by(
                    models.UpdateReportRow.id
                )
            ).all()
    finally:
        db.dispose()
    assert ("installed", "canary") in stored
    assert ("installed", "rest") in stored


def _raw_upload(
    client: httpx.Client, repo: VendorRepository, headers: dict[str, str]
) -> httpx.Response:
    files: list[tuple[str, tuple[str, bytes, str]]] = [
        ("metadata", (f"{role}.json", data, "application/json"))
        for role, data in repo.staged().items()
    ]
    files += [
        ("artefacts", (target, path.read_bytes(), "application/octet-stream"))
        for target, path in repo.staged_artefacts().items()
    ]
    return client.post(f"/v1/updates/{VENDOR}/uploads", files=files, headers=headers)


def _finding(client: httpx.Client, platform: Platform) -> dict[str, Any]:
    response = client.get(f"/v1/findings/{platform.finding}", headers=platform.headers("admin"))
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_polling_is_conditional_and_any_member_may_poll(
    platform: Platform, published: Published
) -> None:
    """TUF metadata is signed, not secret: every member organisation may poll a hosted
    repository (the other bank too); another vendor may not (404), nor a partner."""
    with httpx.Client(base_url=platform.base, timeout=60) as client:
        _polls(client, platform)


def _polls(client: httpx.Client, platform: Platform) -> None:
    url = f"/v1/updates/{VENDOR}/metadata/timestamp.json"
    first = client.get(url, headers=platform.headers("other_bank"))
    assert first.status_code == 200
    assert first.headers["cache-control"] == "private, max-age=30, must-revalidate"
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = client.get(url, headers=platform.headers("other_bank") | {"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    since = client.get(url, headers=platform.headers("bank") | {"If-Modified-Since": modified})
    assert since.status_code == 304
    root = client.get(
        f"/v1/updates/{VENDOR}/metadata/1.root.json", headers=platform.headers("bank")
    )
    assert "immutable" in root.headers["cache-control"]
    assert client.get(url, headers=platform.headers("other_vendor")).status_code == 404, (
        "another vendor reads acme's repository"
    )
    assert client.get(url).status_code == 401

    # staff refresh the timestamp: the old validator no longer matches
    refreshed = client.post(f"/v1/updates/{VENDOR}/timestamp", headers=platform.headers("analyst"))
    assert refreshed.status_code == 200, refreshed.text
    version = refreshed.json()["timestamp_version"]
    assert (
        client.post(f"/v1/updates/{VENDOR}/timestamp", headers=platform.headers("bank")).status_code
        == 403
    )
    changed = client.get(url, headers=platform.headers("bank") | {"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["signed"]["version"] == version

    # the scheduled job refreshes every published repository
    assert refresh_all(platform.settings) == {
        VENDOR: (refreshed.json()["snapshot_version"], version + 1)
    }
    # … and runs as the `updates.refresh` job of the worker's schedule
    jobs_db = open_database(platform.settings.database_url)
    try:
        with jobs_db.transaction() as session:
            enqueue(session, UPDATES_REFRESH, {}, "refresh-once")
        assert Runner(jobs_db, platform.settings, HANDLERS, "test").run_one()
    finally:
        jobs_db.dispose()
    after = client.get(url, headers=platform.headers("bank")).json()
    assert after["signed"]["version"] == version + 2


def test_the_cli_uploads_enrols_with_the_platform_stages_and_reports(
    platform: Platform,
    published: Published,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``updates upload``, ``enrol --server --vendor``, ``stage`` and ``rollout --asset`` with
    the token in SAKIMORI_TOKEN: another open finding of the asset, fixed by release 2.5.0,
    moves to fix_applied."""
    cli = Cli(tmp_path / "home", capsys)
    with httpx.Client(base_url=platform.base, timeout=60) as client:
        listed = client.get(
            "/v1/findings",
            params={"asset": ASSET, "state": "open"},
            headers=platform.headers("bank"),
        ).json()["items"]
        other = next(f for f in listed if f["id"] != platform.finding)
        repo = published.repo
        shutil.rmtree(repo.layout.staged, ignore_errors=True)
        build = tmp_path / "gw-2.5.0.bin"
        build.write_bytes(b"gateway 2.5.0\n" * 100)
        add = cli(
            "updates", "add-target", str(repo.path), str(build), "--line", "gateway",
            "--version", "2.5.0", "--package", f"SAKIMORI-PKG-{platform.package:06d}",
            "--fixes", other["vulnerability"],
            "--key", str(published.offline / "gateway-1.key"),
            "--key", str(published.offline / "gateway-2.key"),
        )  # fmt: skip
        assert add.code == 0, add.err
        vendor_env = {"SAKIMORI_SERVER": platform.base, "SAKIMORI_TOKEN": platform.tokens["vendor"]}
        sent = cli("updates", "upload", str(repo.path), "--vendor", VENDOR, env=vendor_env)
        assert sent.code == 0, sent.err
        assert "published target gateway/gw-2.5.0.bin 2.5.0" in sent.out
        assert "recipients to notify: city-bank" in sent.out

        state = tmp_path / "operator"
        root = repo.layout.versioned("root", 1)
        bank_env = {"SAKIMORI_SERVER": platform.base, "SAKIMORI_TOKEN": platform.tokens["bank"]}
        enrolled = cli(
            "updates", "enrol", "--vendor", VENDOR, "--root", str(root), "--state", str(state),
            env=bank_env,
        )  # fmt: skip
        assert enrolled.code == 0, enrolled.err
        staged = cli("updates", "stage", "gateway", "--state", str(state), env=bank_env)
        assert staged.code == 0, staged.err
        assert "staged gateway/gw-2.5.0.bin 2.5.0" in staged.out
        (state / "rollout.toml").write_text(
            f'install_root = "{tmp_path / "hosts"}"\n[[group]]\nname = "all"\nhosts = ["pay-01"]\n'
        )
        rolled = cli(
            "updates", "rollout", "gateway", "--asset", ASSET, "--state", str(state), env=bank_env
        )
        assert rolled.code == 0, rolled.err
        shown = client.get(f"/v1/findings/{other['id']}", headers=platform.headers("bank")).json()
        assert shown["finding"]["state"] == "fix_applied"
        assert "gw-2.5.0.bin" in shown["history"][-1]["note"]


def test_the_token_cache_checks_the_secret_expires_and_is_bounded(platform: Platform) -> None:
    key = identity.TokenKey.load(platform.settings.token_key_path)
    db = open_database(platform.settings.database_url)
    try:
        token = platform.tokens["bank"]
        principal = identity.authenticate(db, key, token)
    finally:
        db.dispose()
    cache = identity.TokenCache(ttl=300, size=2)
    assert cache.lookup(key, token, now=0) is None
    cache.remember(key, token, principal, now=0)
    assert cache.lookup(key, token, now=299) == principal
    assert cache.lookup(key, token, now=300) is None, "an entry outlived its ttl"
    token_id = token.split("_")[1]
    forged = f"skm_{token_id}_{'A' * 43}"
    assert cache.lookup(key, forged, now=1) is None, "a wrong secret passed the cache"
    for other in ("other_bank", "vendor"):
        cache.remember(key, platform.tokens[other], principal, now=1)
    assert cache.lookup(key, token, now=2) is None, "the oldest entry was not dropped"
