"""Both channels behind one call: render, sign and send one notice to one destination.

Webhooks: the body (``message.webhook_body``) signed with the endpoint's secret, opened from
its sealed form with the key derived from the server key (``sealing``). E-mail: the message
(``message.email``) in the destination's language. The senders never raise for a failed
delivery; they report an :class:`~sakimori.notify.interface.Outcome`. A worker thread keeps
one ``Channels`` (the HTTP client pools its connections).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sakimori.notify import message, sealing, webhook
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

    def send(self, to: Destination, notice: message.Notice, now: datetime) -> Outcome:
        if to.kind == "webhook":
            if to.sealed_secret is None:
                return Outcome(False, None, "the webhook has no signing secret")
            secret = sealing.unseal(self._seal_key, to.sealed_secret, to.organisation_id)
            body = message.webhook_body(notice)
            signed = webhook.headers(
                secret, int(now.timestamp()), body, notice.idempotency_key, notice.event
            )
            return self._webhooks.send(to.target, body, signed)
        mail = message.email(
            notice, language=to.language, sender=self.notify.smtp_from, to=to.target, moment=now
        )
        return self._mail.send(mail)

    def close(self) -> None:
        self._webhooks.close()
