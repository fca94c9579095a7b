"""Sigma rules over web server logs: pySigma parses, our own engine evaluates.

``loader`` reads rules (files, directories, or any ``RuleSource``s, e.g. the detection rules of
counter-measure packages) and reports every rule it cannot run, with the reason; ``compiler``
turns a parsed rule into a condition tree over field tests with Sigma's semantics; ``fields``
maps Sigma's web-server field names to the normalised ``Record``; ``engine`` evaluates all the
rules at once, fast and exactly; ``detector`` makes matches into ``sigma`` alerts.
"""

from __future__ import annotations

from sakimori.monitoring.sigma.compiler import CompiledRule
from sakimori.monitoring.sigma.detector import SigmaDetector
from sakimori.monitoring.sigma.engine import RuleSet
from sakimori.monitoring.sigma.loader import (
    LoadProblem,
    RuleLoad,
    RuleSource,
    load_rule_paths,
    load_rule_sources,
)

__all__ = [
    "CompiledRule",
    "LoadProblem",
    "RuleLoad",
    "RuleSet",
    "RuleSource",
    "SigmaDetector",
    "load_rule_paths",
    "load_rule_sources",
]
