"""nginx / Apache access logs: the Common and Combined Log Formats and their usual variants.

One parser reads both formats (Combined is Common plus ``"referrer" "user agent"``)::

    127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "-" "curl/8"

It also accepts, on a slower second pattern tried only when the first fails:

- a leading virtual host (nginx ``$host $remote_addr …``, Apache ``%v %h …``), one extra
  field before the user (BunkerWeb's request id: ``example.com 1.2.3.4 - req01 - [ … ] …``), or
  a missing ident field (``1.2.3.4 - [ … ] …``);
- a syslog prefix, as when nginx logs to syslog: ``Sep 15 16:13:46 host nginx[2869]: 1.2.3.4 …``
  (the time is taken from the access log part, which has a year and an offset);
- escaped quotes inside the request, referrer and agent (``\\"``);
- any further fields after the user agent (``"$http_x_forwarded_for"`` and the like).

A request line that is not ``METHOD target [PROTOCOL]`` (TLS handshakes, binary garbage, ``-``)
is still a record: ``method`` is empty and ``path`` holds the raw request text, so detectors see
that the client sent something that is not HTTP.
"""

from __future__ import annotations

import re

from sakimori.monitoring.parsers import _time
from sakimori.monitoring.parsers.interface import LineParser, ParseResult, blank_or_none
from sakimori.monitoring.record import HTTP, Record

#: The common shape, with the request line split in the same match: ``METHOD target
#: [PROTOCOL]`` (what ``split_request`` accepts) into method, path and query, or else the raw text.
_FAST = re.compile(
    r"(\S+) \S+ (\S+) \[([^\]]+)\] "
    r'"(?:([A-Z][A-Z_-]{0,19}) (?=[^ "])([^ ?"]*)(?:\?([^ "]*))?(?: [^ "]*)?|([^"]*))" '
    r'(\d{3}|-) (\d+|-)(?: "([^"]*)" "([^"]*)")?'
)
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_VARIANT = re.compile(
    r"(?:(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) \S+ [\w./-]+(?:\[\d+\])?: )?"
    r"(?:(\S+) )?([0-9A-Fa-f:.]+|unix:\S*)((?: \S+){1,3}) \[([^\]]+)\] "
    + _QUOTED
    + r" (\d{3}|-) (\d+|-)(?: "
    + _QUOTED
    + " "
    + _QUOTED
    + ")?"
)
_METHOD = re.compile(r"[A-Z][A-Z_-]{0,19}\Z")
_clf_cache = _time.clf_cache()


def split_request(request: str) -> tuple[str, str, str]:
    """``GET /a?b=1 HTTP/1.1`` -> (method, raw path, raw query); malformed -> ("", request, "")."""
    parts = request.split(" ")
    if 2 <= len(parts) <= 3 and _METHOD.match(parts[0]) and parts[1]:
        path, _, query = parts[1].partition("?")
        return parts[0], path, query
    return "", request, ""


class CombinedParser(LineParser):
    """Common and Combined Log Format lines (see the module docstring for the variants)."""

    name = "combined"

    def parse(self, line: str, number: int) -> ParseResult:
        match = _FAST.match(line)
        if match is not None and (
            match.group(10) is not None or line[match.end() : match.end() + 2] != ' "'
        ):
            client, user, stamp, method, path, query, raw, status, size, referrer, agent = (
                match.groups()
            )
            if method is None:
                method, path, query = "", raw, ""
            elif query is None:
                query = ""
            moment = _clf_cache.get(stamp) or _time.clf(stamp)
            if moment is None:
                return None
            return Record(
                HTTP,
                moment[0],
                moment[1],
                client,
                method,
                path,
                query,
                0 if status == "-" else int(status),
                0 if size == "-" else int(size),
                "" if referrer is None or referrer == "-" else referrer,
                "" if agent is None or agent == "-" else agent,
                "",
                "" if user == "-" else user,
                "",
                number,
            )
        return self._variant(line, number)

    def _variant(self, line: str, number: int) -> ParseResult:
        match = _VARIANT.match(line)
        if match is None:
            return blank_or_none(line)
        vhost, client, fields, stamp, request, status, size, referrer, agent = match.groups()
        vhost = vhost or ""
        fields = fields.split()  # ident and user, perhaps one more field, perhaps only one
        user = fields[-1] if len(fields) > 1 else "-"
        moment = _time.clf(stamp)
        if moment is None:
            return None
        method, path, query = split_request(request)
        return Record(
            HTTP,
            moment[0],
            moment[1],
            client,
            method,
            path,
            query,
            0 if status == "-" else int(status),
            0 if size == "-" else int(size),
            "" if referrer is None or referrer == "-" else referrer,
            "" if agent is None or agent == "-" else agent,
            vhost,
            "" if user == "-" else user,
            "",
            number,
        )


class CommonParser(CombinedParser):
    """The Common Log Format: the same parser (referrer and agent are optional in both)."""

    name = "common"
