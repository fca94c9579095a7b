"""``sakimori notify …``: notification endpoints (webhooks, e-mail addresses) with their
filters, and the deliveries with the dead-letter list, as a named user (``--by``) whose role
the rules apply to — coordinator admins for every organisation, member admins for their own.

Exit codes: 0 done; 2 refused (bad input, not allowed, not found, a conflict), with one line
on stderr saying why.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sakimori.cli.context import actor, actor_option, open_db, settings
from sakimori.errors import InvalidInput

app = typer.Typer(help="Package notifications: webhooks, e-mail, deliveries, dead letters.")


def _run(by: str | None, call: Any) -> Any:
    from sakimori.cli.packages import _principal

    db = open_db(settings())
    try:
        return call(db, _principal(db, actor(by)))
    finally:
        db.dispose()


@app.command("add")
def add(
    organisation: Annotated[str, typer.Argument(help="The organisation (slug).")],
    webhook: Annotated[str | None, typer.Option(help="An https:// URL.")] = None,
    email: Annotated[str | None, typer.Option(help="An e-mail address.")] = None,
    user: Annotated[
        str | None,
        typer.Option(
            help="E-mail: the member whose own mailbox it is (TLP:RED reaches only these)."
        ),
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="E-mail language: ja or en (default: both).")
    ] = None,
    sector: Annotated[
        list[str] | None, typer.Option(help="Only packages for this sector (repeatable).")
    ] = None,
    vulnerability: Annotated[
        list[str] | None, typer.Option(help="Only packages covering this id (repeatable).")
    ] = None,
    product: Annotated[
        list[str] | None, typer.Option(help="Only packages with a purl starting so (repeatable).")
    ] = None,
    min_tlp: Annotated[str | None, typer.Option(help="Lowest TLP label sent.")] = None,
    max_tlp: Annotated[str | None, typer.Option(help="Highest TLP label sent.")] = None,
    digest: Annotated[
        bool,
        typer.Option(
            "--digest",
            help="Low-priority notifications (no affected software at the organisation) wait "
            "for one digest per period.",
        ),
    ] = False,
    by: actor_option = None,
) -> None:
    """Register a webhook or an e-mail address; a webhook's secret is printed this once."""
    from sakimori.notify.filters import Filters, names
    from sakimori.packages.model import Tlp
    from sakimori.services import notifications
    from sakimori.services.identity import TokenKey

    if (webhook is None) == (email is None):
        raise InvalidInput("give exactly one of --webhook and --email")
    spec = notifications.EndpointSpec(
        organisation=organisation,
        kind="webhook" if webhook else "email",
        target=webhook or email or "",
        user=user,
        language=language,
        filters=Filters(
            sectors=names(sector or (), "sectors"),
            vulnerabilities=names(vulnerability or (), "vulnerabilities"),
            purl_prefixes=names(product or (), "products"),
            min_tlp=None if min_tlp is None else Tlp.parse(min_tlp),
            max_tlp=None if max_tlp is None else Tlp.parse(max_tlp),
        ),
        digest=digest,
    )
    key = TokenKey.load(settings().token_key_path).secret
    view, secret = _run(by, lambda db, p: notifications.create_endpoint(db, p, key, spec))
    digested = " (low-priority notifications in digests)" if view.digest else ""
    typer.echo(f"endpoint {view.id}: {view.kind} for {view.organisation}{digested}")
    if secret is not None:
        typer.echo(f"signing secret (shown once, keep it safe): {secret}")


@app.command("list")
def list_endpoints(
    organisation: Annotated[str | None, typer.Argument(help="Only this organisation.")] = None,
    by: actor_option = None,
) -> None:
    """The active endpoints the user manages."""
    from sakimori.services import notifications

    for v in _run(by, lambda db, p: notifications.list_endpoints(db, p, organisation)):
        f = v.filters
        parts = [
            f"sectors={','.join(f.sectors)}" if f.sectors else "",
            f"vulnerabilities={','.join(f.vulnerabilities)}" if f.vulnerabilities else "",
            f"products={','.join(f.purl_prefixes)}" if f.purl_prefixes else "",
            f"min_tlp={f.min_tlp.value}" if f.min_tlp else "",
            f"max_tlp={f.max_tlp.value}" if f.max_tlp else "",
            f"user={v.user}" if v.user else "",
            f"language={v.language}" if v.language else "",
            "digest" if v.digest else "",
        ]
        extra = " ".join(p for p in parts if p)
        typer.echo(f"{v.id}\t{v.organisation}\t{v.kind}\t{v.target}\t{extra}".rstrip())


@app.command("remove")
def remove(
    endpoint: Annotated[int, typer.Argument(help="The endpoint's id.", min=1)],
    by: actor_option = None,
) -> None:
    """Stop sending to an endpoint."""
    from sakimori.services import notifications

    view = _run(by, lambda db, p: notifications.remove_endpoint(db, p, endpoint))
    typer.echo(f"endpoint {view.id} of {view.organisation} removed")


@app.command("deliveries")
def deliveries(
    state: Annotated[
        str,
        typer.Option(
            help="dead (the dead-letter list), pending, held (waiting for a digest), "
            "delivered, dropped or any."
        ),
    ] = "dead",
    organisation: Annotated[str | None, typer.Option("--org", help="Only this one.")] = None,
    package: Annotated[int | None, typer.Option(help="Only this package.", min=1)] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    by: actor_option = None,
) -> None:
    """Deliveries, newest first (by default the dead letters)."""
    from sakimori.services import notifications

    found = _run(
        by,
        lambda db, p: notifications.list_deliveries(
            db,
            p,
            state=None if state == "any" else state,
            organisation=organisation,
            package_id=package,
            limit=limit,
        ),
    )
    for d in found:
        typer.echo(
            f"{d.id}\tpackage {d.package_id} r{d.revision}\t{d.organisation}\t{d.kind} "
            f"{d.endpoint_id}\t{d.state}\t{d.attempts}/{d.max_attempts}\t{d.last_error or ''}"
            + (f"\tdigest {d.digest_id}" if d.digest_id is not None else "")
        )


@app.command("retry")
def retry(
    delivery: Annotated[int, typer.Argument(help="The dead delivery's id.", min=1)],
    by: actor_option = None,
) -> None:
    """Give a dead delivery a fresh budget of attempts (a worker sends it); one carried by a
    digest retries the digest."""
    from sakimori.notify.settings import NotifySettings
    from sakimori.services import notifications

    budget = NotifySettings.load().attempts
    view = _run(by, lambda db, p: notifications.retry_delivery(db, p, delivery, budget))
    typer.echo(f"delivery {view.id} is {view.state} again ({view.max_attempts} attempts allowed)")
