"""``sakimori updates …``: emergency updates over TUF (docs/updates.md).

Vendor machine (offline keys): ``init``, ``add-target``, ``sign``, ``rotate-root``.
Platform (online snapshot/timestamp keys): ``publish`` (accept the upload; refresh snapshot and
timestamp — the scheduled refresh is ``publish`` with nothing staged); with the platform API,
``upload --server --token`` sends the staged upload to the repository the platform hosts.
Operator: ``enrol``, ``fetch``, ``verify``, ``stage``, ``rollout``, ``rollback``; with
``enrol --server --vendor`` the repository is the platform's, downloads carry ``--token``
(``SAKIMORI_TOKEN``), and ``rollout --asset`` reports every step to the platform.
Exit codes: 0 done; 2 error, including every refused update (one line saying why).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sakimori.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from securesystemslib.signer import Signer

    from sakimori.updates.client import UpdateClient
    from sakimori.updates.rollout import Rollout

app = typer.Typer(help="Emergency updates over TUF: vendor repository, platform, operator client.")

repo_argument = Annotated[Path, typer.Argument(help="The vendor's repository directory.")]
state_option = Annotated[
    Path | None,
    typer.Option(
        "--state",
        help="The operator's update state directory (default: $SAKIMORI_HOME/updates).",
        show_default=False,
    ),
]
timeout_option = Annotated[
    int, typer.Option("--timeout", help="Seconds the server may stay silent before we give up.")
]
key_option = Annotated[
    list[Path] | None,
    typer.Option("--key", help="A private key file (NAME.key); repeatable.", show_default=False),
]
keys_dir_option = Annotated[
    Path | None,
    typer.Option(
        "--keys", help="Sign with every key of this directory the role accepts.", show_default=False
    ),
]


server_option = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="SAKIMORI_SERVER",
        help="The Sakimori platform's base URL (env SAKIMORI_SERVER).",
        show_default=False,
    ),
]
token_option = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="SAKIMORI_TOKEN",
        help="Your platform API token (prefer env SAKIMORI_TOKEN: arguments are visible to "
        "other users of the machine).",
        show_default=False,
    ),
]


def _state(path: Path | None) -> Path:
    if path is not None:
        return path
    from sakimori.cli.context import settings

    return settings().home / "updates"


def _client(state: Path | None, timeout: int, token: str | None = None) -> UpdateClient:
    from sakimori.updates.client import ClientLimits, UpdateClient

    return UpdateClient(_state(state), limits=ClientLimits(socket_timeout=timeout), token=token)


def _signers(key: list[Path] | None, keys_dir: Path | None, role: str, repo: Path) -> list[Signer]:
    from sakimori.updates import keys
    from sakimori.updates.repository import VendorRepository, allowed_keyids

    signers: list[Signer] = [keys.load_signer(path) for path in key or []]
    if keys_dir is not None:
        repository = VendorRepository(repo)
        metadata = repository.staged_or_published(role)
        allowed = allowed_keyids(repository, role, metadata) if metadata is not None else set()
        signers += [s for s in keys.signers_in(keys_dir) if s.public_key.keyid in allowed]
    return signers


# ---- vendor side --------------------------------------------------------------------------


@app.command("init")
def init_command(
    repo: repo_argument,
    line: Annotated[
        list[str], typer.Option("--line", help="A product line (a delegated role); repeatable.")
    ],
    keys_dir: Annotated[Path, typer.Option("--keys", help="Where the offline keys are created.")],
    online_keys: Annotated[
        Path,
        typer.Option(
            "--online-keys",
            help="The platform's snapshot/timestamp public keys (created there if missing).",
        ),
    ],
    root_keys: Annotated[int, typer.Option(help="Number of root keys.")] = 3,
    root_threshold: Annotated[int, typer.Option(help="Root signatures required.")] = 2,
    targets_keys: Annotated[int, typer.Option(help="Number of top-level targets keys.")] = 2,
    targets_threshold: Annotated[int, typer.Option(help="Targets signatures required.")] = 1,
    line_keys: Annotated[int, typer.Option(help="Number of keys per product line.")] = 2,
    line_threshold: Annotated[int, typer.Option(help="Signatures required per line.")] = 2,
) -> None:
    """Create the offline keys and version 1 of every role, signed, staged for publishing."""
    from sakimori.updates.repository import Thresholds, init_repository

    thresholds = Thresholds(
        root_keys, root_threshold, targets_keys, targets_threshold, line_keys, line_threshold
    )
    repository = init_repository(
        repo, lines=line, offline_keys=keys_dir, online_keys=online_keys, thresholds=thresholds
    )
    typer.echo(
        f"created repository {repo} with product lines {', '.join(line)}; offline keys in "
        f"{keys_dir}; version 1 of root, targets and {len(line)} line role(s) staged in "
        f"{repository.layout.staged}"
    )
    typer.echo("next: `sakimori updates publish` on the platform, with its online keys")


@app.command("add-target")
def add_target_command(
    repo: repo_argument,
    artefact: Annotated[Path, typer.Argument(help="The update file to publish.")],
    line: Annotated[str, typer.Option("--line", help="Its product line.")],
    version: Annotated[str, typer.Option("--version", help="The release version.")],
    package: Annotated[
        str, typer.Option("--package", help="The counter-measure package it answers.")
    ],
    fixes: Annotated[
        list[str], typer.Option("--fixes", help="A vulnerability it fixes (CVE/GHSA…); repeatable.")
    ],
    key: key_option = None,
) -> None:
    """Stage an artefact in its product line's metadata (signed at once with any --key)."""
    from sakimori.updates import keys
    from sakimori.updates.acceptance import Release
    from sakimori.updates.repository import VendorRepository, add_target, sign_status

    repository = VendorRepository(repo)
    signers = [keys.load_signer(path) for path in key or []]
    target = add_target(
        repository,
        artefact,
        line=line,
        release=Release(version, package, tuple(fixes)),
        signers=signers,
    )
    staged = repository.staged_or_published(line)
    assert staged is not None
    status = sign_status(repository, line, staged)
    typer.echo(
        f"staged {target.path} ({target.length} bytes, sha256 {target.hashes['sha256']}) in "
        f"{line} v{status.version}; {_counts(status.counts)}"
    )


