"""Identity: users, the role each holds in an organisation, and API tokens.

Passwords are hashed with argon2id (``argon2-cffi``, its default parameters). They are for the
sign-in of the web interface, so nothing on the API path verifies one. A browser session is a
token of the session kind (``create_session``), accepted only from the pages' cookie.

API tokens are what every API call carries (``Authorization: Bearer skm_<id>_<secret>``):

- made with ``secrets`` (a 16-hex-digit id and 256 bits of secret), shown once, never stored;
- stored as ``HMAC-SHA256(server key, secret)``: a keyed hash, fast to check on every call (a
  password hash is slow on purpose and would be wrong here), useless to whoever reads the
  database without the key file (``Settings.token_key_path``);
- looked up by id, then compared in constant time;
- scoped (``read``, ``write``), expiring (at most a year), revocable; deactivating a user revokes
  every token they have.

Failures to authenticate are one ``Unauthenticated`` error with one message, whatever the cause
(unknown, wrong, expired, revoked, deactivated), so a caller learns nothing from the difference;
the reason is logged by token id, never with the token.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from sakimori.errors import ConfigurationError, Conflict, InvalidInput, NotFound, PermissionDenied
from sakimori.services import audit
from sakimori.services.access import (
    ROLE_KINDS,
    SECOND_FACTOR_ROLES,
    Action,
    Principal,
    Role,
    Scope,
    require,
)
from sakimori.services.organisations import organisation as find_organisation
from sakimori.store import models
from sakimori.store.db import Database

log = logging.getLogger(__name__)

TOKEN_PREFIX = "skm_"  # noqa: S105 - the public prefix, not a secret
DEFAULT_TOKEN_LIFETIME = timedelta(days=90)
MAX_TOKEN_LIFETIME = timedelta(days=366)
#: ``last_used_at`` is written at most this often per token (one write per call would not scale).
LAST_USED_RESOLUTION = timedelta(minutes=5)

#: Browser sessions are tokens carrying this extra scope (never granted to an API token).
SESSION_SCOPE = "session"
#: A session ends after this long without a request (renewed while in use) …
SESSION_IDLE = timedelta(hours=2)
#: … and at the latest this long after sign-in.
SESSION_MAX_AGE = timedelta(hours=12)
#: A session that passed the second factor (``services.second_factor``) carries this scope too;
#: one still waiting for the code, or for the enrolment an administrator makes first, carries
#: ``pending`` instead of ``read`` and ``write``, and only the second step's pages accept it.
SECOND_FACTOR_SCOPE = "second_factor"
PENDING_SCOPE = "pending"
PENDING_LIFETIME = timedelta(minutes=5)

_TOKEN = re.compile(r"skm_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_USER_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,99}")
_KEY_BYTES = 32
_MIN_PASSWORD = 12
_SCOPE_NAMES = frozenset(s.value for s in Scope)


class Unauthenticated(PermissionDenied):
    """No valid credentials came with the request (the API answers 401)."""

    def __init__(self) -> None:
        super().__init__(
            "a valid API token is required",
            hint="send `Authorization: Bearer skm_…`; tokens expire and can be revoked",
        )


@dataclass(frozen=True, slots=True)
class TokenKey:
    """The server key API token secrets are hashed with."""

    secret: bytes

    @classmethod
    def load(cls, path: Path) -> TokenKey:
        """Read the key file; make one (mode 0600, 32 random bytes, hex) if there is none."""
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:
                    pass  # another process made it first
                else:
                    with os.fdopen(fd, "w", encoding="ascii") as handle:
                        handle.write(secrets.token_hex(_KEY_BYTES) + "\n")
                    log.info("made a new API token key in %s", path)
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"cannot read the API token key: {exc}", where=str(path)
            ) from None
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) < _KEY_BYTES:
            raise ConfigurationError(
                f"the API token key must be at least {_KEY_BYTES} bytes, written in hex",
                where=str(path),
                hint="delete the file to have a new one made (every token then stops working)",
            )
        return cls(key)

    def digest(self, secret: str) -> str:
        return hmac.new(self.secret, secret.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class UserView:
    name: str
    display_name: str
    organisation: str
    role: str
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TokenView:
    id: str
    user: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when a user is unknown, so the time taken does not tell who exists."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _check_name(name: str) -> str:
    value = name.strip().lower()
    if not _USER_NAME.fullmatch(value):
        raise InvalidInput(
            f"user name {name!r} is not valid",
            hint="lower-case letters, digits, '.', '_', '@' or '-', up to 100 characters",
        )
    return value


def _check_password(password: str) -> str:
    if len(password) < _MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {_MIN_PASSWORD} characters")
    return password


def _user(session: Session, name: str) -> models.User:
    found = session.scalar(select(models.User).where(models.User.name == name.strip().lower()))
    if found is None:
        raise NotFound(f"no user {name!r}", hint="see `sakimori user list`")
    return found


# -- users ----------------------------------------------------------------------------------------


def create_user(
    db: Database,
    name: str,
    *,
    organisation: str,
    role: str,
    display_name: str = "",
    password: str | None = None,
    now: datetime | None = None,
) -> UserView:
    """Add a user holding ``role`` in ``organisation`` (of a kind that role fits)."""
    now = now or datetime.now(UTC)
    name = _check_name(name)
    try:
        chosen = Role(role.strip().lower().replace("-", "_"))
    except ValueError:
        raise InvalidInput(
            f"unknown role {role!r}", hint="one of: " + ", ".join(r.value for r in Role)
        ) from None
    hashed = _hasher.hash(_check_password(password)) if password is not None else None
    with db.transaction() as session:
        owner = find_organisation(session, organisation)
        if owner.kind not in ROLE_KINDS[chosen]:
            raise InvalidInput(
                f"the {chosen.value} role is held in an organisation of kind "
                f"{' or '.join(sorted(ROLE_KINDS[chosen]))}, and {owner.slug} is {owner.kind}"
            )
        if session.scalar(select(models.User.id).where(models.User.name == name)) is not None:
            raise Conflict(f"user {name!r} exists already")
        user = models.User(
            name=name,
            display_name=display_name.strip() or name,
            password_hash=hashed,
            active=True,
            created_at=now,
        )
        session.add(user)
        session.flush()
        session.add(
            models.Membership(
                user_id=user.id, organisation_id=owner.id, role=chosen.value, created_at=now
            )
        )
        return UserView(name, user.display_name, owner.slug, chosen.value, True, now)


def list_users(db: Database) -> list[UserView]:
    with db.transaction() as session:
        rows = session.execute(
            select(models.User, models.Membership.role, models.Organisation.slug)
            .join(models.Membership, models.Membership.user_id == models.User.id)
            .join(models.Organisation, models.Organisation.id == models.Membership.organisation_id)
            .order_by(models.User.name)
        )
        return [
            UserView(u.name, u.display_name, org, role, u.active, _aware(u.created_at))
            for u, role, org in rows
        ]


def set_password(db: Database, name: str, password: str) -> None:
    hashed = _hasher.hash(_check_password(password))
    with db.transaction() as session:
        _user(session, name).password_hash = hashed


def verify_password(db: Database, name: str, password: str) -> bool:
    """True if ``name`` is an active user whose password this is (for the later sign-in page;
    its throttling belongs there). Takes the same time for unknown users."""
    with db.transaction() as session:
        user = session.scalar(select(models.User).where(models.User.name == name.strip().lower()))
        stored = user.password_hash if user is not None and user.active else None
        try:
            _hasher.verify(stored or _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return False
        if stored is None or user is None:
            return False
        if _hasher.check_needs_rehash(stored):
            user.password_hash = _hasher.hash(password)
        return True


def deactivate_user(db: Database, name: str, now: datetime | None = None) -> int:
    """Deactivate a user and revoke every token they hold; returns how many were revoked."""
    now = now or datetime.now(UTC)
    with db.transaction() as session:
        user = _user(session, name)
        user.active = False
        user.deactivated_at = now
        changed_on_commit(session)
        result = session.execute(
            update(models.ApiToken)
            .where(models.ApiToken.user_id == user.id, models.ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)


# -- tokens ---------------------------------------------------------------------------------------


def _scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    chosen: list[str] = []
    for scope in scopes:
        try:
            chosen.append(Scope(scope.strip().lower()).value)
        except ValueError:
            raise InvalidInput(
                f"unknown token scope {scope!r}",
                hint="one of: " + ", ".join(s.value for s in Scope),
            ) from None
    if not chosen:
        raise InvalidInput("a token needs at least one scope", hint="read, write")
    return tuple(sorted(set(chosen)))


def _token_view(row: models.ApiToken, user: str) -> TokenView:
    return TokenView(
        id=row.id,
        user=user,
        name=row.name,
        scopes=tuple(row.scopes),
        created_at=_aware(row.created_at),
        expires_at=_aware(row.expires_at),
        revoked_at=None if row.revoked_at is None else _aware(row.revoked_at),
        last_used_at=None if row.last_used_at is None else _aware(row.last_used_at),
    )


def create_token(
    db: Database,
    key: TokenKey,
    user: str,
    name: str,
    scopes: Iterable[str],
    lifetime: timedelta = DEFAULT_TOKEN_LIFETIME,
    now: datetime | None = None,
) -> tuple[TokenView, str]:
    """A new token for an active user: its record, and the token itself (shown once)."""
    now = now or datetime.now(UTC)
    chosen = _scopes(scopes)
    if not timedelta(0) < lifetime <= MAX_TOKEN_LIFETIME:
        raise InvalidInput(f"a token lives more than 0 and at most {MAX_TOKEN_LIFETIME.days} days")
    label = name.strip()
    if not 0 < len(label) <= 200:
        raise InvalidInput("a token needs a name of 1 to 200 characters", hint="e.g. ci-upload")
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    with db.transaction() as session:
        owner = _user(session, user)
        if not owner.active:
            raise Conflict(f"user {owner.name!r} is deactivated")
        row = models.ApiToken(
            id=token_id,
            user_id=owner.id,
            name=label,
            scopes=list(chosen),
            secret_hash=key.digest(secret),
            created_at=now,
            expires_at=now + lifetime,
        )
        session.add(row)
        return _token_view(row, owner.name), f"{TOKEN_PREFIX}{token_id}_{secret}"


def list_tokens(db: Database, user: str | None = None) -> list[TokenView]:
    with db.transaction() as session:
        query = select(models.ApiToken, models.User.name).join(
            models.User, models.User.id == models.ApiToken.user_id
        )
        if user is not None:
            query = query.where(models.User.id == _user(session, user).id)
        rows = session.execute(query.order_by(models.ApiToken.created_at, models.ApiToken.id))
        return [_token_view(row, owner) for row, owner in rows]


def revoke_token(
    db: Database, token_id: str, *, owner: str | None = None, now: datetime | None = None
) -> TokenView:
    """Revoke a token (of ``owner`` only, when given: another user's is ``NotFound``)."""
    now = now or datetime.now(UTC)
    with db.transaction() as session:
        found = session.execute(
            select(models.ApiToken, models.User.name)
            .join(models.User, models.User.id == models.ApiToken.user_id)
            .where(models.ApiToken.id == token_id.strip())
        ).first()
        if found is None or (owner is not None and found[1] != owner):
            raise NotFound(f"no token {token_id!r}", hint="see `sakimori token list`")
        row, user = found
        if row.revoked_at is None:
            row.revoked_at = now
            changed_on_commit(session)
        return _token_view(row, user)


def authenticate(
    db: Database,
    key: TokenKey,
    token: str,
    now: datetime | None = None,
    *,
    browser: bool = False,
    pending: bool = False,
) -> Principal:
    """The principal a token stands for, or ``Unauthenticated``.

    ``browser`` chooses the kind: a browser session (:func:`create_session`) is accepted only
    from the web interface's cookie, an API token only as a bearer token, so a session cookie is
    no API token and an API token no cookie. A session near its idle expiry is renewed (sliding),
    never past :data:`SESSION_MAX_AGE` from sign-in. A session waiting for its second step is
    accepted only with ``pending`` (and then has no scope), and an administrator's session
    only if it passed the second factor (``SECOND_FACTOR_ROLES``).
    """
    now = now or datetime.now(UTC)
    parsed = _TOKEN.fullmatch(token.strip())
    if parsed is None:
        raise Unauthenticated()
    token_id, secret = parsed.groups()
    with db.transaction() as session:
        found = session.execute(
            select(models.ApiToken, models.User, models.Membership, models.Organisation.slug)
            .join(models.User, models.User.id == models.ApiToken.user_id)
            .join(models.Membership, models.Membership.user_id == models.User.id)
            .join(models.Organisation, models.Organisation.id == models.Membership.organisation_id)
            .where(models.ApiToken.id == token_id)
        ).first()
        expected = found[0].secret_hash if found is not None else key.digest("")
        matches = hmac.compare_digest(expected, key.digest(secret))
        if found is None or not matches:
            log.info("refused API token %s: unknown id or wrong secret", token_id)
            raise Unauthenticated()
        row, user, membership, organisation = found
        reason = (
            "revoked"
            if row.revoked_at is not None
            else "expired"
            if _aware(row.expires_at) <= now
            else "user deactivated"
            if not user.active
            else "wrong kind (session / API token)"
            if (SESSION_SCOPE in row.scopes) != browser
            else "pending second step"
            if browser and (PENDING_SCOPE in row.scopes) != pending
            else "administrator's session without a second factor"
            if browser
            and not pending
            and Role(membership.role) in SECOND_FACTOR_ROLES
            and SECOND_FACTOR_SCOPE not in row.scopes
            else None
        )
        if reason:
            log.info("refused API token %s of %s: %s", token_id, user.name, reason)
            raise Unauthenticated()
        if row.last_used_at is None or now - _aware(row.last_used_at) >= LAST_USED_RESOLUTION:
            row.last_used_at = now
        if browser and not pending and _aware(row.expires_at) - now < SESSION_IDLE / 2:
            row.expires_at = min(now + SESSION_IDLE, _aware(row.created_at) + SESSION_MAX_AGE)
        return Principal(
            user_id=user.id,
            name=user.name,
            role=Role(membership.role),
            organisation_id=membership.organisation_id,
            organisation=organisation,
            scopes=frozenset(Scope(s) for s in row.scopes if s in _SCOPE_NAMES),
            token_id=row.id,
            second_factor=SECOND_FACTOR_SCOPE in row.scopes,
        )


class _Generation:
    """A per-process counter of committed identity changes (a token revoked, a user
    deactivated, a second factor reset, a membership moved): a :class:`TokenCache` entry made
    before the newest change is never used, so such a change takes effect at once in the
    process that made it; other processes see it when their entries expire."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self.value += 1


IDENTITY_CHANGES = _Generation()


def changed_on_commit(session: Session) -> None:
    """Count an identity change once ``session`` commits (not before: a verification between
    the change and its commit would otherwise cache the old state as new)."""
    event.listen(session, "after_commit", lambda _session: IDENTITY_CHANGES.bump(), once=True)


class TokenCache:
    """API tokens verified recently, per process: a hit skips the database.

    Bounded (``size`` entries, the oldest dropped first) and short-lived (``ttl`` seconds): a
    token revoked, expired or whose user was deactivated in another process is still accepted
    from here until its entry is ``ttl`` old; in this process, at once (``IDENTITY_CHANGES``).
    Two kinds of routes use one: the hosted update repositories' polling routes (signed,
    non-secret TUF metadata; docs/updates.md) and, for ``Settings.token_cache_seconds``, the
    API's reads (GET/HEAD; ``api.deps.principal``). Writes and browser sessions ask the
    database on every call. The secret is kept only as its keyed hash.
    """

    def __init__(self, ttl: float = 10.0, size: int = 20_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: dict[str, tuple[str, Principal, float, int]] = {}
        self._lock = threading.Lock()

    def lookup(self, key: TokenKey, token: str, now: float | None = None) -> Principal | None:
        parsed = _TOKEN.fullmatch(token.strip())
        if parsed is None:
            return None
        token_id, secret = parsed.groups()
        with self._lock:
            found = self._entries.get(token_id)
        if found is None:
            return None
        digest, principal, until, generation = found
        if generation != IDENTITY_CHANGES.value:
            return None
        if (now if now is not None else time.monotonic()) >= until:
            return None
        return principal if hmac.compare_digest(digest, key.digest(secret)) else None

    def remember(
        self,
        key: TokenKey,
        token: str,
        principal: Principal,
        now: float | None = None,
        *,
        generation: int | None = None,
    ) -> None:
        """Keep ``principal`` for ``token``; ``generation``: ``IDENTITY_CHANGES.value`` read
        *before* the token was verified (a change committed meanwhile voids the entry)."""
        parsed = _TOKEN.fullmatch(token.strip())
        if parsed is None:
            return
        token_id, secret = parsed.groups()
        until = (now if now is not None else time.monotonic()) + self.ttl
        with self._lock:
            self._entries.pop(token_id, None)
            self._entries[token_id] = (
                key.digest(secret),
                principal,
                until,
                IDENTITY_CHANGES.value if generation is None else generation,
            )
            while len(self._entries) > self.size:
                del self._entries[next(iter(self._entries))]


# -- the caller's own tokens (the API's /v1/tokens) -----------------------------------------------


def own_tokens(db: Database, principal: Principal) -> list[TokenView]:
    require(principal, Action.TOKEN_READ)
    return list_tokens(db, principal.name)


def create_own_token(
    db: Database,
    key: TokenKey,
    principal: Principal,
    name: str,
    scopes: Iterable[str],
    lifetime: timedelta = DEFAULT_TOKEN_LIFETIME,
) -> tuple[TokenView, str]:
    """A new token for the principal, with at most the scopes of the token they came with.
    An administrator's (``SECOND_FACTOR_ROLES``) only from a session that passed the second
    factor: a stolen administrator's token cannot make itself more tokens."""
    require(principal, Action.TOKEN_MANAGE)
    if principal.role in SECOND_FACTOR_ROLES and not principal.second_factor:
        raise PermissionDenied(
            f"a {principal.role.value}'s API tokens are made from a web session that passed "
            "the second factor",
            hint="sign in to the web interface and make the token under API tokens",
        )
    chosen = _scopes(scopes)
    wider = set(chosen) - {s.value for s in principal.scopes}
    if wider:
        raise PermissionDenied(
            f"a token may not grant scopes its maker's token lacks: {', '.join(sorted(wider))}"
        )
    return audit.audited(
        db,
        principal,
        Action.TOKEN_MANAGE,
        "token",
        lambda joined: create_token(joined, key, principal.name, name, chosen, lifetime),
        lambda made: made[0].id,
        {"made": name, "scopes": list(chosen)},
    )


