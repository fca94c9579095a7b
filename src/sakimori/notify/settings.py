"""Notification settings: one frozen object, read from the environment in one place.

    SAKIMORI_NOTIFY_ATTEMPTS       tries of a delivery before it is dead-lettered (default 8)
    SAKIMORI_NOTIFY_BACKOFF        seconds before the first retry (default 30), doubled per try
    SAKIMORI_NOTIFY_BACKOFF_CAP    longest wait between tries (default 3600)
    SAKIMORI_NOTIFY_TIMEOUT        seconds a webhook or SMTP server has to answer (default 10)
    SAKIMORI_NOTIFY_BATCH          first-attempt webhook deliveries sent by one job (default
                                   50; 1 sends each by a job of its own)
    SAKIMORI_PUBLIC_URL            the platform's address, for links in e-mails
                                   (default http://127.0.0.1:8000)
    SAKIMORI_SMTP_HOST             SMTP server (default: none — e-mail endpoints are
                                   dead-lettered with "no SMTP server configured")
    SAKIMORI_SMTP_PORT             default 25 (587 with STARTTLS is usual)
    SAKIMORI_SMTP_STARTTLS         1 to require STARTTLS
    SAKIMORI_SMTP_USER / SAKIMORI_SMTP_PASSWORD   login, when the server needs one
    SAKIMORI_SMTP_FROM             the sender address (default sakimori@localhost)
    SAKIMORI_NOTIFY_SMIME_CERT     PEM certificate (signer first, then intermediates) and
    SAKIMORI_NOTIFY_SMIME_KEY      its PEM private key: every e-mail is S/MIME-signed
                                   (default: neither, unsigned; ``notify.signing``)
    SAKIMORI_NOTIFY_DIGEST_MINUTES how often low-priority notifications are gathered into
                                   digests (default 1440: daily, at 00:00 UTC = 09:00 JST)
    SAKIMORI_NOTIFY_DIGEST_TLP     the most restricted label a digest holds (default GREEN;
                                   never RED; ``notify.digest``)

They live apart from ``sakimori.config.Settings`` only because that module belongs to the
platform's core; they are read the same way (environment, validated, no global state).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sakimori.errors import ConfigurationError
from sakimori.notify import digest
from sakimori.packages.model import Tlp


@dataclass(frozen=True, slots=True)
class NotifySettings:
    attempts: int = 8
    backoff: float = 30.0
    backoff_cap: float = 3600.0
    timeout: float = 10.0
    batch: int = 50
    public_url: str = "http://127.0.0.1:8000"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "sakimori@localhost"
    smime_cert: Path | None = None
    smime_key: Path | None = None
    digest_minutes: int = 1440
    digest_tlp: Tlp = Tlp.GREEN

    def __post_init__(self) -> None:
        if not 1 <= self.digest_minutes <= 7 * 1440:
            raise ConfigurationError(
                "SAKIMORI_NOTIFY_DIGEST_MINUTES must be between 1 and 10080 (a week)"
            )
        if self.attempts < 1:
            raise ConfigurationError("SAKIMORI_NOTIFY_ATTEMPTS must be at least 1")
        if not 0 < self.backoff <= self.backoff_cap:
            raise ConfigurationError(
                "need 0 < SAKIMORI_NOTIFY_BACKOFF <= SAKIMORI_NOTIFY_BACKOFF_CAP"
            )
        if self.timeout <= 0:
            raise ConfigurationError("SAKIMORI_NOTIFY_TIMEOUT must be greater than zero")
        if not 1 <= self.batch <= 1000:
            raise ConfigurationError("SAKIMORI_NOTIFY_BATCH must be between 1 and 1000")

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> NotifySettings:
        env = os.environ if environ is None else environ

        def pick(name: str) -> str | None:
            return env.get(f"SAKIMORI_{name}") or None

        def number(name: str, default: float) -> float:
            value = pick(name)
            if value is None:
                return default
            try:
                return float(value)
            except ValueError:
                raise ConfigurationError(f"SAKIMORI_{name}={value!r} is not a number") from None

        return cls(
            attempts=int(number("NOTIFY_ATTEMPTS", 8)),
            backoff=number("NOTIFY_BACKOFF", 30.0),
            backoff_cap=number("NOTIFY_BACKOFF_CAP", 3600.0),
            timeout=number("NOTIFY_TIMEOUT", 10.0),
            batch=int(number("NOTIFY_BATCH", 50)),
            public_url=(pick("PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/"),
            smtp_host=pick("SMTP_HOST"),
            smtp_port=int(number("SMTP_PORT", 25)),
            smtp_starttls=(pick("SMTP_STARTTLS") or "").lower() in {"1", "true", "yes"},
            smtp_user=pick("SMTP_USER"),
            smtp_password=pick("SMTP_PASSWORD"),
            smtp_from=pick("SMTP_FROM") or "sakimori@localhost",
            smime_cert=_path(pick("NOTIFY_SMIME_CERT")),
            smime_key=_path(pick("NOTIFY_SMIME_KEY")),
            digest_minutes=int(number("NOTIFY_DIGEST_MINUTES", 1440)),
            digest_tlp=digest.ceiling(pick("NOTIFY_DIGEST_TLP")),
        )


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value).expanduser()