@app.command("sign")
def sign_command(
    repo: repo_argument,
    role: Annotated[str, typer.Argument(help="root, targets or a product line.")],
    key: key_option = None,
    keys_dir: keys_dir_option = None,
) -> None:
    """Add signatures to a role's staged metadata (on the key holder's own machine)."""
    from sakimori.updates.repository import VendorRepository, sign

    signers = _signers(key, keys_dir, role, repo)
    if not signers:
        raise InvalidInput("no signing key given", hint="--key FILE or --keys DIR")
    status = sign(VendorRepository(repo), role, signers)
    typer.echo(f"{role} v{status.version}: {_counts(status.counts)}")


@app.command("rotate-root")
def rotate_root_command(
    repo: repo_argument,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="Whose keys change: root, targets, snapshot, "
            "timestamp (a new root) or a product line (new targets).",
        ),
    ] = "root",
    revoke: Annotated[
        list[str] | None,
        typer.Option("--revoke", help="Key id or .pub.json file to remove.", show_default=False),
    ] = None,
    add_key: Annotated[
        list[Path] | None,
        typer.Option("--add-key", help="A public key file (.pub.json) to add.", show_default=False),
    ] = None,
    generate: Annotated[
        list[str] | None,
        typer.Option(
            "--generate", help="Create a new key NAME in --keys and add it.", show_default=False
        ),
    ] = None,
    keys_dir: Annotated[
        Path | None, typer.Option("--keys", help="Where --generate creates keys.")
    ] = None,
    threshold: Annotated[
        int | None, typer.Option("--threshold", help="New threshold.", show_default=False)
    ] = None,
) -> None:
    """Stage a key rotation/revocation; sign it afterwards with `sakimori updates sign`."""
    from sakimori.updates import keys
    from sakimori.updates.repository import VendorRepository, rotate_keys

    added = [keys.load_public(path) for path in add_key or []]
    for name in generate or []:
        if keys_dir is None:
            raise InvalidInput("--generate needs --keys DIR")
        added.append(keys.generate(keys_dir, name)[0].public_key)
    revoked = [keys.load_public(Path(r)).keyid if r.endswith(".json") else r for r in revoke or []]
    if not added and not revoked and threshold is None:
        raise InvalidInput("nothing to change", hint="--add-key, --generate, --revoke, --threshold")
    metadata = rotate_keys(
        VendorRepository(repo), role, add=added, revoke=revoked, threshold=threshold
    )
    typer.echo(
        f"staged {metadata.signed.type} v{metadata.signed.version} with the new keys of {role} "
        f"({len(added)} added, {len(revoked)} revoked); sign it: a new root needs the "
        "threshold of the old and of the new root keys"
    )


# ---- platform side ------------------------------------------------------------------------


