"""Committed secrets: high-confidence token patterns, and high-entropy values of secret-named keys.

A secret is never reported by value: a finding names the kind of secret, where it is, and a
redacted form (the kind's public prefix, the length and a short SHA-256 of the value), so that the
same secret can be recognised across runs and allow-listed without being shown.

Allow-listing: a line carrying ``sakimori: allow-secret`` is skipped; values that are obvious
placeholders (``example``, ``changeme``, ``xxxx``, ``${VAR}``, ``<token>``…) are skipped; and the
caller may pass SHA-256 prefixes of values to ignore (``--allow-secret``).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sakimori.probe.findings import CodeFinding, ProbeReport, Skipped, fingerprint
from sakimori.probe.values import Step

PRAGMA = "sakimori: allow-secret"
MAX_BYTES = 1_000_000
_SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules", ".tox", ".mypy_cache"}
)
_SKIP_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf", ".zip", ".gz", ".whl", ".so")


@dataclass(frozen=True)
class SecretPattern:
    id: str
    what: str
    regex: re.Pattern[str]
    prefix: str  # the public part of the format that may be shown


PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern(
        "aws-access-key", "AWS access key ID",
        re.compile(r"\b((?:AKIA|ASIA)[0-9A-Z]{16})\b"), "AKIA/ASIA",
    ),
    SecretPattern(
        "github-token", "GitHub token",
        re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,255})\b"), "gh?_",
    ),
    SecretPattern(
        "github-pat", "GitHub fine-grained token",
        re.compile(r"\b(github_pat_[A-Za-z0-9_]{82})\b"), "github_pat_",
    ),
    SecretPattern(
        "slack-token", "Slack token",
        re.compile(r"\b(xox[baprs]-[0-9]{10,13}-[0-9A-Za-z-]{10,})\b"), "xox?-",
    ),
    SecretPattern(
        "google-api-key", "Google API key",
        re.compile(r"\b(AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])"), "AIza",
    ),
    SecretPattern(
        "stripe-live-key", "Stripe live secret key",
        re.compile(r"\b((?:sk|rk)_live_[0-9A-Za-z]{24,99})\b"), "sk_live_",
    ),
    SecretPattern(
        "pypi-token", "PyPI upload token",
        re.compile(r"\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})"), "pypi-",
    ),
    SecretPattern(
        "npm-token", "npm access token",
        re.compile(r"\b(npm_[A-Za-z0-9]{36})\b"), "npm_",
    ),
    SecretPattern(
        "private-key", "private key",
        re.compile(r"(-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY"
                   r"(?: BLOCK)?-----)"),
        "-----BEGIN PRIVATE KEY-----",
    ),
)  # fmt: skip

#: ``name = "value"`` / ``"name": "value"`` / ``NAME=value`` where the name says it is a secret.
_ASSIGNMENT = re.compile(
    r"""(?ix)
    (?P<name>[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key
        |private[_-]?key|auth|credential)[A-Za-z0-9_.-]*)
    ["']?\s*(?::|=|:=)\s*
    (?P<quote>["']?)(?P<value>[^"'\s,;)]{12,200})(?P=quote)
    """
)
_PLACEHOLDERS = re.compile(
    r"(?i)(example|sample|dummy|changeme|change_me|placeholder|your[_-]?|xxxx|\*\*\*\*|redacted"
    r"|^\$\{|^\$\(|^<.*>$|^%\(|^\{\{|test|fake|none|null|todo)"
)
#: Minimum Shannon entropy (bits per character) of a generic secret's value.
MIN_ENTROPY = 3.5


def entropy(value: str) -> float:
    counts: dict[str, int] = {}
    for char in value:
        counts[char] = counts.get(char, 0) + 1
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in counts.values())


def redact(value: str, pattern_prefix: str = "") -> str:
    """What may be shown of a secret: its format's prefix, its length and a short hash."""
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:12]
    shown = f"{pattern_prefix}… " if pattern_prefix else ""
    return f"{shown}({len(value)} chars, sha256:{digest})"


def value_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def find_in_text(text: str, path: str, allowed: frozenset[str] = frozenset()) -> list[CodeFinding]:
    """Secrets in one file's text; ``allowed`` holds SHA-256 prefixes (≥ 12 hex) to ignore."""
    findings: list[CodeFinding] = []
    seen: set[tuple[int, str]] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if PRAGMA in line:
            continue
        for pattern in PATTERNS:
            for match in pattern.regex.finditer(line):
                value = match.group(1)
                if _allowed(value, allowed) or "EXAMPLE" in value:
                    continue
                seen.add((number, value))
                findings.append(
                    _finding(path, number, line, match.start(1), match.end(1), pattern.id,
                             pattern.what, redact(value, pattern.prefix), value)
                )  # fmt: skip
        for match in _ASSIGNMENT.finditer(line):
            value = match.group("value")
            if (number, value) in seen or any(value in v for n, v in seen if n == number):
                continue
            if _PLACEHOLDERS.search(value) or _allowed(value, allowed):
                continue
            if entropy(value) < MIN_ENTROPY or not _mixed(value):
                continue
            findings.append(
                _finding(path, number, line, match.start("value"), match.end("value"),
                         "generic-secret", f"high-entropy value of {match.group('name')!r}",
                         redact(value), value)
            )  # fmt: skip
    return findings


def _mixed(value: str) -> bool:
    """A token mixes letters and digits; words, paths and identifiers do not count."""
    if "/" in value or ("." in value and not any(c.isdigit() for c in value)):
        return False
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _allowed(value: str, allowed: frozenset[str]) -> bool:
    digest = value_hash(value)
    return any(digest.startswith(prefix) for prefix in allowed)


def _finding(
    path: str,
    line_number: int,
    line: str,
    start: int,
    end: int,
    kind: str,
    what: str,
    redacted: str,
    value: str,
) -> CodeFinding:
    column = len(line[:start].encode("utf-8"))
    end_column = len(line[:end].encode("utf-8"))
    step = Step(path, line_number, column, line_number, end_column, f"secret: {what}")
    return CodeFinding(
        rule_id="SECRET",
        cwe=798,
        message=f"Committed secret: {what} {redacted}",
        path=path,
        sink=step,
        source=None,
        steps=(),
        function=kind,
        sink_expression=kind,
        source_kind="",
        fingerprint=fingerprint(path, "SECRET", kind, value_hash(value), ""),
    )


def _text_files(root: Path) -> Iterator[tuple[Path, str]]:
    if root.is_file():
        yield root, root.name
        return
    for directory, subdirs, names in os.walk(root, followlinks=False):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIP_DIRS)
        for name in sorted(names):
            if name.lower().endswith(_SKIP_SUFFIXES):
                continue
            path = Path(directory) / name
            yield path, path.relative_to(root).as_posix()


def scan_secrets(
    root: Path, report: ProbeReport, allowed: frozenset[str] = frozenset()
) -> list[CodeFinding]:
    """Secrets in every text file below ``root``; unreadable files are listed in ``report``."""
    findings: list[CodeFinding] = []
    for path, relative in _text_files(root):
        if path.is_symlink():
            continue
        try:
            if path.stat().st_size > MAX_BYTES:
                continue
            data = path.read_bytes()
        except OSError as exc:
            report.skipped.append(Skipped(relative, f"secrets: cannot read: {exc.strerror}"))
            continue
        if b"\x00" in data[:8192]:
            continue
        findings.extend(find_in_text(data.decode("utf-8", errors="replace"), relative, allowed))
    return findings
