"""``sakimori probe``: find flaws in a source tree before an attacker's AI does.

The taint engine and the secrets scan, then (each optional) the external analysers (Bandit,
Semgrep with local rules), the dependency exposure of the tree's lockfiles and manifests, the LLM
reviewer with its patch gate, and the recording of the code findings for an asset.

Exit codes: 0 no finding at or above ``--fail-on``; 1 findings at or above it; 2 an error.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sakimori.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable

    from sakimori.config import Settings
    from sakimori.probe.findings import ProbeReport
    from sakimori.probe.llm.settings import ReviewOptions


class ProbeFormat(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"


class FailOn(StrEnum):
    none = "none"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class LLMProvider(StrEnum):
    anthropic = "anthropic"
    openai = "openai"


_THRESHOLDS = {"none": None, "low": 0.1, "medium": 4.0, "high": 7.0, "critical": 9.0}
_LLM = "LLM reviewer (optional; see docs/probe.md)"
_MORE = "Other analysers, dependencies, tracking"


def probe(
    path: Annotated[Path, typer.Argument(help="A source tree or one Python file.")],
    output_format: Annotated[
        ProbeFormat, typer.Option("--format", "-f", help="table, json, or SARIF 2.1.0.")
    ] = ProbeFormat.table,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report here instead of standard output."),
    ] = None,
    fail_on: Annotated[
        FailOn,
        typer.Option("--fail-on", help="Exit 1 when a finding's severity is at least this."),
    ] = FailOn.none,
    local_sources: Annotated[
        bool,
        typer.Option(
            "--local-sources",
            help="Also treat the environment, command line, standard input and file contents "
            "as attacker-controlled (default: request data, sockets and network responses only).",
        ),
    ] = False,
    secrets: Annotated[
        bool,
        typer.Option(
            "--secrets/--no-secrets",
            help="Scan every text file for committed keys and tokens (reported redacted).",
        ),
    ] = True,
    allow_secret: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-secret",
            help="Ignore a secret by the sha256 shown in its finding (12+ hex digits; repeatable).",
            show_default=False,
        ),
    ] = None,
    file_seconds: Annotated[
        float, typer.Option("--file-seconds", help="Analysis time limit per file.")
    ] = 10.0,
    run_seconds: Annotated[
        float, typer.Option("--run-seconds", help="Analysis time limit for the whole run.")
    ] = 600.0,
    bandit: Annotated[
        bool,
        typer.Option(
            "--bandit/--no-bandit",
            help="Also run Bandit (when installed), merging its results. Off by default: Bandit "
            "flags risky calls whatever reaches them, which costs precision.",
            rich_help_panel=_MORE,
        ),
    ] = False,
    semgrep_rules: Annotated[
        list[Path] | None,
        typer.Option(
            "--semgrep-rules",
            help="Run Semgrep (when installed) with this local rule file or directory; "
            "repeatable. Semgrep never fetches rules from the network here.",
            show_default=False,
            rich_help_panel=_MORE,
        ),
    ] = None,
    deps: Annotated[
        bool,
        typer.Option(
            "--deps/--no-deps",
            help="Match the tree's lockfiles and manifests against the loaded intelligence.",
            rich_help_panel=_MORE,
        ),
    ] = True,
    asset: Annotated[
        str | None,
        typer.Option(
            "--asset",
            help="Record the code findings as findings of this asset (ORG/ASSET).",
            show_default=False,
            rich_help_panel=_MORE,
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who records (with --asset).", rich_help_panel=_MORE),
    ] = None,
    llm: Annotated[
        LLMProvider | None,
        typer.Option("--llm", help="Review findings with this provider's protocol.",
                     show_default=False, rich_help_panel=_LLM),
    ] = None,
    llm_url: Annotated[
        str | None,
        typer.Option("--llm-url", help="Base URL of the model server (default: the provider's "
                     "public API).", show_default=False, rich_help_panel=_LLM),
    ] = None,
    llm_model: Annotated[
        str | None,
        typer.Option("--llm-model", help="The model to ask.", show_default=False,
                     rich_help_panel=_LLM),
    ] = None,
    llm_key_env: Annotated[
        str | None,
        typer.Option("--llm-key-env", help="Environment variable holding the API key "
                     "(default ANTHROPIC_API_KEY / OPENAI_API_KEY).", show_default=False,
                     rich_help_panel=_LLM),
    ] = None,
    llm_timeout: Annotated[
        float | None,
        typer.Option("--llm-timeout", help="Seconds per call (default 120).", show_default=False,
                     rich_help_panel=_LLM),
    ] = None,
    llm_max_findings: Annotated[
        int | None,
        typer.Option("--llm-max-findings", help="Findings to review, most severe first "
                     "(default 20).", show_default=False, rich_help_panel=_LLM),
    ] = None,
    llm_price_input: Annotated[
        float | None,
        typer.Option("--llm-price-input", help="US dollars per million input tokens.",
                     show_default=False, rich_help_panel=_LLM),
    ] = None,
    llm_price_output: Annotated[
        float | None,
        typer.Option("--llm-price-output", help="US dollars per million output tokens.",
                     show_default=False, rich_help_panel=_LLM),
    ] = None,
    llm_run_dir: Annotated[
        Path | None,
        typer.Option("--llm-run-dir", help="Where the transcript and accepted patches go "
                     "(default $SAKIMORI_HOME/probe-runs/<time>).", show_default=False,
                     rich_help_panel=_LLM),
    ] = None,
    test_command: Annotated[
        str | None,
        typer.Option("--test-command", help="The project's tests, run (without a shell) in a "
                     "patched copy; a patch is accepted only if they pass.", show_default=False,
                     rich_help_panel=_LLM),
    ] = None,
    test_timeout: Annotated[
        float | None,
        typer.Option("--test-timeout", help="Seconds the tests may take (default 600).",
                     show_default=False, rich_help_panel=_LLM),
    ] = None,
) -> None:  # fmt: skip
    """Static analysis of Python code: taint flows from request data and sockets (with
    --local-sources also the environment and files) to SQL, shell, code, path, HTML, LDAP, XPath,
    redirect, XML and deserialisation sinks; weak hashes, weak randomness, insecure cookies;
    committed secrets, reported redacted; Bandit and Semgrep results merged; vulnerable
    dependencies; and, with --llm, a reviewer whose patches pass a deterministic gate."""
    from sakimori.probe import render, sarif
    from sakimori.probe.scan import Limits, decode, probe_tree

    if file_seconds <= 0 or run_seconds <= 0:
        raise InvalidInput("time limits must be positive", where="--file-seconds/--run-seconds")
    allowed = frozenset(value.lower().removeprefix("sha256:") for value in allow_secret or [])
    if any(len(value) < 12 or not all(c in "0123456789abcdef" for c in value) for value in allowed):
        raise InvalidInput("expects 12 or more hex digits of a SHA-256", where="--allow-secret")
    root = path.resolve()
    limits = Limits(file_seconds=file_seconds, run_seconds=run_seconds)
    config = _settings() if (deps or llm or asset) else None
    if asset is not None and config is not None:
        _check_asset(config, asset)  # before the analysis, not after it

    def analyse(target: Path) -> ProbeReport:
        return probe_tree(
            target, limits, local_sources=local_sources, secrets=secrets, allowed_secrets=allowed
        )

    report = analyse(root)
    base = root if root.is_dir() else root.parent

    @cache
    def read_text(relative: str) -> str | None:
        try:
            return decode((base / relative).read_bytes())
        except (OSError, InvalidInput):
            return None

    def read(relative: str) -> list[str]:
        text = read_text(relative)
        return [] if text is None else text.splitlines()

    engine_report = _copy(report)
    if bandit or semgrep_rules:
        from sakimori.probe.external import run_external

        run_external(root, report, bandit=bandit, semgrep_rules=semgrep_rules or [])
    if deps and config is not None:
        from sakimori.probe.deps import dependency_exposure

        dependency_exposure(root, report, config)
    if llm is not None and config is not None:
        from sakimori.probe.llm.settings import ReviewOptions

        options = ReviewOptions(
            llm.value, llm_url, llm_model, llm_key_env, llm_timeout, llm_max_findings,
            llm_price_input, llm_price_output, test_command, test_timeout,
        )  # fmt: skip
        _review(options, llm_run_dir, root, report, engine_report, analyse, read_text, config)
    if asset is not None and config is not None:
        _record(config, asset, report, by, secrets)

    if output_format is ProbeFormat.sarif:
        data = sarif.render(report, read)
    elif output_format is ProbeFormat.json:
        data = render.render_json(report)
    else:
        data = render.render_table(report).encode("utf-8")
    if output is not None:
        try:
            output.write_bytes(data)
        except OSError as exc:
            raise InvalidInput(
                f"cannot write the report: {exc.strerror}", where=str(output)
            ) from exc
    else:
        typer.echo(data.decode("utf-8"), nl=False)
    threshold = _THRESHOLDS[fail_on.value]
    if threshold is not None and any(f.rule.severity >= threshold for f in report.findings):
        raise typer.Exit(1)


def _settings() -> Settings:
    from sakimori.cli.context import settings

    return settings()


def _check_asset(config: Settings, asset: str) -> None:
    from sakimori.cli.context import open_db
    from sakimori.services.organisations import asset as find_asset

    db = open_db(config)
    try:
        with db.transaction() as session:
            find_asset(session, asset)
    finally:
        db.dispose()


def _copy(report: ProbeReport) -> ProbeReport:
    from dataclasses import replace

    return replace(report, findings=list(report.findings), skipped=list(report.skipped))


def _review(
    options: ReviewOptions,
    run_dir: Path | None,
    root: Path,
    report: ProbeReport,
    engine_report: ProbeReport,
    analyse: Callable[[Path], ProbeReport],
    read_text: Callable[[str], str | None],
    config: Settings,
) -> None:
    """Run the LLM reviewer: its findings' reviews and run summary go into ``report``."""
    from sakimori.probe.gate import Gate
    from sakimori.probe.llm.interface import make_provider
    from sakimori.probe.llm.review import Reviewer
    from sakimori.probe.llm.settings import gate_settings, llm_config, read_sections

    sections = read_sections(config.home)
    llm_settings, max_findings = llm_config(options, sections)
    gate = Gate(root, engine_report, analyse, gate_settings(options, sections))
    if run_dir is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        run_dir = config.home / "probe-runs" / f"{stamp}-{uuid.uuid4().hex[:6]}"
    with make_provider(llm_settings) as client:
        reviewer = Reviewer(client, gate, run_dir, read_text, max_findings=max_findings)
        result = reviewer.review(report)
    report.reviews.update({key: value.as_json() for key, value in result.reviews.items()})
    report.llm = result.as_json()


def _record(
    config: Settings, asset: str, report: ProbeReport, by: str | None, secrets: bool
) -> None:
    """Store the engine's findings as the asset's code findings (other tools' are not kept:
    a later run without them must not close their findings as fixed)."""
    from sakimori.cli.context import actor, open_db
    from sakimori.probe.rules import RULES
    from sakimori.services.assessment import policy_set
    from sakimori.services.code_findings import record_code_findings

    rules = {rule.id for rule in RULES.values() if rule.id != "SECRET" or secrets}
    if report.stopped_early:
        rules = set()  # an incomplete run closes nothing
    db = open_db(config)
    try:
        counts = record_code_findings(
            db,
            asset,
            [f for f in report.findings if f.tool == "sakimori"],
            actor(by),
            datetime.now(UTC),
            rules=rules,
            unanalysed={s.path for s in report.skipped},
            policies=policy_set(config.policy),
        )
    finally:
        db.dispose()
    report.notes.append(
        f"recorded for {asset}: {counts.opened} opened, {counts.reopened} reopened, "
        f"{counts.closed} closed as fixed, {counts.kept} seen again"
    )