@app.command("publish")
def publish_command(
    repo: repo_argument,
    online_keys: Annotated[
        Path, typer.Option("--online-keys", help="The snapshot.key and timestamp.key directory.")
    ],
    force_snapshot: Annotated[
        bool, typer.Option("--force-snapshot", help="Sign a new snapshot even if unchanged.")
    ] = False,
) -> None:
    """Check and publish the staged upload; sign new snapshot and timestamp metadata."""
    from sakimori.updates.repository import VendorRepository, online_signers, publish

    repository = VendorRepository(repo)
    repository.require()
    report = publish(repository, online_signers(online_keys), force_snapshot=force_snapshot)
    for role, version in report.published:
        typer.echo(f"published {role} v{version}")
    for target in report.targets:
        typer.echo(f"published target {target}")
    typer.echo(
        f"snapshot v{report.snapshot_version}, timestamp v{report.timestamp_version} "
        f"(expires {report.timestamp_expires.isoformat()})"
    )
    if any(role == "root" for role, _ in report.published):
        import hashlib

        root = repository.layout.current("root").read_bytes()
        typer.echo(f"root fingerprint (sha256): {hashlib.sha256(root).hexdigest()}")


@app.command("upload")
def upload_command(
    repo: repo_argument,
    vendor: Annotated[str, typer.Option("--vendor", help="Your vendor organisation's slug.")],
    server: server_option = None,
    token: token_option = None,
) -> None:
    """Send the staged upload to the platform (--server), which checks and publishes it."""
    from sakimori.updates.platform import upload_staged
    from sakimori.updates.repository import VendorRepository

    if server is None or token is None:
        raise InvalidInput("upload needs --server and --token (or SAKIMORI_SERVER/SAKIMORI_TOKEN)")
    repository = VendorRepository(repo)
    repository.require()
    answer = upload_staged(repository, server, token, vendor)
    for role, version in answer.get("published", {}).items():
        typer.echo(f"published {role} v{version}")
    for release in answer.get("releases", []):
        typer.echo(f"published target {release['path']} {release['version']}")
    typer.echo(
        f"snapshot v{answer.get('snapshot_version')}, timestamp v{answer.get('timestamp_version')};"
        f" recipients to notify: {', '.join(answer.get('notified', [])) or 'none'}"
    )


# ---- operator side ------------------------------------------------------------------------


@app.command("enrol")
def enrol_command(
    root: Annotated[Path, typer.Option("--root", help="The vendor's root.json, out of band.")],
    metadata_url: Annotated[
        str | None,
        typer.Option("--metadata-url", help="Repository metadata URL.", show_default=False),
    ] = None,
    targets_url: Annotated[
        str | None,
        typer.Option("--targets-url", help="Repository targets URL.", show_default=False),
    ] = None,
    server: server_option = None,
    vendor: Annotated[
        str | None,
        typer.Option(
            "--vendor",
            help="With --server: the vendor whose hosted repository to use.",
            show_default=False,
        ),
    ] = None,
    fingerprint: Annotated[
        str | None,
        typer.Option(
            "--fingerprint", help="SHA-256 of root.json, from the vendor.", show_default=False
        ),
    ] = None,
    state: state_option = None,
) -> None:
    """Pin the vendor's root metadata as this operator's trust anchor: a repository at
    --metadata-url/--targets-url, or the one the platform (--server) hosts for --vendor."""
    from sakimori.updates.client import enrol, platform_urls

    if vendor is not None:
        if server is None:
            raise InvalidInput("--vendor needs --server (or SAKIMORI_SERVER)")
        metadata_url, targets_url = platform_urls(server, vendor)
    elif metadata_url is None or targets_url is None:
        raise InvalidInput(
            "give --metadata-url and --targets-url, or --server and --vendor",
            hint="a repository hosted by the platform: --server URL --vendor SLUG",
        )
    else:
        server = None
    try:
        data = root.read_bytes()
    except FileNotFoundError:
        raise NotFound("root file does not exist", where=str(root)) from None
    enrolment = enrol(
        _state(state),
        metadata_url=metadata_url,
        targets_url=targets_url,
        root=data,
        fingerprint=fingerprint,
        server=server,
        vendor=vendor,
    )
    typer.echo(
        f"enrolled: root v{enrolment.root_version} pinned (sha256 {enrolment.root_sha256}); "
        f"metadata from {enrolment.metadata_url}"
    )


@app.command("fetch")
def fetch_command(
    ref: Annotated[str, typer.Argument(help="LINE (its newest release) or LINE/FILE.")],
    state: state_option = None,
    timeout: timeout_option = 10,
    token: token_option = None,
) -> None:
    """Download and verify an update (metadata chain, length and hashes)."""
    available, path = _client(state, timeout, token).fetch(ref)
    typer.echo(f"fetched {available.path} {available.version}: {path}")


