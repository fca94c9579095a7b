"""Browser sign-in: the session cookie, CSRF tokens and sign-in throttling.

A session is a token of the session kind (``identity.create_session``) carried in a cookie
that is HttpOnly, SameSite=Strict, path-limited to the pages, and Secure unless the page is
served over plain HTTP on a loopback address (a demo or a test on 127.0.0.1). Every form
carries a CSRF token, ``HMAC-SHA256(server key, "csrf:" + session id)``, checked on every POST;
the sign-in form, which has no session yet, carries one bound to a random pre-sign-in cookie.

Throttling counts failed sign-ins per user name and per address, in this process's memory, in
a table of bounded size: behind several processes each counts its own (docs/web.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from sakimori.services.identity import SESSION_MAX_AGE, TokenKey

SESSION_COOKIE: Final = "sakimori_session"
SIGNIN_COOKIE: Final = "sakimori_signin"
LANGUAGE_COOKIE: Final = "sakimori_lang"
COOKIE_PATH: Final = "/ui"
_LOOPBACK: Final = frozenset({"127.0.0.1", "::1", "[::1]", "localhost"})


def secure_cookies(request: Request) -> bool:
    """Mark cookies Secure except on plain HTTP to a loopback host (a demo or a test)."""
    forwarded = request.headers.get("x-forwarded-proto", "").lower()
    if request.url.scheme == "https" or forwarded == "https":
        return True
    return (request.url.hostname or "") not in _LOOPBACK


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None = None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=secure_cookies(request),
        httponly=True,
        samesite="strict",
    )


def set_session(request: Request, response: Response, token: str) -> None:
    set_cookie(request, response, SESSION_COOKIE, token, int(SESSION_MAX_AGE.total_seconds()))


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=COOKIE_PATH,
        secure=secure_cookies(request),
        httponly=True,
        samesite="strict",
    )


def _mac(key: TokenKey, purpose: str, value: str) -> str:
    return hmac.new(key.secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def csrf_token(key: TokenKey, session_id: str) -> str:
    """The CSRF token of a session (the same for each of its forms)."""
    return _mac(key, "csrf", session_id)


def signin_token(key: TokenKey, nonce: str) -> str:
    """The CSRF token of the sign-in form, bound to the pre-sign-in cookie."""
    return _mac(key, "signin", nonce)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def same(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


class Throttle:
    """Failed attempts per key within a sliding window; a key at the limit is refused.

    Bounded: past ``max_keys`` the key seen least recently is forgotten. Thread-safe (the
    pages run in a thread pool).
    """

    def __init__(
        self,
        limit: int,
        window_seconds: float = 900.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        found = self._failures.get(key)
        if found is None:
            return None
        while found and found[0] <= now - self.window:
            found.popleft()
        if not found:
            del self._failures[key]
            return None
        return found

    def blocked(self, key: str) -> bool:
        with self._lock:
            found = self._recent(key, self.clock())
            return found is not None and len(found) >= self.limit

    def failed(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            found = self._recent(key, now)
            if found is None:
                found = self._failures[key] = deque(maxlen=self.limit)
            found.append(now)
            self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class SignInThrottle:
    """Five failures per user name, fifty per address, in fifteen minutes.

    The address is the peer's: behind a proxy (``sakimori serve`` does not trust forwarded
    headers) every person shares the proxy's, hence the larger limit per address.
    """

    def __init__(self, per_user: int = 5, per_address: int = 50) -> None:
        self.users = Throttle(per_user)
        self.addresses = Throttle(per_address)

    def blocked(self, user: str, address: str) -> bool:
        return self.users.blocked(user) or self.addresses.blocked(address)

    def failed(self, user: str, address: str) -> None:
        self.users.failed(user)
        self.addresses.failed(address)

    def succeeded(self, user: str) -> None:
        self.users.forget(user)
