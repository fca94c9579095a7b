"""``sakimori intel load|sync|sync-nvd|sync-jvn|status``: what vulnerability intelligence is
loaded, from where."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sakimori.services.intel import LoadReport
    from sakimori.services.nvd_sync import NvdSyncReport, PageReport

app = typer.Typer(help="Load, sync and inspect vulnerability intelligence.", no_args_is_help=True)


def _print_report(report: LoadReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(header_style="bold")
    table.add_column("kind", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for column in ("records", "added", "changed", "removed"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("source", overflow="fold")
    for source in report.sources:
        changes = source.changes
        table.add_row(
            source.kind,
            source.status,
            f"{source.records:,}",
            str(changes.added) if changes else "",
            str(changes.changed) if changes else "",
            str(changes.removed) if changes else "",
            source.name + (f": {source.message}" if source.message else ""),
        )
    console.print(table)
    console.print(
        f"{report.files_read} files read, {report.files_skipped} unchanged files skipped, "
        f"in {report.seconds:.1f} s."
    )
    if report.reassessed:
        console.print(
            f"{report.reassessed:,} open findings changed decision or deadline with the new "
            "evidence."
        )
    if report.ignored:
        names = sorted({Path(path).name for path, _ in report.ignored})
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        console.print(
            f"[dim]{len(report.ignored)} files are not OSV, CVE, KEV or EPSS and were ignored "
            f"({shown}).[/]"
        )


@app.command("load")
def load(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="OSV records (JSON/YAML), OSV all.zip archives, CVE List V5 records, SSVC "
            "decision tables, KEV JSON, EPSS CSV files, or directories of them.",
            show_default=False,
        ),
    ],
) -> None:
    """Load intelligence from local files and directories (formats recognised by content)."""
    from sakimori.cli.context import open_db, settings
    from sakimori.services.assessment import policy_set
    from sakimori.services.intel import load_paths

    config = settings()
    policies = policy_set(config.policy)
    db = open_db(config)
    try:
        report = load_paths(db, paths, config.limits, policies)
    finally:
        db.dispose()
    _print_report(report)


@app.command("sync")
def sync(
    mirror: Annotated[
        str | None,
        typer.Option(help="Mirror base URL or directory (default: SAKIMORI_MIRROR or upstream)."),
    ] = None,
) -> None:
    """Fetch the configured upstream feeds (OSV archives, KEV, EPSS, CVE records, SSVC tables),
    or a mirror of them."""
    from sakimori.cli.context import open_db, settings
    from sakimori.services.sync import sync_feeds

    config = settings()
    db = open_db(config)
    try:
        report = sync_feeds(db, config, mirror=mirror or config.mirror)
    finally:
        db.dispose()
    _print_report(report)
    if report.failed:
        typer.echo(
            f"sakimori: error: {len(report.failed)} of {len(report.sources)} feeds failed; "
            "the others were loaded",
            err=True,
        )
        raise typer.Exit(2)


def _moment(value: str | None, option: str) -> datetime | None:
    """An ISO-8601 date or date and time from the command line; UTC unless it says otherwise."""
    from sakimori.errors import InvalidInput

    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{option} {value!r} is not an ISO-8601 date or date and time",
            hint="e.g. 2024-01-01, or 2024-01-01T12:00:00Z",
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@app.command("sync-nvd")
def sync_nvd(
    since: Annotated[
        str | None,
        typer.Option(
            help="Sync the records modified since this ISO-8601 date or time (UTC unless it "
            "says otherwise). Default: resume an interrupted sync, else continue from the "
            "newest NVD record stored.",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="…and up to this date or time (default: now).", show_default=False),
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding an NVD API key (default: SAKIMORI_NVD_API_KEY_FILE, else the "
            "key in SAKIMORI_NVD_API_KEY; without a key NVD allows 5 requests per 30 s).",
            show_default=False,
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="The CVE API 2.0 URL, e.g. a mirror or proxy (default: SAKIMORI_NVD_BASE_URL, "
            "else NVD's).",
            show_default=False,
        ),
    ] = None,
    restart: Annotated[
        bool,
        typer.Option(help="Discard an interrupted sync's checkpoint instead of resuming it."),
    ] = False,
) -> None:
    """Fetch the NVD records modified since the last sync from NVD's CVE API 2.0, page by page
    (each page stored with where to resume), and update the findings of the products they
    name."""
    import httpx

    from sakimori import __version__
    from sakimori.cli.context import open_db, settings
    from sakimori.errors import ConfigurationError
    from sakimori.intel.nvd_api import NVD_CVE_API, NvdApi
    from sakimori.services.assessment import policy_set
    from sakimori.services.nvd_sync import read_api_key
    from sakimori.services.nvd_sync import sync_nvd as run_sync

    config = settings()
    start, end = _moment(since, "--since"), _moment(until, "--until")
    url = base_url or config.nvd_base_url or NVD_CVE_API
    if not url.startswith(("https://", "http://")):
        raise ConfigurationError(f"--base-url {url!r} is not an http(s) URL")
    key_file = api_key_file or config.nvd_api_key_file
    key = read_api_key(key_file) if key_file is not None else config.nvd_api_key
    policies = policy_set(config.policy)
    db = open_db(config)
    try:
        # No redirects: the key is a request header, which a redirect would carry elsewhere.
        with httpx.Client(
            timeout=httpx.Timeout(config.http_timeout, connect=min(10.0, config.http_timeout)),
            headers={"User-Agent": f"sakimori/{__version__}"},
            follow_redirects=False,
        ) as client:
            api = NvdApi(client, base_url=url, api_key=key, retries=config.http_retries)
            report = run_sync(
                db,
                api,
                since=start,
                until=end,
                restart=restart,
                policies=policies,
                progress=_print_nvd_progress,
            )
    finally:
        db.dispose()
    findings = report.findings
    records = "record" if report.received == 1 else "records"
    pages = "page" if report.pages == 1 else "pages"
    typer.echo(
        f"{report.received:,} {records} received in {report.pages:,} {pages}: "
        f"{report.added:,} new, "
        f"{report.updated:,} changed; {report.records:,} NVD records stored. Findings: "
        f"{findings.opened:,} opened, {findings.closed:,} closed, {findings.reopened:,} "
        f"reopened. In {report.seconds:.1f} s."
    )


class JvnLanguage(StrEnum):
    JA = "ja"
    EN = "en"


@app.command("sync-jvn")
def sync_jvn(
    since: Annotated[
        str | None,
        typer.Option(
            help="First day (ISO date, JST) of entries last updated; default: the day after "
            "the last day synced.",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Last day (default: yesterday, JST).", show_default=False),
    ] = None,
    lang: Annotated[JvnLanguage, typer.Option(help="The language of JVN's text.")] = JvnLanguage.JA,
    base_url: Annotated[
        str | None,
        typer.Option(help="The MyJVN API URL (a mirror or proxy).", show_default=False),
    ] = None,
    interval: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Seconds between requests (MyJVN publishes no rate; a mirror may allow less).",
        ),
    ] = 1.0,
) -> None:
    """Fetch the JVN iPedia entries last updated in a window of days from the MyJVN API (one
    request a second; each page stored with where to resume): titles and descriptions in
    Japanese or English, the CVE ids they share, CVSS, products and vendor advisories."""
    from datetime import date

    import httpx

    from sakimori import __version__
    from sakimori.cli.context import open_db, settings
    from sakimori.errors import ConfigurationError, InvalidInput
    from sakimori.intel.myjvn_api import DEFAULT_BASE_URL, MyJvnApi
    from sakimori.services.jvn_sync import sync_jvn as run_sync

    def day(value: str | None, option: str) -> date | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(
                f"{option} {value!r} is not an ISO-8601 date", hint="e.g. 2025-04-01"
            ) from None

    url = base_url or DEFAULT_BASE_URL
    if not url.startswith(("https://", "http://")):
        raise ConfigurationError(f"--base-url {url!r} is not an http(s) URL")
    config = settings()
    db = open_db(config)
    try:
        with httpx.Client(
            timeout=httpx.Timeout(config.http_timeout, connect=min(10.0, config.http_timeout)),
            headers={"User-Agent": f"sakimori/{__version__}"},
        ) as client:
            api = MyJvnApi(
                client,
                base_url=url,
                lang="en" if lang is JvnLanguage.EN else "ja",
                retries=config.http_retries,
                min_interval=interval,
            )
            report = run_sync(db, api, since=day(since, "--since"), until=day(until, "--until"))
    finally:
        db.dispose()
    if report.status == "up-to-date":
        typer.echo(f"JVN iPedia ({lang.value}): up to date")
        return
    typer.echo(
        f"JVN iPedia ({lang.value}) {report.since} .. {report.until}: {report.received:,} entries "
        f"received in {report.pages:,} pages, {report.written:,} stored or changed"
        + (f"; {len(report.missing)} listed without details" if report.missing else "")
        + f". In {report.seconds:.1f} s."
    )


def _print_nvd_progress(report: NvdSyncReport, page: PageReport | None) -> None:
    def day(moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    if page is None:
        if report.resumed is not None:
            cp = report.resumed
            typer.echo(
                f"{report.location}: resuming the interrupted sync of {day(report.since)} .. "
                f"{day(report.until)} at {day(cp.window_start)} .. {day(cp.window_end)}, "
                f"record {cp.next_index:,}"
            )
        else:
            typer.echo(
                f"{report.location}: records modified {day(report.since)} .. {day(report.until)}"
            )
        return
    window = f"{day(page.window_start)} .. {day(page.window_end)}"
    if not page.records:
        typer.echo(f"  {window}: no records")
        return
    first = page.start_index + 1
    typer.echo(
        f"  {window}: records {first:,}-{page.start_index + page.records:,} of "
        f"{page.total:,}: {page.added:,} new, {page.updated:,} changed"
    )


def _age(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (datetime.now(UTC) - moment).total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


@app.command("status")
def status() -> None:
    """Show what is loaded, from where, and how fresh it is."""
    from rich.console import Console
    from rich.table import Table

    from sakimori.cli.context import open_db, settings
    from sakimori.services.intel import status as intel_status

    config = settings()
    db = open_db(config)
    try:
        current = intel_status(db)
    finally:
        db.dispose()
    console = Console(highlight=False)
    console.print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
    if not current.sources:
        console.print("nothing loaded yet: run `sakimori intel sync` or `sakimori intel load PATH`")
        return
    table = Table(header_style="bold")
    table.add_column("kind", no_wrap=True)
    table.add_column("records", justify="right", no_wrap=True)
    table.add_column("checked", no_wrap=True)
    table.add_column("changed", no_wrap=True)
    table.add_column("source", overflow="fold")
    for source in current.sources:
        details = dict(source.detail or {})
        if source.name in current.newest:
            details["newest record"] = current.newest[source.name][:10]
        detail = ", ".join(f"{k}={v}" for k, v in details.items() if v)
        table.add_row(
            source.kind,
            f"{source.record_count:,}",
            _age(source.checked_at),
            _age(source.changed_at),
            source.name + (f" ({detail})" if detail else ""),
        )
    console.print(table)
    counts = current.counts
    console.print(
        f"{counts['advisories']:,} advisories ({counts['withdrawn']:,} withdrawn), "
        f"{counts['affected_packages']:,} affected-package entries, "
        f"{counts['kev']:,} KEV entries, {counts['epss']:,} EPSS scores, "
        f"{counts['cve_records']:,} CVE records."
    )
