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
