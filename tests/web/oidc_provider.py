"""An OpenID provider of our own, on loopback, for the single sign-on tests.

A real HTTP server (``http.server``, a thread) with its own RSA key made here with
``cryptography``: the discovery document, the JWKS, an authorization endpoint that approves at
once the user the test chose (``approve``), and a token endpoint that checks the client's
secret (HTTP Basic), the code (once, for its redirect URI) and the PKCE verifier (S256) before
it signs an ID token. ``attack`` makes the next ID token break one rule (see ``ATTACKS``), so
that each of Sakimori's checks meets a token made to fail it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "sakimori-test"
CLIENT_SECRET = "s3cret-of-the-test-client"
REDIRECT_URI = "http://127.0.0.1/ui/signin/oidc/callback"

#: What ``attack`` may name: each makes the next ID token break one rule.
ATTACKS = (
    "wrong-iss",
    "wrong-aud",
    "expired",
    "issued-in-the-future",
    "wrong-nonce",
    "unknown-key",  # signed by a key not in the JWKS, under a kid not in it
    "bad-signature",  # signed by another key under the JWKS key's kid
    "alg-none",
    "hs256-public-key",  # HMAC with the public key (PEM) as the secret
    "rs512",  # the right key, an algorithm outside the allow-list
    "other-azp",  # several audiences, azp another client
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _rsa(kid: str) -> tuple[RSAKey, bytes, bytes]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = RSAKey.import_key(pem, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    return key, pem, public_pem


@dataclass
class Grant:
    subject: str
    nonce: str
    challenge: str
    redirect_uri: str


@dataclass
class LoopbackProvider:
    """The provider's state; ``issuer`` is set once the server listens."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    approve: str = ""
    attack: str | None = None
    issuer: str = ""
    #: The one redirect URI registered for the client.
    redirect_uri: str = REDIRECT_URI
    #: Show a page with an "Approve" link (a person's click on the provider's site, as after a
    #: real sign-in there) instead of redirecting at once.
    interactive: bool = False
    key: RSAKey = field(init=False)
    pem: bytes = field(init=False)
    public_pem: bytes = field(init=False)
    other_key: RSAKey = field(init=False)
    grants: dict[str, Grant] = field(default_factory=dict)
    #: What the token endpoint refused, and why (the tests read it).
    refusals: list[str] = field(default_factory=list)
    token_requests: int = 0
    jwks_requests: int = 0

    def __post_init__(self) -> None:
        self.key, self.pem, self.public_pem = _rsa("key-1")
        self.other_key, _, _ = _rsa("other")

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    # -- endpoints

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        """Approve ``approve`` at once; errors go back to the client as OAuth errors."""
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != CLIENT_ID or redirect_uri != self.redirect_uri:
            return 400, {}
        answer = {"state": query.get("state", "")}
        if (
            query.get("response_type") != "code"
            or "openid" not in query.get("scope", "").split()
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
        ):
            answer["error"] = "invalid_request"
        elif self.approve not in self.users:
            answer["error"] = "access_denied"
        else:
            code = secrets.token_urlsafe(24)
            self.grants[code] = Grant(
                self.approve, query.get("nonce", ""), query["code_challenge"], redirect_uri
            )
            answer["code"] = code
        return 302, {"Location": redirect_uri + "?" + urlencode(answer)}

    def token(self, authorization: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.token_requests += 1
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if not hmac.compare_digest(authorization, "Basic " + expected):
            self.refusals.append("client authentication")
            return 401, {"error": "invalid_client"}
        grant = self.grants.pop(form.get("code", ""), None)  # a code serves once
        if form.get("grant_type") != "authorization_code" or grant is None:
            self.refusals.append("unknown or used code")
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant.redirect_uri:
            self.refusals.append("redirect_uri")
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        if _b64(hashlib.sha256(verifier.encode()).digest()) != grant.challenge:
            self.refusals.append("PKCE verifier")
            return 400, {"error": "invalid_grant"}
        return 200, {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(grant),
        }

    # -- ID tokens

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant.subject,
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "nonce": grant.nonce,
            **self.users[grant.subject],
        }
        attack, self.attack = self.attack, None
        header: dict[str, Any] = {"alg": "RS256", "kid": self.key.kid}
        key = self.key
        if attack == "wrong-iss":
            claims["iss"] = "http://127.0.0.1:1/elsewhere"
        elif attack == "wrong-aud":
            claims["aud"] = "another-client"
        elif attack == "expired":
            claims["exp"], claims["iat"] = now - 120, now - 420
        elif attack == "issued-in-the-future":
            claims["iat"] = now + 600
        elif attack == "wrong-nonce":
            claims["nonce"] = secrets.token_urlsafe(32)
        elif attack == "other-azp":
            claims["aud"], claims["azp"] = [CLIENT_ID, "another-client"], "another-client"
        elif attack == "unknown-key":
            header["kid"], key = self.other_key.kid, self.other_key
        elif attack == "bad-signature":
            key = self.other_key
        elif attack == "alg-none":
            return _unsigned({"alg": "none", "kid": self.key.kid}, claims)
        elif attack == "hs256-public-key":
            signing = _unsigned({"alg": "HS256", "kid": self.key.kid}, claims)
            mac = hmac.new(self.public_pem, signing.encode(), hashlib.sha256).digest()
            return signing + _b64(mac)
        elif attack == "rs512":  # the same key, without its "alg" (which says RS256)
            header["alg"], key = "RS512", RSAKey.import_key(self.pem, {"kid": self.key.kid})
        else:
            assert attack is None, f"unknown attack {attack!r}"
        return jwt.encode(header, claims, key, algorithms=[header["alg"]])


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """``header.payload.`` — a JWS's signing input and the dot before its signature."""
    parts = (json.dumps(header).encode(), json.dumps(claims).encode())
    return ".".join(_b64(p) for p in parts) + "."


def _handler(provider: LoopbackProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/.well-known/openid-configuration":
                self._json(200, provider.discovery())
            elif parts.path == "/jwks":
                provider.jwks_requests += 1
                self._json(200, provider.jwks())
            elif parts.path == "/authorize":
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, headers = provider.authorize(query)
                if provider.interactive and status == 302:
                    where = html.escape(headers["Location"])
                    page = f'<!doctype html><title>IdP</title><a href="{where}">Approve</a>'
                    data = page.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/token":
                self._json(404, {"error": "not_found"})
                return
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode()
            form = {k: v[0] for k, v in parse_qs(body).items()}
            status, answer = provider.token(self.headers.get("Authorization", ""), form)
            self._json(status, answer)

    return Handler


@contextmanager
def running(provider: LoopbackProvider, name: str = "127.0.0.1") -> Iterator[LoopbackProvider]:
    """Serve ``provider`` on a free port of 127.0.0.1; its issuer is ``http://NAME:PORT``
    (``localhost``: another site than 127.0.0.1 for a browser, as a real provider is)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.issuer = f"http://{name}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
