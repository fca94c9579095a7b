"""``sakimori watch``: detect reconnaissance and exploit attempts in web server and SSH logs."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from sakimori.errors import InvalidInput


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class LogFormat(StrEnum):
    auto = "auto"
    combined = "combined"
    common = "common"
    json = "json"
    ssh = "ssh"


def watch(
    files: Annotated[
        list[str] | None,
        typer.Argument(
            help="Log files (plain or gzip); - or nothing reads standard input.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            "-f",
            help="text: a table and a parse summary; json: one alert "
            "per line (the summary goes to standard error).",
        ),
    ] = OutputFormat.text,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="The logs' format; auto detects it per file.")
    ] = LogFormat.auto,
    json_field: Annotated[
        list[str] | None,
        typer.Option(
            "--json-field",
            help="For JSON logs: where a field is, as name=dotted.path (repeatable), e.g. "
            "client=request.remote_ip.",
            show_default=False,
        ),
    ] = None,
    year: Annotated[
        int | None,
        typer.Option(
            "--year",
            help="Year of syslog timestamps, which carry none (default: the current year).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Read logs in batch and report alerts. Exit 1 when there are alerts, 0 when none."""
    from sakimori.monitoring.watch import WatchOptions
    from sakimori.monitoring.watch import watch as run

    fields: dict[str, str] = {}
    for item in json_field or []:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise InvalidInput(f"--json-field {item!r} is not name=path", hint="e.g. client=ip")
        fields[name.strip()] = path.strip()
    result = run(
        files or ["-"], WatchOptions(log_format=log_format.value, json_fields=fields, year=year)
    )
    if output_format is OutputFormat.json:
        for alert in result.alerts:
            typer.echo(json.dumps(alert.to_json(), ensure_ascii=False))
        for stats in result.sources:
            typer.echo(json.dumps({"parse": stats.to_json()}, ensure_ascii=False), err=True)
    else:
        _print_text(result)
    if result.alerts:
        raise typer.Exit(1)


def _print_text(result: object) -> None:
    from sakimori.monitoring.watch import WatchResult

    assert isinstance(result, WatchResult)
    rows = [
        (
            a.detector,
            a.client,
            a.first_seen.isoformat(),
            a.last_seen.isoformat(),
            str(a.count),
            a.reason,
        )
        for a in result.alerts
    ]
    headers = ("detector", "client", "first seen", "last seen", "count", "reason")
    if rows:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers[:-1])]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False))
        typer.echo(f"{line}  {headers[-1]}")
        for row in rows:
            cells = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False))
            typer.echo(f"{cells}  {row[-1]}")
        for alert in result.alerts:
            typer.echo(f"\n{alert.detector} {alert.client}:")
            for text in alert.examples:
                typer.echo(f"  {text}")
    else:
        typer.echo("no alerts")
    typer.echo("")
    for stats in result.sources:
        skipped = sum(stats.skipped.values())
        typer.echo(
            f"{stats.source}: {stats.log_format}, {stats.lines} lines, {stats.records} records, "
            f"{skipped} skipped, {stats.errors} parse errors"
        )
        for number, text in stats.samples:
            typer.echo(f"  line {number}: {text[:160]}")
