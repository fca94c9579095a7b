"""SSH brute force, slow brute force and spraying."""

from __future__ import annotations

from sakimori.monitoring.detectors import DetectorConfig
from sakimori.monitoring.detectors.ssh import SshDetector
from sakimori.monitoring.record import SSH_ACCEPTED, SSH_FAILED, SSH_INVALID_USER
from tests.monitoring.detectors.streams import run, ssh

CONFIG = DetectorConfig()


def test_brute_force() -> None:
    alerts = run(SshDetector(CONFIG), [ssh(i * 2, SSH_FAILED) for i in range(20)])
    assert [a.detector for a in alerts] == ["ssh-bruteforce"]
    assert alerts[0].client == "203.0.113.5"


def test_slow_brute_force() -> None:
    alerts = run(SshDetector(CONFIG), [ssh(i * 120, SSH_FAILED) for i in range(30)])
    assert [a.detector for a in alerts] == ["ssh-slow-bruteforce"]


def test_spraying() -> None:
    records = [ssh(i * 300, SSH_INVALID_USER, user=f"user{i}") for i in range(6)]
    alerts = run(SshDetector(CONFIG), records)
    assert [a.detector for a in alerts] == ["ssh-spray"]


def test_near_misses() -> None:
    typo = [ssh(i * 5, SSH_FAILED, user="alice", client="1.1.1.1") for i in range(3)]
    typo.append(ssh(20, SSH_ACCEPTED, user="alice", client="1.1.1.1"))
    logins = [ssh(i * 60, SSH_ACCEPTED, user=f"u{i}", client="2.2.2.2") for i in range(50)]
    daily = [ssh(i * 3600.0, SSH_FAILED, client="3.3.3.3") for i in range(30)]
    four_users = [ssh(i, SSH_FAILED, user=f"u{i}", client="4.4.4.4") for i in range(4)]
    records = sorted(typo + logins + daily + four_users, key=lambda r: r.ts)
    assert run(SshDetector(CONFIG), records) == []


def test_state_bound() -> None:
    detector = SshDetector(DetectorConfig(max_clients=50))
    for i in range(2000):
        detector.feed(ssh(i, SSH_FAILED, client=f"10.0.{i // 256}.{i % 256}"))
    assert len(detector._clients) == 50
