"""The sign-in's second step in a real browser (Debian's Chromium, Playwright, headless): a
wrong code, then the right one; a recovery code; a member user enrolling on their own; the
step in Japanese. Screenshots of each page are saved (the path is printed with ``-s``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.web.conftest import BANK, Platform
from tests.web.test_browser import CHROMIUM, Person


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see the Makefile)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("second-factor-screenshots")
    print(f"\nscreenshots of the second step: {folder}")
    return folder


def _code_field(person: Person) -> None:
    assert "/ui/signin/code" in person.page.url
    assert person.page.get_by_label("Code", exact=True).is_visible()


def test_the_second_step_in_the_browser(
    chromium: Browser, server: str, shots: Path, platform: Platform
) -> None:
    admin = Person(chromium, server, shots, "admin")
    admin.sign_in("kanri")
    _code_field(admin)
    admin.shot("code")
    # A wrong code: the same page, with the reason, and no session.
    wrong = next(
        c for c in ("000000", "111111") if c != pyotp.TOTP(platform.secrets["kanri"]).now()
    )
    admin.page.get_by_label("Code", exact=True).fill(wrong)
    admin.page.keyboard.press("Enter")
    admin.page.locator(".error").wait_for()
    assert admin.page.locator(".error").inner_text() == "The code is wrong, or it was used already."
    admin.shot("wrong-code")
    # The right one, typed with the keyboard.
    admin.page.get_by_label("Code", exact=True).fill(platform.code("kanri"))
    admin.page.keyboard.press("Enter")
    admin.page.wait_for_url(lambda url: url.endswith("/ui/dashboard"))
    admin.open("/ui/account/second-factor")
    assert admin.page.locator("#second-factor-state").inner_text().startswith("On since")
    admin.shot("account")
    admin.page.get_by_role("button", name="Sign out").click()
    # Again, with a recovery code this time.
    admin.sign_in("kanri")
    admin.page.get_by_label("Code", exact=True).fill(platform.recovery["kanri"].pop())
    admin.page.get_by_role("button", name="Continue").click()
    admin.page.wait_for_url(lambda url: url.endswith("/ui/dashboard"))
    admin.shot("after-recovery-code")

    # A member user turns the second factor on for themselves.
    member = Person(chromium, server, shots, "member")
    member.sign_in("bank-user")
    assert member.page.url.endswith(f"/ui/organisations/{BANK}")
    member.page.get_by_role("link", name="Second factor").click()
    secret = member.page.locator("#totp-secret").inner_text()
    member.shot("enrol")
    member.page.get_by_label("Code", exact=True).fill(pyotp.TOTP(secret).now())
    member.page.get_by_role("button", name="Confirm").click()
    assert member.page.locator("#recovery-codes li").count() == 10
    member.shot("recovery-codes")
    member.page.get_by_role("link", name="Continue").click()
    assert "Recovery codes left: 10" in member.page.locator("#second-factor-state").inner_text()
    platform.secrets["bank-user"] = secret
    member.page.get_by_role("button", name="Sign out").click()
    member.sign_in("bank-user")
    _code_field(member)
    # The second step in Japanese.
    member.page.get_by_role("link", name="日本語").click()
    assert member.page.locator("html").get_attribute("lang") == "ja"
    assert member.page.locator("h1").inner_text() == "サインイン：第2段階"
    member.shot("code-ja")
    member.page.get_by_label("コード", exact=True).fill(platform.code("bank-user"))
    member.page.get_by_role("button", name="続ける").click()
    member.page.wait_for_url(lambda url: url.endswith(f"/ui/organisations/{BANK}"))

    for person in (admin, member):
        assert person.problems == [], person.name
        person.close()
    saved = sorted(shots.glob("*.png"))
    assert len(saved) == 11  # the sign-in page at each sign-in (4), and the 7 above
    assert all(path.stat().st_size > 5_000 for path in saved)
