"""HTTP authentication: brute force, slow brute force, spraying, distributed attempts — on
hand-built records, and on the CrowdSec hub's HTTP brute-force test logs."""

from __future__ import annotations

import pytest

from sakimori.errors import UnsupportedFormat
from sakimori.monitoring.detectors import Alert, DetectorConfig, DetectorSet
from sakimori.monitoring.detectors.auth import API, FORM, NONE, AuthDetector, login_kind, query_user
from sakimori.monitoring.record import Record
from sakimori.monitoring.watch import WatchOptions, watch
from tests.monitoring.detectors.streams import http, human_session, run, run_all
from tests.monitoring.hub import hub_tests

CONFIG = DetectorConfig()
OURS = {
    "http-auth-bruteforce",
    "http-auth-slow-bruteforce",
    "http-auth-spray",
    "http-auth-distributed",
    "http-user-enum",
}
REFERRER = "https://example.org/login"


def names(alerts: list[Alert]) -> list[str]:
    return sorted(a.detector for a in alerts)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/login", FORM),
        ("/wp-login.php", FORM),
        ("/user/login", FORM),
        ("/users/sign_in", FORM),
        ("/Account/LogOn", FORM),
        ("/signin.php", FORM),
        ("/remote/logincheck", FORM),
        ("/j_security_check", FORM),
        ("/xmlrpc.php", FORM),
        ("/admin/", FORM),
        ("/administrator/index.php", FORM),
        ("/owa/auth.owa", FORM),
        ("/api/auth/login", API),
        ("/api/v1/sessions", API),
        ("/oauth/token", API),
        ("/realms/x/protocol/openid-connect/token", API),
        ("/session", API),
        ("/", NONE),
        ("/author/alice", NONE),
        ("/authors/", NONE),
        ("/blog/2024/comments", NONE),
        ("/admin/settings/save", NONE),
        ("/contact", NONE),
    ],
)
def test_login_paths(path: str, kind: int) -> None:
    assert login_kind(path) == kind


def test_admin_root_with_a_query_is_not_a_login_form() -> None:
    assert login_kind("/administrator/index.php", "option=com_content&task=save") == NONE


def test_query_user() -> None:
    assert query_user("log=admin&pwd=x") == "admin"
    assert query_user("redirect=/&username=bob&password=1") == "bob"
    assert query_user("page=2") == ""


def test_wordpress_form_brute_force() -> None:
    """POST /wp-login.php answered 200 (the form re-rendered), again and again."""
    records = [http(i * 0.5, "/wp-login.php", method="POST") for i in range(12)]
    alerts = run(AuthDetector(CONFIG), records)
    assert names(alerts) == ["http-auth-bruteforce"]
    assert alerts[0].client == "198.51.100.7"


def test_xmlrpc_brute_force() -> None:
    """WordPress's XML-RPC answers 200 whatever the credentials (system.multicall)."""
    records = [http(i * 2.0, "/xmlrpc.php", method="POST") for i in range(15)]
    assert names(run(AuthDetector(CONFIG), records)) == ["http-auth-bruteforce"]


def test_redirect_back_to_the_form_brute_force() -> None:
    """A framework answering failures with 302 back to the form: each retry counts."""
    records = []
    for i in range(10):
        records.append(http(i * 2, "/accounts/login/", method="POST", status=302))
        records.append(http(i * 2 + 0.5, "/accounts/login/", query="error=1"))
    assert names(run(AuthDetector(CONFIG), records)) == ["http-auth-bruteforce"]


@pytest.mark.parametrize("status", [401, 403, 422, 429])
def test_refused_api_logins(status: int) -> None:
    records = [http(i, "/api/auth/login", method="POST", status=status) for i in range(10)]
    assert names(run(AuthDetector(CONFIG), records)) == ["http-auth-bruteforce"]


def test_basic_auth_failures_on_any_path() -> None:
    """Credentials sent (the user field is set) and refused, on a path that is no login path."""
    records = [http(i, "/private/report.pdf", status=401)._replace(user="admin") for i in range(10)]
    assert names(run(AuthDetector(CONFIG), records)) == ["http-auth-bruteforce"]


def test_slow_brute_force() -> None:
    records = [http(i * 120, "/login", method="POST", status=401) for i in range(40)]
    assert names(run(AuthDetector(CONFIG), records)) == ["http-auth-slow-bruteforce"]


def test_spraying_through_basic_auth() -> None:
    records = [
        http(i * 300, "/", status=401, referrer=REFERRER)._replace(user=f"user{i}")
        for i in range(6)
    ]
    assert names(run(AuthDetector(CONFIG), records)) == ["http-auth-spray"]


def test_spraying_with_credentials_in_the_query() -> None:
    records = [
        http(i * 300, "/login.php", query=f"username=u{i}&password=Winter2024", status=403)
        for i in range(6)
    ]
    assert names(run(AuthDetector(CONFIG), records)) == ["http-auth-spray"]


def test_distributed_attempts() -> None:
    """30 addresses, two blind attempts each on the same login path: each one is reported."""
    records = [
        http(n * 10 + k, "/wp-login.php", method="POST", client=f"203.0.113.{n}")
        for n in range(30)
        for k in (0, 3)
    ]
    alerts = run(AuthDetector(CONFIG), sorted(records, key=lambda r: r.ts))
    assert {a.detector for a in alerts} == {"http-auth-distributed"}
    reported = {a.client for a in alerts}
    assert len(reported) >= CONFIG.auth_distributed_clients
    assert reported <= {f"203.0.113.{n}" for n in range(30)}
    for alert in alerts:  # each alert's examples are its own address's requests
        assert all("/wp-login.php" in line for line in alert.examples)


