"""Sign-in, session cookies, CSRF, sign-out, throttling, tenancy and languages, over HTTP."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sakimori.api import create_app
from sakimori.services import identity
from sakimori.store import models
from sakimori.web.sessions import SESSION_COOKIE, Throttle
from tests.web.conftest import BANK, OTHER_BANK, PASSWORD, Platform
from tests.web.helpers import csrf_of, sign_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient


def _session_row(platform: Platform, token: str) -> models.ApiToken:
    token_id = token.split("_")[1]
    with platform.db.transaction() as session:
        row = session.get(models.ApiToken, token_id)
        assert row is not None
        session.expunge(row)
        return row


def test_sign_in_sets_a_strict_http_only_session_cookie(
    platform: Platform, client: TestClient
) -> None:
    answer = sign_in(client, "bank-user", PASSWORD)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/"
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/ui"} <= flags
    assert "secure" not in flags  # plain HTTP on 127.0.0.1: a demo or a test
    token = client.cookies[SESSION_COOKIE]
    row = _session_row(platform, token)
    assert identity.SESSION_SCOPE in row.scopes
    assert row.expires_at.replace(tzinfo=UTC) - datetime.now(UTC) <= identity.SESSION_IDLE
    assert row.secret_hash not in token  # stored as a keyed hash only


def test_the_cookie_is_secure_when_the_site_is_not_on_loopback(platform: Platform) -> None:
    with TestClient(create_app(platform.settings), base_url="https://sakimori.example") as c:
        answer = sign_in(c, "bank-user", PASSWORD)
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")
    )
    assert "secure" in cookie.lower().split("; ")


def test_a_session_is_no_api_token_and_an_api_token_no_session(
    platform: Platform, client: TestClient
) -> None:
    sign_in(client, "bank-user", PASSWORD)
    session_token = client.cookies[SESSION_COOKIE]
    as_bearer = client.get("/v1/me", headers={"Authorization": f"Bearer {session_token}"})
    assert as_bearer.status_code == 401
    _, api_token = identity.create_token(platform.db, platform.key, "bank-user", "t", ["read"])
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, api_token, path="/ui")
    page = client.get("/ui/findings", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/ui/signin")


def test_pages_need_a_session(client: TestClient) -> None:
    answer = client.get(f"/ui/organisations/{BANK}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/ui/signin?next=/ui/organisations/{BANK}"


def test_a_wrong_password_is_refused_with_one_message(client: TestClient) -> None:
    wrong = sign_in(client, "bank-user", "not the password at all")
    unknown = sign_in(client, "nobody-here", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert SESSION_COOKIE not in client.cookies
    message = re.compile(r'role="alert">([^<]+)<')
    assert message.findall(wrong.text) == message.findall(unknown.text)


def _other_bank_finding(platform: Platform) -> int:
    return platform.findings_of(OTHER_BANK)[0].id


def test_forms_without_or_with_a_wrong_csrf_token_are_refused(
    platform: Platform, client: TestClient
) -> None:
    sign_in(client, "harbour-user", PASSWORD)
    finding = _other_bank_finding(platform)
    target = f"/ui/findings/{finding}/transition"
    before = platform.findings_of(OTHER_BANK)
    missing = client.post(target, data={"state": "acknowledged"}, follow_redirects=False)
    wrong = client.post(
        target, data={"state": "acknowledged", "csrf": "0" * 64}, follow_redirects=False
    )
    assert missing.status_code == wrong.status_code == 403
    assert platform.findings_of(OTHER_BANK) == before
    # Another session's token is wrong too.
    with TestClient(create_app(platform.settings), base_url="http://127.0.0.1") as other:
        sign_in(other, "harbour-user", PASSWORD)
        foreign = csrf_of(other.get("/ui/findings").text)
    foreign_answer = client.post(
        target, data={"state": "acknowledged", "csrf": foreign}, follow_redirects=False
    )
    assert foreign_answer.status_code == 403
    good = csrf_of(client.get(f"/ui/findings/{finding}").text)
    moved = client.post(
        target, data={"state": "acknowledged", "csrf": good}, follow_redirects=False
    )
    assert moved.status_code == 303
    states = {f.id: f.state for f in platform.findings_of(OTHER_BANK)}
    assert states[finding] == "acknowledged"


def test_the_sign_in_form_needs_its_own_token(client: TestClient) -> None:
    client.get("/ui/signin")
    answer = client.post(
        "/ui/signin",
        data={"username": "bank-user", "password": PASSWORD, "csrf": "x", "next": ""},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_sign_out_revokes_the_session(platform: Platform, client: TestClient) -> None:
    sign_in(client, "bank-user", PASSWORD)
    token = client.cookies[SESSION_COOKIE]
    page = client.get(f"/ui/organisations/{BANK}")
    assert page.status_code == 200
    out = client.post("/ui/signout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert _session_row(platform, token).revoked_at is not None
    client.cookies.set(SESSION_COOKIE, token, path="/ui")  # a copy kept by an attacker
    again = client.get(f"/ui/organisations/{BANK}", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/ui/signin")


def test_deactivating_a_user_ends_their_sessions(platform: Platform, client: TestClient) -> None:
    identity.create_user(
        platform.db, "leaving", organisation=BANK, role="member_user", password=PASSWORD
    )
    sign_in(client, "leaving", PASSWORD)
    assert client.get(f"/ui/organisations/{BANK}").status_code == 200
    identity.deactivate_user(platform.db, "leaving")
    assert client.get(f"/ui/organisations/{BANK}", follow_redirects=False).status_code == 303
    assert sign_in(client, "leaving", PASSWORD).status_code == 401


def test_sign_in_is_throttled_after_five_failures(platform: Platform, client: TestClient) -> None:
    for _ in range(5):
        assert sign_in(client, "kanri", "wrong password, again").status_code == 401
    refused = sign_in(client, "kanri", PASSWORD)  # even the right password, for a while
    assert refused.status_code == 429
    assert SESSION_COOKIE not in client.cookies
    assert sign_in(client, "bank-user", PASSWORD).status_code == 303  # others still can


def test_the_throttle_forgets_after_its_window_and_stays_bounded() -> None:
    now = [0.0]
    throttle = Throttle(limit=2, window_seconds=60, max_keys=3, clock=lambda: now[0])
    throttle.failed("a")
    throttle.failed("a")
    assert throttle.blocked("a")
    now[0] = 61.0
    assert not throttle.blocked("a")
    for key in "bcde":
        throttle.failed(key)
        throttle.failed(key)
    assert len(throttle._failures) == 3
    assert not throttle.blocked("b")  # forgotten first (the least recent)
    assert throttle.blocked("e")


def test_a_member_cannot_open_another_banks_pages(platform: Platform, client: TestClient) -> None:
    sign_in(client, "bank-user", PASSWORD)
    theirs = _other_bank_finding(platform)
    finding = client.get(f"/ui/findings/{theirs}")
    missing = client.get("/ui/findings/2147483000")
    assert finding.status_code == missing.status_code == 404
    assert client.get(f"/ui/organisations/{OTHER_BANK}").status_code == 404
    assert client.get(f"/ui/findings?organisation={OTHER_BANK}").status_code == 404
    assert client.get(f"/ui/organisations/{OTHER_BANK}/upload").status_code == 404
    listed = client.get("/ui/findings")
    assert f'/ui/findings/{theirs}"' not in listed.text
    assert OTHER_BANK not in listed.text
    vulnerability = platform.findings_of(OTHER_BANK)[0].vulnerability
    page = client.get(f"/ui/vulnerabilities/{vulnerability}")
    assert page.status_code == 200
    assert OTHER_BANK not in page.text
    assert client.get("/ui/admin/users").status_code == 403


def test_pages_carry_a_strict_content_security_policy(client: TestClient) -> None:
    page = client.get("/ui/signin")
    policy = page.headers.get_list("content-security-policy")
    assert len(policy) == 1
    assert "unsafe-inline" not in policy[0]
    assert "script-src 'self'" in policy[0]
    assert "frame-ancestors 'none'" in policy[0]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text
    assert " style=" not in page.text


def test_a_page_in_japanese_and_in_english(client: TestClient) -> None:
    japanese = client.get("/ui/signin", headers={"Accept-Language": "ja,en;q=0.5"})
    assert '<html lang="ja">' in japanese.text
    assert "サインイン" in japanese.text
    english = client.get("/ui/signin", headers={"Accept-Language": "en-GB,ja;q=0.3"})
    assert '<html lang="en">' in english.text
    assert "Sign in" in english.text
    assert "サインイン" not in english.text
    # The choice made on the page wins over the browser's languages.
    chosen = client.get("/ui/language/en?next=/ui/signin", follow_redirects=False)
    assert chosen.status_code == 303
    assert chosen.headers["location"] == "/ui/signin"
    again = client.get("/ui/signin", headers={"Accept-Language": "ja"})
    assert '<html lang="en">' in again.text


def test_the_language_switch_never_leaves_the_site(client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/ui/", "/ui/../..//x", "/v1/me"):
        answer = client.get("/ui/language/ja", params={"next": target}, follow_redirects=False)
        assert answer.headers["location"] == "/ui/"


def test_times_are_shown_in_japan_time(platform: Platform, client: TestClient) -> None:
    sign_in(client, "harbour-user", PASSWORD)
    finding = platform.findings_of(OTHER_BANK)[1]
    page = client.get(f"/ui/findings/{finding.id}")
    assert finding.deadline is not None
    shown = (finding.deadline.replace(tzinfo=UTC) + timedelta(hours=9)).strftime(
        "%Y-%m-%d %H:%M JST"
    )
    assert shown in page.text


def test_user_administration_is_for_the_coordinator_admin(
    platform: Platform, client: TestClient
) -> None:
    assert sign_in(client, "kanri", PASSWORD, lambda: platform.code("kanri")).status_code == 303
    page = client.get("/ui/admin/users")
    assert page.status_code == 200
    made = client.post(
        "/ui/admin/users",
        data={
            "csrf": csrf_of(page.text),
            "name": "new-analyst",
            "organisation": "coordination",
            "role": "analyst",
            "password": PASSWORD,
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    with platform.db.transaction() as session:
        assert session.scalar(select(models.User.id).where(models.User.name == "new-analyst"))


def test_a_session_slides_while_used_and_ends_at_its_maximum(platform: Platform) -> None:
    start = datetime.now(UTC)
    view, token = identity.create_session(platform.db, platform.key, "bank-user", now=start)
    assert view.expires_at == start + identity.SESSION_IDLE
    moment = start
    while True:  # used ten minutes before each idle expiry
        moment += identity.SESSION_IDLE - timedelta(minutes=10)
        if moment >= start + identity.SESSION_MAX_AGE:
            break
        identity.authenticate(platform.db, platform.key, token, moment, browser=True)
        expires = _session_row(platform, token).expires_at.replace(tzinfo=UTC)
        assert expires == min(moment + identity.SESSION_IDLE, start + identity.SESSION_MAX_AGE)
    with pytest.raises(identity.Unauthenticated):
        identity.authenticate(
            platform.db, platform.key, token, start + identity.SESSION_MAX_AGE, browser=True
        )
    with pytest.raises(identity.Unauthenticated):  # and never as an API token
        identity.authenticate(platform.db, platform.key, token, start)
