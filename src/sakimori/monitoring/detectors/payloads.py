"""(e) Attack payloads in the request: SQL injection, XSS, template injection, path traversal,
command injection, JNDI (log4shell), SSRF and remote file inclusion — and open-proxy probes
(``CONNECT``, or an absolute URI asked of an origin server).

The raw path and query are decoded repeatedly (``%252e`` → ``%2e`` → ``.``; up to
``payload_decode_passes`` times; overlong UTF-8 and IIS ``%u`` encodings of dot, slash and
backslash such as ``%c0%af`` and ``%u2215`` read as the character), lowercased, and normalised
(``+`` and runs of white space and SQL comments become one space, backslashes become slashes,
``${lower:j}``-style lookups of log4j collapse to their letter) before the class patterns are
searched. The user agent and the referrer are checked for JNDI and template payloads (log4shell
travelled in headers).

Cheap first: a request is decoded only when its raw text holds a character or word some class
needs (most requests hold none), and results are remembered per distinct request target.

One request with a payload is an attack attempt: an alert from ``payload_min_hits`` requests
(default 1), per address, naming the classes seen. The patterns aim at shapes no benign
request has (``union … select``, ``../`` climbing, ``<script``, ``${jndi:``), not at single
words.

State: none per client beyond the open alerts (each alert holds its counts and examples).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.interface import Detector
from sakimori.monitoring.record import Record

CLASSES = ("sqli", "xss", "ssti", "traversal", "cmdi", "jndi", "ssrf", "rfi", "proxy")

#: A superset of what every class needs: a request without any of these has no payload.
_WORTH = re.compile(
    r"[%<>'\"();|`$\\{+]|\.\.|&&|__|@@|://|/etc/|/bin/|proc/self|c:/|win\.ini|boot\.ini|select"
    r"|union|sleep|script|passwd|information_schema|null|benchmark|waitfor|xp_|document\."
    r"|metadata|winnt|sp_|utl_",
    re.IGNORECASE,
)
_PATTERNS: dict[str, re.Pattern[str]] = {
    "jndi": re.compile(r"\$\{\s*jndi\s*:|jndi:(?:ldaps?|rmi|dns|iiop|corba|nds|nis|https?)://"),
    "sqli": re.compile(
        r"union(?: (?:all|distinct))? select\b|information_schema|\b(?:pg_)?sleep ?\( ?\d"
        r"|\b(?:benchmark|load_file|extractvalue|updatexml|dbms_pipe\.receive_message"
        r"|utl_inaddr\.get_host_address|pg_sleep|waitfor) ?\(|waitfor delay '"
        r"|\b(?:or|and) \(*['\"]?(\w*(?:\(\))?)['\"]? ?= ?['\"]?\1(?!\w)|['\"] ?(?:or|and) ['\"]?\d"
        r"|\b(?:and|or) \d+ ?(?:=|<>|!=|<|>) ?\d+\b|['\"]\)* ?(?:or|and) \w+ like ['\"]"
        r"|['\"]\)* ?(?:and|or)? ?\(+ ?select\b|\b(?:xp|sp)_(?:cmdshell|password|executesql"
        r"|oacreate|makewebtask|regread|configure)\b|\butl_(?:http|inaddr|file)\b"
        r"|['\"\d] ?(?:--|#)|; ?(?:drop|select|insert|update|delete|shutdown|exec)\b"
        r"|@@version|\bchar ?\( ?\d|\bchr ?\( ?\d|\|\| ?chr ?\(|\bconcat(?:_ws)? ?\(.*select"
        r"|(?:^|[=,(]) ?null ?, ?null\b|, ?null ?(?:--|#|$)|\border by \d+ ?(?:--|#)"
        r"|xp_cmdshell|\bsubstr(?:ing)? ?\(.*select|\bselect .{0,80}\bfrom\b.{0,40}(?:--|#)"
    ),
    "xss": re.compile(
        r"<\s*/?\s*(?:script|img|svg|iframe|body|input|object|embed|style|meta|link|a|div|p|br"
        r"|table|frameset|frame|form|details|video|audio|marquee|base|math|isindex|textarea)\b"
        r"|javascript:|vbscript:|\bon(?:error|load|mouseover|focus|click|toggle|begin|start"
        r"|animationstart|pointerover) ?=|[ \"'/]on[a-z]{4,24} ?= ?[\"'`]?[\w\[(`]"
        r"|\b(?:alert|prompt|confirm) ?[(`]|\b(?:window|top|self|parent|globalthis)\[ ?['\"`]"
        r"|document\.(?:cookie|domain)|<!--|\bsrcdoc ?=|\bfromcharcode\b"
    ),
    "ssti": re.compile(
        r"\{\{.{0,80}?\}\}|\{%.{0,80}?%\}|\$\{[^}]{0,80}\}|#\{[^}]{0,80}\}|<%=|__class__"
        r"|__globals__|__builtins__|__subclasses__|\bt\(java\.lang"
    ),
    "traversal": re.compile(
        r"(?:^|[/=])\.{2,}(?:/|$)|::\$data\b|(?:^|[/=:])(?:etc/(?:passwd|shadow|group|hosts|issue"
        r"|services|hostname|motd|fstab|crontab|resolv\.conf|sudoers|os-release|ssh/|mysql/"
        r"|nginx/|apache2?/|httpd/)|[a-z]:/(?:windows|winnt|inetpub|boot\.ini)|winnt/"
        r"|proc/self/(?:environ|cmdline|fd)|windows/(?:win\.ini|system32)|win\.ini|boot\.ini"
        r"|c:/windows)"
    ),
    "cmdi": re.compile(
        r"(?:[;|`]|\$\(|&&) ?(?:id|whoami|uname|cat|ls|wget|curl|bash|sh|nc|ncat|ping|sleep"
        r"|echo|rm|chmod|python3?|perl|php|powershell|cmd|busybox|tftp|nslookup|ifconfig|env"
        r"|printenv|hostname|netstat|ipconfig|systeminfo|net user)\b|\bping -[nc] ?\d"
        r"|(?:[;'\"]|['\"]\.) ?(?:exit|die|eval|system|passthru|shell_exec|exec|popen|proc_open"
        r"|phpinfo|assert)\(|pd9wahag"
        r"|/bin/(?:ba|z|k|da)?sh\b|\$\{ifs\}|\bcmd\.exe\b|\bpowershell(?:\.exe)? -|\| ?sh\b"
    ),
    "ssrf": re.compile(
        r"(?:gopher|dict|file|tftp|jar|netdoc|phar|expect|php)://|169\.254\.169\.254"
        r"|metadata\.google\.internal|100\.100\.100\.200|https?://(?:localhost|127\.\d+\.\d+\.\d+"
        r"|0\.0\.0\.0|\[::1?\]|0x7f|2130706433|10\.\d+\.\d+\.\d+|192\.168\.\d+\.\d+"
        r"|172\.(?:1[6-9]|2\d|3[01])\.\d+\.\d+)"
    ),
    "rfi": re.compile(r"=(?:https?|ftp)://[^&\s]+?\.(?:txt|php|jpg|gif|png)\?+(?:&|$)"),
}
#: Overlong UTF-8 and IIS ``%u`` encodings of dot, slash and backslash (old traversal evasions
#: that ``unquote`` would turn into replacement characters).
_OVERLONG = re.compile(
    r"%(?:c0%(?:ae|2e)|e0%80%ae|u002e|uff0e)|%(?:c0%(?:af|5c)|c1%(?:9c|1c|af)|e0%80%af|u2215"
    r"|u2216|u002f|u005c|uefc8|uf025)",
    re.IGNORECASE,
)
_LOOKUP = re.compile(r"\$\{(?:lower:|upper:|::-|env:[^:}]*:-|date:'?)([^}]?)'?\}")
_SPACES = re.compile(r"(?:\s|/\*.*?\*/)+")
_CACHE_MAX = 65536


def _overlong(match: re.Match[str]) -> str:
    code = match.group(0).lower()
    return "." if code.endswith(("ae", "2e", "u002e", "uff0e")) else "/"


def normalise(text: str, passes: int = 4, *, plus: bool = False) -> str:
    """Decode percent-escapes repeatedly, lowercase, and normalise separators and comments."""
    for _ in range(passes):
        if "%" not in text and not (plus and "+" in text):
            break
        if "%c" in text or "%e" in text or "%u" in text or "%C" in text or "%E" in text:
            text = _OVERLONG.sub(_overlong, text)
        decoded = unquote_plus(text) if plus else unquote(text)
        if decoded == text:
            break
        text = decoded
    text = text.lower().replace("\\", "/").replace("\x00", "")
    if "${" in text:
        for _ in range(8):
            collapsed = _LOOKUP.sub(r"\1", text)
            if collapsed == text:
                break
            text = collapsed
    return _SPACES.sub(" ", text)


def classify(text: str) -> tuple[str, ...]:
    """The payload classes found in already normalised text."""
    found = tuple(name for name, pattern in _PATTERNS.items() if pattern.search(text))
    if "jndi" in found and "ssti" in found:  # ${jndi:…} is JNDI, not a template
        found = tuple(name for name in found if name != "ssti")
    return found


def _reason(found: tuple[str, ...]) -> str:
    return f"payload in request: {', '.join(found)}"


def _header_worth(header: str) -> bool:
    """Whether a header may carry a JNDI or template payload (``${``, ``{{``, ``%24%7b``)."""
    return "${" in header or "{{" in header or ("%" in header and "%24%7b" in header.lower())


class PayloadDetector(Detector):
    name = "http-payload"

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._cache: dict[tuple[str, str], tuple[str, ...]] = {}
        self._header_cache: dict[str, tuple[str, ...]] = {}
        self._hits: dict[str, int] = {}

    def target_classes(self, path: str, query: str) -> tuple[str, ...]:
        """The payload classes of a raw request target, without cache."""
        if _WORTH.search(path) or (query and _WORTH.search(query)):
            passes = self.config.payload_decode_passes
            text = normalise(path, passes)
            if query:
                text = f"{text}?{normalise(query, passes, plus=True)}"
            return classify(text)
        return ()

    def inspect(self, record: Record) -> tuple[str, ...]:
        """The payload classes of one request (target, user agent, referrer)."""
        key = (record.path, record.query)
        found = self._cache.get(key)
        if found is None:
            found = self.target_classes(record.path, record.query)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[key] = found
        return self.complete(record, found)

    def complete(self, record: Record, found: tuple[str, ...]) -> tuple[str, ...]:
        """``found`` (the target's classes) with what the method, the user agent and the
        referrer add."""
        if record.method == "CONNECT" or record.path.startswith(("http://", "https://")):
            found += ("proxy",)  # an origin server is asked to act as a proxy
        agent = record.agent
        if agent and _header_worth(agent):
            found = self._with_header(found, agent)
        referrer = record.referrer
        if referrer and _header_worth(referrer):
            found = self._with_header(found, referrer)
        return found

    def _with_header(self, found: tuple[str, ...], header: str) -> tuple[str, ...]:
        extra = self._header_cache.get(header)
        if extra is None:
            extra = tuple(c for c in classify(normalise(header)) if c in {"jndi", "ssti"})
            if len(self._header_cache) >= _CACHE_MAX:
                self._header_cache.clear()
            self._header_cache[header] = extra
        if extra:
            found = tuple(dict.fromkeys(found + extra))
        return found

    def feed(self, record: Record) -> tuple[str, ...]:
        """The payload classes of this request (for the low-and-slow detector)."""
        self.sweep(record.ts)
        found = self.inspect(record)
        if found:
            self.step(record, found)
        return found

    def step(self, record: Record, found: tuple[str, ...]) -> None:
        """Take one request carrying the (non-empty) payload classes ``found``. The caller
        sweeps."""
        reason = (_reason, found)
        if self.config.payload_min_hits <= 1:
            self.evidence(record.client, record, reason)
        else:
            hits = self._hits.get(record.client, 0) + 1
            if len(self._hits) >= self.config.max_clients:
                self._hits.clear()
            self._hits[record.client] = hits
            if hits >= self.config.payload_min_hits:
                self.evidence(record.client, record, reason)
