"""``sakimori triage explain|recompute``: why a finding got its decision and deadline."""

from __future__ import annotations

from typing import Annotated

import typer

from sakimori.cli.context import open_db, settings

app = typer.Typer(help="SSVC decisions and deadlines: explain one, recompute all.")


@app.command("explain")
def explain(finding: Annotated[int, typer.Argument(help="Finding id.")]) -> None:
    """Print the decision, every input, and where each input came from."""
    from sakimori.services.assessment import explanation_text

    db = open_db(settings())
    try:
        with db.transaction() as session:
            text = explanation_text(session, finding)
    finally:
        db.dispose()
    typer.echo(text)


@app.command("recompute")
def recompute() -> None:
    """Re-decide every open finding and recompute its deadline (after a policy change)."""
    from datetime import UTC, datetime

    from sakimori.services.assessment import assess_open, policy_set

    config = settings()
    policies = policy_set(config.policy)
    db = open_db(config)
    try:
        with db.transaction() as session:
            changed = assess_open(session, policies, datetime.now(UTC), f"policy {policies.name}")
    finally:
        db.dispose()
    typer.echo(f"{changed} findings changed decision or deadline (policy {policies.name})")


@app.command("history")
def history(
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
) -> None:
    """The re-assessments that changed something: when, why, under which policy set, and how
    many vulnerability shapes, rules and findings each changed (the audit trail of moved
    deadlines: findings themselves are never rewritten by triage)."""
    from sakimori.services.assessment import revisions

    db = open_db(settings())
    try:
        with db.transaction() as session:
            found = revisions(session, limit)
    finally:
        db.dispose()
    if not found:
        typer.echo("no triage revision yet (run `sakimori triage recompute`)")
        return
    for item in found:
        typer.echo(
            f"{item.id}  {item.at.isoformat(timespec='seconds')}  {item.policy_set}: "
            f"{item.findings_changed} findings, {item.rules_changed} rules, "
            f"{item.shapes_changed} shapes changed — {item.why}"
        )
