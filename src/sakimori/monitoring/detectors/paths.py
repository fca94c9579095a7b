"""(d) Sensitive, admin, backdoor, technology and CVE paths.

The rules are data (``monitoring/data/paths.txt``): each names a category — ``secrets``,
``backup``, ``admin``, ``technology``, ``wordpress``, ``backdoor``, ``scanner``, ``exploit`` —
and how it matches the lowercased path (a segment equal to or starting with a name, an
extension, a whole-path prefix, or a regular expression the last segment matches). A
percent-encoded path is matched as logged and, failing that, once decoded.

Per address, within ``paths_window`` seconds, each *distinct* matching path adds its category's
weight (``weight_*`` in the config); an alert when the sum reaches ``paths_score``. So one URI
of a known exploit, a web shell or a scanner signature alerts at once; two secrets or backups
do; admin consoles, technology fingerprints and WordPress internals need three or four, and
count only when the site answered anything but 2xx/3xx (a site that has a WordPress admin
answers its own admins with 200s; a scanner probing for one gets 404s).

State: per address (this detector's ``BoundedMap`` of ``max_clients`` when it runs alone, the
shared per-client state under ``DetectorSet``), created at the first matching request;
each holds the distinct matching paths seen (at most 64), the score and the examples.
"""

from __future__ import annotations

import re
from collections import defaultdict
from importlib import resources
from urllib.parse import unquote

from sakimori.errors import ConfigurationError
from sakimori.monitoring.detectors.config import DetectorConfig
from sakimori.monitoring.detectors.interface import BoundedMap, Detector, example
from sakimori.monitoring.record import Record

CATEGORIES = (
    "secrets", "backup", "admin", "technology", "wordpress", "backdoor", "scanner", "exploit"
)  # fmt: skip
#: Categories that count only when the answer was not a success (2xx) or redirect (3xx).
GATED = frozenset({"admin", "technology", "wordpress"})
_MAX_PATHS = 64
#: Distinct (path, query) classifications remembered; cleared when full.
_CACHE_MAX = 65536


class PathRules:
    """The compiled rules of a ``paths.txt``-style text."""

    def __init__(self, text: str) -> None:
        names: dict[str, set[str]] = defaultdict(set)
        prefixes: dict[str, set[str]] = defaultdict(set)
        extensions: dict[str, set[str]] = defaultdict(set)
        paths: dict[str, set[str]] = defaultdict(set)
        regexes: dict[str, list[str]] = defaultdict(list)
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) != 3 or parts[0] not in CATEGORIES:
                raise ConfigurationError(f"path rule {number} is not '<category> <kind> <pattern>'")
            category, kind, pattern = parts
            table = {
                "name": names, "prefix": prefixes, "ext": extensions, "path": paths
            }.get(kind)  # fmt: skip
            if table is not None:
                table[pattern.lower()].add(category)
            elif kind == "file":
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ConfigurationError(f"path rule {number}: bad regex: {exc}") from None
                regexes[category].append(pattern)
            else:
                raise ConfigurationError(f"path rule {number}: unknown kind {kind!r}")
        self.names = {k: tuple(sorted(v)) for k, v in names.items()}
        self.prefixes = {k: tuple(sorted(v)) for k, v in prefixes.items()}
        self.extensions = {k: tuple(sorted(v)) for k, v in extensions.items()}
        self.paths = {k: tuple(sorted(v)) for k, v in paths.items()}
        # Candidates by first character (by second for whole paths, which all start with "/"):
        # ``str.startswith(tuple)`` costs in proportion to the tuple, and most segments of
        # ordinary paths then face no candidate at all.
        self._prefix_keys = _by_char(self.prefixes, 0)
        self._extension_keys = tuple(self.extensions)
        self._path_keys = _by_char(self.paths, 1)
        self._cache: dict[tuple[str, str], frozenset[str]] = {}
        self._regex = (
            re.compile("|".join(f"(?P<{c}>{'|'.join(p)})" for c, p in regexes.items()))
            if regexes
            else None
        )

    def classify(self, path: str, query: str = "") -> frozenset[str]:
        """The categories the raw path (and, for whole-path rules, the query) falls in."""
        key = (path, query)
        found = self._cache.get(key)
        if found is None:
            found = self.match(path, query)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[key] = found
        return found

    def match(self, path: str, query: str = "") -> frozenset[str]:
        """``classify`` without its cache (for callers that cache the result themselves)."""
        lower = path.lower()
        found = self._match(lower, query)
        if not found and "%" in lower:
            found = self._match(unquote(lower), query)
        return found

    def _match(self, lower: str, query: str) -> frozenset[str]:
        found: set[str] = set()
        names = self.names
        by_first = self._prefix_keys
        segments = lower.split("/")
        for segment in segments:
            if segment in names:
                found.update(names[segment])
            candidates = by_first.get(segment[:1])
            if candidates is not None and segment.startswith(candidates):
                for prefix in candidates:
                    if segment.startswith(prefix):
                        found.update(self.prefixes[prefix])
        last = segments[-1]
        if "." in last or "~" in last:
            if last.endswith(self._extension_keys):
                for extension in self._extension_keys:
                    if last.endswith(extension):
                        found.update(self.extensions[extension])
            if self._regex is not None:
                match = self._regex.fullmatch(last)
                if match is not None and match.lastgroup:
                    found.add(match.lastgroup)
        target = f"{lower}?{query.lower()}" if query else lower
        candidates = self._path_keys.get(target[1:2])
        if candidates is not None and target.startswith(candidates):
            for prefix in candidates:
                if target.startswith(prefix):
                    found.update(self.paths[prefix])
        return frozenset(found)


