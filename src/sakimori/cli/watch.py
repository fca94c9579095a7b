"""``sakimori watch``: detect reconnaissance and exploit attempts in web server and SSH logs,
in batch or following the logs live, with the built-in detectors and Sigma rules."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sakimori.errors import ConfigurationError, InvalidInput

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from sakimori.monitoring.detectors import Alert
    from sakimori.monitoring.sigma import CompiledRule


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
    sigma: Annotated[
        list[Path] | None,
        typer.Option(
            "--sigma",
            help="Sigma rules to run: a rule file or a directory of them (repeatable). Rules "
            "that cannot run are listed as warnings.",
            show_default=False,
        ),
    ] = None,
    sigma_strict: Annotated[
        bool,
        typer.Option("--sigma-strict", help="Make any Sigma rule that cannot run an error."),
    ] = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-F",
            help="Follow the files as they grow (through rotation and truncation) and report "
            "alerts as they open and close, until interrupted.",
        ),
    ] = False,
    from_start: Annotated[
        bool,
        typer.Option(
            "--from-start",
            help="With --follow: read what the files already hold first (default: from the end).",
        ),
    ] = False,
) -> None:
    """Read logs (or follow them, --follow) and report alerts. Exit 1 when there are alerts,
    0 when none, 2 on an error."""
    from sakimori.monitoring.watch import WatchOptions
    from sakimori.monitoring.watch import watch as run

    fields: dict[str, str] = {}
    for item in json_field or []:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise InvalidInput(f"--json-field {item!r} is not name=path", hint="e.g. client=ip")
        fields[name.strip()] = path.strip()
    rules = load_sigma(sigma or [], strict=sigma_strict)
    options = WatchOptions(
        log_format=log_format.value, json_fields=fields, year=year, sigma_rules=rules
    )
    if follow:
        _follow(files or [], options, output_format, from_start)
        return
    if from_start:
        raise InvalidInput("--from-start goes with --follow")
    result = run(files or ["-"], options)
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


def load_sigma(paths: Sequence[Path], *, strict: bool) -> list[CompiledRule]:
    """The Sigma rules of ``paths``; problems are warnings on standard error (errors with
    ``strict``). Rules from counter-measure packages will join here (``load_rule_sources``)."""
    if not paths:
        return []
    from sakimori.monitoring.sigma import load_rule_paths

    load = load_rule_paths(paths)
    # Rules written for other log sources (proxies, error logs) are counted in the summary and
    # listed only with --verbose; a web rule that cannot run is a warning of its own.
    cannot_run = [p for p in load.problems if not p.other_log_source]
    for problem in load.problems:
        if problem.other_log_source:
            log.info("sigma: %s", problem)
        else:
            typer.echo(f"sakimori: warning: sigma: {problem}", err=True)
    typer.echo(f"sakimori: {load.summary()}", err=True)
    if strict and cannot_run:
        raise ConfigurationError(
            f"{len(cannot_run)} Sigma rules cannot run", hint="see the warnings above"
        )
    if not load.rules:
        raise ConfigurationError("no Sigma rule to run", where=", ".join(map(str, paths)))
    return load.rules


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set on SIGINT or SIGTERM (the usual ways to end following)."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _follow(
    files: list[str], options: object, output_format: OutputFormat, from_start: bool
) -> None:
    from sakimori.monitoring.follow import follow
    from sakimori.monitoring.watch import WatchOptions, check_readable

    assert isinstance(options, WatchOptions)
    if not files or "-" in files:
        raise InvalidInput(
            "--follow needs log files", hint="to follow standard input, pipe into batch mode"
        )
    for name in files:
        path = Path(name)
        if path.exists():
            check_readable(path)
        elif not path.parent.is_dir():
            raise InvalidInput("no such directory for the followed log", where=name)

    def emit(event: str, alert: Alert) -> None:
        if output_format is OutputFormat.json:
            line = json.dumps({"event": event, **alert.to_json()}, ensure_ascii=False)
        else:
            line = (
                f"{event:6}  {alert.detector}  {alert.client}  {alert.first_seen.isoformat()}"
                f"  {alert.last_seen.isoformat()}  {alert.count}  {alert.reason}"
            )
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    with _stop_on_signals() as stop:
        result = follow(files, options, emit, stop, from_start=from_start)
    for stats in result.sources:
        skipped = sum(stats.skipped.values())
        typer.echo(
            f"{stats.source}: {stats.log_format or 'unknown'}, {stats.lines} lines, "
            f"{stats.records} records, {skipped} skipped, {stats.errors} parse errors",
            err=True,
        )
    if result.opened or result.closed:
        raise typer.Exit(1)
