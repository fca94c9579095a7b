"""(i) HTTP authentication: brute force, slow brute force, spraying and distributed attempts.

What an access log shows of a failed login, and what counts here as one *failure*:

- **HTTP authentication** (Basic/Digest, API keys): ``401`` answered to a request that carried
  credentials — the log's authenticated-user field is set (nginx ``$remote_user``, Apache ``%u``
  log the name sent even when it is refused) — or to any ``POST``. A ``401`` to a ``GET`` with
  no user name is the server's challenge (a browser's first request to a protected area), not an
  attempt, unless it was on a login path with credentials in the query.
- **Login paths** (``login_kind``): path shapes of sign-in forms and authentication endpoints
  across frameworks — a segment holding ``login``/``log-in``/``logon``/``signin``/``sign_in``
  (``/login``, ``/wp-login.php``, ``/user/login``, ``/users/sign_in``, ``/remote/logincheck``),
  ``auth`` (not ``author``: ``/api/auth/…``, ``/oauth/…``, ``/auth.owa``), ``token``
  (``/oauth/token``, ``/connect/token``), a final ``session``/``sessions`` segment, Java EE's
  ``j_security_check``, WordPress's ``xmlrpc.php``, and the root of an admin area posted to
  without a query (``/admin/``, ``/administrator/index.php``). An *attempt* is a ``POST`` to one,
  or any request to one with a password parameter in its query. Its outcome:

  - ``400``, ``401``, ``403``, ``422``, ``429``: a failure (refused, invalid, rate-limited);
  - ``404``, ``405``, ``5xx``: not an authentication outcome (a probe for a path; an error);
  - ``2xx``/``3xx`` on a *form* path: a failed form login re-renders the form (``200``) or
    redirects back to it (``302``); a successful one redirects onwards — the log cannot tell a
    ``302`` apart, but a successful login is not followed by another. So such an answer counts
    as a failure when the same address posts to the same path again within
    ``auth_retry_window`` seconds (each retry counts its predecessor);
  - ``2xx``/``3xx`` on an *API* path (under ``/api/``, ``oauth``, ``token``, ``session``,
    ``.json``): a success (token endpoints are posted to again and again to refresh tokens).

Alerts, per address:

- ``http-auth-bruteforce``: a leaky bucket of failures, ``auth_burst`` then one per
  ``auth_leak`` seconds (5 then one per 10 s, as CrowdSec's HTTP scenarios);
- ``http-auth-slow-bruteforce``: ``auth_slow_burst`` then one per ``auth_slow_leak`` seconds (15,
  then one per 10 minutes), not reported while the address is already a fast brute force;
- ``http-auth-spray``: failures for ``auth_spray_users`` distinct user names within
  ``auth_spray_window`` seconds. HTTP logs show a user name only for HTTP authentication (the
  user field) or a login sent in the query (``user=``, ``username=``, ``login=``, ``log=``,
  ``email=`` …); a form's body is never logged, so spraying through a form is seen as brute
  force only;
- ``http-auth-distributed``: at least ``auth_distributed_clients`` distinct addresses failing
  on one login path (virtual host + path) within ``auth_distributed_window`` seconds, counting
  only requests without a Referer: browsers submitting a sign-in form send one, credential-
  stuffing bots and scripts mostly do not. Each address failing there while the path is under
  attack gets the alert (its reason names the path and how many addresses).

And ``http-user-enum``: one address asking one non-static path for many distinct values of a
user-identifying query parameter (``author``, ``user``, ``username``, ``user_id``, ``uid``,
``account``, ``member``, ``profile`` …) — WordPress's ``/?author=N``, profile and API
enumeration, the reconnaissance before spraying. New distinct values fill a leaky bucket,
``enum_burst`` then one per ``enum_leak`` seconds (5 then one per 10 s, as CrowdSec's
scenario); a repeated value adds nothing, and at least one of the answers must be a redirect or
an error (enumeration meets ids that do not exist, or WordPress's redirect to the author's
page; a page showing thirty commenters' cards answers every one with 200).

Successes never count and never reset the counts. State: one ``BoundedMap`` of ``max_clients``
addresses, created at the first attempt, and one of ``auth_max_paths`` login paths for the
distributed count, each holding at most ``auth_distributed_clients`` addresses; the
enumeration state (a path, a parameter, a bucket and at most ``enum_burst + 1`` values) is one
more ``BoundedMap`` of addresses, created at the first user parameter.
"""