def revoke_own_token(db: Database, principal: Principal, token_id: str) -> TokenView:
    """Revoke one of the principal's tokens; another user's token is ``NotFound``."""
    require(principal, Action.TOKEN_MANAGE)
    return audit.audited(
        db,
        principal,
        Action.TOKEN_MANAGE,
        "token",
        lambda joined: revoke_token(joined, token_id, owner=principal.name),
        lambda view: view.id,
        {"revoked": True},
    )


# -- browser sessions (the web interface's sign-in) -----------------------------------------------


def create_session(
    db: Database,
    key: TokenKey,
    user: str,
    now: datetime | None = None,
    *,
    second_factor: bool = False,
) -> tuple[TokenView, str]:
    """A browser session for a signed-in user: a token of the session kind (read, write and
    ``session`` scopes), short-lived (:data:`SESSION_IDLE`), revoked at sign-out and when the
    user is deactivated. The password must have been checked (:func:`verify_password`), and
    ``second_factor`` says the second factor was too: without it an administrator
    (``SECOND_FACTOR_ROLES``) gets no session (``PermissionDenied``)."""
    scopes = [Scope.READ.value, Scope.WRITE.value, SESSION_SCOPE]
    if second_factor:
        scopes.append(SECOND_FACTOR_SCOPE)
    return _new_session(db, key, user, "web session", scopes, SESSION_IDLE, now)


