"""Where each Sigma web-server field is in a ``Record``.

Sigma's ``webserver`` log source names its fields after the W3C extended log format
(``cs-uri-query``, ``sc-status``…). Each maps to one *field key* of ours; the engine reads a
key's value from a record once per record and caches what the rules make of each distinct
value.

``cs-uri-query`` is the one field whose meaning is not what its W3C name says. In the SigmaHQ
web rules it holds the request target with its path: most of them look for paths in it
(``cs-uri-query|contains: '/cgi-bin/.%2e/'``, ``cs-uri-query: '/ui/vropspluginui/rest/…'``),
and only a few read it as the query string alone. We map it to the whole raw target
(``path?query``), which is what those rules were written against; ``cs-uri-stem`` is the path
alone. Values are raw, as logged (not URL-decoded): the rules list the encoded forms they want
(``%24%7bjndi:`` beside ``${jndi:``).

Keywords (values without a field) match when they match any of ``KEYWORD_KEYS`` — the text
fields of the request, as a full-text search over the log line would find them.

A field the log does not carry is empty (``""``, status ``0``), and empty is Sigma's ``null``:
the record cannot tell a missing field from an empty one (nor a ``-`` byte count from 0).
"""

from __future__ import annotations

from collections.abc import Callable

#: Sigma field name (lowercase) -> our field key.
FIELDS: dict[str, str] = {
    "c-ip": "client",
    "cs-method": "method",
    "cs-uri-query": "target",
    "cs-uri": "target",
    "cs-uri-stem": "path",
    "sc-status": "status",
    "sc-bytes": "bytes",
    "cs-user-agent": "agent",
    "cs-useragent": "agent",
    "cs-referer": "referrer",
    "cs-referrer": "referrer",
    "cs-host": "host",
    "cs-username": "user",
}

#: Field keys a keyword is searched in.
KEYWORD_KEYS = ("client", "method", "target", "status", "referrer", "agent", "host", "user")

#: Field keys whose values are numbers (Sigma numbers compare numerically against them).
NUMERIC_KEYS = frozenset({"status", "bytes"})

#: Field keys with few distinct values (a leaf on them says little about a request).
COMMON_KEYS = frozenset({"method", "status", "bytes"})


def _target(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def _number(value: int) -> str:
    return str(value) if value else ""


#: Field key -> (the ``Record`` attributes it is made of, its text from their values).
ACCESS: dict[str, tuple[tuple[str, ...], Callable[..., str]]] = {
    "client": (("client",), str),
    "method": (("method",), str),
    "target": (("path", "query"), _target),
    "path": (("path",), str),
    "status": (("status",), _number),
    "bytes": (("bytes",), _number),
    "agent": (("agent",), str),
    "referrer": (("referrer",), str),
    "host": (("host",), str),
    "user": (("user",), str),
}

#: Attributes read together, with one cache lookup per group and record: the address (many
#: distinct values), the request target, and the rest (few distinct combinations).
GROUPS = (
    ("client",),
    ("path", "query"),
    ("method", "status", "bytes", "host", "user", "referrer", "agent"),
)


def field_key(name: str) -> str | None:
    """Our key for a Sigma field name (case-insensitive); ``None`` when we have no such field."""
    return FIELDS.get(name.lower())
