"""Single sign-on with one OpenID provider (OpenID Connect Core 1.0): the authorization-code
flow with PKCE (S256), the ID token's validation, and the Sakimori user it stands for.

The web interface (``sakimori.web.oidc``) calls, in order:

- :meth:`Provider.authorization_url` with a :class:`Login` made by :func:`begin`: ``state``
  (256 bits), ``nonce`` and the PKCE ``code_verifier``, kept server-side (``oidc_login``) for
  :data:`LOGIN_LIFETIME`, bound to a random value in the browser's cookie;
- :func:`finish` at the callback: the ``state`` is looked up by its keyed hash and deleted
  (single use, a conditional ``DELETE``), then checked for age and for the browser (constant
  time);
- :meth:`Provider.exchange`: the code, the verifier and the client's authentication (its
  secret, HTTP Basic or form) go to the token endpoint; only the ID token is kept;
- :meth:`Provider.validate` (OpenID Connect Core 3.1.3.7, ``joserfc``): an algorithm of
  :data:`ALGORITHMS` (never ``none``, never HS*), signed by the JWKS key the header's ``kid``
  names (the JWKS is fetched again for an unknown ``kid``, at most once a minute), ``iss`` the
  issuer, ``aud`` holding the client id (``azp`` equal to it when present or when there are
  several audiences), ``exp`` in the future and ``iat`` not, with :data:`LEEWAY`, ``nonce``
  the stored one;
- :func:`sign_on`: the pair (``iss``, ``sub``) finds the linked user (``user_identity``), or
  the :class:`Mapping` rules provision one in exactly one organisation and role. No rule, no
  sign-in; a deactivated user never.

Every refusal is a :class:`SignOnRefused` with a :class:`Refusal` the page turns into one
message, and a reason for the log. Discovery and the JWKS come through the one HTTP seam
(``sakimori.intel.fetch``); the token request is a POST, which that seam does not do, so it is
made here with httpx and the same limits, its failures turned into ``SourceUnavailable``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import tomllib
from collections.abc import Callable
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote_plus, urlencode, urlsplit

import httpx
from joserfc import jws
from joserfc.errors import ClaimError, JoseError
from joserfc.jwk import Key, KeySet
from joserfc.jwt import ClaimsOption, JWTClaimsRegistry
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sakimori.config import Settings, check_issuer
from sakimori.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    SakimoriError,
    SourceUnavailable,
)
from sakimori.intel.fetch import Fetcher, FetchSettings
from sakimori.services import audit
from sakimori.services.access import COORDINATOR_ROLES, ROLE_KINDS, SECOND_FACTOR_ROLES, Role
from sakimori.services.identity import TokenKey, changed_on_commit, create_user
from sakimori.store import models
from sakimori.store.db import Database, aware, joined

log = logging.getLogger(__name__)

#: Signature algorithms an ID token may use: asymmetric only (never ``none``, never HS*).
ALGORITHMS: Final = ("RS256", "PS256", "ES256", "Ed25519", "EdDSA")
LOGIN_LIFETIME: Final = timedelta(minutes=10)
#: Seconds of clock skew allowed for ``exp`` and ``iat``.
LEEWAY: Final = 60
#: The JWKS is fetched again for an unknown ``kid`` at most this often (seconds).
JWKS_REFRESH: Final = 60.0
#: The discovery document and the JWKS are asked for again (conditionally) after this long.
CACHE_SECONDS: Final = 3600.0
#: Roles granted from claims only by a rule that says ``privileged = true``.
PRIVILEGED_ROLES: Final = SECOND_FACTOR_ROLES | COORDINATOR_ROLES
SCOPE: Final = "openid email profile"
_MAX_BODY: Final = 1024 * 1024
_FETCH = FetchSettings(
    connect_timeout=10.0, read_timeout=10.0, total_timeout=30.0, max_body_bytes=_MAX_BODY, retries=1
)


class Refusal(StrEnum):
    """Why a single sign-on was refused (each has one message on the page)."""

    #: unknown, used, expired ``state``, or another browser's
    STATE = "state"
    #: the provider answered with an error, or refused the code
    PROVIDER = "provider"
    #: the ID token fails a check
    TOKEN = "token"  # noqa: S105 - a kind of refusal, not a secret
    #: no user for this identity (unlinked and no rule, or deactivated)
    USER = "user"


class SignOnRefused(PermissionDenied):
    def __init__(self, refusal: Refusal, reason: str) -> None:
        super().__init__(f"single sign-on refused: {reason}")
        self.refusal = refusal
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _mac(key: TokenKey, purpose: str, value: str) -> str:
    return hmac.new(key.secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


# -- the mapping of claims to an organisation and a role -------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """Claim ``claim`` equal to ``value`` (or a list holding it) → ``organisation``, ``role``."""

    claim: str
    value: str
    organisation: str
    role: Role
    privileged: bool = False


@dataclass(frozen=True, slots=True)
class Mapping:
    """The rules of ``SAKIMORI_OIDC_MAPPING_FILE`` (TOML)::

    username_claim = "preferred_username"   # the new user's name (default)

    [[rules]]
    claim = "groups"
    value = "sakimori:city-bank:member_user"
    organisation = "city-bank"
    role = "member_user"
    # privileged = true   # required for coordinator_admin, member_admin and analyst
    """

    rules: tuple[Rule, ...] = ()
    username_claim: str = "preferred_username"

    @classmethod
    def load(cls, path: Path) -> Mapping:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(
                f"cannot read the OIDC mapping: {exc}", where=str(path)
            ) from None
        return cls.parse(data, str(path))

    @classmethod
    def parse(cls, data: AnyMapping[str, Any], where: str = "mapping") -> Mapping:
        rules: list[Rule] = []
        found = data.get("rules", [])
        if not isinstance(found, list):
            raise ConfigurationError("`rules` must be a list of tables", where=where)
        for number, item in enumerate(found, 1):
            here = f"{where}, rule {number}"
            if not isinstance(item, dict):
                raise ConfigurationError("a rule must be a table", where=here)
            values = {k: item.get(k) for k in ("claim", "value", "organisation", "role")}
            if not all(isinstance(v, str) and v for v in values.values()):
                raise ConfigurationError(
                    "a rule needs claim, value, organisation and role (strings)", where=here
                )
            try:
                role = Role(str(values["role"]))
            except ValueError:
                raise ConfigurationError(f"unknown role {values['role']!r}", where=here) from None
            privileged = item.get("privileged", False) is True
            if role in PRIVILEGED_ROLES and not privileged:
                raise ConfigurationError(
                    f"the {role.value} role is granted from claims only by a rule that says "
                    "`privileged = true`",
                    where=here,
                )
            rules.append(
                Rule(
                    str(values["claim"]),
                    str(values["value"]),
                    str(values["organisation"]),
                    role,
                    privileged,
                )
            )
        username = data.get("username_claim", "preferred_username")
        if not isinstance(username, str) or not username:
            raise ConfigurationError("`username_claim` must be a claim name", where=where)
        return cls(tuple(rules), username)

    def place(self, claims: AnyMapping[str, Any]) -> tuple[str, Role] | None:
        """The one organisation and role the claims map to; ``None`` when no rule matches."""
        found = {
            (rule.organisation, rule.role)
            for rule in self.rules
            if claims.get(rule.claim) == rule.value
            or (isinstance(claims.get(rule.claim), list) and rule.value in claims[rule.claim])
        }
        if len(found) > 1:
            raise SignOnRefused(Refusal.USER, "the claims match rules of several places")
        return next(iter(found), None)


# -- the provider ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    name: str
    mapping: Mapping = field(default_factory=Mapping)

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderSettings | None:
        """The provider of the settings; ``None`` when single sign-on is off."""
        if not settings.oidc_issuer:
            return None
        if settings.oidc_client_id is None or settings.oidc_client_secret_file is None:
            raise ConfigurationError("single sign-on needs a client id and a client secret file")
        try:
            secret = settings.oidc_client_secret_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"cannot read the OIDC client secret: {exc}",
                where=str(settings.oidc_client_secret_file),
            ) from None
        if not secret:
            raise ConfigurationError(
                "the OIDC client secret file is empty", where=str(settings.oidc_client_secret_file)
            )
        mapping = (
            Mapping.load(settings.oidc_mapping_file) if settings.oidc_mapping_file else Mapping()
        )
        issuer = check_issuer(settings.oidc_issuer)
        name = settings.oidc_name or urlsplit(issuer).hostname or issuer
        return cls(issuer, settings.oidc_client_id, secret, name, mapping)


@dataclass(frozen=True, slots=True)
class Endpoints:
    authorization: str
    token: str
    jwks: str
    #: ``client_secret_basic`` or ``client_secret_post``
    client_auth: str


@dataclass(slots=True)
class _Cached:
    value: Any
    etag: str | None
    last_modified: str | None
    fetched: float


class Provider:
    """One OpenID provider: discovery and JWKS (cached), the token request, the ID token.

    Thread-safe (the pages run in a thread pool). ``transport`` (tests) and ``clock`` are
    injection points.
    """

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._clock = clock
        self._lock = threading.Lock()
        self._discovery: _Cached | None = None
        self._jwks: _Cached | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    # -- discovery and keys

    def _fetch_json(self, url: str, cached: _Cached | None) -> _Cached:
        try:
            with Fetcher(_FETCH, transport=self._transport) as fetcher:
                found = fetcher.get(
                    url,
                    etag=cached.etag if cached else None,
                    last_modified=cached.last_modified if cached else None,
                )
        except SakimoriError as exc:
            raise SourceUnavailable(
                f"the identity provider cannot be reached: {exc.message}", where=url
            ) from None
        now = self._clock()
        if not found.modified and cached is not None:
            return _Cached(cached.value, cached.etag, cached.last_modified, now)
        try:
            value = json.loads(found.content)
        except ValueError:
            raise SourceUnavailable("the identity provider sent no JSON", where=url) from None
        if not isinstance(value, dict):
            raise SourceUnavailable("the identity provider sent no JSON object", where=url)
        return _Cached(value, found.etag, found.last_modified, now)

    def _url(self, document: dict[str, Any], name: str) -> str:
        value = document.get(name)
        if not isinstance(value, str):
            raise SourceUnavailable(f"the discovery document has no {name}")
        parts, issuer = urlsplit(value), urlsplit(self.settings.issuer)
        if parts.scheme != "https" and not (
            parts.scheme == issuer.scheme == "http" and parts.hostname == issuer.hostname
        ):
            raise SourceUnavailable(f"the discovery document's {name} is not https://: {value}")
        return value

    def endpoints(self) -> Endpoints:
        """The provider's endpoints from its discovery document, whose ``issuer`` must be the
        configured one exactly."""
        issuer = self.settings.issuer
        with self._lock:
            cached = self._discovery
            if cached is None or self._clock() - cached.fetched >= CACHE_SECONDS:
                url = issuer.rstrip("/") + "/.well-known/openid-configuration"
                cached = self._discovery = self._fetch_json(url, cached)
        document: dict[str, Any] = cached.value
        if document.get("issuer") != issuer:
            self._discovery = None
            raise SourceUnavailable(
                f"the discovery document names the issuer {document.get('issuer')!r}, "
                f"not {issuer!r}",
                hint="set SAKIMORI_OIDC_ISSUER to the issuer exactly as the provider gives it",
            )
        methods = document.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
        methods = methods if isinstance(methods, list) else []
        auth = next((m for m in ("client_secret_basic", "client_secret_post") if m in methods), "")
        if not auth:
            raise ConfigurationError(
                "the identity provider takes neither client_secret_basic nor client_secret_post",
                hint="private_key_jwt is not built yet (docs/web.md)",
            )
        return Endpoints(
            self._url(document, "authorization_endpoint"),
            self._url(document, "token_endpoint"),
            self._url(document, "jwks_uri"),
            auth,
        )

    def _keys(self, url: str, refresh: bool) -> KeySet:
        """The JWKS held, fetched (conditionally) when stale or when ``refresh``."""
        with self._lock:
            cached = self._jwks
            if refresh or cached is None or self._clock() - cached.fetched >= CACHE_SECONDS:
                cached = self._jwks = self._fetch_json(url, cached)
        try:
            return KeySet.import_key_set(cached.value)
        except (JoseError, KeyError, TypeError, ValueError):
            raise SourceUnavailable("the identity provider's JWKS cannot be read") from None

    def _key(self, kid: str | None, alg: str) -> Key:
        """The JWKS key the header's ``kid`` names, fit for ``alg``; the JWKS is fetched again
        (at most once a minute) when it has no such key: the provider may have rotated."""
        url = self.endpoints().jwks
        keys = self._keys(url, refresh=False)
        found = _pick(keys, kid, alg)
        if found is None:
            with self._lock:
                held = self._jwks
                may = held is None or self._clock() - held.fetched >= JWKS_REFRESH
            if may:
                found = _pick(self._keys(url, refresh=True), kid, alg)
        if found is None:
            raise SignOnRefused(Refusal.TOKEN, f"the ID token's key {kid!r} is not in the JWKS")
        return found

    # -- the flow

    def authorization_url(self, redirect_uri: str, login: Login) -> str:
        query = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": login.state,
            "nonce": login.nonce,
            "code_challenge": login.challenge,
            "code_challenge_method": "S256",
        }
        endpoint = self.endpoints().authorization
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(query)

    def exchange(self, code: str, redirect_uri: str, verifier: str) -> str:
        """The ID token for ``code`` from the token endpoint (the access token is dropped)."""
        endpoints = self.endpoints()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        headers = {"Accept": "application/json", "User-Agent": _FETCH.user_agent}
        client_id, secret = self.settings.client_id, self.settings.client_secret
        if endpoints.client_auth == "client_secret_basic":  # RFC 6749, 2.3.1: form-encoded first
            pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            form |= {"client_id": client_id, "client_secret": secret}
        timeout = httpx.Timeout(_FETCH.read_timeout, connect=_FETCH.connect_timeout)
        try:
            with httpx.Client(
                timeout=timeout, follow_redirects=False, transport=self._transport
            ) as client:
                answer = client.post(endpoints.token, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise SourceUnavailable(
                f"the token endpoint cannot be reached: {type(exc).__name__}",
                where=endpoints.token,
            ) from None
        if len(answer.content) > _MAX_BODY:
            raise SourceUnavailable("the token endpoint's answer is too large")
        try:
            body = answer.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise SourceUnavailable(f"the token endpoint answered HTTP {answer.status_code}")
        if answer.status_code != 200 or "error" in body:
            error = str(body.get("error", "error"))[:100]
            raise SignOnRefused(Refusal.PROVIDER, f"the token endpoint refused the code: {error}")
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise SignOnRefused(Refusal.PROVIDER, "the token endpoint sent no ID token")
        return id_token

    def validate(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims, once every check of OIDC Core 3.1.3.7 that applies holds."""
        try:
            compact = jws.extract_compact(id_token.encode("ascii"))
        except (JoseError, UnicodeEncodeError, ValueError):
            raise SignOnRefused(Refusal.TOKEN, "the ID token is not a signed JWT") from None
        header = compact.headers()
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise SignOnRefused(Refusal.TOKEN, f"the ID token's algorithm {alg!r} is not accepted")
        kid = header.get("kid")
        key = self._key(kid if isinstance(kid, str) else None, str(alg))
        try:
            jws.deserialize_compact(id_token, key, algorithms=[str(alg)])
        except JoseError:
            raise SignOnRefused(Refusal.TOKEN, "the ID token's signature does not verify") from None
        try:
            claims = json.loads(compact.payload)
        except ValueError:
            claims = None
        if not isinstance(claims, dict):
            raise SignOnRefused(Refusal.TOKEN, "the ID token holds no claims")
        client_id = self.settings.client_id
        required: ClaimsOption = {"essential": True}
        registry = JWTClaimsRegistry(
            now=int(self._clock()),
            leeway=LEEWAY,
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": client_id},
            sub=required,
            exp=required,
            iat=required,
        )
        try:
            registry.validate(claims)
        except ClaimError as exc:
            reason = f"the ID token's claim {exc.claim!r}: {exc.description}"
            raise SignOnRefused(Refusal.TOKEN, reason) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if ("azp" in claims or len(audiences) > 1) and claims.get("azp") != client_id:
            raise SignOnRefused(Refusal.TOKEN, "the ID token's azp is not this client")
        given = claims.get("nonce")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), nonce.encode()):
            raise SignOnRefused(Refusal.TOKEN, "the ID token's nonce is not the one sent")
        if len(claims["sub"]) > 255:
            raise SignOnRefused(Refusal.TOKEN, "the ID token's sub is longer than 255 characters")
        return claims