def create_pending_session(
    db: Database, key: TokenKey, user: str, now: datetime | None = None
) -> tuple[TokenView, str]:
    """The sign-in's second step: a session that only the code (or enrolment) pages accept,
    with no scope, for :data:`PENDING_LIFETIME`. The password must have been checked."""
    scopes = [SESSION_SCOPE, PENDING_SCOPE]
    return _new_session(db, key, user, "web sign-in, second step", scopes, PENDING_LIFETIME, now)


def _new_session(
    db: Database,
    key: TokenKey,
    user: str,
    name: str,
    scopes: list[str],
    lifetime: timedelta,
    now: datetime | None,
) -> tuple[TokenView, str]:
    now = now or datetime.now(UTC)
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    with db.transaction() as session:
        owner = _user(session, user)
        if not owner.active:
            raise Conflict(f"user {owner.name!r} is deactivated")
        role = session.scalar(
            select(models.Membership.role).where(models.Membership.user_id == owner.id)
        )
        full = PENDING_SCOPE not in scopes
        if full and SECOND_FACTOR_SCOPE not in scopes and role in SECOND_FACTOR_ROLES:
            raise PermissionDenied(f"a {role} needs a second factor to sign in")
        row = models.ApiToken(
            id=token_id,
            user_id=owner.id,
            name=name,
            scopes=scopes,
            secret_hash=key.digest(secret),
            created_at=now,
            expires_at=now + lifetime,
        )
        session.add(row)
        return _token_view(row, owner.name), f"{TOKEN_PREFIX}{token_id}_{secret}"


def end_session(db: Database, principal: Principal, now: datetime | None = None) -> None:
    """Sign out: revoke the session the principal came with."""
    require(principal, Action.TOKEN_MANAGE)
    if principal.token_id is not None:
        revoke_token(db, principal.token_id, owner=principal.name, now=now)


# -- user administration (coordinator admins: the same rule as registering organisations) ----------


def users_for(db: Database, principal: Principal) -> list[UserView]:
    require(principal, Action.ORGANISATION_CREATE)
    return list_users(db)


def create_user_for(
    db: Database,
    principal: Principal,
    name: str,
    *,
    organisation: str,
    role: str,
    display_name: str = "",
    password: str | None = None,
) -> UserView:
    require(principal, Action.ORGANISATION_CREATE)
    return create_user(
        db,
        name,
        organisation=organisation,
        role=role,
        display_name=display_name,
        password=password,
    )


def deactivate_user_for(db: Database, principal: Principal, name: str) -> int:
    require(principal, Action.ORGANISATION_CREATE)
    if name.strip().lower() == principal.name:
        raise Conflict("you may not deactivate yourself")
    return deactivate_user(db, name)
