"""Webhook secrets at rest (pure): sealed with AES-256-GCM under a key derived from the server
key.

A webhook secret must be available in clear to sign each delivery, so it cannot be stored as
a hash like an API token. It is sealed with a key derived (HKDF-SHA256) from the server key
(``SAKIMORI_TOKEN_KEY_FILE``, kept outside the database), with the endpoint's organisation as
associated data: a copy of the database alone does not reveal the secrets, and a sealed secret
moved to another organisation's row does not open.
"""

from __future__ import annotations

import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sakimori.errors import ConfigurationError

_INFO: Final = b"sakimori notify: webhook secrets v1"
_NONCE: Final = 12


def derive(server_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(server_key)


def seal(key: bytes, secret: str, organisation_id: int) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, secret.encode(), _aad(organisation_id))


def unseal(key: bytes, sealed: bytes, organisation_id: int) -> str:
    try:
        plain = AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], _aad(organisation_id))
    except (InvalidTag, ValueError):
        raise ConfigurationError(
            "a webhook secret does not open with this server key",
            hint="was SAKIMORI_TOKEN_KEY_FILE replaced? register the endpoint again",
        ) from None
    return plain.decode()


def _aad(organisation_id: int) -> bytes:
    return f"organisation:{organisation_id}".encode()