from __future__ import annotations

import re

from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.features import is_static
from sakimori.monitoring.detectors.interface import BoundedMap, Detector, example
from sakimori.monitoring.record import Record

NONE, FORM, API = 0, 1, 2

_LOGIN = re.compile(
    r"(?:^|/)(?:[^/]*(?:log[-_]?[io]n|sign[-_]?[io]n)[^/]*|[^/]*auth(?!or)[^/]*|[^/]*token[^/]*"
    r"|sessions?(?:\.\w+)?/?$|j_(?:spring_)?security_check|xmlrpc\.php)(?:/|$)"
)
_ADMIN_ROOT = re.compile(
    r"^/(?:[^/]+/)?(?:admin|administrator|wp-admin|manager|backend)/?(?:index\.\w+)?$"
)
_API = re.compile(r"/api/|oauth|token|sessions?(?:/|$)|\.json$|/v\d+/")
_PASSWORD = re.compile(r"(?:^|&)[\w.\[\]-]*(?:pass|pwd)[\w.\[\]-]*=", re.IGNORECASE)
_USER = re.compile(
    r"(?:^|&)(?:[\w-]*user(?:name)?|login|log|email|uname|usr|account|j_username|uid)=([^&]+)",
    re.IGNORECASE,
)
_ENUM = re.compile(
    r"(?:^|&)(author|[\w-]*user(?:name|_?id)?|uid|account(?:_?id)?|member(?:_?id)?"
    r"|profile(?:_?id)?)=([^&]+)",
    re.IGNORECASE,
)
_REFUSED = frozenset({400, 401, 403, 422, 429})
_CACHE_MAX = 65536


def login_kind(path: str, query: str = "") -> int:
    """``FORM``, ``API`` or ``NONE``: whether the raw path is a login path, and which kind."""
    lowered = path.lower()
    if _LOGIN.search(lowered) is None:
        if query or _ADMIN_ROOT.match(lowered) is None:
            return NONE
        return FORM
    return API if _API.search(lowered) else FORM


def credentials_in(query: str) -> bool:
    """The cheap test for a password parameter in a raw query (``pass``, ``pwd``)."""
    return "pass" in query or "pwd" in query or "Pass" in query or "PASS" in query


def query_user(query: str) -> str:
    """The user name sent in a query string, if any."""
    match = _USER.search(query)
    return match.group(1)[:128] if match else ""


class _Attempts:
    __slots__ = ("examples", "fast", "first", "last_path", "last_post", "slow", "start", "users")

    def __init__(self, record: Record) -> None:
        self.fast = record.ts
        self.slow = record.ts
        self.start = record.ts
        self.first = record.time
        self.users: set[str] = set()
        self.examples: list[str] = []
        self.last_path = ""  # the last form login path posted to, and when
        self.last_post = 0.0


class _Target:
    """One login path's recent failing addresses (blind requests only), each with its last
    failure there, least recent first."""

    __slots__ = ("clients",)

    def __init__(self) -> None:
        self.clients: dict[str, Record] = {}


def might_enumerate(query: str) -> bool:
    """The cheap test for a user-identifying parameter in a raw query."""
    return (
        "author=" in query
        or "user" in query
        or "uid=" in query
        or "account" in query
        or "member" in query
        or "profile" in query
        or "USER" in query
    )


