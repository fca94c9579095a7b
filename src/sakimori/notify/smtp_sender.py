"""Sends notification e-mails over SMTP (the standard library's smtplib).

One connection per message, STARTTLS and a login when configured. A refusal or a dropped
connection is a failed attempt (the caller retries); without an SMTP server configured every
e-mail attempt fails with that reason, so the deliveries wait in the dead-letter list until an
administrator configures one and retries them.

The message arrives here signed already, when a key is configured (``notify.signing``).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from sakimori.notify.interface import Outcome
from sakimori.notify.settings import NotifySettings


class SmtpSender:
    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    def send(self, message: EmailMessage) -> Outcome:
        s = self.settings
        if not s.smtp_host:
            return Outcome(False, None, "no SMTP server configured (SAKIMORI_SMTP_HOST)")
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout) as client:
                if s.smtp_starttls:
                    client.starttls(context=ssl.create_default_context())
                if s.smtp_user and s.smtp_password:
                    client.login(s.smtp_user, s.smtp_password)
                refused = client.send_message(message)
        except smtplib.SMTPResponseException as exc:
            return Outcome(False, exc.smtp_code, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:300])
        except smtplib.SMTPRecipientsRefused as exc:
            return Outcome(False, None, f"recipient refused: {sorted(exc.recipients)}"[:300])
        except (smtplib.SMTPException, OSError) as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:300])
        if refused:
            return Outcome(False, None, f"recipient refused: {sorted(refused)}"[:300])
        return Outcome(True, 250)
