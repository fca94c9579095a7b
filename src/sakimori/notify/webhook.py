"""Webhook signatures (pure): HMAC-SHA256 over the timestamp and the body.

A delivery carries these headers:

- ``Sakimori-Timestamp``: Unix seconds when this attempt was signed;
- ``Sakimori-Signature``: ``v1=`` and the hex HMAC-SHA256, keyed with the endpoint's secret
  (its UTF-8 bytes), of ``timestamp + "." + body``;
- ``Idempotency-Key``: stable per (package revision, recipient, endpoint) across every retry,
  so a receiver that saw it already answers 2xx and does nothing;
- ``Sakimori-Event``: ``published``, ``revised`` or ``exposure``.

Signing the timestamp lets a receiver refuse replays older than a few minutes
(:func:`verify`'s ``tolerance``); the body itself does not change between attempts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

SCHEME: Final = "v1"
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the prefix, not a secret
DEFAULT_TOLERANCE: Final = 300


def new_secret() -> str:
    """A fresh endpoint secret (shown once, when the endpoint is made)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def headers(
    secret: str, timestamp: int, body: bytes, idempotency_key: str, event: str
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key,
        "Sakimori-Event": event,
        "Sakimori-Timestamp": str(timestamp),
        "Sakimori-Signature": signature(secret, timestamp, body),
    }


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    presented: str,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """What a receiver checks: a well-formed, recent timestamp and a matching signature
    (compared in constant time). Several signatures may be sent, separated by commas."""
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    if abs(now - moment) > tolerance:
        return False
    expected = signature(secret, moment, body)
    return any(
        hmac.compare_digest(expected.encode(), candidate.strip().encode())
        for candidate in presented.split(",")
    )
