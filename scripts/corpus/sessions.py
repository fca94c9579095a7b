"""The scripted sessions of the corpus that are not third-party tools: people browsing, and a
slow agent-like probe. Both use httpx against the corpus nginx on 127.0.0.1 only.

A person (``browse``) asks for a page, then its stylesheet, scripts, icon and pictures (each
once: later pages reuse the browser cache), with a browser's headers and the page as Referer,
then reads for a few seconds to half a minute and follows a link from the page. Some people
sign in and fail, some follow a broken link: ordinary 401s and 404s.

The probe (``probe``) is what an LLM agent driving curl looks like: one request every few
seconds, no sub-resources, a current browser's user agent, and every request a different kind
of probe — a secrets file, SQL injection, path traversal, a JNDI lookup, a framework endpoint,
a WordPress login, template injection, a VCS file…
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx

_ASSET = re.compile(r'<(?:link|script|img)\b[^>]*?\b(?:href|src)="([^"]+)"')
_LINK = re.compile(r'<a\b[^>]*?\bhref="([^"]+)"')

BROWSERS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.6478.71 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Safari/537.36 Edg/125.0.0.0",
)
_PAGE_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@dataclass
class Outcome:
    """What a session did: wall-clock start and end (UTC), requests sent, failures."""

    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    end: datetime | None = None
    requests: int = 0
    errors: list[str] = field(default_factory=list)


def _client(agent: str, language: str = "en-GB,en;q=0.8") -> httpx.Client:
    headers = {
        "User-Agent": agent,
        "Accept-Language": language,
        "Accept-Encoding": "gzip, deflate",
    }
    # trust_env=False: never a proxy from the environment, loopback only.
    return httpx.Client(headers=headers, timeout=10.0, trust_env=False, follow_redirects=True)


def browse(
    base: str,
    agent: str,
    rng: random.Random,
    stop: threading.Event,
    outcome: Outcome,
    *,
    min_pages: int,
    pause: Callable[[float], None],
    signs_in: bool = False,
    hurried: bool = False,
) -> None:
    """One person browsing until ``stop`` is set (and at least ``min_pages`` pages read).
    ``hurried``: one who skims, 1 to 5 seconds a page, instead of 3 to 30."""
    cached: set[str] = set()
    page = "/"
    referer = ""
    pages = 0
    signed_in = not signs_in
    with _client(agent) as client:
        while pages < min_pages or not stop.is_set():
            url = urljoin(base, page)
            headers = {"Accept": _PAGE_ACCEPT}
            if referer:
                headers["Referer"] = referer
            html = _fetch(client, "GET", url, headers, outcome)
            pages += 1
            for asset in _ASSET.findall(html):
                target = urljoin(url, asset)
                if target in cached:
                    continue
                cached.add(target)
                pause(rng.uniform(0.01, 0.15))
                _fetch(client, "GET", target, {"Accept": "*/*", "Referer": url}, outcome)
            if not signed_in and page == "/login.html":
                pause(rng.uniform(6.0, 14.0))  # typing a user name and a password
                for _ in range(2):  # a wrong password, then a second try
                    form = {"user": "kenji", "password": "harbour-" + str(rng.randint(1, 9))}
                    _fetch(client, "POST", urljoin(base, "/login"), {"Referer": url}, outcome, form)
                    pause(rng.uniform(4.0, 9.0))
                signed_in = True
            links = [link for link in _LINK.findall(html) if not urlsplit(link).netloc]
            if hurried:
                pause(rng.uniform(1.0, 5.0))
            else:
                pause(rng.uniform(3.0, 8.0) if rng.random() < 0.4 else rng.uniform(8.0, 30.0))
            referer = url
            if not signed_in and pages >= 3:
                page = "/login.html"
            elif not links or rng.random() < 0.15:
                page = "/"
            else:
                page = rng.choice(links)
    outcome.end = datetime.now(UTC)


def _fetch(
    client: httpx.Client,
    method: str,
    url: str,
    headers: dict[str, str],
    outcome: Outcome,
    form: dict[str, str] | None = None,
) -> str:
    outcome.requests += 1
    try:
        response = client.request(method, url, headers=headers, data=form)
    except httpx.HTTPError as exc:
        outcome.errors.append(f"{method} {url}: {exc}")
        return ""
    return response.text if "html" in response.headers.get("content-type", "") else ""


#: The slow probe's requests: (method, target, form), each a different kind of probe.
PROBES: tuple[tuple[str, str, dict[str, str] | None], ...] = (
    ("GET", "/", None),
    ("GET", "/.env", None),
    ("GET", "/products.html?category=guides&id=1' OR '1'='1", None),
    ("GET", "/download?file=../../../../etc/passwd", None),
    ("GET", "/search?q=${jndi:ldap://127.0.0.1:1389/a}", None),
    ("GET", "/actuator/health", None),
    ("GET", "/wp-login.php", None),
    ("GET", "/.git/config", None),
    ("GET", "/search?q=<script>alert(document.domain)</script>", None),
    ("GET", "/products.html?category={{7*7}}", None),
    ("GET", "/phpinfo.php", None),
    ("POST", "/login", {"user": "admin'--", "password": "x"}),
    ("GET", "/server-status", None),
)


def probe(
    base: str,
    rng: random.Random,
    outcome: Outcome,
    *,
    pause: Callable[[float], None],
) -> None:
    """The slow agent-like probe: ``PROBES`` in order, 4 to 10 seconds apart."""
    with _client(BROWSERS[1], "en-US,en;q=0.9") as client:
        for number, (method, target, form) in enumerate(PROBES):
            if number:
                pause(rng.uniform(4.0, 10.0))
            _fetch(client, method, urljoin(base, target), {"Accept": "*/*"}, outcome, form)
    outcome.end = datetime.now(UTC)


def sleeper(scale: float) -> Callable[[float], None]:
    """``time.sleep`` of ``seconds * scale`` (``--pause-scale``; 1.0 keeps real timing)."""

    def pause(seconds: float) -> None:
        time.sleep(seconds * scale)

    return pause
