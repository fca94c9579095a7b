"""``sakimori csaf …``: the CSAF provider's signing key (docs/packages.md, "CSAF trusted
provider")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sakimori.cli.context import settings

app = typer.Typer(help="The CSAF 2.0 provider: its OpenPGP signing key.")


@app.command("keygen")
def keygen(
    name: Annotated[
        str, typer.Option(help="The key's user id name.")
    ] = "Sakimori CSAF signing key",
    email: Annotated[str, typer.Option(help="The key's user id e-mail.")] = "csaf@sakimori.example",
    algorithm: Annotated[
        str, typer.Option(help="ed25519, rsa3072 (gpg's default, widest support) or rsa4096.")
    ] = "rsa3072",
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the secret key (default: SAKIMORI_CSAF_KEY_FILE, else "
            "$SAKIMORI_HOME/csaf/signing-key.asc). Never overwritten."
        ),
    ] = None,
    passphrase_file: Annotated[
        Path | None,
        typer.Option(help="Protect the key with the passphrase in this file (first line)."),
    ] = None,
) -> None:
    """Make the OpenPGP key CSAF documents are signed with (its secret part, mode 0600)."""
    from sakimori.services.csaf_signing import generate_key, read_passphrase

    config = settings()
    target = out or config.csaf_key_path
    made = generate_key(
        target,
        name=name,
        email=email,
        algorithm=algorithm,
        passphrase=read_passphrase(passphrase_file),
    )
    typer.echo(f"fingerprint {made.fingerprint}")
    typer.echo(f"secret key written to {made.path}")
    if target != config.csaf_key_path:
        typer.echo(f"set SAKIMORI_CSAF_KEY_FILE={made.path} for the server to sign with it")
