"""(f) Scanner and exploit-tool user agents; empty, generic and stale ones as weak signals.

The tool list is data (``monitoring/data/agents.txt``), matched case-insensitively as
substrings (CrowdSec missed ``Sqlmap`` written in other letter cases). A tool's user agent
alerts from ``agent_min_requests`` request(s). Weak signals — an empty agent, a generic HTTP
library or command-line client (curl, python-requests, Go's client…), a bare ``Mozilla/5.0``,
a browser many years old (``stale_chrome_below``, ``stale_firefox_below``, MSIE) — never alert
alone: legitimate scripts and old devices send them. They are returned as classes for the
low-and-slow detector, which alerts when they come with other suspicious behaviour.

Results are remembered per distinct user agent string (bounded). State: a request count per
address that sent a tool's agent (this detector's ``BoundedMap`` of ``max_clients`` when it
runs alone, the shared per-client state under ``DetectorSet``).
"""

from __future__ import annotations

import re
from importlib import resources

from sakimori.errors import ConfigurationError
from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.interface import BoundedMap, Detector
from sakimori.monitoring.record import Record

TOOL = "tool-agent"
WEAK = "generic-agent"
EMPTY = "empty-agent"
STALE = "stale-agent"
_CACHE_MAX = 16384
_BROWSER = re.compile(r"(chrome|firefox)/(\d+)\.|msie [1-9]\.", re.IGNORECASE)


class AgentRules:
    """The compiled rules of an ``agents.txt``-style text."""

    def __init__(self, text: str, *, stale_chrome_below: int, stale_firefox_below: int) -> None:
        tools: list[str] = []
        weak: list[str] = []
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            kind, _, token = line.partition(" ")
            token = token.strip()
            if kind not in {"tool", "weak"} or not token:
                raise ConfigurationError(f"agent rule {number} is not 'tool|weak <text>'")
            (tools if kind == "tool" else weak).append(re.escape(token.lower()))
        self._tool = re.compile("|".join(tools), re.IGNORECASE) if tools else None
        self._weak = re.compile("|".join(weak), re.IGNORECASE) if weak else None
        self._stale = {"chrome": stale_chrome_below, "firefox": stale_firefox_below}
        self._cache: dict[str, tuple[str, str]] = {}

    def classify(self, agent: str) -> tuple[str, str]:
        """(class, matched text) for an agent; class is "" when nothing is suspicious."""
        found = self._cache.get(agent)
        if found is None:
            found = self._classify(agent)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[agent] = found
        return found

    def _classify(self, agent: str) -> tuple[str, str]:
        text = agent.strip()
        if not text:
            return EMPTY, ""
        if self._tool is not None:
            match = self._tool.search(text)
            if match is not None:
                return TOOL, match.group(0)
        if self._weak is not None:
            match = self._weak.search(text)
            if match is not None:
                return WEAK, match.group(0)
        if text.lower() in {"mozilla/5.0", "mozilla/4.0", "mozilla"} or len(text) < 8:
            return WEAK, text
        browser = _BROWSER.search(text)
        if browser is not None:
            name, major = browser.group(1), browser.group(2)
            if name is None or int(major) < self._stale[name.lower()]:
                return STALE, browser.group(0)
        return "", ""


def default_rules(config: DetectorConfig) -> AgentRules:
    text = resources.files("sakimori.monitoring").joinpath("data/agents.txt").read_text("utf-8")
    return AgentRules(
        text,
        stale_chrome_below=config.stale_chrome_below,
        stale_firefox_below=config.stale_firefox_below,
    )


class AgentDetector(Detector):
    name = "http-tool-agent"

    def __init__(self, config: DetectorConfig, rules: AgentRules | None = None) -> None:
        super().__init__(config)
        self.rules = rules or default_rules(config)
        self._counts: BoundedMap[int] = BoundedMap(config.max_clients)

    def feed(self, record: Record) -> tuple[str, ...]:
        """The agent's class as a 1-tuple, or () (for the low-and-slow detector)."""
        self.sweep(record.ts)
        kind, matched = self.rules.classify(record.agent)
        if not kind:
            return ()
        if kind == TOOL:
            count = (self._counts.get(record.client) or 0) + 1
            self._counts.put(record.client, count)
            self.step(record, count, matched)
        return (kind,)

    def step(self, record: Record, count: int, matched: str) -> None:
        """Take the ``count``-th request of an address with a tool's agent (``matched``). The
        caller sweeps and keeps the count."""
        if count >= self.config.agent_min_requests:
            self.evidence(record.client, record, (_reason, matched))


def _reason(matched: str) -> str:
    return f"user agent of a scanning/exploit tool ({matched!r})"
