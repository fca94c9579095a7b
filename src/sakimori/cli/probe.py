"""``sakimori probe``: find flaws in a source tree before an attacker's AI does.

Exit codes: 0 no finding at or above ``--fail-on``; 1 findings at or above it; 2 an error.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated

import typer

from sakimori.errors import InvalidInput
from sakimori.probe import render, sarif
from sakimori.probe.scan import Limits, decode, probe_tree


class ProbeFormat(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"


class FailOn(StrEnum):
    none = "none"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


_THRESHOLDS = {"none": None, "low": 0.1, "medium": 4.0, "high": 7.0, "critical": 9.0}


def probe(
    path: Annotated[Path, typer.Argument(help="A source tree or one Python file.")],
    output_format: Annotated[
        ProbeFormat, typer.Option("--format", "-f", help="table, json, or SARIF 2.1.0.")
    ] = ProbeFormat.table,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report here instead of standard output."),
    ] = None,
    fail_on: Annotated[
        FailOn,
        typer.Option("--fail-on", help="Exit 1 when a finding's severity is at least this."),
    ] = FailOn.none,
    local_sources: Annotated[
        bool,
        typer.Option(
            "--local-sources",
            help="Also treat the environment, command line, standard input and file contents "
            "as attacker-controlled (default: request data, sockets and network responses only).",
        ),
    ] = False,
    secrets: Annotated[
        bool,
        typer.Option(
            "--secrets/--no-secrets",
            help="Scan every text file for committed keys and tokens (reported redacted).",
        ),
    ] = True,
    allow_secret: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-secret",
            help="Ignore a secret by the sha256 shown in its finding (12+ hex digits; repeatable).",
            show_default=False,
        ),
    ] = None,
    file_seconds: Annotated[
        float, typer.Option("--file-seconds", help="Analysis time limit per file.")
    ] = 10.0,
    run_seconds: Annotated[
        float, typer.Option("--run-seconds", help="Analysis time limit for the whole run.")
    ] = 600.0,
) -> None:
    """Static analysis of Python code: taint flows from request data and sockets (with
    --local-sources also the environment and files) to SQL, shell, code, path, HTML, LDAP, XPath,
    redirect, XML and deserialisation sinks; weak hashes, weak randomness, insecure cookies; and
    committed secrets, reported redacted."""
    if file_seconds <= 0 or run_seconds <= 0:
        raise InvalidInput("time limits must be positive", where="--file-seconds/--run-seconds")
    allowed = frozenset(value.lower().removeprefix("sha256:") for value in allow_secret or [])
    if any(len(value) < 12 or not all(c in "0123456789abcdef" for c in value) for value in allowed):
        raise InvalidInput("expects 12 or more hex digits of a SHA-256", where="--allow-secret")
    root = path.resolve()
    report = probe_tree(
        root,
        Limits(file_seconds=file_seconds, run_seconds=run_seconds),
        local_sources=local_sources,
        secrets=secrets,
        allowed_secrets=allowed,
    )
    base = root if root.is_dir() else root.parent

    @cache
    def read(relative: str) -> list[str]:
        try:
            return decode((base / relative).read_bytes()).splitlines()
        except (OSError, InvalidInput):
            return []

    if output_format is ProbeFormat.sarif:
        data = sarif.render(report, read)
    elif output_format is ProbeFormat.json:
        data = render.render_json(report)
    else:
        data = render.render_table(report).encode("utf-8")
    if output is not None:
        try:
            output.write_bytes(data)
        except OSError as exc:
            raise InvalidInput(
                f"cannot write the report: {exc.strerror}", where=str(output)
            ) from exc
    else:
        typer.echo(data.decode("utf-8"), nl=False)
    threshold = _THRESHOLDS[fail_on.value]
    if threshold is not None and any(f.rule.severity >= threshold for f in report.findings):
        raise typer.Exit(1)