def _pick(keys: KeySet, kid: str | None, alg: str) -> Key | None:
    """The key named ``kid`` (none named: the only key) not meant for another use or alg."""
    if kid is None and len(keys.keys) != 1:
        return None
    try:
        return keys.get_by_kid(kid, {"use": "sig", "alg": alg})
    except JoseError:
        return None


# -- the sign-in under way -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Login:
    """A sign-in under way (its values never in a repr: a log line or a traceback)."""

    state: str = field(repr=False)
    nonce: str = field(repr=False)
    verifier: str = field(repr=False)
    next_page: str = "/ui/"

    @property
    def challenge(self) -> str:
        """The PKCE code challenge (S256)."""
        return _b64(hashlib.sha256(self.verifier.encode("ascii")).digest())


def begin(
    db: Database, key: TokenKey, browser: str, next_page: str, now: datetime | None = None
) -> Login:
    """A new sign-in for the browser holding ``browser`` in its cookie, kept for ten minutes."""
    now = now or datetime.now(UTC)
    login = Login(
        secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64), next_page
    )
    with db.transaction() as session:
        session.execute(delete(models.OidcLogin).where(models.OidcLogin.expires_at < now))
        session.add(
            models.OidcLogin(
                id=_mac(key, "oidc-state", login.state),
                browser=_mac(key, "oidc-browser", browser),
                nonce=login.nonce,
                code_verifier=login.verifier,
                next_page=next_page[:500],
                expires_at=now + LOGIN_LIFETIME,
            )
        )
    return login