def test_people_failing_now_and_then() -> None:
    """Near misses: people mistyping (with Referer), one successful login each, token refreshes,
    browser challenges, a form login after a long pause, 404 probes of login paths."""
    records = []
    for n in range(40):  # 40 people, one mistake then a success, through a browser form
        client = f"192.0.2.{n}"
        records.append(
            http(n * 15, "/login", method="POST", client=client, referrer=REFERRER, status=200)
        )
        records.append(
            http(n * 15 + 8, "/login", method="POST", client=client, referrer=REFERRER, status=302)
        )
    typo = [http(1000 + i * 20, "/login", method="POST", status=401) for i in range(4)]
    refresh = [
        http(i * 60, "/oauth/token", method="POST", client="198.51.100.9") for i in range(200)
    ]
    challenges = [http(i * 30, "/private/", status=401, client="198.51.100.10") for i in range(50)]
    paced = [
        http(i * 600, "/wp-login.php", method="POST", client="198.51.100.11") for i in range(20)
    ]
    probes = [
        http(i * 0.1, f"/{p}/login", method="POST", status=404, client="198.51.100.12")
        for i, p in enumerate("abcdefghijklmnop")
    ]
    records = sorted(records + typo + refresh + challenges + paced + probes, key=lambda r: r.ts)
    assert run(AuthDetector(CONFIG), records) == []


def test_detector_set_runs_it_and_people_browsing_stay_clean() -> None:
    people = human_session("192.0.2.10") + human_session("192.0.2.11", start=5.0)
    attack = [http(i * 0.2, "/user/login", method="POST", client="203.0.113.9") for i in range(9)]
    alerts = run_all(sorted(people + attack, key=lambda r: r.ts))
    auth = [a for a in alerts if a.detector.startswith("http-auth")]
    assert [(a.detector, a.client) for a in auth] == [("http-auth-bruteforce", "203.0.113.9")]


def test_state_bounds() -> None:
    config = DetectorConfig(max_clients=50, auth_max_paths=8, auth_distributed_clients=5)
    detector = AuthDetector(config)
    for i in range(3000):
        client = f"10.0.{i // 256}.{i % 256}"
        detector.feed(http(i, f"/site{i % 100}/login", method="POST", status=401, client=client))
    assert len(detector._clients) == 50
    assert len(detector._targets) == 8
    assert all(len(t.clients) <= 5 for t in detector._targets.data.values())
    sets = DetectorSet(config)
    for i in range(200):
        sets.feed(http(i, "/login", method="POST", status=401, client=f"10.1.0.{i}"))
    assert len(sets.auth._clients) == 50


@pytest.mark.parametrize(
    ("case", "address"),
    [("http-bf-wordpress-bf", "81.150.104.130"), ("nginx-http-generic-bf", "127.0.0.1")],
)
def test_hub_brute_force_logs(case: str, address: str) -> None:
    logs = sorted((hub_tests() / case).glob("*.log"))
    alerts = watch(logs, WatchOptions(year=2021)).alerts
    fired = {(a.detector, a.client) for a in alerts if a.detector.startswith("http-auth")}
    assert fired == {("http-auth-bruteforce", address)}


def test_hub_user_enumeration_log() -> None:
    """1.2.3.4 asks for many distinct authors; 1.2.3.5 asks for the same one again and again."""
    logs = sorted((hub_tests() / "http-wordpress_user-enum").glob("*.log"))
    alerts = watch(logs, WatchOptions(year=2021)).alerts
    assert {(a.detector, a.client) for a in alerts if a.detector in OURS} == {
        ("http-user-enum", "1.2.3.4")
    }


def test_hub_logs_without_login_attacks_raise_no_auth_alert() -> None:
    """Every other hub case: no authentication or enumeration alert (none holds one)."""
    fired = []
    for directory in sorted(p for p in hub_tests().iterdir() if p.is_dir()):
        if directory.name in {
            "http-bf-wordpress-bf",
            "nginx-http-generic-bf",
            "http-wordpress_user-enum",
        }:
            continue
        logs = sorted(directory.glob("*.log"))
        try:
            alerts = watch(logs, WatchOptions(year=2021)).alerts if logs else []
        except UnsupportedFormat:  # formats we do not read
            continue
        fired += [(directory.name, a.client) for a in alerts if a.detector in OURS]
    assert fired == []


def test_author_enumeration() -> None:
    """/?author=N for many N: WordPress redirects existing authors, 404s the others."""
    records = [
        http(i * 0.5, "/", query=f"author={i}", status=301 if i < 3 else 404) for i in range(1, 12)
    ]
    alerts = run(AuthDetector(CONFIG), records)
    assert names(alerts) == ["http-user-enum"]
    assert len(alerts[0].examples) == CONFIG.examples


def test_api_user_enumeration() -> None:
    records = [
        http(i, "/api/profile", query=f"user_id={1000 + i}", status=404 if i % 2 else 200)
        for i in range(20)
    ]
    assert names(run(AuthDetector(CONFIG), records)) == ["http-user-enum"]


@pytest.mark.parametrize(
    "records",
    [
        # the same author page reloaded, answered 404 each time: one value, not enumeration
        [http(i, "/", query="author=1", status=404) for i in range(30)],
        # a page showing thirty commenters' cards, every one answered 200
        [http(i * 0.05, "/card", query=f"user=u{i}") for i in range(30)],
        # a person opening author pages one after another, 30 s apart
        [http(i * 30, "/", query=f"author={i}", status=404) for i in range(20)],
        # avatars are static files: not counted
        [http(i * 0.05, "/avatar.png", query=f"user=u{i}", status=404) for i in range(30)],
    ],
)
def test_not_enumeration(records: list[Record]) -> None:
    assert run(AuthDetector(CONFIG), records) == []
