"""Load Sigma rules: from files and directories, or from any source of rule texts.

``load_rule_sources`` is the seam: it takes ``RuleSource``s — an origin (a file name, or for the
rules a counter-measure package carries, ``package:<id>``) and the YAML text — and returns a
``RuleLoad``: the rules compiled, and a ``LoadProblem`` (origin, rule id, title, reason) for
every rule or document that cannot run. Nothing is skipped without an entry in ``problems``.
``load_rule_paths`` reads files and directories (``*.yml``/``*.yaml``, recursively, in name
order) and hands them to it. The rules of counter-measure packages (``watch --server``) come as
``RuleSource("package:<id>", text, vulnerabilities)``: the package's vulnerability ids join
those the rule's own ``cve.*`` tags name, so an alert from it says what was attempted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from sakimori.errors import InvalidInput, NotFound
from sakimori.monitoring.sigma.compiler import (
    CompiledRule,
    OtherLogSource,
    Unsupported,
    compile_rule,
    rule_id,
)

#: The largest rule file read (a Sigma rule is a few kilobytes).
MAX_RULE_BYTES = 1 << 20
SUFFIXES = (".yml", ".yaml")


class RuleSource(NamedTuple):
    origin: str  # where the text came from, for messages
    text: str
    #: Vulnerability ids the rule detects attempts against, beyond its tags (a package's).
    vulnerabilities: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadProblem:
    origin: str
    rule_id: str  # "" when the document has none (or is not a rule)
    title: str
    reason: str
    #: The rule is for another log source (a proxy, an error log): not ours to run.
    other_log_source: bool = False

    def __str__(self) -> str:
        name = f"{self.title!r}" if self.title else "(no title)"
        if self.rule_id:
            name = f"{name} [{self.rule_id}]"
        return f"{self.origin}: {name}: {self.reason}"


@dataclass
class RuleLoad:
    rules: list[CompiledRule] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)

    def summary(self) -> str:
        """One line: how many rules loaded, how many not, by reason."""
        text = f"{len(self.rules)} Sigma rules loaded"
        if self.problems:
            reasons = Counter(p.reason.split(":")[0] for p in self.problems)
            detail = "; ".join(f"{n} {reason}" for reason, n in reasons.most_common())
            text += f", {len(self.problems)} not loaded ({detail})"
        return text


def rule_files(paths: Sequence[str | Path]) -> list[Path]:
    """The rule files named: files as given, directories searched for ``*.yml``/``*.yaml``."""
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if not path.exists():
            raise NotFound("no such Sigma rule file or directory", where=str(path))
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()))
        else:
            files.append(path)
    return files


def load_rule_paths(paths: Sequence[str | Path]) -> RuleLoad:
    """Load every rule in the named files and directories."""
    sources: list[RuleSource] = []
    load = RuleLoad()
    for path in rule_files(paths):
        try:
            size = path.stat().st_size
            if size > MAX_RULE_BYTES:
                load.problems.append(
                    LoadProblem(str(path), "", "", f"file of {size} bytes is over the limit")
                )
                continue
            sources.append(RuleSource(str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read the Sigma rule: {exc}", where=str(path)) from None
    more = load_rule_sources(sources)
    load.rules.extend(more.rules)
    load.problems.extend(more.problems)
    return load


def load_rule_sources(sources: Iterable[RuleSource]) -> RuleLoad:
    """Parse (pySigma) and compile every rule of every source; report what cannot run."""
    load = RuleLoad()
    for origin, text, vulnerabilities in sources:
        try:
            collection = SigmaCollection.from_yaml(text, collect_errors=True, collect_filters=True)
        except Exception as exc:  # YAML syntax errors and the like: the whole document
            load.problems.append(LoadProblem(origin, "", "", f"not a Sigma document: {exc}"))
            continue
        for error in collection.errors:
            if not any(error in getattr(r, "errors", ()) for r in collection.rules):
                load.problems.append(LoadProblem(origin, "", "", f"not a Sigma rule: {error}"))
        for rule in collection.rules:
            if isinstance(rule, SigmaCorrelationRule | SigmaFilter) or not isinstance(
                rule, SigmaRule
            ):
                kind = "correlation" if isinstance(rule, SigmaCorrelationRule) else "filter"
                load.problems.append(
                    LoadProblem(
                        origin, rule_id(rule), rule.title, f"{kind} rules are not evaluated"
                    )
                )
                continue
            try:
                load.rules.append(compile_rule(rule, origin, vulnerabilities))
            except Unsupported as exc:
                load.problems.append(
                    LoadProblem(
                        origin,
                        rule_id(rule),
                        rule.title,
                        str(exc),
                        other_log_source=isinstance(exc, OtherLogSource),
                    )
                )
    return load
