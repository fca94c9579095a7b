"""Notifications of counter-measure packages: webhooks and e-mail.

Pure (no I/O): :mod:`~sakimori.notify.message` (what a notification says, its idempotency
key, the webhook body and the e-mail in Japanese and English), :mod:`~sakimori.notify.webhook`
(HMAC-SHA256 signing and verification), :mod:`~sakimori.notify.filters` (an endpoint's
filters), :mod:`~sakimori.notify.backoff` (the retry schedule), :mod:`~sakimori.notify.sealing`
(webhook secrets encrypted at rest), :mod:`~sakimori.notify.digest` (which notifications are
low priority, and the digest that gathers them), :mod:`~sakimori.notify.signing` (S/MIME
signatures of e-mails) and :mod:`~sakimori.notify.settings`.

The senders do the I/O: :mod:`~sakimori.notify.webhook_sender` (httpx) and
:mod:`~sakimori.notify.smtp_sender` (smtplib), both behind
:mod:`~sakimori.notify.channels`. ``sakimori.services.notifications`` decides who
gets what under TLP, writes the deliveries and runs them through the job queue.
docs/notifications.md describes the guarantees.
"""
