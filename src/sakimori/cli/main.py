"""The ``sakimori`` command: Typer commands, and the one place errors become messages.

Exit codes: 0 done; 1 ``scan`` found something at or above ``--fail-on``; 2 an error (bad input,
unreachable source, bad settings) — reported as one line on standard error, with the stack trace
only under ``--verbose``.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any

import typer
import typer.main

from sakimori import __version__
from sakimori.errors import SakimoriError

EXIT_FINDINGS = 1
EXIT_ERROR = 2

app = typer.Typer(
    name="sakimori",
    help="Sakimori: vulnerability exposure, triage and counter-measures for national defenders.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class _State:
    verbose = False
    command: Any = None  # the Click command built from ``app``, once per process


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sakimori {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress; show stack traces on errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    _State.verbose = verbose
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _register() -> None:
    from sakimori.cli import (
        audit,
        csaf,
        demo,
        finding,
        intel,
        notify,
        packages,
        probe,
        product,
        registry,
        report,
        scan,
        serve,
        taxii,
        triage,
        updates,
        users,
        vex,
        watch,
        worker,
    )

    app.add_typer(intel.app, name="intel")
    app.command("scan")(scan.scan)
    app.add_typer(registry.org_app, name="org")
    app.add_typer(registry.asset_app, name="asset")
    app.add_typer(registry.inventory_app, name="inventory")
    app.add_typer(product.app, name="product")
    app.add_typer(finding.app, name="finding")
    app.command("report")(report.report)
    app.add_typer(triage.app, name="triage")
    app.add_typer(vex.app, name="vex")
    app.command("watch")(watch.watch)
    app.command("probe")(probe.probe)
    app.add_typer(updates.app, name="updates")
    app.command("serve")(serve.serve)
    app.add_typer(users.user_app, name="user")
    app.add_typer(users.token_app, name="token")
    app.add_typer(packages.app, name="package")
    app.add_typer(csaf.app, name="csaf")
    app.add_typer(taxii.app, name="taxii")
    app.add_typer(notify.app, name="notify")
    app.add_typer(audit.app, name="audit")
    app.command("worker")(worker.worker)
    app.command("demo")(demo.demo)


def _command() -> Any:
    """The Click command of ``app``: built once, since building it inspects every command's
    signature (tens of milliseconds, paid again by every in-process call otherwise)."""
    if _State.command is None:
        _register()
        _State.command = typer.main.get_command(app)
    return _State.command


def main() -> None:
    try:
        code = _command()(standalone_mode=False)
    except SakimoriError as exc:
        if _State.verbose:
            logging.getLogger("sakimori").exception("error")
        typer.echo(f"sakimori: error: {exc.diagnostics()}", err=True)
        raise SystemExit(exc.exit_code) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        typer.echo("sakimori: aborted", err=True)
        raise SystemExit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        typer.echo("sakimori: interrupted", err=True)
        raise SystemExit(130) from None
    except typer.TyperException as exc:  # usage errors: bad options, missing arguments
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"sakimori: error: {exc.format_message()}", err=True)
        raise SystemExit(EXIT_ERROR) from None
    except Exception as exc:  # the CLI is the one place that turns anything into a message
        if _State.verbose:
            raise
        typer.echo(
            f"sakimori: internal error: {type(exc).__name__}: {exc} "
            "(rerun with --verbose for the stack trace, and report it)",
            err=True,
        )
        raise SystemExit(EXIT_ERROR) from None
    raise SystemExit(code if isinstance(code, int) else 0)