def finish(
    db: Database, key: TokenKey, state: str, browser: str, now: datetime | None = None
) -> Login:
    """The sign-in ``state`` stands for, used up: unknown, used, expired or another browser's
    is ``SignOnRefused``. It is deleted whatever the outcome, so it never serves twice."""
    now = now or datetime.now(UTC)
    with db.transaction() as session:
        row = session.get(models.OidcLogin, _mac(key, "oidc-state", state))
        if row is not None:
            found = (row.browser, row.nonce, row.code_verifier, row.next_page, row.expires_at)
            done = session.execute(delete(models.OidcLogin).where(models.OidcLogin.id == row.id))
            if int(getattr(done, "rowcount", 0) or 0) != 1:  # another request used it first
                row = None
    if row is None:
        raise SignOnRefused(Refusal.STATE, "unknown or used state")
    bound, nonce, verifier, next_page, expires_at = found
    if aware(expires_at) <= now:
        raise SignOnRefused(Refusal.STATE, "expired state")
    if not hmac.compare_digest(bound, _mac(key, "oidc-browser", browser)):
        raise SignOnRefused(Refusal.STATE, "the state belongs to another browser")
    return Login(state, nonce, verifier, next_page)


# -- the user ----------------------------------------------------------------------------------


def _entry(user: models.User, role: str, organisation: str, action: str, **detail: Any) -> Any:
    return audit.Entry(
        actor=user.name,
        action=action,
        actor_id=user.id,
        organisation=organisation,
        role=role,
        object_kind="user",
        object_id=user.name,
        detail=detail,
    )


