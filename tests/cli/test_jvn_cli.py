"""`sakimori intel sync-jvn` against a MyJVN stand-in on loopback serving the real examples."""

from __future__ import annotations

from tests.cli.conftest import Cli
from tests.intel.conftest import LocalServer
from tests.intel.conftest import server as server  # the loopback server fixture
from tests.intel.myjvn_server import MyJvn


def test_sync_jvn_stores_the_entries_and_says_so(empty_cli: Cli, server: LocalServer) -> None:
    stand_in = MyJvn(server)
    server.routes["/myjvn"] = stand_in.handle
    cli = empty_cli
    base = ["intel", "sync-jvn", "--base-url", stand_in.url, "--interval", "0"]
    run = cli(*base, "--since", "2000-01-01", "--until", "2030-12-31")
    assert run.code == 0, run.err
    assert "JVN iPedia (ja) 2000-01-01 .. 2030-12-31: 13 entries received" in run.out
    status = cli("intel", "status")
    assert "myjvn" in status.out
    assert "13" in next(line for line in status.out.splitlines() if "myjvn" in line)
    bad = cli(*base, "--since", "yesterday")
    assert bad.code == 2
    assert "--since 'yesterday' is not an ISO-8601 date" in bad.err
    again = cli(*base)  # from the day after the last day synced: nothing new to store
    assert again.code == 0, again.err
    assert "0 stored or changed" in again.out or "up to date" in again.out
