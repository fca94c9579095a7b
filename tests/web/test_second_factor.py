"""The second factor in the pages, over HTTP: enrolment before anything else for an
administrator, the code step (wrong, replayed, throttled, recovery codes), CSRF, optional
enrolment, admin tokens, resets, languages, and no secret in logs or later pages."""

from __future__ import annotations

import logging
import re
import warnings
from datetime import UTC, datetime
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from sakimori.services import audit, identity
from sakimori.store import models
from sakimori.web.second_factor import PENDING_COOKIE
from sakimori.web.sessions import SESSION_COOKIE
from tests.web.conftest import BANK, PASSWORD, Platform
from tests.web.helpers import csrf_of, sign_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')
CODES = re.compile(r"<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>")
ALERT = re.compile(r'role="alert">([^<]+)<')


def _user(platform: Platform, name: str, role: str = "member_admin") -> str:
    identity.create_user(platform.db, name, organisation=BANK, role=role, password=PASSWORD)
    return name


def _wrong(secret: str) -> str:
    totp = pyotp.TOTP(secret)
    valid = {totp.at(datetime.now(UTC), counter_offset=i) for i in (-2, -1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def _session_scopes(platform: Platform, client: TestClient) -> list[str]:
    token_id = client.cookies[SESSION_COOKIE].split("_")[1]
    with platform.db.transaction() as session:
        row = session.get(models.ApiToken, token_id)
        assert row is not None
        return list(row.scopes)


def _send_code(client: TestClient, code: str, page: str = "/ui/signin/code") -> Any:
    form = client.get(page)
    assert form.status_code == 200
    return client.post(
        page, data={"code": code, "csrf": csrf_of(form.text), "next": ""}, follow_redirects=False
    )


def test_an_admin_without_a_second_factor_enrols_before_anything_else(
    platform: Platform, client: TestClient
) -> None:
    name = _user(platform, "first-admin")
    answer = sign_in(client, name, PASSWORD)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/ui/signin/enrol")
    assert SESSION_COOKIE not in client.cookies  # no session yet
    pending = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith(PENDING_COOKIE + "=")
    )
    assert {"httponly", "samesite=strict", "path=/ui"} <= {
        p.strip().lower() for p in pending.split(";")[1:]
    }
    # The pending sign-in opens no other page.
    for page in (f"/ui/organisations/{BANK}", "/ui/admin/tokens", "/ui/account/second-factor"):
        refused = client.get(page, follow_redirects=False)
        assert refused.status_code == 303, page
        assert refused.headers["location"].startswith("/ui/signin"), page
    form = client.get("/ui/signin/enrol")
    secret = SECRET.search(form.text)
    assert secret is not None
    assert "<svg" in form.text
    assert f"secret={secret.group(1)}" in form.text  # the otpauth:// URI
    no_csrf = client.post("/ui/signin/enrol", data={"code": "123456"}, follow_redirects=False)
    assert no_csrf.status_code == 403
    wrong = client.post(
        "/ui/signin/enrol",
        data={"code": _wrong(secret.group(1)), "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert wrong.status_code == 401
    assert SESSION_COOKIE not in client.cookies
    assert secret.group(1) not in wrong.text  # shown once only
    done = client.post(
        "/ui/signin/enrol",
        data={"code": pyotp.TOTP(secret.group(1)).now(), "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert done.status_code == 200
    assert len(set(CODES.findall(done.text))) == 10
    assert identity.SECOND_FACTOR_SCOPE in _session_scopes(platform, client)
    assert PENDING_COOKIE not in client.cookies
    assert client.get(f"/ui/organisations/{BANK}").status_code == 200
    account = client.get("/ui/account/second-factor")
    assert "Recovery codes left: 10" in account.text
    assert secret.group(1) not in account.text
    # The next sign-in asks for a code, and the enrolment page sends there.
    client.cookies.clear()
    again = sign_in(client, name, PASSWORD)
    assert again.headers["location"].startswith("/ui/signin/code")
    enrol_again = client.get("/ui/signin/enrol", follow_redirects=False)
    assert enrol_again.headers["location"].startswith("/ui/signin/code")


def test_the_code_step_refuses_wrong_and_replayed_codes(
    platform: Platform, client: TestClient
) -> None:
    name = _user(platform, "code-admin")
    platform.enrol(name)
    assert sign_in(client, name, PASSWORD).headers["location"].startswith("/ui/signin/code")
    wrong = _send_code(client, _wrong(platform.secrets[name]))
    assert wrong.status_code == 401
    assert ALERT.findall(wrong.text) == ["The code is wrong, or it was used already."]
    assert SESSION_COOKIE not in client.cookies
    code = platform.code(name)
    right = _send_code(client, code)
    assert right.status_code == 303
    assert right.headers["location"] == "/ui/"
    assert identity.SECOND_FACTOR_SCOPE in _session_scopes(platform, client)
    # Signed out and in again: the same code is refused, a fresh one accepted.
    client.cookies.clear()
    sign_in(client, name, PASSWORD)
    assert _send_code(client, code).status_code == 401
    assert _send_code(client, platform.code(name)).status_code == 303


def test_code_attempts_are_throttled_and_the_password_buys_no_more(
    platform: Platform, client: TestClient
) -> None:
    name = _user(platform, "guessed-admin")
    platform.enrol(name)
    sign_in(client, name, PASSWORD)
    wrong = _wrong(platform.secrets[name])
    for _ in range(3):
        assert _send_code(client, wrong).status_code == 401
    # Entering the right password again does not forget the failed codes …
    client.cookies.clear()
    assert sign_in(client, name, PASSWORD).status_code == 303
    for _ in range(2):
        assert _send_code(client, wrong).status_code == 401
    # … five failures, and even the right code, or the right password, waits.
    assert _send_code(client, platform.code(name)).status_code == 429
    assert SESSION_COOKIE not in client.cookies
    assert sign_in(client, name, PASSWORD).status_code == 429


def test_a_recovery_code_signs_in_once(platform: Platform, client: TestClient) -> None:
    name = _user(platform, "lost-phone-admin")
    platform.enrol(name)
    recovery = platform.recovery[name][0]
    sign_in(client, name, PASSWORD)
    assert _send_code(client, recovery.upper()).status_code == 303
    assert "Recovery codes left: 9" in client.get("/ui/account/second-factor").text
    client.cookies.clear()
    sign_in(client, name, PASSWORD)
    assert _send_code(client, recovery).status_code == 401


def test_the_pending_cookie_is_no_session_and_a_session_no_pending_one(
    platform: Platform, client: TestClient
) -> None:
    name = _user(platform, "cookie-admin")
    platform.enrol(name)
    sign_in(client, name, PASSWORD)
    pending = client.cookies[PENDING_COOKIE]
    client.cookies.set(SESSION_COOKIE, pending, path="/ui")
    assert client.get("/ui/admin/tokens", follow_redirects=False).status_code == 303
    with TestClient(client.app, base_url="http://127.0.0.1") as other:
        assert sign_in(other, "bank-user", PASSWORD).status_code == 303
        other.cookies.set(PENDING_COOKIE, other.cookies[SESSION_COOKIE], path="/ui")
        answer = other.get("/ui/signin/code", follow_redirects=False)
        assert answer.headers["location"].startswith("/ui/signin")
    # A pending token is no API token either.
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {pending}"}).status_code == 401


def test_an_admin_makes_tokens_in_the_pages_but_not_with_an_api_token(
    platform: Platform, client: TestClient
) -> None:
    name = _user(platform, "token-admin")
    platform.enrol(name)
    assert sign_in(client, name, PASSWORD, lambda: platform.code(name)).status_code == 303
    page = client.get("/ui/admin/tokens")
    made = client.post(
        "/ui/admin/tokens",
        data={"csrf": csrf_of(page.text), "name": "ci", "scopes": ["read", "write"], "days": "7"},
    )
    assert made.status_code == 200
    token = re.search(r'<code id="new-token">([^<]+)</code>', made.text)
    assert token is not None
    bearer = {"Authorization": f"Bearer {token.group(1)}"}
    assert client.get("/v1/me", headers=bearer).json()["user"] == name
    more = client.post("/v1/tokens", headers=bearer, json={"name": "more", "scopes": ["read"]})
    assert more.status_code == 403
    assert "second factor" in more.json()["detail"]


def test_a_coordinator_admin_resets_a_second_factor_audited(
    platform: Platform, client: TestClient
) -> None:
    name = _user(platform, "reset-admin")
    platform.enrol(name)
    with TestClient(client.app, base_url="http://127.0.0.1") as target:
        assert sign_in(target, name, PASSWORD, lambda: platform.code(name)).status_code == 303
        assert target.get(f"/ui/organisations/{BANK}").status_code == 200
        assert sign_in(client, "kanri", PASSWORD, lambda: platform.code("kanri")).status_code == 303
        page = client.get("/ui/admin/users")
        assert f"/ui/admin/users/{name}/second-factor/reset" in page.text
        reset = client.post(
            f"/ui/admin/users/{name}/second-factor/reset",
            data={"csrf": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert reset.status_code == 303
        # The target's session ended; at the next sign-in they enrol again.
        ended = target.get(f"/ui/organisations/{BANK}", follow_redirects=False)
        assert ended.headers["location"].startswith("/ui/signin")
        target.cookies.clear()
        assert sign_in(target, name, PASSWORD).headers["location"].startswith("/ui/signin/enrol")
    again = client.post(
        f"/ui/admin/users/{name}/second-factor/reset",
        data={"csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert again.status_code == 409  # nothing left to reset
    entries = [e for e in audit.page(platform.db, limit=1000) if e["object_id"] == name]
    resets = [e for e in entries if e["action"] == "second_factor.reset"]
    assert [(e["actor"], e["source"]) for e in resets] == [("kanri", "testclient")]


def test_a_member_user_may_enrol_and_is_then_asked_for_codes(
    platform: Platform, client: TestClient
) -> None:
    name = _user(platform, "careful-user", role="member_user")
    assert sign_in(client, name, PASSWORD).headers["location"] == "/ui/"  # no second step
    page = client.get("/ui/account/second-factor")
    assert "It is optional for your role" in page.text
    secret = SECRET.search(page.text)
    assert secret is not None
    made = client.post(
        "/ui/account/second-factor",
        data={"csrf": csrf_of(page.text), "code": pyotp.TOTP(secret.group(1)).now()},
    )
    assert made.status_code == 200
    assert len(CODES.findall(made.text)) == 10
    assert identity.SECOND_FACTOR_SCOPE in _session_scopes(platform, client)
    platform.secrets[name] = secret.group(1)
    client.cookies.clear()
    assert sign_in(client, name, PASSWORD).headers["location"].startswith("/ui/signin/code")
    assert _send_code(client, platform.code(name)).status_code == 303


def test_new_recovery_codes_need_a_session_that_passed_the_second_factor(
    platform: Platform, client: TestClient
) -> None:
    name = _user(platform, "fresh-codes-admin")
    platform.enrol(name)
    sign_in(client, name, PASSWORD, lambda: platform.code(name))
    page = client.get("/ui/account/second-factor")
    fresh = client.post(
        "/ui/account/second-factor/recovery-codes", data={"csrf": csrf_of(page.text)}
    )
    assert fresh.status_code == 200
    codes = CODES.findall(fresh.text)
    assert len(codes) == 10
    assert set(codes).isdisjoint(platform.recovery[name])
    forged = client.post("/ui/account/second-factor/recovery-codes", data={"csrf": "0" * 64})
    assert forged.status_code == 403


def test_the_second_step_in_japanese(platform: Platform, client: TestClient) -> None:
    name = _user(platform, "nihongo-admin")
    sign_in(client, name, PASSWORD)
    page = client.get("/ui/signin/enrol", headers={"Accept-Language": "ja"})
    assert '<html lang="ja">' in page.text
    assert "二要素認証の設定" in page.text
    platform.enrol(name)
    client.cookies.clear()
    sign_in(client, name, PASSWORD)
    code = client.get("/ui/signin/code", headers={"Accept-Language": "ja"})
    assert "サインイン：第2段階" in code.text


def test_no_secret_in_the_logs(
    platform: Platform, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    name = _user(platform, "quiet-admin")
    sign_in(client, name, PASSWORD)
    form = client.get("/ui/signin/enrol")
    secret = SECRET.search(form.text)
    assert secret is not None
    code = pyotp.TOTP(secret.group(1)).now()
    done = client.post("/ui/signin/enrol", data={"code": code, "csrf": csrf_of(form.text)})
    codes = CODES.findall(done.text)
    assert codes
    assert f"user {name} signed in" in caplog.text  # the log is there …
    for value in (secret.group(1), *codes, client.cookies[SESSION_COOKIE], PASSWORD):
        assert value not in caplog.text  # … without a secret
    with platform.db.transaction() as session:
        stored = session.scalar(
            select(models.UserTotp.secret)
            .join(models.User, models.User.id == models.UserTotp.user_id)
            .where(models.User.name == name)
        )
    assert stored is not None
    assert secret.group(1) not in stored
