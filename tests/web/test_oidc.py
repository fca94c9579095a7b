"""Single sign-on against an OpenID provider of our own on loopback (``oidc_provider``).

The pages are driven with the TestClient and the provider with plain HTTP, following each
redirect by hand across the two origins, as a browser would. A member signs in end to end; an
administrator passes the second factor after the provider; and each attack — on the state, the
PKCE verifier, the ID token (one rule broken at a time), the user — is refused, with no session
cookie, and for the reason it was made to fail (read from the log, so that removing a check
fails its test even where a later check would have caught the token).
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select, update

from sakimori.api import create_app
from sakimori.config import Settings
from sakimori.errors import ConfigurationError
from sakimori.services import identity
from sakimori.services import oidc as service
from sakimori.store import models
from sakimori.web.oidc import OIDC_COOKIE
from sakimori.web.second_factor import PENDING_COOKIE
from sakimori.web.sessions import SESSION_COOKIE
from tests.web.conftest import BANK, PASSWORD, Platform
from tests.web.helpers import csrf_of, sign_in
from tests.web.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    Grant,
    LoopbackProvider,
    running,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

MAPPING = f"""
[[rules]]
claim = "groups"
value = "sakimori:{BANK}:member_user"
organisation = "{BANK}"
role = "member_user"
"""
MEMBER = f"sakimori:{BANK}:member_user"
#: subject -> the claims the provider adds to the ID token
PEOPLE: dict[str, dict[str, Any]] = {
    "sub-alice": {"preferred_username": "alice", "name": "Alice", "groups": [MEMBER]},
    "sub-kanri": {"preferred_username": "kanri-at-idp", "groups": []},
    "sub-stranger": {"preferred_username": "stranger", "groups": ["sakimori:other:member"]},
    "sub-gone": {"preferred_username": "gone-at-idp", "groups": []},
    "sub-taker": {"preferred_username": "bank-user", "groups": [MEMBER]},
    "sub-attacked": {"preferred_username": "attacked", "groups": [MEMBER]},
    "sub-browser": {"preferred_username": "in-chromium", "groups": [MEMBER]},
}
ALERT = re.compile(r'role="alert"><h2>([^<]+)</h2><p>([^<]+)</p>')
LOGGER = "sakimori.web.oidc"


@pytest.fixture(scope="module")
def provider() -> Iterator[LoopbackProvider]:
    with running(LoopbackProvider(users=PEOPLE)) as found:
        yield found


@pytest.fixture(scope="module")
def sso_settings(
    platform: Platform, provider: LoopbackProvider, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    folder = tmp_path_factory.mktemp("oidc")
    (folder / "client-secret").write_text(CLIENT_SECRET + "\n")
    (folder / "mapping.toml").write_text(MAPPING)
    service.link(platform.db, "kanri", provider.issuer, "sub-kanri", actor="test")
    identity.create_user(platform.db, "gone", organisation=BANK, role="member_user")
    service.link(platform.db, "gone", provider.issuer, "sub-gone", actor="test")
    return replace(
        platform.settings,
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret_file=folder / "client-secret",
        oidc_mapping_file=folder / "mapping.toml",
        oidc_name="Test IdP",
    )


@pytest.fixture
def sso(sso_settings: Settings, provider: LoopbackProvider) -> Iterator[TestClient]:
    """The app with single sign-on, reached at http://127.0.0.1 (the registered redirect URI)."""
    provider.attack, provider.approve = None, ""
    provider.refusals.clear()
    with TestClient(create_app(sso_settings), base_url="http://127.0.0.1") as found:
        yield found


def to_provider(
    client: TestClient, provider: LoopbackProvider, subject: str, next: str = ""
) -> str:
    """Start a sign-in and let the provider approve ``subject``; the callback URL it sends to."""
    provider.approve = subject
    start = client.get("/ui/signin/oidc", params={"next": next}, follow_redirects=False)
    assert start.status_code == 303, start.text
    where = start.headers["location"]
    assert where.startswith(provider.issuer + "/authorize?")
    at_provider = httpx.get(where, follow_redirects=False)
    assert at_provider.status_code == 302
    back: str = at_provider.headers["location"]
    assert back.startswith(REDIRECT_URI + "?")
    return back


def come_back(client: TestClient, callback: str) -> Any:
    return client.get(callback.removeprefix("http://127.0.0.1"), follow_redirects=False)


