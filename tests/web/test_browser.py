"""The web interface in a real browser: Chromium (Debian's) driven by Playwright, headless,
against the real server on a loopback port.

The scenario of the issue: the coordinator's administrator enrols in the second factor at the
first sign-in (the code computed from the key the page shows) and notes the finance sector's
figures; a bank's member
signs in, uploads a real SBOM, sees its findings with their decisions, acknowledges one and
declares another not affected; the coordinator sees the sector's figures change; a member of
another bank sees none of it. A screenshot of every page is saved (the path is printed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.web.conftest import BANK, OTHER_BANK, PASSWORD, Platform, build_platform, cern_sbom

#: Debian's Chromium (package ``chromium``); Playwright downloads no browser of its own.
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """No one enrolled yet: the coordinator's administrator enrols in the browser."""
    built = build_platform(tmp_path_factory.mktemp("web-browser"), enrol_admins=False)
    yield built
    built.db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
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
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots of the pages: {folder}")
    return folder


class Person:
    """One person's browser (its own cookies), saving a screenshot of each page it looks at."""

    def __init__(self, browser: Browser, base: str, shots: Path, name: str) -> None:
        self.context = browser.new_context(locale="en-GB", timezone_id="Asia/Tokyo")
        self.page = self.context.new_page()
        #: Script errors and refusals by the Content-Security-Policy (there must be none).
        self.problems: list[str] = []
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        self.page.on(
            "console",
            lambda message: (
                self.problems.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        self.base = base
        self.shots = shots
        self.name = name
        self.count = 0

    def shot(self, what: str) -> None:
        self.count += 1
        self.page.screenshot(
            path=self.shots / f"{self.name}-{self.count:02d}-{what}.png", full_page=True
        )

    def open(self, path: str) -> None:
        self.page.goto(self.base + path)

    def sign_in(self, user: str) -> None:
        """With the keyboard only: type, Tab to the password, Enter to send."""
        self.open("/")
        self.shot("sign-in")
        self.page.get_by_label("User name").fill(user)
        self.page.keyboard.press("Tab")
        self.page.keyboard.type(PASSWORD)
        self.page.keyboard.press("Enter")
        self.page.wait_for_url(lambda url: not url.split("?")[0].endswith("/signin"))

    def close(self) -> None:
        self.context.close()


def sector_figures(person: Person) -> tuple[int, int]:
    row = person.page.locator('#sectors tr[data-sector="finance"]')
    return int(row.locator("td.open").inner_text()), int(row.locator("td.closed").inner_text())


def test_a_bank_uploads_triages_and_the_coordinator_sees_it(
    browser: Browser, server: str, shots: Path, platform: Platform
) -> None:
    # The coordinator notes the finance sector's figures.
    coordinator = Person(browser, server, shots, "1-coordinator")
    coordinator.sign_in("kanri")
    # An administrator without a second factor enrols before anything else.
    assert "/ui/signin/enrol" in coordinator.page.url
    assert coordinator.page.locator("figure.qr svg").count() == 1
    coordinator.shot("second-factor-enrol")
    secret = coordinator.page.locator("#totp-secret").inner_text()
    assert coordinator.page.locator("#totp-uri").inner_text().startswith("otpauth://totp/")
    coordinator.page.get_by_label("Code", exact=True).fill(pyotp.TOTP(secret).now())
    coordinator.page.get_by_role("button", name="Confirm").click()
    assert coordinator.page.locator("#recovery-codes li").count() == 10
    coordinator.shot("recovery-codes")
    coordinator.page.get_by_role("link", name="Continue").click()
    assert coordinator.page.url.endswith("/ui/dashboard")
    assert coordinator.page.locator("svg[role=img]").count() >= 3  # pictures, not only tables
    open_before, closed_before = sector_figures(coordinator)
    coordinator.shot("dashboard-before")

    # A member of City Bank uploads the SBOM of one of its systems.
    member = Person(browser, server, shots, "2-bank-member")
    member.sign_in("bank-user")
    assert member.page.url.endswith(f"/ui/organisations/{BANK}")
    member.shot("organisation")
    member.page.get_by_role("link", name="Upload an inventory").click()
    member.page.get_by_label("Asset").select_option("online-banking")
    member.page.locator("#file").set_input_files(str(cern_sbom()))
    member.shot("upload-form")
    member.page.get_by_role("button", name="Upload").click()
    member.page.locator("#upload-report").wait_for()
    assert member.page.locator("#components").inner_text() == "43"
    opened = int(member.page.locator("#opened").inner_text())
    assert opened == len(platform.findings_of(BANK)) > 1
    member.shot("upload-report")

    # Its findings, each with a decision.
    member.page.get_by_role("link", name="See the findings of this asset").click()
    rows = member.page.locator("tr[data-finding]")
    assert rows.count() == opened
    decisions = member.page.locator("tr[data-finding] .badge").all_inner_texts()
    assert set(decisions) <= {"Act", "Attend", "Track*", "Track"}, decisions
    member.shot("findings")
    first, second = (rows.nth(i).get_attribute("data-finding") for i in (0, 1))

    # Acknowledge one (a bulk action on the list) …
    member.page.locator(f"#pick-{first}").check()
    member.page.get_by_label("Action").select_option("acknowledged")
    member.page.get_by_role("button", name="Apply").click()
    assert member.page.locator(".outcomes li").inner_text() == f"#{first}: done"
    member.shot("bulk-acknowledged")

    # … and declare another not affected, with its justification, on its own page.
    member.open(f"/ui/findings/{second}")
    assert member.page.locator("#decision .badge").inner_text() in decisions
    member.page.get_by_label("Justification (required)").select_option(
        "vulnerable_code_not_in_execute_path"
    )
    member.page.locator("#note-na").fill("the parser is never called with user input")
    member.page.get_by_role("button", name="Declare not affected").click()
    assert member.page.locator("#state").inner_text().startswith("not affected")
    assert "bank-user" in member.page.locator("#history").inner_text()
    member.shot("finding-not-affected")
    vulnerability = member.page.locator("h1 a").inner_text()
    member.page.locator("h1 a").click()
    assert member.page.locator("#affected").inner_text().count(BANK) == 1
    member.shot("vulnerability")
    member.open(f"/ui/findings/{first}")
    assert member.page.locator("#state").inner_text() == "acknowledged"
    member.shot("finding-acknowledged")

    # The coordinator sees the finance sector's figures change.
    coordinator.open("/ui/dashboard")
    open_after, closed_after = sector_figures(coordinator)
    assert open_after == open_before + opened - 1
    assert closed_after == closed_before + 1
    coordinator.shot("dashboard-after")
    coordinator.open(f"/ui/vulnerabilities/{vulnerability}")
    assert coordinator.page.locator(f'#affected tr[data-organisation="{BANK}"]').count() == 1
    coordinator.shot("vulnerability")
    coordinator.open(f"/ui/organisations/{BANK}")
    assert coordinator.page.locator("h1").inner_text().startswith("City Bank")
    coordinator.shot("bank-organisation")
    for page, heading in (
        ("organisations", "Organisations"),
        ("users", "Users"),
        ("tokens", "API tokens"),
    ):
        coordinator.open(f"/ui/admin/{page}")
        assert coordinator.page.locator("h1").inner_text() == heading
        coordinator.shot(f"admin-{page}")

    # Another bank sees none of it.
    other = Person(browser, server, shots, "3-other-bank")
    other.sign_in("harbour-user")
    other.open("/ui/findings?closed=true")
    assets = set(other.page.locator("tr[data-finding] td:nth-child(5)").all_inner_texts())
    assert assets == {f"{OTHER_BANK}/shop"}
    other.shot("findings")
    answer = other.page.goto(f"{server}/ui/findings/{second}")
    assert answer is not None
    assert answer.status == 404
    other.shot("not-found")
    other.open(f"/ui/vulnerabilities/{vulnerability}")
    assert BANK not in other.page.locator("main").inner_text()
    other.shot("vulnerability")

    # The same page in Japanese.
    other.page.get_by_role("link", name="日本語").click()
    assert other.page.locator("html").get_attribute("lang") == "ja"
    assert "JST" in other.page.locator("footer").inner_text()
    other.shot("vulnerability-ja")

    for person in (coordinator, member, other):
        assert person.problems == [], person.name
        person.close()
    saved = sorted(shots.glob("*.png"))
    assert len(saved) == 24
    assert all(path.stat().st_size > 10_000 for path in saved)  # pictures, not blank files
    print(f"{len(saved)} screenshots in {shots}")
