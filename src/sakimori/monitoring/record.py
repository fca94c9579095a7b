"""The normalised log record every parser produces and every detector reads.

A ``Record`` is a ``NamedTuple``: immutable, without a per-instance ``__dict__`` (``__slots__ =
()``), and built by ``tuple.__new__``. A frozen ``dataclass(slots=True)`` with the same fields
costs about eight times as much to construct (every field goes through ``object.__setattr__``);
at the 100,000 lines/s this package aims for, construction is a visible share of the budget.

Fields hold what the log line said, undecoded: ``path`` and ``query`` are the raw request target
split at the first ``?`` (URL-decoding is done lazily, only by the detectors that need it, and
only for records that look worth it). ``time`` is an aware datetime taken from the log, ``ts``
the same instant as POSIX seconds (what detectors compute windows with).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

HTTP = "http"
SSH = "ssh"

# Outcomes of an SSH authentication event.
SSH_FAILED = "failed"  # "Failed password for [invalid user] x from …"
SSH_INVALID_USER = "invalid user"  # "Invalid user x from …"
SSH_ACCEPTED = "accepted"  # "Accepted publickey for x from …"
SSH_PREAUTH_CLOSED = "closed preauth"  # "Connection closed by authenticating user x … [preauth]"
SSH_TOO_MANY = "too many failures"  # "maximum authentication attempts exceeded for …"

#: Outcomes that count as a failed authentication attempt.
SSH_FAILURES = frozenset({SSH_FAILED, SSH_INVALID_USER, SSH_PREAUTH_CLOSED, SSH_TOO_MANY})


class Record(NamedTuple):
    """One log event, normalised. HTTP fields are empty for SSH records and vice versa."""

    kind: str  # HTTP or SSH
    time: datetime  # aware, from the log
    ts: float  # ``time`` as POSIX seconds
    client: str  # the client's address, as logged
    method: str = ""
    path: str = ""  # raw (not decoded) request path; the raw request line when malformed
    query: str = ""  # raw query string without the "?"; "" when there is none
    status: int = 0  # 0 when the log has none
    bytes: int = 0
    referrer: str = ""
    agent: str = ""  # user agent; "" when empty or "-"
    host: str = ""  # virtual host, when the log names one
    user: str = ""  # SSH user (or HTTP authenticated user)
    outcome: str = ""  # SSH outcome, one of the SSH_* constants
    line: int = 0  # 1-based line number in its source
