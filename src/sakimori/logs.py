"""Log records that say which request or job they belong to, and the JSON form of a log line.

Library code logs with ``logging.getLogger(__name__)`` as usual; the API's middleware sets
:data:`REQUEST_ID` for the time of a request (and the worker sets :data:`JOB_ID` for the time of
a job), and :class:`ContextFilter` copies them onto every record logged meanwhile — from the
route, the services, or a thread the request runs in. Entry points choose the output:
:func:`configure` with ``json=True`` writes one JSON object a line (for a log shipper), else the
usual text line.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Final

#: The id of the HTTP request being served (the ``X-Request-ID`` answered), if any.
REQUEST_ID: Final[ContextVar[str | None]] = ContextVar("sakimori_request_id", default=None)
#: The id of the job being run by a worker, if any (set by the job runner).
JOB_ID: Final[ContextVar[str | None]] = ContextVar("sakimori_job_id", default=None)

#: Attributes a record may carry (``extra=``) that the JSON line keeps as fields.
FIELDS: Final = (
    "request_id",
    "job_id",
    "method",
    "path",
    "route",
    "status",
    "duration_ms",
    "user",
)

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``job_id`` from the context to records that do not set them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        if getattr(record, "job_id", None) is None:
            record.job_id = JOB_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and the fields of
    :data:`FIELDS` the record has. Never the arguments of a message beyond its text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(*, json_lines: bool, level: int = logging.INFO) -> None:
    """Send every log record to standard error, as JSON lines or text, with the context ids.

    Replaces the root logger's handlers (an entry point calls this once, after any earlier
    ``basicConfig``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
