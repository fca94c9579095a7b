"""The rules the engine reports, one per CWE: identifiers, descriptions, severity, help."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: str
    cwe: int
    name: str
    short: str
    full: str
    help: str
    severity: float  # CVSS-like 0.0-10.0, as code-scanning's security-severity
    taint: bool = True


_RULES = (
    Rule("PY-SQLI", 89, "sql-injection", "SQL injection",
         "Data from an untrusted source reaches an SQL statement without parameterisation.",
         "Pass values as query parameters (cursor.execute(sql, params)); never build SQL text "
         "from request data.", 8.8),
    Rule("PY-CMDI", 78, "command-injection", "OS command injection",
         "Data from an untrusted source reaches a shell command or program invocation.",
         "Call programs with an argument list and shell=False; quote with shlex.quote if a shell "
         "is unavoidable; allow-list the values.", 9.8),
    Rule("PY-CODEI", 94, "code-injection", "Code injection",
         "Data from an untrusted source is evaluated as Python code or a template.",
         "Never eval/exec untrusted data; use ast.literal_eval or a parser for the expected "
         "format.", 9.8),
    Rule("PY-PATH", 22, "path-traversal", "Path traversal",
         "Data from an untrusted source names a file or directory that is opened or changed.",
         "Resolve the path and check it stays below an allowed base directory, or map names "
         "through an allow-list.", 7.5),
    Rule("PY-XSS", 79, "cross-site-scripting", "Cross-site scripting",
         "Data from an untrusted source is written into an HTML response without escaping.",
         "Render through an auto-escaping template or escape with html.escape / markupsafe.",
         6.1),
    Rule("PY-LDAPI", 90, "ldap-injection", "LDAP injection",
         "Data from an untrusted source reaches an LDAP search filter or base.",
         "Escape values with ldap.filter.escape_filter_chars.", 7.5),
    Rule("PY-XPATHI", 643, "xpath-injection", "XPath injection",
         "Data from an untrusted source reaches an XPath expression.",
         "Use XPath variables (lxml: xpath('//a[@id=$v]', v=value)) or allow-list values.", 7.5),
    Rule("PY-REDIRECT", 601, "open-redirect", "Open redirect",
         "Data from an untrusted source chooses the target of a redirect.",
         "Redirect only to relative paths or to hosts on an allow-list.", 6.1),
    Rule("PY-XXE", 611, "xml-external-entities", "XML external entity expansion",
         "Untrusted XML is parsed by a parser that resolves external entities.",
         "Parse untrusted XML with defusedxml, or disable entity resolution.", 7.5),
    Rule("PY-DESER", 502, "unsafe-deserialisation", "Deserialisation of untrusted data",
         "Data from an untrusted source is deserialised by a format that can run code.",
         "Use JSON or yaml.safe_load for untrusted data; never pickle.", 9.8),
    Rule("PY-TRUST", 501, "trust-boundary", "Trust boundary violation",
         "Data from an untrusted source is stored in the server-side session as if trusted.",
         "Validate the value before storing it in the session.", 4.3),
    Rule("PY-WEAKHASH", 328, "weak-hash", "Weak hash algorithm",
         "MD5 or SHA-1 is used where a collision-resistant hash is expected.",
         "Use SHA-256 or better; pass usedforsecurity=False for non-security checksums.", 5.3,
         taint=False),
    Rule("PY-WEAKRAND", 330, "weak-random", "Weak source of randomness",
         "The random module's generator is predictable and unfit for secrets or tokens.",
         "Use the secrets module (secrets.token_urlsafe, secrets.choice).", 5.3, taint=False),
    Rule("SECRET", 798, "committed-secret", "Committed secret",
         "A key, token or password is committed in the source tree.",
         "Revoke and rotate the secret, remove it from history, and load it from a secret store "
         "or the environment.", 7.5, taint=False),
    Rule("PY-COOKIE", 614, "insecure-cookie", "Cookie without the Secure attribute",
         "A cookie is set without secure=True and can leak over plain HTTP.",
         "Set secure=True (and httponly=True, samesite) on every cookie.", 4.3, taint=False),
)  # fmt: skip

RULES: dict[int, Rule] = {rule.cwe: rule for rule in _RULES}
#: The CWEs of the code analysis (the taint engine and its patterns), without secrets.
CODE_CWES: tuple[int, ...] = tuple(sorted(cwe for cwe in RULES if cwe != 798))
BY_ID: dict[str, Rule] = {rule.id: rule for rule in _RULES}
