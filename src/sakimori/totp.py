"""The second factor's pure parts: TOTP codes (RFC 6238), recovery codes, and the sealed secret.

No I/O here: ``services.second_factor`` stores and looks up; this module computes.

- **TOTP**: six digits, 30-second steps, HMAC-SHA-1 (what every authenticator app does by
  default), checked by ``pyotp``. A code is accepted for the step before, the step of, and
  the step after the moment it is checked (±1 step: clocks drift, people type slowly), and
  only for a step later than the last one accepted for the user (``last_step``), so a code
  once used can never be used again — nor can an older one.
- **The secret** is 160 random bits (base32, ``pyotp.random_base32``). The server must read it
  back to compute codes, so it cannot be hashed: it is sealed with AES-256-GCM under a key
  derived from the server key (HKDF-SHA256, its own label, so it is never the key that tokens
  or CSRF tokens are made with), and the user's id is the associated data, so a sealed secret
  copied onto another user's row does not open.
- **Recovery codes**: ten, of ten base32 letters (50 bits) shown as ``abcde-fghij``; stored
  as HMAC-SHA256 under another derived key, like API tokens (a password hash would be slow
  for no gain: the codes are random, not chosen by people).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ISSUER: Final = "Sakimori"
STEP_SECONDS: Final = 30
DIGITS: Final = 6
#: Steps accepted either side of the current one.
WINDOW: Final = 1
RECOVERY_CODE_COUNT: Final = 10
_RECOVERY_LETTERS: Final = "abcdefghijklmnopqrstuvwxyz234567"
_RECOVERY_LENGTH: Final = 10
_SEALED_PREFIX: Final = "v1."
_NONCE_BYTES: Final = 12


def new_secret() -> str:
    """A new TOTP secret: 32 base32 characters (160 bits), as RFC 4226 recommends."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://totp/…`` URI an authenticator app reads (from the QR code or typed)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The URI as a QR code: an inline ``<svg>`` (no script, no style attribute)."""
    code = segno.make(uri, error="m")
    svg: str = code.svg_inline(scale=4, light="#fff", svgclass="qr")
    return svg


def step_of(moment: datetime) -> int:
    """The TOTP step (time counter) ``moment`` falls in."""
    return int(moment.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The code of ``secret`` for ``step`` (for the tests and for the demo's instructions)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def normalise_code(code: str) -> str:
    """Digits only: people type spaces (``123 456``) and authenticators show them."""
    return "".join(c for c in code if not c.isspace())


def looks_like_totp(code: str) -> bool:
    value = normalise_code(code)
    return len(value) == DIGITS and value.isascii() and value.isdigit()


def matching_step(secret: str, code: str, moment: datetime, last_step: int | None) -> int | None:
    """The step ``code`` is valid for, within ±:data:`WINDOW` of ``moment`` and later than
    ``last_step`` (the last accepted, so no code is used twice); ``None`` if there is none.

    Every candidate step is compared (in constant time each), whether or not one matched."""
    if not looks_like_totp(code):
        return None
    given = normalise_code(code)
    current = step_of(moment)
    found: int | None = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        fresh = last_step is None or step > last_step
        if hmac.compare_digest(code_at(secret, step), given) and fresh and found is None:
            found = step
    return found


# -- keys derived from the server key --------------------------------------------------------------


def _derive(server_key: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(server_key)


class SealError(ValueError):
    """A sealed secret does not open (another key, another user, or altered)."""


@dataclass(frozen=True, slots=True)
class SecretBox:
    """Seals TOTP secrets with AES-256-GCM under a key derived from the server key."""

    key: bytes

    @classmethod
    def from_server_key(cls, server_key: bytes) -> SecretBox:
        return cls(_derive(server_key, b"sakimori totp secret v1"))

    def seal(self, secret: str, user_id: int) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.key).encrypt(nonce, secret.encode("ascii"), _associated(user_id))
        return _SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, user_id: int) -> str:
        if not sealed.startswith(_SEALED_PREFIX):
            raise SealError("not a sealed TOTP secret")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(_SEALED_PREFIX) :].encode("ascii"))
            opened = AESGCM(self.key).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated(user_id)
            )
        except (InvalidTag, ValueError) as exc:
            raise SealError("the sealed TOTP secret does not open with this key") from exc
        return opened.decode("ascii")


def _associated(user_id: int) -> bytes:
    return f"sakimori user {user_id}".encode("ascii")


# -- recovery codes --------------------------------------------------------------------------------


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """``count`` random codes, each shown as two groups of five letters (``abcde-fghij``)."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_LETTERS) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalise_recovery_code(code: str) -> str:
    return "".join(c for c in code.lower() if c in _RECOVERY_LETTERS)


@dataclass(frozen=True, slots=True)
class RecoveryHasher:
    """Keyed hashes of recovery codes (HMAC-SHA256 under a key derived from the server key)."""

    key: bytes

    @classmethod
    def from_server_key(cls, server_key: bytes) -> RecoveryHasher:
        return cls(_derive(server_key, b"sakimori recovery code v1"))

    def digest(self, code: str) -> str:
        value = normalise_recovery_code(code)
        return hmac.new(self.key, value.encode("ascii"), hashlib.sha256).hexdigest()