def onwards(answer: Any) -> str:
    """The page the callback's answer moves on to (its Refresh header, same as its link)."""
    assert answer.status_code == 200, answer.text
    refresh = answer.headers["refresh"]
    assert refresh.startswith("0; url=/ui/")
    target: str = refresh.removeprefix("0; url=")
    assert f'href="{target.replace("&", "&amp;")}"' in answer.text
    return target


def cookies_set(answer: Any) -> dict[str, str]:
    return {
        c.split("=", 1)[0]: c.split("=", 1)[1].split(";", 1)[0]
        for c in answer.headers.get_list("set-cookie")
    }


def assert_refused(client: TestClient, answer: Any, status: int) -> tuple[str, str]:
    """Refused with one clear message on the sign-in page: no session, no pending sign-in."""
    assert answer.status_code == status, answer.text
    set_now = cookies_set(answer)
    assert SESSION_COOKIE not in set_now
    assert PENDING_COOKIE not in set_now
    assert set_now.get(OIDC_COOKIE) == '""'  # cleared
    assert SESSION_COOKIE not in client.cookies
    assert "Traceback" not in answer.text
    found = ALERT.search(answer.text)
    assert found is not None, answer.text
    assert found.group(1) == "Single sign-on did not succeed"
    assert client.get("/ui/findings", follow_redirects=False).status_code == 303
    return html.unescape(found.group(1)), html.unescape(found.group(2))


def users(platform: Platform) -> int:
    with platform.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(models.User)) or 0


# -- the sign-in page ------------------------------------------------------------------------------


def test_the_sign_in_page_offers_the_provider_only_when_configured(
    client: TestClient, sso: TestClient
) -> None:
    assert "Sign in with" not in client.get("/ui/signin").text
    page = sso.get("/ui/signin", params={"next": "/ui/findings"}).text
    assert 'href="/ui/signin/oidc?next=/ui/findings">Sign in with Test IdP</a>' in page
    assert client.get("/ui/signin/oidc", follow_redirects=False).status_code == 404
    japanese = sso.get("/ui/signin", headers={"Accept-Language": "ja"}).text
    assert "Test IdP でサインイン" in japanese


# -- signing in ------------------------------------------------------------------------------------


def test_a_member_signs_in_end_to_end_and_lands_on_the_dashboard(
    platform: Platform, provider: LoopbackProvider, sso: TestClient
) -> None:
    callback = to_provider(sso, provider, "sub-alice", next="/ui/dashboard")
    asked = parse_qs(urlsplit(callback).query)
    assert set(asked) == {"code", "state"}
    answer = come_back(sso, callback)
    assert onwards(answer) == "/ui/dashboard"
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")
    )
    assert {"httponly", "samesite=strict", "path=/ui"} <= {
        p.strip().lower() for p in cookie.split(";")[1:]
    }
    assert cookies_set(answer)[OIDC_COOKIE] == '""'
    dashboard = sso.get("/ui/dashboard", follow_redirects=False)
    assert dashboard.status_code == 200
    assert "alice · city-bank · member_user" in dashboard.text
    assert provider.refusals == []
    # Provisioned by the rule, linked by (iss, sub), audited; the next sign-in finds the link.
    with platform.db.transaction() as session:
        user = session.scalars(select(models.User).where(models.User.name == "alice")).one()
        assert user.password_hash is None
        link = session.scalars(
            select(models.UserIdentity).where(models.UserIdentity.user_id == user.id)
        ).one()
        assert (link.issuer, link.subject, link.managed) == (provider.issuer, "sub-alice", True)
        actions = session.scalars(
            select(models.AuditEntryRow.action).where(models.AuditEntryRow.object_id == "alice")
        ).all()
    assert "oidc.provision" in actions
    before = users(platform)
    sso.cookies.clear()
    again = come_back(sso, to_provider(sso, provider, "sub-alice"))
    assert onwards(again) == "/ui/"
    assert users(platform) == before
    row = identity.list_tokens(platform.db, "alice")[-1]
    assert (row.name, set(row.scopes)) == ("web session", {"read", "write", "session"})


