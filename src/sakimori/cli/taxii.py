"""``sakimori taxii …``: partners' TAXII 2.1 collections this instance pulls on a schedule
(docs/packages.md, "Pulling partners' collections").

Exit codes: 0 done; 2 refused or failed (bad input, no such source, the partner unreachable or
refusing, an answer too large), with one line on stderr saying why. ``taxii pull`` without a
name pulls every active source and exits 2 if any of them failed (the others are pulled).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sakimori.cli.context import actor, actor_option, open_db, settings
from sakimori.errors import ConfigurationError, InvalidInput, SakimoriError

app = typer.Typer(help="TAXII 2.1: pulling partners' collections.")
source_app = typer.Typer(help="The partners' collections pulled (sources).")
app.add_typer(source_app, name="source")

EXIT_FAILED = 2


def _first_line(path: Path, what: str) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the {what} file {path}: {exc}") from None
    value = lines[0].strip() if lines else ""
    if not value:
        raise ConfigurationError(f"the {what} file {path} is empty")
    return value


def _server_key() -> bytes:
    from sakimori.services.identity import TokenKey

    return TokenKey.load(settings().token_key_path).secret


@source_app.command("add")
def source_add(
    name: Annotated[str, typer.Argument(help="A short name: lower-case letters, digits, '-'.")],
    url: Annotated[
        str, typer.Argument(help="The partner's collection URL: …/{api-root}/collections/{id}/")
    ],
    user: Annotated[
        str | None, typer.Option(help="User name for HTTP Basic (with --password-file).")
    ] = None,
    password_file: Annotated[
        Path | None, typer.Option(help="A file whose first line is the password.")
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(help="A file holding a bearer token (a Sakimori instance's API token)."),
    ] = None,
    max_tlp: Annotated[
        str,
        typer.Option(
            help="The most restricted TLP label taken: CLEAR, GREEN, AMBER or AMBER+STRICT; "
            "objects above it (and unmarked objects, taken as AMBER) are refused."
        ),
    ] = "GREEN",
    every: Annotated[int, typer.Option(help="Minutes between scheduled pulls (5–10080).")] = 60,
    by: actor_option = None,
) -> None:
    """Register a partner's collection; its credentials are stored sealed."""
    from sakimori.services import taxii_pull

    if password_file is not None and token_file is not None:
        raise InvalidInput("give either --user/--password-file or --token-file, not both")
    if password_file is not None and not user:
        raise InvalidInput("--password-file needs --user", hint="or use --token-file")
    secret = None
    if password_file is not None:
        secret = _first_line(password_file, "password")
    elif token_file is not None:
        secret = _first_line(token_file, "token")
    db = open_db(settings())
    try:
        view = taxii_pull.add_source(
            db,
            _server_key(),
            name,
            url,
            actor=actor(by),
            user=user,
            secret=secret,
            max_tlp=max_tlp,
            every=every,
        )
    finally:
        db.dispose()
    typer.echo(
        f"source {view.name}: {view.url} (up to TLP:{view.max_tlp}, every "
        f"{view.interval_minutes} min) into collection {view.collection_alias} "
        f"({view.collection})"
    )


@source_app.command("list")
def source_list() -> None:
    """Every source: where, up to which TLP, the cursor, the last pull and its outcome."""
    from sakimori.services import taxii_pull

    db = open_db(settings())
    try:
        views = taxii_pull.list_sources(db)
    finally:
        db.dispose()
    if not views:
        typer.echo("no TAXII sources")
    for v in views:
        when = v.last_pulled_at.isoformat(timespec="seconds") if v.last_pulled_at else "never"
        state = "active" if v.active else "inactive"
        outcome = f"error: {v.last_error}" if v.last_error else f"{v.last_count} new"
        typer.echo(
            f"{v.name}\t{v.url}\tTLP:{v.max_tlp}\tevery {v.interval_minutes} min\t{state}\t"
            f"after {v.added_after or '-'}\tlast {when} ({outcome})"
        )


@source_app.command("remove")
def source_remove(name: Annotated[str, typer.Argument(help="The source's name.")]) -> None:
    """Remove a source and the objects pulled from it."""
    from sakimori.services import taxii_pull

    db = open_db(settings())
    try:
        gone = taxii_pull.remove_source(db, name)
    finally:
        db.dispose()
    typer.echo(f"source {name} removed, with the {gone} objects pulled from it")


@app.command("pull")
def pull(
    name: Annotated[
        str | None, typer.Argument(help="The source (default: every active source).")
    ] = None,
) -> None:
    """Pull now: page through the partner's collection after the cursor and keep what the
    source's TLP allows."""
    from sakimori.services import taxii_pull

    config = settings()
    key = _server_key()
    db = open_db(config)
    failed = 0
    try:
        names = [name] if name else [v.name for v in taxii_pull.list_sources(db) if v.active]
        if not names:
            typer.echo("no active TAXII sources")
        for each in names:
            try:
                report = taxii_pull.pull(db, config, each, server_key=key)
            except SakimoriError as exc:
                if name:
                    raise
                failed += 1
                typer.echo(f"{each}: failed: {exc.diagnostics()}", err=True)
                continue
            _show(report)
    finally:
        db.dispose()
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _show(report: object) -> None:
    from sakimori.services.taxii_pull import PullReport

    assert isinstance(report, PullReport)
    typer.echo(
        f"{report.source}: {report.pages} pages, {report.received} objects received, "
        f"{report.stored} stored, {report.already_held} already held, "
        f"{sum(report.refused.values())} refused"
    )
    for reason, count in sorted(report.refused.items()):
        typer.echo(f"  refused {count}: {reason}")
    typer.echo(f"  cursor: {report.cursor_after or '-'}")
