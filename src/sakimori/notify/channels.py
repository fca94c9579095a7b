"""Both channels behind one call: render, sign and send one notice to one destination.

Webhooks: the body (``message.webhook_body``) signed with the endpoint's secret, opened from
its sealed form with the key derived from the server key (``sealing``). E-mail: the message
(``message.email``) in the destination's language, S/MIME-signed when a key is configured
(``signing``); a digest (``digest``) goes the same ways. The senders never raise for a failed
delivery; they report an :class:`~sakimori.notify.interface.Outcome`. A worker thread keeps
one ``Channels`` (the HTTP client pools its connections).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from sakimori.notify import digest, message, sealing, signing, webhook
from sakimori.notify.interface import Outcome
from sakimori.notify.settings import NotifySettings
from sakimori.notify.smtp_sender import SmtpSender
from sakimori.notify.webhook_sender import WebhookSender


@dataclass(frozen=True, slots=True)
class Destination:
    """An endpoint, as the channels need it."""

    kind: str  # webhook | email
    target: str
    organisation_id: int
    language: str | None = None
    sealed_secret: bytes | None = None


class Channels:
    def __init__(self, notify: NotifySettings, server_key: bytes) -> None:
        self.notify = notify
        self._seal_key = sealing.derive(server_key)
        self._webhooks = WebhookSender(notify.timeout)
        self._mail = SmtpSender(notify)
        self._signer = signing.load(notify.smime_cert, notify.smime_key)

    def send(self, to: Destination, notice: message.Notice, now: datetime) -> Outcome:
        if to.kind == "webhook":
            return self._post(
                to, message.webhook_body(notice), notice.idempotency_key, notice.event, now
            )
        mail = message.email(
            notice, language=to.language, sender=self.notify.smtp_from, to=to.target, moment=now
        )
        return self._mail.send(self._signed(mail))

    def send_digest(self, to: Destination, gathered: digest.Digest, now: datetime) -> Outcome:
        """One message carrying every item of the digest, by the destination's channel."""
        if to.kind == "webhook":
            body = digest.webhook_body(gathered)
            return self._post(to, body, gathered.idempotency_key, digest.EVENT, now)
        mail = digest.email(
            gathered, language=to.language, sender=self.notify.smtp_from, to=to.target, moment=now
        )
        return self._mail.send(self._signed(mail))

    def _post(self, to: Destination, body: bytes, key: str, event: str, now: datetime) -> Outcome:
        if to.sealed_secret is None:
            return Outcome(False, None, "the webhook has no signing secret")
        secret = sealing.unseal(self._seal_key, to.sealed_secret, to.organisation_id)
        signed = webhook.headers(secret, int(now.timestamp()), body, key, event)
        return self._webhooks.send(to.target, body, signed)

    def _signed(self, mail: EmailMessage) -> EmailMessage:
        return mail if self._signer is None else self._signer.sign(mail)

    def close(self) -> None:
        self._webhooks.close()