@app.command("verify")
def verify_command(
    ref: Annotated[
        str | None, typer.Argument(help="LINE or LINE/FILE; nothing: every line.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Check this local file against REF's signed hashes."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    state: state_option = None,
    timeout: timeout_option = 10,
    token: token_option = None,
) -> None:
    """Refresh and verify the repository's metadata; list the verified releases."""
    client = _client(state, timeout, token)
    if file is not None:
        if ref is None:
            raise InvalidInput("--file needs the target it should be (REF)")
        available = client.verify(ref, file)
        typer.echo(f"{file} is {available.path} {available.version}, as signed")
        return
    line = ref.partition("/")[0] if ref else None
    view, releases = client.available(line)
    if as_json:
        document = {
            "root_version": view.root_version,
            "timestamp_version": view.timestamp_version,
            "timestamp_expires": view.timestamp_expires.isoformat(),
            "snapshot_version": view.snapshot_version,
            "releases": [r.to_dict() for r in releases],
        }
        typer.echo(json.dumps(document, indent=2))
        return
    typer.echo(
        f"verified: root v{view.root_version}, snapshot v{view.snapshot_version}, timestamp "
        f"v{view.timestamp_version} (expires {view.timestamp_expires.isoformat()})"
    )
    for release in releases:
        typer.echo(
            f"{release.path}  {release.version}  package {release.package}  fixes "
            f"{', '.join(release.fixes) or '-'}"
        )


@app.command("stage")
def stage_command(
    ref: Annotated[str, typer.Argument(help="LINE (its newest release) or LINE/FILE.")],
    state: state_option = None,
    timeout: timeout_option = 10,
    token: token_option = None,
) -> None:
    """Fetch, verify and place an update in the staging directory, ready to roll out."""
    available, path = _client(state, timeout, token).stage(ref)
    typer.echo(f"staged {available.path} {available.version} at {path}")


def _rollout(
    state: Path | None,
    plan: Path | None,
    server: str | None = None,
    token: str | None = None,
    asset: str | None = None,
) -> Rollout:
    """The roll-out; with ``asset`` every step is also reported to the platform (``server``,
    default: the one the enrolment names)."""
    from sakimori.updates.rollout import Plan, Rollout, StepReporter

    directory = _state(state)
    reporters: list[StepReporter] = []
    if asset is not None:
        from sakimori.updates.client import UpdateClient
        from sakimori.updates.platform import PlatformReporter

        enrolment = UpdateClient(directory).enrolment
        server = server or enrolment.server
        if server is None or enrolment.vendor is None or token is None:
            raise InvalidInput(
                "reporting to the platform (--asset) needs a state enrolled with --server and "
                "--vendor, and a token (--token or SAKIMORI_TOKEN)"
            )
        reporters.append(PlatformReporter(server, token, vendor=enrolment.vendor, asset=asset))
    return Rollout(directory, Plan.load(plan or directory / "rollout.toml"), reporters=reporters)


asset_option = Annotated[
    str | None,
    typer.Option(
        "--asset",
        help="Report every step to the platform for this asset of yours (ORG/ASSET); a "
        "completed roll-out marks its findings fixed by the release as fix_applied.",
        show_default=False,
    ),
]


@app.command("rollout")
def rollout_command(
    line: Annotated[str, typer.Argument(help="The product line to roll out.")],
    version: Annotated[
        str | None,
        typer.Option("--version", help="Default: the newest staged.", show_default=False),
    ] = None,
    plan: Annotated[
        Path | None, typer.Option("--plan", help="Default: STATE/rollout.toml.", show_default=False)
    ] = None,
    state: state_option = None,
    asset: asset_option = None,
    server: server_option = None,
    token: token_option = None,
) -> None:
    """Install group by group (canary first) with health checks; roll back on failure."""
    result = _rollout(state, plan, server, token, asset).rollout(line, version)
    typer.echo(
        f"rolled out {result.line} {result.version} to {len(result.installed)} host(s)"
        f"{f', {len(result.skipped)} already on it' if result.skipped else ''}"
    )


@app.command("rollback")
def rollback_command(
    line: Annotated[str, typer.Argument(help="The product line to roll back.")],
    plan: Annotated[
        Path | None, typer.Option("--plan", help="Default: STATE/rollout.toml.", show_default=False)
    ] = None,
    state: state_option = None,
    asset: asset_option = None,
    server: server_option = None,
    token: token_option = None,
) -> None:
    """Put every host back on the version it had before its current one."""
    moved = _rollout(state, plan, server, token, asset).rollback(line)
    for host, version in moved:
        typer.echo(f"{host}: {line} {version or '(removed)'}")
    typer.echo(f"rolled back {len(moved)} host(s)")


def _counts(counts: tuple[tuple[int, int], ...]) -> str:
    parts = [f"{signed}/{threshold} signatures" for signed, threshold in counts]
    complete = all(signed >= threshold for signed, threshold in counts)
    text = " and ".join(parts)
    return f"{text} ({'complete' if complete else 'more signatures needed'})"
