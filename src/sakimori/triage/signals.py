"""Reading evidence for triage: what a CVSS vector says, and whether a reference is exploit code.

Both are memoised: a national run decides a million findings over far fewer distinct vectors
and reference URLs, so each is parsed once. Vectors are checked with the ``cvss`` library
(an unreadable vector is ignored, never fatal).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from sakimori.triage.config import TriageConfig
from sakimori.triage.evidence import Reference

_WORD_SPLIT = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class VectorFacts:
    """What one CVSS vector says about SSVC's Automatable and Technical Impact.

    ``automatable``: the exploitability metrics (network, low complexity, no privileges, no user
    interaction; v4 also no attack requirements) — or, for v4, the supplemental ``AU`` metric
    when given (``stated_automatable``). ``total``: high confidentiality and integrity impact on
    the vulnerable system (``ambiguous`` when a v3 vector's scope is changed, since its impact
    metrics may then describe another system).
    """

    version: int
    automatable: bool
    stated_automatable: bool | None
    total: bool
    ambiguous: bool
    exploitability: str
    impact: str


_AV = {"N": "network", "A": "adjacent network", "L": "local", "P": "physical"}
_LEVEL = {"N": "none", "L": "low", "H": "high", "P": "partial", "C": "complete"}


@lru_cache(maxsize=65_536)
def vector_facts(kind: str, vector: str) -> VectorFacts | None:
    """Facts of one vector (memoised), or None when the ``cvss`` library refuses it."""
    from cvss import CVSS2, CVSS3, CVSS4
    from cvss.exceptions import CVSSError

    text = vector.strip().strip("()")
    try:
        if text.startswith("CVSS:4"):
            return _v4(CVSS4(text).metrics)
        if text.startswith("CVSS:3"):
            return _v3(CVSS3(text).metrics)
        if kind == "CVSS_V2" or text.startswith(("AV:", "CVSS:2")):
            return _v2(CVSS2(text.removeprefix("CVSS:2.0/")).metrics)
    except (CVSSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
    return None


def _exploitability(m: dict[str, str], parts: Iterable[tuple[str, str, str]]) -> tuple[bool, str]:
    """(all metrics at their 'automatable' value, a sentence naming each)."""
    ok = True
    words = []
    for metric, wanted, label in parts:
        value = m.get(metric, "?")
        ok = ok and value == wanted
        words.append(f"{label} {_AV.get(value, value) if metric == 'AV' else _word(value)}")
    return ok, ", ".join(words)


def _word(value: str) -> str:
    return {
        "N": "none",
        "L": "low",
        "H": "high",
        "R": "required",
        "P": "present",
        "A": "active",
    }.get(value, value)


def _v3(m: dict[str, str]) -> VectorFacts:
    parts = [
        ("AV", "N", "attack vector"),
        ("AC", "L", "complexity"),
        ("PR", "N", "privileges"),
        ("UI", "N", "user interaction"),
    ]
    automatable, exploitability = _exploitability(m, parts)
    high = m.get("C") == "H" and m.get("I") == "H"
    changed = m.get("S") == "C"
    scope = "changed" if changed else "unchanged"
    impact = f"C:{m.get('C')} I:{m.get('I')} A:{m.get('A')}, scope {scope}"
    return VectorFacts(3, automatable, None, high, high and changed, exploitability, impact)


def _v4(m: dict[str, str]) -> VectorFacts:
    parts = [
        ("AV", "N", "attack vector"),
        ("AC", "L", "complexity"),
        ("AT", "N", "attack requirements"),
        ("PR", "N", "privileges"),
        ("UI", "N", "user interaction"),
    ]
    automatable, exploitability = _exploitability(m, parts)
    au = m.get("AU", "X")
    stated = {"Y": True, "N": False}.get(au)
    high = m.get("VC") == "H" and m.get("VI") == "H"
    impact = f"VC:{m.get('VC')} VI:{m.get('VI')} VA:{m.get('VA')}"
    return VectorFacts(4, automatable, stated, high, False, exploitability, impact)


def _v2(m: dict[str, str]) -> VectorFacts:
    parts = [("AV", "N", "access vector"), ("AC", "L", "complexity"), ("Au", "N", "authentication")]
    automatable, exploitability = _exploitability(m, parts)
    high = m.get("C") == "C" and m.get("I") == "C"
    impact = f"C:{_LEVEL.get(m.get('C', ''), '?')} I:{_LEVEL.get(m.get('I', ''), '?')}"
    return VectorFacts(2, automatable, None, high, False, exploitability, impact)


class ExploitReferences:
    """Recognises references to exploit code: an exploit tag or type, a known exploit site, or
    a repository / gist on a code host whose path names an exploit or PoC."""

    def __init__(self, config: TriageConfig) -> None:
        self._tags = frozenset(config.exploit_tags)
        self._hosts = tuple(s.lower() for s in config.exploit_sites if "/" not in s)
        self._prefixes = tuple(s.lower().rstrip("/") for s in config.exploit_sites if "/" in s)
        self._code_hosts = frozenset(h.lower() for h in config.code_hosts)
        self._tokens = frozenset(w.lower() for w in config.exploit_words if w.isalnum())
        self._phrases = tuple(w.lower() for w in config.exploit_words if not w.isalnum())
        self.classify: Callable[[str], str | None] = lru_cache(maxsize=65_536)(self._classify)

    def first(self, references: Iterable[Reference]) -> tuple[Reference, str] | None:
        """The first reference that points to exploit code, with the reason; or None."""
        for reference in references:
            for tag in reference.tags:
                if tag in self._tags:
                    return reference, f"tagged {tag!r}"
            why = self.classify(reference.url)
            if why is not None:
                return reference, why
        return None

    def _classify(self, url: str) -> str | None:
        try:
            parts = urlsplit(url.strip())
            host = (parts.hostname or "").lower()
        except ValueError:
            return None
        host = host.removeprefix("www.")
        path = parts.path.lower()
        for site in self._hosts:
            if host == site or host.endswith("." + site):
                return f"an exploit site ({site})"
        located = f"{host}{path}".rstrip("/")
        for prefix in self._prefixes:
            if located == prefix or located.startswith(prefix + "/"):
                return f"an exploit collection ({prefix})"
        if host in self._code_hosts:
            if any(phrase in path for phrase in self._phrases):
                return f"exploit code on {host}"
            if not self._tokens.isdisjoint(_WORD_SPLIT.split(path)):
                return f"exploit code on {host}"
        return None


@lru_cache(maxsize=16)
def exploit_references(config: TriageConfig) -> ExploitReferences:
    """The (memoised) reference classifier of a configuration."""
    return ExploitReferences(config)
