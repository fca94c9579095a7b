"""``sakimori csaf …``: the CSAF provider's signing key, and fetching another provider's
advisories (docs/packages.md, "CSAF trusted provider" and "CSAF consumer")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sakimori.cli.context import settings

app = typer.Typer(help="CSAF 2.0: the provider's signing key; fetching other providers.")


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


@app.command("fetch")
def fetch(
    provider: Annotated[
        str,
        typer.Argument(
            help="The provider: a domain or base URL (its /.well-known/csaf/"
            "provider-metadata.json is read) or the provider metadata URL.",
            show_default=False,
        ),
    ],
    token_file: Annotated[
        Path | None,
        typer.Option(
            help="A file holding a bearer token, sent to the provider's own origin only (a "
            "Sakimori provider's GREEN feed). Never logged or stored.",
            show_default=False,
        ),
    ] = None,
    tlp: Annotated[
        str,
        typer.Option(
            help="The TLP labels to fetch, comma-separated: CLEAR, GREEN (AMBER and RED are "
            "never imported: every user of this instance reads imported advisories)."
        ),
    ] = "CLEAR",
) -> None:
    """Read a CSAF 2.0 provider: download its new and changed documents, verify their hashes
    and OpenPGP signatures and structure, and import them as advisories (all or nothing)."""
    from sakimori.cli.context import open_db
    from sakimori.services.csaf_fetch import fetch_provider, labels_of, read_token

    config = settings()
    labels = labels_of(tlp)
    token = read_token(token_file) if token_file is not None else None
    db = open_db(config)
    try:
        report = fetch_provider(db, provider, config, labels=labels, token=token)
    finally:
        db.dispose()
    echo = typer.echo
    echo(f"provider {report.provider}")
    for url in report.feeds:
        echo(f"  read {url}")
    for url, label, why in report.feeds_skipped:
        echo(f"  skipped TLP:{label} feed {url}: {why}")
    echo(
        f"documents: {len(report.new)} new, {len(report.changed)} changed, "
        f"{report.unchanged} unchanged; {report.verified} downloaded and verified "
        "(hash, signature, structure)"
    )
    for url, label in report.skipped:
        echo(f"  not imported (TLP:{label} not asked for): {url}")
    if report.no_longer_listed:
        echo(
            f"{len(report.no_longer_listed)} documents fetched before are no longer listed; "
            "their advisories are kept"
        )
    changes = report.changes
    echo(
        f"advisories: {changes.added} added, {changes.changed} changed, "
        f"{changes.unchanged} unchanged, from {report.products} products with a package URL"
    )
    if report.not_imported:
        reasons: dict[str, int] = {}
        for item in report.not_imported:
            reasons[item.reason] = reasons.get(item.reason, 0) + 1
        said = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
        echo(f"products not imported: {len(report.not_imported)} ({said})")
    found = report.findings
    echo(f"findings: {found.opened} opened, {found.reopened} reopened, {found.closed} closed")
