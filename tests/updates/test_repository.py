"""The vendor repository and the platform's acceptance checks: keys, thresholds, rotation and
revocation, immutable artefacts, increasing versions, online refresh."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

from sakimori.errors import ConfigurationError, Conflict, InvalidInput, MalformedDocument
from sakimori.updates import keys
from sakimori.updates.acceptance import Release, UploadRefused, check_upload
from sakimori.updates.repository import (
    VendorRepository,
    add_target,
    online_signers,
    publish,
    rotate_keys,
    sign,
)
from tests.updates.conftest import LINE, build


@pytest.fixture
def vendor(tmp_path: Path) -> tuple[VendorRepository, Path, Path]:
    return build(tmp_path)


def signer(offline: Path, name: str) -> keys.CryptoSigner:
    return keys.load_signer(offline / f"{name}.key")


def artefact(tmp_path: Path, name: str = "gw-1.0.bin", body: bytes = b"firmware\n") -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def test_init_writes_keys_roles_and_thresholds(vendor: tuple[VendorRepository, Path, Path]) -> None:
    repo, offline, online = vendor
    private = sorted(p.name for p in offline.glob("*.key"))
    assert private == [
        "gateway-1.key",
        "gateway-2.key",
        "root-1.key",
        "root-2.key",
        "root-3.key",
        "targets-1.key",
        "targets-2.key",
    ]
    for path in [*offline.glob("*.key"), *online.glob("*.key")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    public = json.loads((offline / "root-1.pub.json").read_text())
    assert public["keytype"] == "ed25519"
    assert "private" not in json.dumps(public)
    root = repo.load("root")
    assert root is not None
    assert root.signed.consistent_snapshot is True
    assert root.signed.roles["root"].threshold == 2
    assert len(root.signed.roles["root"].keyids) == 3
    assert root.signed.roles["targets"].threshold == 1
    targets = repo.load("targets")
    assert targets is not None
    delegation = targets.signed.delegations.roles[LINE]
    assert (delegation.threshold, len(delegation.keyids), delegation.paths) == (2, 2, ["gateway/*"])
    # the platform's key directory holds only the online keys
    assert sorted(p.name for p in online.glob("*.key")) == ["snapshot.key", "timestamp.key"]


def test_key_files_are_refused_when_others_can_read_them(tmp_path: Path) -> None:
    _, files = keys.generate(tmp_path, "k")
    assert files.private is not None
    files.private.chmod(0o644)
    with pytest.raises(ConfigurationError, match="readable by other users"):
        keys.load_signer(files.private)
    with pytest.raises(Conflict):
        keys.generate(tmp_path, "k")


def test_public_key_documents_are_saved_as_key_files(tmp_path: Path) -> None:
    signer, _ = keys.generate(tmp_path / "platform", "timestamp")
    document = {"keyid": signer.public_key.keyid, **signer.public_key.to_dict()}
    saved = keys.write_public_keys(tmp_path / "vendor", {"timestamp": document})
    assert keys.load_public(saved / "timestamp.pub.json") == signer.public_key
    with pytest.raises(MalformedDocument, match="not a public key"):
        keys.write_public_keys(tmp_path / "bad", {"snapshot": {"keyid": "x"}})


def test_publish_checks_and_links_package_and_vulnerabilities(
    vendor: tuple[VendorRepository, Path, Path], tmp_path: Path
) -> None:
    repo, offline, online = vendor
    release = Release("1.0", "CMP-2026-0042", ("CVE-2024-3400", "CVE-2024-21762"))
    target = add_target(
        repo,
        artefact(tmp_path),
        line=LINE,
        release=release,
        signers=[signer(offline, "gateway-1"), signer(offline, "gateway-2")],
    )
    report = publish(repo, online_signers(online))
    assert report.published == ((LINE, 2),)
    assert report.targets == ("gateway/gw-1.0.bin",)
    published = repo.load(LINE)
    assert published is not None
    assert Release.from_target(published.signed.targets[target.path]) == release
    served = repo.layout.targets / LINE / f"{target.hashes['sha256']}.gw-1.0.bin"
    assert served.read_bytes() == b"firmware\n"
    assert not repo.layout.staged.exists()
    # the same file name again: published artefacts are immutable
    with pytest.raises(Conflict, match="immutable"):
        add_target(repo, artefact(tmp_path), line=LINE, release=release)


def test_scheduled_refresh_signs_only_a_new_timestamp(
    vendor: tuple[VendorRepository, Path, Path],
) -> None:
    repo, _, online = vendor
    first = publish(repo, online_signers(online))
    second = publish(repo, online_signers(online))
    assert second.published == ()
    assert second.snapshot_version == first.snapshot_version
    assert second.timestamp_version == first.timestamp_version + 1
    swapped = online_signers(online)
    swapped["timestamp"] = swapped["snapshot"]
    before = sorted(p.name for p in repo.layout.metadata.iterdir())
    with pytest.raises(ConfigurationError, match="not the timestamp key"):
        publish(repo, swapped)
    assert sorted(p.name for p in repo.layout.metadata.iterdir()) == before


def test_upload_below_the_line_threshold_is_refused(
    vendor: tuple[VendorRepository, Path, Path], tmp_path: Path
) -> None:
    repo, offline, online = vendor
    add_target(
        repo,
        artefact(tmp_path),
        line=LINE,
        release=Release("1.0", "CMP-1", ()),
        signers=[signer(offline, "gateway-1")],
    )
    before = repo.load("timestamp")
    with pytest.raises(UploadRefused, match=r"gateway is signed by 1/2 of its keys"):
        publish(repo, online_signers(online))
    assert repo.load("timestamp") == before  # nothing published
    assert sign(repo, LINE, [signer(offline, "gateway-2")]).complete
    assert publish(repo, online_signers(online)).published == ((LINE, 2),)


def test_upload_with_a_tampered_artefact_is_refused(
    vendor: tuple[VendorRepository, Path, Path], tmp_path: Path
) -> None:
    repo, offline, online = vendor
    add_target(
        repo,
        artefact(tmp_path),
        line=LINE,
        release=Release("1.0", "CMP-1", ()),
        signers=[signer(offline, "gateway-1"), signer(offline, "gateway-2")],
    )
    (repo.layout.staged_targets / LINE / "gw-1.0.bin").write_bytes(b"firmwarX\n")
    with pytest.raises(UploadRefused, match="does not match its signed length and hashes"):
        publish(repo, online_signers(online))


def test_upload_must_increase_versions_and_carry_sakimori_fields(
    vendor: tuple[VendorRepository, Path, Path],
) -> None:
    repo, offline, _ = vendor
    published = repo.published()
    same = repo.layout.current(LINE).read_bytes()
    with pytest.raises(UploadRefused, match="does not increase"):
        check_upload(published, {LINE: same}, {})
    with pytest.raises(UploadRefused, match="online key"):
        check_upload(published, {"timestamp": repo.layout.current("timestamp").read_bytes()}, {})
    bare = Metadata.from_bytes(same)
    bare.signed.version += 1
    from tuf.api.metadata import TargetFile

    bare.signed.targets["gateway/x.bin"] = TargetFile.from_data("gateway/x.bin", b"x")
    for name in ("gateway-1", "gateway-2"):
        bare.sign(signer(offline, name), append=True)
    with pytest.raises(UploadRefused, match=r"no custom\.sakimori fields"):
        check_upload(published, {LINE: bare.to_bytes()}, {"gateway/x.bin": Path("/dev/null")})


def test_root_rotation_needs_both_thresholds(vendor: tuple[VendorRepository, Path, Path]) -> None:
    repo, offline, online = vendor
    new = keys.generate(offline, "root-4")[0]
    rotate_keys(
        repo, "root", add=[new.public_key], revoke=[signer(offline, "root-1").public_key.keyid]
    )
    # only one key of the old root (threshold 2), however many of the new
    status = sign(repo, "root", [signer(offline, "root-2"), new])
    assert status.counts == ((1, 2), (2, 2))
    with pytest.raises(
        UploadRefused, match=r"signed by 1/2 keys of root v1 and 2/2 keys of root v2"
    ):
        publish(repo, online_signers(online))
    # the rotated-out key may still sign this transition (it belongs to v1) …
    assert sign(repo, "root", [signer(offline, "root-1")]).complete
    assert publish(repo, online_signers(online)).published == (("root", 2),)
    # … but not a root after it
    rotate_keys(repo, "root", threshold=1)
    with pytest.raises(InvalidInput, match="not a signing key of root"):
        sign(repo, "root", [signer(offline, "root-1")])


def test_rotated_out_keys_cannot_push_a_new_root_through_the_platform(
    vendor: tuple[VendorRepository, Path, Path],
) -> None:
    repo, offline, online = vendor
    old = [signer(offline, "root-1"), signer(offline, "root-2")]
    fresh = [keys.generate(offline, f"root-{n}")[0] for n in (4, 5)]
    rotate_keys(
        repo, "root", add=[k.public_key for k in fresh], revoke=[k.public_key.keyid for k in old]
    )
    sign(repo, "root", [*old, *fresh])
    publish(repo, online_signers(online))
    forged = Metadata.from_bytes(repo.layout.current("root").read_bytes())
    forged.signed.version = 3
    forged.signed.roles["root"].threshold = 1
    forged.signatures.clear()
    for key in old:
        forged.sign(key, append=True)
    with pytest.raises(UploadRefused, match=r"signed by 0/2 keys of root v2"):
        check_upload(repo.published(), {"root": forged.to_bytes()}, {})


def test_revoked_line_key_is_refused(
    vendor: tuple[VendorRepository, Path, Path], tmp_path: Path
) -> None:
    repo, offline, online = vendor
    compromised = signer(offline, "gateway-1")
    replacement = keys.generate(offline, "gateway-3")[0]
    rotate_keys(repo, LINE, add=[replacement.public_key], revoke=[compromised.public_key.keyid])
    assert sign(repo, "targets", [signer(offline, "targets-1")]).complete
    # the line's published metadata was signed by the revoked key: re-sign it in the same upload
    with pytest.raises(UploadRefused, match="no longer verifies under the uploaded keys"):
        publish(repo, online_signers(online))
    add_target(
        repo,
        artefact(tmp_path),
        line=LINE,
        release=Release("1.0", "CMP-1", ()),
        signers=[replacement, signer(offline, "gateway-2")],
    )
    assert [r for r, _ in publish(repo, online_signers(online)).published] == ["targets", LINE]
    add_target(repo, artefact(tmp_path, "gw-1.1.bin"), line=LINE, release=Release("1.1", "C", ()))
    with pytest.raises(InvalidInput, match="not a signing key of gateway"):
        sign(repo, LINE, [compromised])
