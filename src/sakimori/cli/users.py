"""``sakimori user …`` and ``sakimori token …``: people, their roles, their API tokens."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated

import typer

from sakimori.cli.context import open_db, settings
from sakimori.errors import InvalidInput

user_app = typer.Typer(help="Users: who may sign in, in which organisation, with which role.")
token_app = typer.Typer(help="API tokens: scoped, expiring, revocable; shown once.")
totp_app = typer.Typer(
    help="The second factor (TOTP): status and reset. Exit codes: `status` 0 when the user "
    "has a second factor, 1 when not; `reset` 0 when reset; 2 on an error (no such user, "
    "nothing to reset)."
)
user_app.add_typer(totp_app, name="totp")

#: ``user totp status``: the user has no second factor (0: they have one; 2: an error).
EXIT_NO_SECOND_FACTOR = 1


def _password(from_stdin: bool, prompt: bool) -> str | None:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InvalidInput("no password on standard input")
        return line
    if prompt:
        entered: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        return entered
    return None


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="Login name, e.g. aiko.sato.")],
    organisation: Annotated[str, typer.Option("--org", help="The user's organisation.")],
    role: Annotated[
        str,
        typer.Option(
            help="coordinator_admin, analyst (coordinator); member_admin, member_user "
            "(agency, operator); vendor; partner."
        ),
    ],
    display_name: Annotated[str, typer.Option("--display-name", help="Full name.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    ask_password: Annotated[
        bool, typer.Option("--password", help="Prompt for a password (for the web sign-in).")
    ] = False,
) -> None:
    """Add a user with one role in one organisation."""
    from sakimori.services.identity import create_user

    password = _password(password_stdin, ask_password)
    db = open_db(settings())
    try:
        made = create_user(
            db,
            name,
            organisation=organisation,
            role=role,
            display_name=display_name,
            password=password,
        )
    finally:
        db.dispose()
    typer.echo(f"user {made.name} ({made.role} of {made.organisation})")


@user_app.command("list")
def user_list() -> None:
    """List users."""
    from rich.console import Console
    from rich.table import Table

    from sakimori.services.identity import list_users

    db = open_db(settings())
    try:
        found = list_users(db)
    finally:
        db.dispose()
    table = Table(header_style="bold")
    for column in ("user", "name", "organisation", "role", "active"):
        table.add_column(column)
    for u in found:
        table.add_row(u.name, u.display_name, u.organisation, u.role, "yes" if u.active else "no")
    Console(highlight=False).print(table)


@user_app.command("deactivate")
def user_deactivate(name: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Deactivate a user: they can no longer sign in, and every token of theirs is revoked."""
    from sakimori.services.identity import deactivate_user

    db = open_db(settings())
    try:
        revoked = deactivate_user(db, name)
    finally:
        db.dispose()
    typer.echo(f"user {name} deactivated; {revoked} tokens revoked")


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Argument(help="Whose token.")],
    name: Annotated[str, typer.Option(help="What it is for, e.g. ci-upload.")],
    scope: Annotated[
        list[str] | None, typer.Option(help="read or write (repeatable; default read).")
    ] = None,
    days: Annotated[int, typer.Option(help="Days until it expires (at most 366).")] = 90,
) -> None:
    """Make a token and print it once; only a keyed hash of it is stored."""
    from sakimori.services.identity import TokenKey, create_token

    config = settings()
    key = TokenKey.load(config.token_key_path)
    db = open_db(config)
    try:
        view, secret = create_token(db, key, user, name, scope or ["read"], timedelta(days=days))
    finally:
        db.dispose()
    typer.echo(
        f"token {view.id} for {view.user} ({', '.join(view.scopes)}; expires "
        f"{view.expires_at.date().isoformat()}). It is shown only now:",
        err=True,
    )
    typer.echo(secret)


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Argument(help="Only this user's tokens.")] = None,
) -> None:
    """List tokens (never their secrets)."""
    from rich.console import Console
    from rich.table import Table

    from sakimori.services.identity import list_tokens

    db = open_db(settings())
    try:
        found = list_tokens(db, user)
    finally:
        db.dispose()
    table = Table(header_style="bold")
    for column in ("id", "user", "name", "scopes", "expires", "revoked", "last used"):
        table.add_column(column)
    for t in found:
        table.add_row(
            t.id,
            t.user,
            t.name,
            ", ".join(t.scopes),
            t.expires_at.isoformat(timespec="minutes"),
            t.revoked_at.isoformat(timespec="minutes") if t.revoked_at else "",
            t.last_used_at.isoformat(timespec="minutes") if t.last_used_at else "",
        )
    Console(highlight=False).print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="The token's id.")]) -> None:
    """Revoke a token at once."""
    from sakimori.services.identity import revoke_token

    db = open_db(settings())
    try:
        view = revoke_token(db, token_id)
    finally:
        db.dispose()
    typer.echo(f"token {view.id} of {view.user} revoked")


@totp_app.command("status")
def totp_status(name: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Whether the user has a second factor (exit 0) or not (exit 1), and whether their role
    needs one; never the secret."""
    from sakimori.services.second_factor import status

    db = open_db(settings())
    try:
        found = status(db, name)
    finally:
        db.dispose()
    need = "required for" if found.required else "optional for"
    if found.enrolled and found.confirmed_at is not None:
        typer.echo(
            f"user {found.user}: second factor on since "
            f"{found.confirmed_at.isoformat(timespec='minutes')}, "
            f"{found.recovery_codes_left} recovery codes left ({need} {found.role})"
        )
        return
    typer.echo(f"user {found.user}: no second factor ({need} {found.role})")
    raise typer.Exit(EXIT_NO_SECOND_FACTOR)


@totp_app.command("reset")
def totp_reset(name: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Remove the user's second factor and recovery codes and end their browser sessions (for
    a lost phone); they enrol again at their next sign-in. Written to the audit log as done by
    the server's operator."""
    from sakimori.services.second_factor import reset_by_operator

    db = open_db(settings())
    try:
        ended = reset_by_operator(db, name)
    finally:
        db.dispose()
    typer.echo(f"user {name}: second factor reset; {ended} browser sessions ended")
