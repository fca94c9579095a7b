"""``sakimori finding …``: list findings, show one with its history, move it along."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer

from sakimori.cli.context import actor_option, open_db, settings
from sakimori.errors import InvalidInput

app = typer.Typer(help="Findings: list, show, and move through the lifecycle.")


@app.command("list")
def list_command(
    organisation: Annotated[
        str | None, typer.Option("--org", help="Only this organisation.")
    ] = None,
    asset: Annotated[str | None, typer.Option(help="Only this asset (ORG/ASSET).")] = None,
    state: Annotated[list[str] | None, typer.Option(help="Only these states (repeatable).")] = None,
    all_states: Annotated[bool, typer.Option("--all", help="Closed findings too.")] = False,
    vulnerability: Annotated[str | None, typer.Option(help="Only this vulnerability id.")] = None,
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    limit: Annotated[int, typer.Option(help="At most this many.")] = 1000,
    offset: Annotated[int, typer.Option(help="Skip this many first.")] = 0,
) -> None:
    """List findings (open ones unless --all or --state)."""
    from sakimori.model.lifecycle import parse_state
    from sakimori.services.findings import Filters, list_findings

    states = [parse_state(s).value for s in state or []]
    filters = Filters(
        organisation, asset, states, not all_states, vulnerability, max(1, limit), max(0, offset)
    )
    db = open_db(settings())
    try:
        found = list_findings(db, filters)
    finally:
        db.dispose()
    if output_format == "json":
        import orjson

        typer.echo(orjson.dumps([_json(f) for f in found], option=orjson.OPT_INDENT_2).decode())
        return
    if output_format != "table":
        raise InvalidInput(f"unknown format {output_format!r}", hint="table or json")
    from rich.console import Console
    from rich.table import Table

    now = datetime.now(UTC)
    table = Table(header_style="bold")
    for column in (
        "id",
        "asset",
        "vulnerability",
        "package",
        "version",
        "state",
        "decision",
        "due",
    ):
        table.add_column(column, overflow="fold")
    for f in found:
        table.add_row(
            str(f.id),
            f.asset,
            f.vulnerability,
            f.package or "",
            f.version or "",
            f.state,
            f.decision or "",
            _due(f.deadline, f.state, now),
        )
    console = Console(highlight=False)
    console.print(table)
    console.print(f"{len(found)} findings")


def _due(deadline: datetime | None, state: str, now: datetime) -> str:
    """The due date, marked when it has passed on a finding still open."""
    from sakimori.model.lifecycle import CLOSED, State
    from sakimori.triage.policy import due_status

    if deadline is None:
        return ""
    day = deadline.date().isoformat()
    if State(state) in CLOSED:
        return day
    found = due_status(deadline, now)
    return f"{day} overdue" if found.state == "overdue" else day


def _json(view: object) -> dict[str, object]:
    from dataclasses import asdict

    data = asdict(view)  # type: ignore[call-overload]
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


@app.command("show")
def show_command(finding: Annotated[int, typer.Argument(help="Finding id.")]) -> None:
    """Show a finding and every transition it went through."""
    from sakimori.services.findings import show

    db = open_db(settings())
    try:
        view, history = show(db, finding)
    finally:
        db.dispose()
    typer.echo(
        f"finding {view.id}: {view.vulnerability} in {view.package} {view.version} "
        f"({view.ecosystem}) on {view.asset}"
    )
    if view.aliases:
        typer.echo(f"  also known as: {', '.join(view.aliases)}")
    typer.echo(f"  state: {view.state}" + (f" ({view.resolution})" if view.resolution else ""))
    if view.decision:
        from sakimori.triage.policy import due_status

        typer.echo(f"  decision: {view.decision}, priority {view.priority}")
        if view.deadline:
            left = due_status(view.deadline, datetime.now(UTC)).text
            typer.echo(f"  deadline: {view.deadline.isoformat(timespec='minutes')} ({left})")
        else:
            typer.echo("  deadline: none set by the policy")
        typer.echo(f"  why: sakimori triage explain {view.id}")
    if view.fixed:
        typer.echo(f"  fixed in: {', '.join(view.fixed)}")
    if view.justification:
        typer.echo(f"  VEX justification: {view.justification}")
    if view.risk_accepted_until:
        typer.echo(f"  risk accepted until {view.risk_accepted_until}")
    typer.echo("  history:")
    for t in history:
        came = t.from_state or "-"
        note = f": {t.note}" if t.note else ""
        typer.echo(
            f"    {t.at.isoformat(timespec='seconds')}  {t.actor}  {came} -> {t.to_state}{note}"
        )


@app.command("set")
def set_command(
    finding: Annotated[int, typer.Argument(help="Finding id.")],
    state: Annotated[
        str,
        typer.Argument(
            help="acknowledged, in_progress, fix_applied, fixed, mitigated, not_affected, "
            "risk_accepted or open."
        ),
    ],
    note: Annotated[str, typer.Option(help="Why; kept in the history.")] = "",
    justification: Annotated[
        str | None, typer.Option(help="VEX justification, for not_affected.")
    ] = None,
    expires: Annotated[str | None, typer.Option(help="YYYY-MM-DD, for risk_accepted.")] = None,
    by: actor_option = None,
) -> None:
    """Move a finding to another state (checked against its lifecycle)."""
    from sakimori.cli.context import actor
    from sakimori.model.lifecycle import Move, parse_state
    from sakimori.services.findings import transition

    until: date | None = None
    if expires is not None:
        try:
            until = date.fromisoformat(expires)
        except ValueError:
            raise InvalidInput(f"--expires {expires!r} is not a date", hint="YYYY-MM-DD") from None
    move = Move(parse_state(state), actor(by), note, justification, until)
    db = open_db(settings())
    try:
        view = transition(db, finding, move)
    finally:
        db.dispose()
    typer.echo(f"finding {view.id} is now {view.state}")


@app.command("reopen-expired")
def reopen_expired_command() -> None:
    """Reopen every finding whose risk acceptance has expired."""
    from sakimori.services.findings import reopen_expired

    db = open_db(settings())
    try:
        count = reopen_expired(db)
    finally:
        db.dispose()
    typer.echo(f"{count} accepted risks expired and were reopened")
