"""Detectors over normalised records, one module per family, and ``DetectorSet`` running all.

=========================  ============================================================  =======
alert name                 what                                                          module
=========================  ============================================================  =======
http-rate                  non-static requests over a leaky-bucket rate                  rate
http-regular-timing        non-static requests at machine-regular intervals              rate
http-breadth               many distinct non-static paths answered 3xx/4xx               breadth
http-no-assets             many pages, never a CSS/JS/image/font                         assets
http-sensitive-paths       secrets, backups, admin, technology, shells, CVE URIs         paths
http-payload               SQLi, XSS, SSTI, traversal, command injection, JNDI, SSRF     payloads
http-tool-agent            a scanning or exploit tool's user agent                       agents
http-low-and-slow          several different suspicious classes from one address         slow
ssh-bruteforce             SSH failures over a leaky-bucket rate                         ssh
ssh-slow-bruteforce        the same, paced slowly                                        ssh
ssh-spray                  SSH failures for many distinct users                          ssh
http-auth-bruteforce       failed HTTP logins (401, refused or retried form posts) fast  auth
http-auth-slow-bruteforce  the same, paced slowly                                        auth
http-auth-spray            failed HTTP logins for many distinct user names               auth
http-auth-distributed      many addresses failing on one login path, without Referer     auth
http-user-enum             many distinct values of a user parameter on one path          auth
sigma                      requests matching Sigma rules (passed in as ``extra``)        ../sigma
=========================  ============================================================  =======
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from sakimori.monitoring.detectors.agents import TOOL, AgentDetector
from sakimori.monitoring.detectors.assets import AssetsDetector, _Pages
from sakimori.monitoring.detectors.auth import AuthDetector, credentials_in, might_enumerate
from sakimori.monitoring.detectors.breadth import BreadthDetector, _Window
from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.features import is_static
from sakimori.monitoring.detectors.interface import Alert, Detector
from sakimori.monitoring.detectors.paths import PathsDetector, _Probe
from sakimori.monitoring.detectors.payloads import PayloadDetector, _header_worth
from sakimori.monitoring.detectors.rate import Pace, RateDetector
from sakimori.monitoring.detectors.slow import LowAndSlowDetector, _Classes
from sakimori.monitoring.detectors.ssh import SshDetector
from sakimori.monitoring.record import HTTP, Record

__all__ = ["Alert", "DetectorConfig", "DetectorSet"]

MALFORMED = "not-http"
#: Distinct request targets and user agents whose classification is remembered; each cache is
#: emptied when full (cheaper per hit than LRU order, and real logs refill the hot entries at
#: once).
_CACHE_MAX = 65536
#: User agents per address whose no-sub-resources state is kept (the first one, and this many
#: more, oldest dropped first): bounds an address that rotates its agent on every request.
_MAX_AGENTS = 16
_ABSOLUTE = ("http://", "https://")

#: A request target's classification: static asset?, path categories, payload classes, and
#: what the query may mean to the authentication detector (``CREDENTIALS``, ``USER_PARAMETER``).
Kinds = tuple[bool, frozenset[str], tuple[str, ...], int]
CREDENTIALS = 1  # a password parameter: a login attempt, whatever the method
USER_PARAMETER = 2  # a user-identifying parameter on a non-static path: enumeration
#: A user agent's classification: class ("" for none), matched text, may carry a payload?
AgentKinds = tuple[str, str, bool]


class _Client:
    """Everything the HTTP detectors keep about one address (one map lookup per request)."""

    __slots__ = ("agent", "breadth", "classes", "more_pages", "pace", "pages", "probe", "tools")

    def __init__(self) -> None:
        self.pace: Pace | None = None  # rate and timing
        self.breadth: _Window | None = None
        self.agent = ""  # the first user agent seen, whose no-assets state is ``pages``
        self.pages: _Pages | None = None
        self.more_pages: dict[str, _Pages] | None = None  # other agents' no-assets states
        self.probe: _Probe | None = None  # sensitive paths
        self.tools = 0  # requests with a tool's user agent
        self.classes: _Classes | None = None  # low and slow


class DetectorSet:
    """Every detector, fed each record once; the signal detectors' classes go to low-and-slow.

    The detectors' per-address state lives in one bounded map of ``max_clients`` addresses (the
    least recently seen goes first, all its state at once), and each request is classified once
    — static or not, path categories, payload classes, user-agent class — with the results
    remembered per distinct request target and user agent. Each detector then takes only the
    requests it needs (``step``), and sweeps its idle alerts exactly when it would alone.
    """

    def __init__(
        self, config: DetectorConfig | None = None, extra: Sequence[Detector] = ()
    ) -> None:
        """``extra``: more detectors fed every HTTP request as it is (e.g. ``sigma``)."""
        self.config = config = config or DetectorConfig()
        self.rate = RateDetector(config)
        self.breadth = BreadthDetector(config)
        self.assets = AssetsDetector(config)
        self.paths = PathsDetector(config)
        self.payloads = PayloadDetector(config)
        self.agents = AgentDetector(config)
        self.slow = LowAndSlowDetector(config)
        self.ssh = SshDetector(config)
        self.auth = AuthDetector(config)
        self.all: tuple[Detector, ...] = (
            self.rate,
            self.breadth,
            self.assets,
            self.paths,
            self.payloads,
            self.agents,
            self.slow,
            self.ssh,
            self.auth,
            *extra,
        )
        self._extra = tuple(extra)
        self._clients: OrderedDict[str, _Client] = OrderedDict()
        self._max_clients = max(1, config.max_clients)
        self._kinds: dict[tuple[str, str], Kinds] = {}
        self._agent_kinds: dict[str, AgentKinds] = {}
        # Detectors fed every HTTP request, and those fed only non-static ones, sweep together.
        self._every: tuple[Detector, ...] = (
            self.assets,
            self.paths,
            self.payloads,
            self.agents,
            self.auth,
        )
        self._pages: tuple[Detector, ...] = (self.rate, self.breadth)

    def __len__(self) -> int:
        """Addresses whose HTTP state is kept."""
        return len(self._clients)

    def feed(self, record: Record) -> None:
        if record.kind != HTTP:
            self.ssh.feed(record)
            return
        for detector in self._extra:
            detector.feed(record)
        ts = record.ts
        path = record.path
        kinds = self._kinds.get((path, record.query))
        if kinds is None:
            kinds = self._classify(path, record.query)
        static, categories, found, auth = kinds
        agent = record.agent
        agent_kinds = self._agent_kinds.get(agent)
        if agent_kinds is None:
            agent_kinds = self._classify_agent(agent)

        client = record.client
        clients = self._clients
        state = clients.get(client)
        if state is None:
            state = clients[client] = _Client()
            if len(clients) > self._max_clients:
                clients.popitem(last=False)
        else:
            clients.move_to_end(client)

        if ts >= self.assets._next_sweep:
            for detector in self._every:
                detector.sweep(ts)
        if not static:
            if ts >= self.rate._next_sweep:
                for detector in self._pages:
                    detector.sweep(ts)
            state.pace = self.rate.step(record, state.pace)
            state.breadth = self.breadth.step(record, state.breadth)

        pages = state.pages
        if pages is None:
            state.agent = agent
            state.pages = self.assets.step(record, None, static)
        elif agent == state.agent:
            state.pages = self.assets.step(record, pages, static)
        else:
            self._other_agent(record, state, agent, static)

        classes: tuple[str, ...] = ()
        method = record.method
        if categories:
            state.probe, classes = self.paths.step(record, state.probe, categories)
        if (
            agent_kinds[2]
            or method == "CONNECT"
            or path.startswith(_ABSOLUTE)
            or (
                ("{" in record.referrer or "%" in record.referrer)
                and _header_worth(record.referrer)
            )
        ):
            found = self.payloads.complete(record, found)
        if found:
            self.payloads.step(record, found)
            classes += found
        kind = agent_kinds[0]
        if kind:
            if kind == TOOL:
                state.tools += 1
                self.agents.step(record, state.tools, agent_kinds[1])
            classes += (kind,)
        if method == "POST" or auth & CREDENTIALS or record.status == 401:
            self.auth.step(record)
        if auth & USER_PARAMETER:
            self.auth.enumerate(record)
        if not method and not path.startswith("/"):  # not an HTTP request line
            classes += (MALFORMED,)
        if classes:
            slow = self.slow
            if ts >= slow._next_sweep:
                slow.sweep(ts)
            state.classes = slow.step(record, state.classes, classes)

    def _classify(self, path: str, query: str) -> Kinds:
        static = is_static(path)
        auth = 0
        if query:
            if credentials_in(query):
                auth |= CREDENTIALS
            if not static and might_enumerate(query):
                auth |= USER_PARAMETER
        kinds = (
            static,
            self.paths.rules.match(path, query),
            self.payloads.target_classes(path, query),
            auth,
        )
        if len(self._kinds) >= _CACHE_MAX:
            self._kinds.clear()
        self._kinds[(path, query)] = kinds
        return kinds

    def _classify_agent(self, agent: str) -> AgentKinds:
        kind, matched = self.agents.rules.classify(agent)
        kinds = (kind, matched, bool(agent) and _header_worth(agent))
        if len(self._agent_kinds) >= _CACHE_MAX:
            self._agent_kinds.clear()
        self._agent_kinds[agent] = kinds
        return kinds

    def _other_agent(self, record: Record, state: _Client, agent: str, static: bool) -> None:
        more = state.more_pages
        if more is None:
            more = state.more_pages = {}
        pages = more.get(agent)
        new = self.assets.step(record, pages, static)
        if new is not pages:
            if pages is None and len(more) >= _MAX_AGENTS:
                del more[next(iter(more))]
            more[agent] = new

    def take(self) -> list[Alert]:
        """Alerts closed so far."""
        return [alert for detector in self.all for alert in detector.take()]

    def flush(self) -> list[Alert]:
        """Close everything; every alert not yet taken, in order of first sighting."""
        alerts = [alert for detector in self.all for alert in detector.flush()]
        return sorted(alerts, key=lambda a: (a.first_seen, a.client, a.detector))