def _move(session: Session, user: models.User, place: tuple[str, Role], issuer: str) -> None:
    """Set a managed user's membership to the one the rules give, audited when it changes."""
    membership = session.get(models.Membership, user.id)
    organisation = session.scalar(
        select(models.Organisation).where(models.Organisation.slug == place[0])
    )
    if membership is None or organisation is None:
        raise SignOnRefused(Refusal.USER, f"the mapping names no organisation {place[0]!r}")
    if membership.organisation_id == organisation.id and membership.role == place[1].value:
        return
    if organisation.kind not in ROLE_KINDS[place[1]]:
        raise SignOnRefused(Refusal.USER, f"{place[1].value} is not a role of {place[0]}")
    before = membership.role
    membership.organisation_id, membership.role = organisation.id, place[1].value
    changed_on_commit(session)
    audit.append(
        session,
        _entry(user, place[1].value, place[0], "oidc.membership", issuer=issuer, was=before),
    )


def sign_on(
    db: Database,
    settings: ProviderSettings,
    claims: AnyMapping[str, Any],
    now: datetime | None = None,
) -> str:
    """The name of the active user the claims stand for, provisioned by the mapping rules if
    none is linked to (``iss``, ``sub``) yet; ``SignOnRefused`` otherwise. One transaction."""
    now = now or datetime.now(UTC)
    issuer, subject = settings.issuer, str(claims["sub"])
    with db.transaction() as session:
        linked = session.scalar(
            select(models.UserIdentity).where(
                models.UserIdentity.issuer == issuer, models.UserIdentity.subject == subject
            )
        )
        if linked is not None:
            user = session.get(models.User, linked.user_id)
            if user is None or not user.active:
                raise SignOnRefused(
                    Refusal.USER, f"the user of subject {subject!r} is deactivated in Sakimori"
                )
            if linked.managed:
                place = settings.mapping.place(claims)
                if place is None:
                    raise SignOnRefused(Refusal.USER, f"no rule maps subject {subject!r} any more")
                _move(session, user, place, issuer)
            linked.last_sign_in_at = now
            return user.name
        place = settings.mapping.place(claims)
        if place is None:
            raise SignOnRefused(Refusal.USER, f"subject {subject!r} is linked to no user, no rule")
        name = claims.get(settings.mapping.username_claim)
        if not isinstance(name, str):
            raise SignOnRefused(Refusal.USER, "the claims carry no user name")
        try:
            made = create_user(
                joined(db, session),
                name,
                organisation=place[0],
                role=place[1].value,
                display_name=str(claims.get("name") or ""),
                now=now,
            )
        except (InvalidInput, Conflict, NotFound) as exc:  # a taken name is never linked
            raise SignOnRefused(Refusal.USER, f"cannot provision {name!r}: {exc.message}") from None
        user = session.scalars(select(models.User).where(models.User.name == made.name)).one()
        session.add(
            models.UserIdentity(
                user_id=user.id,
                issuer=issuer,
                subject=subject,
                managed=True,
                created_at=now,
                last_sign_in_at=now,
            )
        )
        audit.append(
            session,
            _entry(
                user, made.role, made.organisation, "oidc.provision", issuer=issuer, subject=subject
            ),
        )
        return user.name


def link(
    db: Database, name: str, issuer: str, subject: str, actor: str, now: datetime | None = None
) -> None:
    """Link an existing user to (``issuer``, ``subject``): they sign in with it as themselves,
    their membership staying Sakimori's own. Audited (``oidc.link``, by ``actor``)."""
    now = now or datetime.now(UTC)
    with db.transaction() as session:
        user = session.scalar(select(models.User).where(models.User.name == name.strip().lower()))
        if user is None:
            raise NotFound(f"no user {name!r}", hint="see `sakimori user list`")
        taken = session.scalar(
            select(models.UserIdentity.id).where(
                models.UserIdentity.issuer == issuer, models.UserIdentity.subject == subject
            )
        )
        if taken is not None:
            raise Conflict(f"subject {subject!r} of {issuer} is linked already")
        session.add(
            models.UserIdentity(
                user_id=user.id, issuer=issuer, subject=subject, managed=False, created_at=now
            )
        )
        audit.append(
            session,
            audit.Entry(
                actor=actor,
                action="oidc.link",
                object_kind="user",
                object_id=user.name,
                detail={"issuer": issuer, "subject": subject},
            ),
        )
