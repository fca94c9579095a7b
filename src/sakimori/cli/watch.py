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
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sakimori.errors import ConfigurationError, InvalidInput

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from sakimori.monitoring.detectors import Alert
    from sakimori.monitoring.platform import Platform, Reporter
    from sakimori.monitoring.sightings import Privacy
    from sakimori.monitoring.sigma import CompiledRule, RuleSource


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class ClientPrivacy(StrEnum):
    full = "full"
    truncate = "truncate"
    hash = "hash"


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
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="SAKIMORI_SERVER",
            help="The Sakimori platform: run the Sigma rules of the counter-measure packages "
            "your organisation receives beside your own (env SAKIMORI_SERVER).",
            show_default=False,
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Send the alerts' sightings (never log lines) to the platform at this URL.",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="SAKIMORI_TOKEN",
            help="Your platform API token for --server and --to (prefer env SAKIMORI_TOKEN: "
            "arguments are visible to other users of the machine).",
            show_default=False,
        ),
    ] = None,
    sightings_file: Annotated[
        Path | None,
        typer.Option(
            "--sightings",
            help="Write the alerts' sightings to this file (JSON, what --to sends).",
            show_default=False,
        ),
    ] = None,
    client_privacy: Annotated[
        ClientPrivacy,
        typer.Option(
            "--client-privacy",
            help="How sightings show client addresses: full, truncate (/24, /48) or hash "
            "(HMAC-SHA256 under --client-key).",
        ),
    ] = ClientPrivacy.truncate,
    client_key: Annotated[
        Path | None,
        typer.Option(
            "--client-key",
            help="The key file (at least 16 bytes) of --client-privacy hash.",
            show_default=False,
        ),
    ] = None,
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
    report = _Sightings.of(to, token, sightings_file, client_privacy.value, client_key)
    packages = _package_rules(server, token)
    rules = load_sigma(sigma or [], strict=sigma_strict, packages=packages)
    options = WatchOptions(
        log_format=log_format.value, json_fields=fields, year=year, sigma_rules=rules
    )
    if follow:
        _follow(files or [], options, output_format, from_start, report)
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
    report.done(result.alerts)
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


def load_sigma(
    paths: Sequence[Path], *, strict: bool, packages: Sequence[RuleSource] = ()
) -> list[CompiledRule]:
    """The Sigma rules of ``paths`` and of counter-measure ``packages``; problems are warnings
    on standard error (errors with ``strict``)."""
    if not paths and not packages:
        return []
    from sakimori.monitoring.sigma import load_rule_paths, load_rule_sources

    load = load_rule_paths(paths)
    more = load_rule_sources(packages)
    load.rules.extend(more.rules)
    load.problems.extend(more.problems)
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
    if paths and not load.rules:
        raise ConfigurationError("no Sigma rule to run", where=", ".join(map(str, paths)))
    return load.rules


def _package_rules(server: str | None, token: str | None) -> list[RuleSource]:
    """The Sigma rules of the packages the token's organisation receives (``--server``)."""
    if server is None:
        return []
    from sakimori.monitoring.platform import Platform

    if not token:
        raise InvalidInput("--server needs a token (--token or SAKIMORI_TOKEN)")
    found = Platform(server, token).rules()
    packages = len({source.origin for source in found})
    typer.echo(f"sakimori: {len(found)} Sigma rules from {packages} packages", err=True)
    return found


class _Sightings:
    """Where the sightings of the alerts go: a file (``--sightings``), the platform (``--to``)."""

    def __init__(
        self, privacy: Privacy | None, path: Path | None, platform: Platform | None
    ) -> None:
        self.privacy = privacy
        self.path = path
        self.platform = platform
        self.reporter: Reporter | None = None

    @classmethod
    def of(
        cls, to: str | None, token: str | None, path: Path | None, mode: str, key: Path | None
    ) -> _Sightings:
        if to is None and path is None:
            return cls(None, None, None)
        from sakimori.monitoring.platform import Platform
        from sakimori.monitoring.sightings import Privacy

        secret = b""
        if key is not None:
            try:
                secret = key.read_bytes()
            except OSError as exc:
                raise InvalidInput(f"cannot read the key: {exc.strerror}", where=str(key)) from None
        platform = None
        if to is not None:
            if not token:
                raise InvalidInput("--to needs a token (--token or SAKIMORI_TOKEN)")
            platform = Platform(to, token)
        return cls(Privacy(mode, secret), path, platform)

    def start(self) -> None:
        """Following: send as alerts close, from a thread of its own."""
        if self.platform is not None and self.privacy is not None:
            from sakimori.monitoring.platform import Reporter

            self.reporter = Reporter(self.platform, self.privacy)

    def closed(self, alert: Alert) -> None:
        if self.reporter is not None:
            self.reporter.add(alert)

    def done(self, alerts: Sequence[Alert]) -> None:
        """Write the file and send (batch mode: all at once; following: what is left)."""
        if self.privacy is None:
            return
        from sakimori.monitoring.sightings import document, sightings

        made = sightings(alerts, self.privacy)
        if self.path is not None:
            text = json.dumps(document(made, self.privacy), ensure_ascii=False, indent=1)
            self.path.write_text(text + "\n", encoding="utf-8")
        if self.reporter is not None:
            self.reporter.close()
            sent = self.reporter.sent
        elif self.platform is not None and made:
            sent = self.platform.send(made, self.privacy)
        else:
            return
        typer.echo(
            f"sakimori: sightings sent: {sent.received} ({sent.stored} new, {sent.merged} "
            "sent before)",
            err=True,
        )


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
    files: list[str],
    options: object,
    output_format: OutputFormat,
    from_start: bool,
    report: _Sightings,
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

    closed: list[Alert] = []  # for --sightings FILE, written when following stops

    def emit(event: str, alert: Alert) -> None:
        if event == "closed":
            report.closed(alert)
            if report.path is not None:
                closed.append(replace(alert, examples=()))
        if output_format is OutputFormat.json:
            line = json.dumps({"event": event, **alert.to_json()}, ensure_ascii=False)
        else:
            line = (
                f"{event:6}  {alert.detector}  {alert.client}  {alert.first_seen.isoformat()}"
                f"  {alert.last_seen.isoformat()}  {alert.count}  {alert.reason}"
            )
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    report.start()
    with _stop_on_signals() as stop:
        result = follow(files, options, emit, stop, from_start=from_start)
    report.done(closed)
    for stats in result.sources:
        skipped = sum(stats.skipped.values())
        typer.echo(
            f"{stats.source}: {stats.log_format or 'unknown'}, {stats.lines} lines, "
            f"{stats.records} records, {skipped} skipped, {stats.errors} parse errors",
            err=True,
        )
    if result.opened or result.closed:
        raise typer.Exit(1)
