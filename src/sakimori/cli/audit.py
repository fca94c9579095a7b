"""``sakimori audit verify|export|prune``: the tamper-evident audit log (docs/audit-and-jobs.md)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from sakimori.errors import SakimoriError

app = typer.Typer(help="The audit log: verify the hash chain, export it, prune it.")


class ChainBroken(SakimoriError):
    """The audit chain does not verify."""


def _key(config_key_path: Path) -> bytes:
    from sakimori.services.identity import TokenKey

    return TokenKey.load(config_key_path).secret


@app.command("verify")
def verify() -> None:
    """Walk the chain; exit 2 and name the first broken entry if it does not verify."""
    from sakimori.cli.context import open_db, settings
    from sakimori.services import audit

    config = settings()
    db = open_db(config)
    try:
        result = audit.verify(db, _key(config.token_key_path))
    finally:
        db.dispose()
    if not result.ok:
        raise ChainBroken(
            f"the audit log does not verify at entry {result.broken_at}: {result.reason}",
            hint=f"{result.checked} entries before it verified",
        )
    typer.echo(
        f"ok: {result.checked} entries ({result.first_seq}–{result.head_seq}) verify; "
        f"head {result.head_hash}"
    )


@app.command("export")
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    since: Annotated[int, typer.Option(help="Only entries after this number.", min=0)] = 0,
) -> None:
    """Write the entries as JSON lines (the newest checkpoint first, when there is one)."""
    from sakimori.cli.context import open_db, settings
    from sakimori.services import audit

    config = settings()
    db = open_db(config)
    try:
        if output is None:
            for line in audit.export(db, since):
                sys.stdout.buffer.write(line)
            sys.stdout.flush()
        else:
            with output.open("wb") as handle:
                for line in audit.export(db, since):
                    handle.write(line)
    finally:
        db.dispose()


@app.command("prune")
def prune(
    days: Annotated[
        int | None,
        typer.Option(help="Keep this many days (default: SAKIMORI_AUDIT_RETENTION_DAYS).", min=1),
    ] = None,
) -> None:
    """Delete entries older than the retention period, leaving a signed checkpoint."""
    from sakimori.cli.context import open_db, settings
    from sakimori.services import audit

    config = settings()
    keep = days or config.audit_retention_days
    db = open_db(config)
    try:
        result = audit.prune(
            db, _key(config.token_key_path), datetime.now(UTC) - timedelta(days=keep)
        )
    finally:
        db.dispose()
    if result.checkpoint_seq is None:
        typer.echo(f"nothing older than {keep} days")
    else:
        typer.echo(
            f"pruned {result.deleted} entries; the chain resumes after entry "
            f"{result.checkpoint_seq}"
        )
