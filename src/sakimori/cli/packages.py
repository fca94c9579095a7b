"""``sakimori package …``: draft, submit, publish, list, show and acknowledge counter-measure
packages from the command line, as a named user (``--by``) whose role the rules apply to,
exactly as for an API token with read and write scopes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from sqlalchemy import select

from sakimori.cli.context import actor, actor_option, open_db, settings
from sakimori.errors import InvalidInput, NotFound
from sakimori.services import access
from sakimori.store import models
from sakimori.store.db import Database

app = typer.Typer(help="Counter-measure packages: draft, review, publish (two people), read.")

PackageArg = Annotated[int, typer.Argument(help="The package's id.", min=1)]


def _principal(db: Database, name: str) -> access.Principal:
    with db.transaction() as session:
        row = session.execute(
            select(models.User, models.Membership, models.Organisation)
            .join(models.Membership, models.Membership.user_id == models.User.id)
            .join(models.Organisation, models.Organisation.id == models.Membership.organisation_id)
            .where(models.User.name == name.strip().lower(), models.User.active.is_(True))
        ).first()
    if row is None:
        raise NotFound(f"no active user {name!r}", hint="see `sakimori user list`; pass --by")
    user, membership, organisation = row
    return access.Principal(
        user_id=user.id,
        name=user.name,
        role=access.Role(membership.role),
        organisation_id=organisation.id,
        organisation=organisation.slug,
        scopes=frozenset(access.Scope),
    )


def _read_content(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        value = yaml.safe_load(text) if path.suffix in {".yaml", ".yml"} else json.loads(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise InvalidInput(f"{path} is not valid JSON or YAML: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{path} does not hold a package (an object)")
    return value


def _run(by: str | None, call: Any) -> Any:
    db = open_db(settings())
    try:
        return call(db, _principal(db, actor(by)))
    finally:
        db.dispose()


def _line(view: Any) -> str:
    head = f"package {view.id} [{view.state}] rev {view.revision}"
    return f"{head} TLP:{view.tlp.value} {view.content.title}"


@app.command("draft")
def draft(
    file: Annotated[Path, typer.Argument(help="The content, as JSON or YAML (docs/packages.md).")],
    by: actor_option = None,
) -> None:
    """Draft a package from a file."""
    value = _read_content(file)
    typer.echo(_line(_run(by, lambda db, p: access.create_package(db, p, value))))


@app.command("submit")
def submit(package: PackageArg, by: actor_option = None) -> None:
    """Submit the draft revision for review."""
    typer.echo(_line(_run(by, lambda db, p: access.move_package(db, p, package, "submit"))))


@app.command("publish")
def publish(package: PackageArg, by: actor_option = None) -> None:
    """Approve and publish the revision in review (not by its author)."""
    typer.echo(_line(_run(by, lambda db, p: access.move_package(db, p, package, "approve"))))


@app.command("list")
def list_packages(by: actor_option = None) -> None:
    """The packages the user may see."""
    for view in _run(by, access.list_packages):
        typer.echo(_line(view))


@app.command("show")
def show(
    package: PackageArg,
    by: actor_option = None,
    form: Annotated[
        str, typer.Option("--format", help="json (the content), csaf or stix.")
    ] = "json",
) -> None:
    """Print a package: its content, its CSAF advisory or its STIX bundle."""
    if form == "csaf":
        out = _run(by, lambda db, p: access.package_csaf(db, p, package))
    elif form == "stix":
        out = _run(by, lambda db, p: access.package_stix(db, p, package))
    elif form == "json":
        view = _run(by, lambda db, p: access.read_package(db, p, package))
        out = {
            "id": view.id,
            "state": view.state,
            "revision": view.revision,
            "content": view.content.to_dict(),
        }
    else:
        raise InvalidInput(f"format {form!r} is not json, csaf or stix")
    typer.echo(json.dumps(out, indent=2, ensure_ascii=False))


@app.command("ack")
def ack(package: PackageArg, by: actor_option = None) -> None:
    """Acknowledge a package for the user's organisation."""
    done = _run(by, lambda db, p: access.acknowledge_package(db, p, package))
    typer.echo(f"package {package} acknowledged for {done.organisation} by {done.acknowledged_by}")


@app.command("followup")
def followup(
    now: Annotated[
        str | None,
        typer.Option(help="Act as if it were this time (ISO 8601 with a zone; default: now)."),
    ] = None,
) -> None:
    """Send the acknowledgement reminders, escalations and report reminders that are due
    (what the worker's ``packages.followup`` job does), and print each step. The e-mails are
    queued as jobs: ``sakimori worker`` sends them."""
    from datetime import UTC, datetime

    from sakimori.services import package_followup

    moment = datetime.now(UTC)
    if now is not None:
        try:
            moment = datetime.fromisoformat(now)
        except ValueError:
            raise InvalidInput(f"--now {now!r} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise InvalidInput(
                f"--now {now!r} has no time zone", hint="e.g. 2026-12-01T09:00+09:00"
            )
    config = settings()
    db = open_db(config)
    try:
        with db.transaction() as session:
            done = package_followup.run(session, moment, package_followup.policy_of(config))
    finally:
        db.dispose()
    for step in done:
        report = f" ({step.report})" if step.report else ""
        typer.echo(
            f"package {step.package_id} {step.organisation}: {step.what}{report}, "
            f"{step.messages} e-mails queued"
        )
    typer.echo(f"{len(done)} follow-up steps; e-mails are sent by `sakimori worker`")
