"""What a sender reports for one attempt (the senders never raise for a failed delivery)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    #: The HTTP status (webhooks) or SMTP reply code, when the server answered.
    status: int | None = None
    #: Why it failed, for the dead-letter list (never holds a secret).
    error: str | None = None