def test_the_authorization_request_uses_pkce_s256_and_fresh_values(
    provider: LoopbackProvider, sso: TestClient
) -> None:
    asked = []
    for _ in range(2):
        start = sso.get("/ui/signin/oidc", follow_redirects=False)
        asked.append(
            {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
        )
        cookie = next(
            c for c in start.headers.get_list("set-cookie") if c.startswith(OIDC_COOKIE + "=")
        )
        flags = {p.strip().lower() for p in cookie.split(";")[1:]}
        assert {"httponly", "samesite=lax", "path=/ui/signin/oidc", "max-age=600"} <= flags
    first, second = asked
    assert first["response_type"] == "code"
    assert first["scope"] == "openid email profile"
    assert first["code_challenge_method"] == "S256"
    assert first["redirect_uri"] == REDIRECT_URI
    assert len(first["state"]) >= 43  # 256 bits
    for name in ("state", "nonce", "code_challenge"):
        assert first[name] != second[name]


def test_an_admin_passes_the_second_factor_after_the_provider(
    platform: Platform, provider: LoopbackProvider, sso: TestClient
) -> None:
    answer = come_back(sso, to_provider(sso, provider, "sub-kanri"))
    target = onwards(answer)
    assert target.startswith("/ui/signin/code")
    set_now = cookies_set(answer)
    assert PENDING_COOKIE in set_now
    assert SESSION_COOKIE not in set_now
    refused = sso.get("/ui/dashboard", follow_redirects=False)
    assert refused.headers["location"].startswith("/ui/signin")
    form = sso.get(target)
    assert form.status_code == 200
    done = sso.post(
        "/ui/signin/code",
        data={"code": platform.code("kanri"), "csrf": csrf_of(form.text), "next": ""},
        follow_redirects=False,
    )
    assert done.status_code == 303
    token_id = sso.cookies[SESSION_COOKIE].split("_")[1]
    with platform.db.transaction() as session:
        row = session.get(models.ApiToken, token_id)
        assert row is not None
        assert identity.SECOND_FACTOR_SCOPE in row.scopes
    assert sso.get("/ui/dashboard").status_code == 200


# -- the state -------------------------------------------------------------------------------------


def _with_state(callback: str, state: str) -> str:
    query = parse_qs(urlsplit(callback).query)
    return f"{REDIRECT_URI}?code={query['code'][0]}&state={state}"


def test_a_wrong_state_is_refused(provider: LoopbackProvider, sso: TestClient) -> None:
    callback = to_provider(sso, provider, "sub-alice")
    count = provider.token_requests
    answer = come_back(sso, _with_state(callback, "A" * 43))
    _, message = assert_refused(sso, answer, 400)
    assert "start again" in message
    assert provider.token_requests == count  # refused before the code was sent anywhere


def test_a_state_serves_once(provider: LoopbackProvider, sso: TestClient) -> None:
    callback = to_provider(sso, provider, "sub-alice")
    browser = sso.cookies.get(OIDC_COOKIE)
    assert browser
    assert onwards(come_back(sso, callback)) == "/ui/"
    sso.cookies.clear()  # the same browser (its cookie), the same callback, again
    sso.cookies.set(OIDC_COOKIE, browser, path="/ui/signin/oidc")
    count = provider.token_requests
    assert_refused(sso, come_back(sso, callback), 400)
    assert provider.token_requests == count


def test_an_expired_state_is_refused(
    platform: Platform, provider: LoopbackProvider, sso: TestClient
) -> None:
    callback = to_provider(sso, provider, "sub-alice")
    with platform.db.transaction() as session:
        session.execute(
            update(models.OidcLogin).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert_refused(sso, come_back(sso, callback), 400)


def test_a_state_started_in_another_browser_is_refused(
    provider: LoopbackProvider, sso: TestClient
) -> None:
    """Login CSRF: a callback made for one browser does not sign in another."""
    callback = to_provider(sso, provider, "sub-alice")
    sso.cookies.set(OIDC_COOKIE, "another-browsers-value", path="/ui/signin/oidc")
    assert_refused(sso, come_back(sso, callback), 400)


# -- the code and the ID token ---------------------------------------------------------------------


def test_a_wrong_pkce_verifier_is_refused_by_the_provider(
    platform: Platform, provider: LoopbackProvider, sso: TestClient
) -> None:
    callback = to_provider(sso, provider, "sub-alice")
    with platform.db.transaction() as session:
        session.execute(update(models.OidcLogin).values(code_verifier="x" * 86))
    assert_refused(sso, come_back(sso, callback), 403)
    assert provider.refusals == ["PKCE verifier"]


def test_an_error_from_the_provider_is_refused(provider: LoopbackProvider, sso: TestClient) -> None:
    callback = to_provider(sso, provider, "sub-nobody-at-all")  # the provider denies
    assert "error=access_denied" in callback
    _, message = assert_refused(sso, come_back(sso, callback), 403)
    assert message == "The identity provider did not sign you in."


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        ("wrong-iss", "claim 'iss'"),
        ("wrong-aud", "claim 'aud'"),
        ("expired", "claim 'exp'"),
        ("issued-in-the-future", "claim 'iat'"),
        ("wrong-nonce", "nonce is not the one sent"),
        ("unknown-key", "key 'other' is not in the JWKS"),
        ("bad-signature", "signature does not verify"),
        ("alg-none", "algorithm 'none' is not accepted"),
        ("hs256-public-key", "algorithm 'HS256' is not accepted"),
        ("rs512", "algorithm 'RS512' is not accepted"),
        ("other-azp", "azp is not this client"),
    ],
)
def test_an_id_token_breaking_a_rule_is_refused(
    platform: Platform,
    provider: LoopbackProvider,
    sso: TestClient,
    caplog: pytest.LogCaptureFixture,
    attack: str,
    reason: str,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    before = users(platform)
    callback = to_provider(sso, provider, "sub-attacked")
    provider.attack = attack
    _, message = assert_refused(sso, come_back(sso, callback), 403)
    assert message == "The identity provider's answer could not be verified."
    refusals = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(refusals) == 1
    assert reason in refusals[0], refusals
    assert users(platform) == before  # nothing provisioned


# -- the user --------------------------------------------------------------------------------------


def test_a_subject_no_rule_maps_is_refused(
    platform: Platform, provider: LoopbackProvider, sso: TestClient
) -> None:
    before = users(platform)
    _, message = assert_refused(
        sso, come_back(sso, to_provider(sso, provider, "sub-stranger")), 403
    )
    assert message == "No Sakimori user may sign in with this identity. Ask an administrator."
    assert users(platform) == before


def test_a_deactivated_user_cannot_sign_in(
    platform: Platform,
    provider: LoopbackProvider,
    sso: TestClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    assert onwards(come_back(sso, to_provider(sso, provider, "sub-gone"))) == "/ui/"
    sso.cookies.clear()
    identity.deactivate_user(platform.db, "gone")
    assert_refused(sso, come_back(sso, to_provider(sso, provider, "sub-gone")), 403)
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refusals
    assert "deactivated in Sakimori" in refusals[0]  # refused before any session was tried


def test_a_claimed_user_name_never_takes_over_an_existing_user(
    platform: Platform, provider: LoopbackProvider, sso: TestClient
) -> None:
    """``preferred_username`` = an existing user's name: no link is made, no sign-in."""
    assert_refused(sso, come_back(sso, to_provider(sso, provider, "sub-taker")), 403)
    with platform.db.transaction() as session:
        linked = session.scalar(
            select(func.count())
            .select_from(models.UserIdentity)
            .where(models.UserIdentity.subject == "sub-taker")
        )
    assert linked == 0


# -- the provider's configuration and keys ---------------------------------------------------


def test_discovery_must_name_the_configured_issuer(
    platform: Platform, sso_settings: Settings, provider: LoopbackProvider
) -> None:
    settings = replace(sso_settings, oidc_issuer=provider.issuer + "/")
    with platform.db.transaction() as session:
        before = session.scalar(select(func.count()).select_from(models.OidcLogin))
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        start = client.get("/ui/signin/oidc", follow_redirects=False)
    assert start.status_code == 502
    assert "cannot be reached" in start.text
    assert cookies_set(start).get(OIDC_COOKIE) == '""'
    with platform.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(models.OidcLogin)) == before


def test_the_issuer_must_be_https_unless_on_loopback(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s")
    base = {"SAKIMORI_HOME": str(tmp_path), "SAKIMORI_OIDC_CLIENT_ID": "c"}
    base["SAKIMORI_OIDC_CLIENT_SECRET_FILE"] = str(secret)
    with pytest.raises(ConfigurationError, match="https"):
        Settings.load(base | {"SAKIMORI_OIDC_ISSUER": "http://idp.example"})
    with pytest.raises(ConfigurationError, match="CLIENT_ID"):
        Settings.load({"SAKIMORI_HOME": str(tmp_path), "SAKIMORI_OIDC_ISSUER": "https://idp"})
    assert Settings.load(base | {"SAKIMORI_OIDC_ISSUER": "https://idp.example"}).oidc_issuer
    assert Settings.load(base | {"SAKIMORI_OIDC_ISSUER": "http://127.0.0.1:9"}).oidc_issuer


def test_administrator_roles_come_from_claims_only_when_the_mapping_says_so() -> None:
    rule = {"claim": "groups", "value": "admins", "organisation": BANK, "role": "member_admin"}
    with pytest.raises(ConfigurationError, match="privileged = true"):
        service.Mapping.parse({"rules": [rule]})
    mapping = service.Mapping.parse({"rules": [rule | {"privileged": True}]})
    assert mapping.place({"groups": ["admins"]}) == (BANK, "member_admin")
    assert mapping.place({"groups": ["others"]}) is None
    two = service.Mapping.parse(
        {"rules": [rule | {"privileged": True}, rule | {"role": "member_user"}]}
    )
    with pytest.raises(service.SignOnRefused):
        two.place({"groups": ["admins"]})


def test_the_jwks_is_fetched_again_for_a_new_key_at_most_once_a_minute(
    provider: LoopbackProvider, sso_settings: Settings
) -> None:
    settings = service.ProviderSettings.from_settings(sso_settings)
    assert settings is not None
    now = [time.time()]
    found = service.Provider(settings, clock=lambda: now[0])
    grant = Grant("sub-attacked", "the-nonce", "", REDIRECT_URI)
    assert found.validate(provider.id_token(grant), "the-nonce")["sub"] == "sub-attacked"
    fetched = provider.jwks_requests
    old_key = provider.key
    provider.key = provider.other_key  # the provider rotates to a new key, under a new kid
    try:
        rotated = provider.id_token(grant)
        now[0] += 30
        with pytest.raises(service.SignOnRefused, match="not in the JWKS"):
            found.validate(rotated, "the-nonce")  # fetched less than a minute ago
        assert provider.jwks_requests == fetched
        now[0] += service.JWKS_REFRESH
        assert found.validate(rotated, "the-nonce")["sub"] == "sub-attacked"
        assert provider.jwks_requests == fetched + 1
    finally:
        provider.key = old_key


def test_a_session_from_sso_ends_at_sign_out_like_any_other(
    provider: LoopbackProvider, sso: TestClient
) -> None:
    assert onwards(come_back(sso, to_provider(sso, provider, "sub-alice"))) == "/ui/"
    csrf = csrf_of(sso.get("/ui/admin/tokens").text)
    token = sso.cookies[SESSION_COOKIE]
    assert sso.post("/ui/signout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    sso.cookies.set(SESSION_COOKIE, token, path="/ui")
    assert sso.get("/ui/findings", follow_redirects=False).status_code == 303


def test_password_sign_in_still_works_beside_it(sso: TestClient) -> None:
    assert sign_in(sso, "bank-user", PASSWORD).status_code == 303


# -- in a real browser -----------------------------------------------------------------------------


def test_single_sign_on_in_chromium(
    platform: Platform, sso_settings: Settings, tmp_path: Path
) -> None:
    """The cookies' SameSite rules are the browser's: with the provider on another site
    (``localhost``, the app on 127.0.0.1) and the person clicking there, the way back is a
    cross-site navigation. The binding cookie (Lax) must come back with it, and the session
    cookie (Strict) must be sent on the page after ours. Fails with a Strict binding cookie,
    or with a callback that redirects straight to the page (both tried)."""
    from playwright.sync_api import sync_playwright

    from tests.web.conftest import _free_port
    from tests.web.test_browser import CHROMIUM

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see the Makefile)")
    port = _free_port()
    with running(LoopbackProvider(users=PEOPLE), name="localhost") as idp:
        idp.redirect_uri = f"http://127.0.0.1:{port}/ui/signin/oidc/callback"
        idp.approve, idp.interactive = "sub-browser", True
        settings = replace(sso_settings, oidc_issuer=idp.issuer)
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            for _ in range(500):
                if server.started:
                    break
                time.sleep(0.02)
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
                )
                page = chromium.new_page()
                page.goto(f"http://127.0.0.1:{port}/ui/signin?next=/ui/dashboard")
                page.get_by_role("link", name="Sign in with Test IdP").click()
                page.wait_for_url(idp.issuer + "/authorize?*")
                page.get_by_role("link", name="Approve").click()  # a navigation from there
                page.wait_for_url(f"http://127.0.0.1:{port}/ui/dashboard", timeout=10_000)
                assert "in-chromium · city-bank · member_user" in page.content()
                page.screenshot(path=str(tmp_path / "after-single-sign-on.png"))
                chromium.close()
        finally:
            server.should_exit = True
            thread.join()