class _Enumeration:
    __slots__ = ("empty_at", "examples", "first", "key", "not_ok", "values")

    def __init__(self, key: str, record: Record) -> None:
        self.key = key  # path and parameter name being enumerated
        self.empty_at = record.ts
        self.first = record.time
        self.values: set[str] = set()
        self.examples: list[str] = []
        self.not_ok = False  # a redirect or an error answered one of them


def _enum_reason(parameter: str, burst: int, leak: float) -> str:
    return (
        f"many distinct values of {parameter}= on one path (more than {burst}, then faster than "
        f"one per {leak:g}s): user enumeration"
    )


def _fast_reason(burst: int, leak: float) -> str:
    return f"failed logins faster than one per {leak:g}s after {burst}"


def _slow_reason(burst: int, leak: float) -> str:
    return f"failed logins faster than one per {leak:g}s after {burst} (slow brute force)"


def _spray_reason(users: int, window: float) -> str:
    return f"failed logins for {users}+ distinct users within {window:g}s (password spraying)"


def _distributed_reason(path: str, clients: int, window: float) -> str:
    return (
        f"failed logins on {path} from {clients}+ addresses within {window:g}s, without a "
        "Referer (distributed brute force or credential stuffing)"
    )


class AuthDetector(Detector):
    name = "http-auth-bruteforce"
    slow = "http-auth-slow-bruteforce"
    spray = "http-auth-spray"
    distributed = "http-auth-distributed"
    enumeration = "http-user-enum"

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._clients: BoundedMap[_Attempts] = BoundedMap(config.max_clients)
        self._targets: BoundedMap[_Target] = BoundedMap(config.auth_max_paths)
        self._kinds: dict[str, int] = {}
        self._enums: BoundedMap[_Enumeration] = BoundedMap(config.max_clients)
        self._fast_reason = (_fast_reason, config.auth_burst, config.auth_leak)
        self._slow_reason = (_slow_reason, config.auth_slow_burst, config.auth_slow_leak)
        self._spray_reason = (_spray_reason, config.auth_spray_users, config.auth_spray_window)

    @staticmethod
    def worth(record: Record) -> bool:
        """The cheap test: could this request be a login attempt? (Most requests are not.)"""
        return (
            record.method == "POST"
            or record.status == 401
            or (bool(record.query) and credentials_in(record.query))
        )

    def feed(self, record: Record) -> None:
        worth = self.worth(record)
        enumerates = bool(record.query) and might_enumerate(record.query)
        if worth or enumerates:
            self.sweep(record.ts)
        if worth:
            self.step(record)
        if enumerates and not is_static(record.path):
            self.enumerate(record)

    def enumerate(self, record: Record) -> None:
        """Take one non-static request whose query passed ``might_enumerate``. The caller
        sweeps."""
        match = _ENUM.search(record.query)
        if match is None:
            return
        config = self.config
        parameter = match.group(1).lower()
        key = f"{record.path}?{parameter}"
        ts = record.ts
        state = self._enums.get(record.client)
        if state is None or state.key != key:
            state = _Enumeration(key, record)
            self._enums.put(record.client, state)
        value = match.group(2)[:128]
        if value in state.values:
            return
        if len(state.values) <= config.enum_burst:
            state.values.add(value)
        if len(state.examples) < config.examples:
            state.examples.append(example(record))
        if not 200 <= record.status < 300:
            state.not_ok = True
        limit = config.enum_burst * config.enum_leak
        state.empty_at = max(state.empty_at, ts) + config.enum_leak
        if state.empty_at - ts > limit:
            state.empty_at = ts + limit + config.enum_leak
            if state.not_ok:
                self.evidence(
                    record.client,
                    record,
                    (_enum_reason, parameter, config.enum_burst, config.enum_leak),
                    name=self.enumeration,
                    first=state.first,
                    earlier=state.examples,
                    count=config.enum_burst + 1,
                )

    def _kind(self, path: str, query: str) -> int:
        if query:  # an admin root is a login form only without a query: not cached
            return login_kind(path, query)
        kind = self._kinds.get(path)
        if kind is None:
            kind = login_kind(path)
            if len(self._kinds) >= _CACHE_MAX:
                self._kinds.clear()
            self._kinds[path] = kind
        return kind

    def step(self, record: Record) -> None:
        """Take one request that passed ``worth``. The caller sweeps."""
        status = record.status
        path = record.path
        query = record.query
        kind = self._kind(path, query)
        attempt = kind != NONE and (
            record.method == "POST" or (bool(query) and _PASSWORD.search(query) is not None)
        )
        if attempt:
            if status not in _REFUSED and not (
                200 <= status < 400 and kind == FORM and self._retry(record, path)
            ):
                return
        elif status != 401 or not (record.user or record.method == "POST"):
            return
        self._failure(record, path, kind)

    def _retry(self, record: Record, path: str) -> bool:
        """Whether this 2xx/3xx form login shows the address's previous one failed (and
        remember this one)."""
        state = self._state(record)
        retry = state.last_path == path and record.ts - state.last_post <= (
            self.config.auth_retry_window
        )
        state.last_path, state.last_post = path, record.ts
        return retry

    def _state(self, record: Record) -> _Attempts:
        state = self._clients.get(record.client)
        if state is None:
            state = _Attempts(record)
            self._clients.put(record.client, state)
        return state

    def _failure(self, record: Record, path: str, kind: int) -> None:
        config = self.config
        client = record.client
        ts = record.ts
        state = self._state(record)
        if len(state.examples) < config.examples:
            state.examples.append(example(record))
        # Leaky buckets kept as "empty at" times (see rate.py).
        fast_limit = config.auth_burst * config.auth_leak
        state.fast = max(state.fast, ts) + config.auth_leak
        if state.fast - ts > fast_limit:
            state.fast = ts + fast_limit + config.auth_leak
            self.evidence(
                client,
                record,
                self._fast_reason,
                first=state.first,
                earlier=state.examples,
                count=config.auth_burst + 1,
            )
        slow_limit = config.auth_slow_burst * config.auth_slow_leak
        state.slow = max(state.slow, ts) + config.auth_slow_leak
        if state.slow - ts > slow_limit:
            state.slow = ts + slow_limit + config.auth_slow_leak
            if (self.name, client) not in self._open:
                self.evidence(
                    client,
                    record,
                    self._slow_reason,
                    name=self.slow,
                    first=state.first,
                    earlier=state.examples,
                    count=config.auth_slow_burst + 1,
                )
        user = record.user or (query_user(record.query) if record.query else "")
        if user:
            if ts - state.start > config.auth_spray_window:
                state.start, state.users = ts, set()
            users = state.users
            if len(users) < config.auth_spray_users:
                users.add(user)
            if len(users) >= config.auth_spray_users:
                self.evidence(
                    client,
                    record,
                    self._spray_reason,
                    name=self.spray,
                    first=state.first,
                    earlier=state.examples,
                    count=len(users),
                )
        if kind != NONE and not record.referrer:
            self._distributed(record, path)

    def _distributed(self, record: Record, path: str) -> None:
        config = self.config
        key = f"{record.host}{path}"
        target = self._targets.get(key)
        if target is None:
            target = _Target()
            self._targets.put(key, target)
        clients = target.clients  # address -> its last blind failure here, oldest first
        horizon = record.ts - config.auth_distributed_window
        while clients:
            oldest = next(iter(clients))
            if clients[oldest].ts >= horizon:
                break
            del clients[oldest]
        clients.pop(record.client, None)
        clients[record.client] = record
        if len(clients) > config.auth_distributed_clients:
            del clients[next(iter(clients))]
        if len(clients) < config.auth_distributed_clients:
            return
        reason = (
            _distributed_reason,
            path,
            config.auth_distributed_clients,
            config.auth_distributed_window,
        )
        name = self.distributed
        for client, last in clients.items():
            if client == record.client or (name, client) not in self._open:
                self.evidence(client, last, reason, name=name)
