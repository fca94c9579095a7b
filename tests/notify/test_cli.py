"""``sakimori notify …`` through the real entry point, with ``sakimori worker --once``
delivering to a real receiver on 127.0.0.1: add, list, the dead-letter list, retry, remove."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.notify.conftest import publish
from tests.notify.servers import Receiver, webhook_receiver
from tests.packages.conftest import build_platform


def test_the_notify_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = True
    receiver = Receiver(secrets={}, plan=lambda key, seen: "error" if failing else "ok")
    env = {"SAKIMORI_NOTIFY_ATTEMPTS": "1", "SAKIMORI_NOTIFY_TIMEOUT": "2"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the budget is set when the delivery is queued
    with build_platform("sqlite", tmp_path) as platform, webhook_receiver(receiver):
        cli = Cli(tmp_path, capsys)
        added = cli(
            "notify", "add", "city-bank", "--webhook", receiver.url("/hook"),
            "--vulnerability", "CVE-2021-35042", "--max-tlp", "amber", "--by", "bank-admin",
        )  # fmt: skip
        assert added.code == 0, added.err
        secret = added.out.split("keep it safe): ")[1].strip()
        assert secret.startswith("whsec_")
        receiver.secrets["/hook"] = secret
        other = cli("notify", "add", "river-power", "--email", "a@b.test", "--by", "bank-admin")
        assert other.code == 2
        assert "no organisation 'river-power'" in other.err
        both = cli("notify", "add", "city-bank", "--by", "bank-admin")
        assert both.code == 2
        assert "exactly one of --webhook and --email" in both.err
        listed = cli("notify", "list", "--by", "bank-admin")
        assert "vulnerabilities=CVE-2021-35042 max_tlp=AMBER" in listed.out
        assert secret not in listed.out
        assert cli("notify", "list", "--by", "bank-user").code == 2  # not an admin

        publish(platform, tlp="AMBER", audience={"organisations": ["city-bank"]})
        assert cli("worker", "--once", env=env).code == 0
        dead = cli("notify", "deliveries", "--by", "bank-admin")
        [line] = dead.out.splitlines()
        delivery_id = line.split("\t")[0]
        assert "\tdead\t1/1\tHTTP 500" in line
        failing = False
        retried = cli("notify", "retry", delivery_id, "--by", "kanri", env=env)
        assert "is pending again (2 attempts allowed)" in retried.out
        assert cli("notify", "retry", delivery_id, "--by", "kanri").code == 2  # not dead now
        assert cli("worker", "--once", env=env).code == 0
        assert cli("notify", "deliveries", "--by", "bank-admin").out == ""
        done = cli("notify", "deliveries", "--state", "delivered", "--by", "kanri")
        assert f"{delivery_id}\t" in done.out
        assert len(receiver.effects) == 1

        endpoint = listed.out.split("\t")[0]
        assert "removed" in cli("notify", "remove", endpoint, "--by", "bank-admin").out
        assert cli("notify", "list", "--by", "bank-admin").out == ""

        digest = cli(
            "notify", "add", "water-works", "--email", "it@water.test", "--digest", "--by", "kanri"
        )  # fmt: skip
        assert "(low-priority notifications in digests)" in digest.out, digest.err
        [line] = cli("notify", "list", "water-works", "--by", "kanri").out.splitlines()
        assert line.endswith("\tdigest")
        publish(platform, tlp="GREEN", audience={"organisations": ["water-works"]})
        held = cli("notify", "deliveries", "--state", "held", "--by", "kanri")
        assert "\twater-works\temail " in held.out
        assert "\theld\t0/1\t" in held.out