def _by_char(table: dict[str, tuple[str, ...]], index: int) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for key in table:
        grouped[key[index : index + 1]].append(key)
    return {char: tuple(keys) for char, keys in grouped.items()}


def default_rules() -> PathRules:
    text = resources.files("sakimori.monitoring").joinpath("data/paths.txt").read_text("utf-8")
    return PathRules(text)


class _Probe:
    __slots__ = ("categories", "examples", "first", "paths", "score", "start")

    def __init__(self, record: Record) -> None:
        self.start = record.ts
        self.first = record.time
        self.score = 0.0
        self.paths: set[str] = set()
        self.categories: set[str] = set()
        self.examples: list[str] = []


class PathsDetector(Detector):
    name = "http-sensitive-paths"

    def __init__(self, config: DetectorConfig, rules: PathRules | None = None) -> None:
        super().__init__(config)
        self.rules = rules or default_rules()
        self._clients: BoundedMap[_Probe] = BoundedMap(config.max_clients)
        self._weights = {c: float(getattr(config, f"weight_{c}")) for c in CATEGORIES}

    def feed(self, record: Record) -> tuple[str, ...]:
        """The categories this request counted in (for the low-and-slow detector)."""
        self.sweep(record.ts)
        found = self.rules.classify(record.path, record.query)
        if not found:
            return ()
        probe = self._clients.get(record.client)
        new, classes = self.step(record, probe, found)
        if new is not probe and new is not None:
            self._clients.put(record.client, new)
        return classes

    def step(
        self, record: Record, probe: _Probe | None, found: frozenset[str]
    ) -> tuple[_Probe | None, tuple[str, ...]]:
        """Take one request whose path falls in the (non-empty) categories ``found``, for the
        address whose state is ``probe``; returns the state to keep and the categories it
        counted in. The caller sweeps."""
        if 200 <= record.status < 400:
            found = found - GATED
            if not found:
                return probe, ()
        config = self.config
        if probe is None or record.ts - probe.start > config.paths_window:
            probe = _Probe(record)
        target = f"{record.path}?{record.query}" if record.query else record.path
        if target not in probe.paths and len(probe.paths) < _MAX_PATHS:
            probe.paths.add(target)
            probe.score += max(self._weights[c] for c in found)
            probe.categories |= found
            if len(probe.examples) < config.examples:
                probe.examples.append(example(record))
        if probe.score >= config.paths_score - 1e-9:
            # The reason reads the probe when the alert closes: once over the score, every
            # change to it comes with evidence.
            self.evidence(
                record.client,
                record,
                (_reason, probe),
                first=probe.first,
                earlier=probe.examples,
                count=len(probe.paths),
            )
        return probe, tuple(sorted(found))


def _reason(probe: _Probe) -> str:
    return f"{len(probe.paths)} distinct probe paths ({', '.join(sorted(probe.categories))})"
