"""Staged roll-out of verified updates: canary, health check, the rest; automatic roll-back."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sakimori.errors import ConfigurationError
from sakimori.updates.errors import RolloutFailed
from sakimori.updates.rollout import Plan, Rollout
from tests.updates.conftest import LINE, World

#: Healthy unless the installed build of a host of the group says "broken".
HEALTH = (
    "import os, pathlib, sys\n"
    "root = pathlib.Path(sys.argv[1])\n"
    "for host in os.environ['SAKIMORI_HOSTS'].split(','):\n"
    "    current = root / host / os.environ['SAKIMORI_LINE'] / 'current'\n"
    "    if any(b'broken' in f.read_bytes() for f in current.iterdir()):\n"
    "        print(f'{host}: payment check failed'); sys.exit(3)\n"
)


class Recorder:
    """A StepReporter that keeps what it is told (the platform's seam)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, object]] = []

    def report(self, entry: dict[str, object]) -> None:
        self.entries.append(dict(entry))


def plan(hosts: Path) -> Plan:
    return Plan.from_dict(
        {
            "install_root": str(hosts),
            "health_check": [sys.executable, "-c", HEALTH, str(hosts)],
            "group": [
                {"name": "canary", "hosts": ["pay-01"]},
                {"name": "rest", "hosts": ["pay-02", "pay-03"]},
            ],
        },
        base=hosts.parent,
    )


def current(hosts: Path, host: str) -> str | None:
    link = hosts / host / LINE / "current"
    return link.readlink().name if link.is_symlink() else None


def test_healthy_rollout_reaches_every_group(world: World) -> None:
    hosts = world.base / "hosts"
    world.client().stage(LINE)
    recorder = Recorder()
    result = Rollout(world.state, plan(hosts), reporters=[recorder]).rollout(LINE)
    assert result.installed == ("pay-01", "pay-02", "pay-03")
    assert {h: current(hosts, h) for h in ("pay-01", "pay-02", "pay-03")} == dict.fromkeys(
        ("pay-01", "pay-02", "pay-03"), "1.0"
    )
    events = [e["event"] for e in recorder.entries]
    assert events == [
        "rollout-started",
        "installed",
        "health-check",
        "installed",
        "installed",
        "health-check",
        "rollout-completed",
    ]
    journal = [e["event"] for e in world.client().journal.entries()]
    assert journal[-len(events) :] == events


def test_failing_canary_health_check_stops_and_rolls_back(world: World) -> None:
    hosts = world.base / "hosts"
    world.client().stage(LINE)
    rollout = Rollout(world.state, plan(hosts))
    rollout.rollout(LINE)  # everyone on 1.0
    world.release("2.0", b"gateway build 2.0 - broken payments\n")
    world.client().stage(LINE)
    recorder = Recorder()
    rollout = Rollout(world.state, plan(hosts), reporters=[recorder])
    with pytest.raises(RolloutFailed) as caught:
        rollout.rollout(LINE)
    message = caught.value.diagnostics()
    assert "health check failed after group canary" in message
    assert "rolled 1 host(s) back" in message
    # the canary is back on 1.0, the rest never saw 2.0
    assert [current(hosts, h) for h in ("pay-01", "pay-02", "pay-03")] == ["1.0"] * 3
    events = [(e["event"], e.get("host"), e.get("to")) for e in recorder.entries]
    assert events == [
        ("rollout-started", None, None),
        ("installed", "pay-01", None),
        ("health-check", None, None),
        ("rolled-back", "pay-01", "1.0"),
        ("rollout-failed", None, None),
    ]
    check = recorder.entries[2]
    assert check["passed"] is False
    assert check["exit_code"] == 3
    assert "pay-01: payment check failed" in str(check["output"])


def test_failed_first_install_is_removed_and_manual_rollback(world: World) -> None:
    hosts = world.base / "hosts"
    world.release("2.0", b"broken from the start\n")
    world.client().stage(f"{LINE}/gw-2.0.bin")
    with pytest.raises(RolloutFailed):
        Rollout(world.state, plan(hosts)).rollout(LINE)
    assert current(hosts, "pay-01") is None  # a first install rolls back to nothing
    assert not (hosts / "pay-02").exists()

    world.client().stage(f"{LINE}/gw-1.0.bin")
    rollout = Rollout(world.state, plan(hosts))
    rollout.rollout(LINE, "1.0")
    assert rollout.rollback(LINE) == [("pay-01", None), ("pay-02", None), ("pay-03", None)]
    assert [current(hosts, h) for h in ("pay-01", "pay-02", "pay-03")] == [None] * 3


def test_install_command_failure_rolls_back(world: World) -> None:
    world.client().stage(LINE)
    script = (
        "import os, sys\n"
        "if os.environ['SAKIMORI_ACTION'] == 'install' and sys.argv[1] == 'pay-02':\n"
        "    print('disk full'); sys.exit(5)\n"
    )
    document = {
        "install": [sys.executable, "-c", script, "{host}", "{artefact}"],
        "group": [{"name": "canary", "hosts": ["pay-01"]}, {"name": "rest", "hosts": ["pay-02"]}],
    }
    rollout = Rollout(world.state, Plan.from_dict(document, base=world.base))
    with pytest.raises(RolloutFailed, match=r"install failed on pay-02 \(.*disk full\)"):
        rollout.rollout(LINE)
    events = [(e["event"], e.get("host")) for e in world.client().journal.entries()]
    assert events[-6:] == [
        ("installed", "pay-01"),
        ("health-check-skipped", None),  # this plan has no health check
        ("install-failed", "pay-02"),
        ("rolled-back", "pay-02"),
        ("rolled-back", "pay-01"),
        ("rollout-failed", None),
    ]
    assert rollout.installed.current(LINE, "pay-01") is None


def test_plan_errors_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no \\[\\[group\\]\\]"):
        Plan.from_dict({"install_root": "x"}, base=tmp_path)
    with pytest.raises(ConfigurationError, match="more than one group"):
        Plan.from_dict(
            {
                "install_root": "x",
                "group": [{"name": "a", "hosts": ["h"]}, {"name": "b", "hosts": ["h"]}],
            },
            base=tmp_path,
        )
    with pytest.raises(ConfigurationError, match="install command or an install_root"):
        Plan.from_dict({"group": [{"name": "a", "hosts": ["h"]}]}, base=tmp_path)
