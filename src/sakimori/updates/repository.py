"""A vendor's TUF repository on disk (layout in :mod:`sakimori.updates.layout`).

Vendor machine, offline keys: :func:`init_repository` (roles, thresholds, one delegated role per
product line), :func:`add_target` (an artefact with its counter-measure package and the
vulnerabilities it fixes), :func:`rotate_keys` (add or revoke keys, change a threshold: a new
root version, or new top-level targets for a product line's keys), :func:`sign` (append
signatures to the staged metadata; every holder of a key signs on their own machine).

Platform, online keys: :func:`publish` checks the staged upload (:mod:`acceptance`), writes it
as consistent-snapshot files, and signs new snapshot and timestamp metadata; called with nothing
staged it only refreshes the timestamp (and the snapshot when half its validity has passed),
which is what the scheduled refresh runs.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from securesystemslib.signer import CryptoSigner, Key, Signer, SSlibKey
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from sakimori.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from sakimori.updates import keys as keyfiles
from sakimori.updates.acceptance import Release, check_upload, parse
from sakimori.updates.layout import ONLINE, TOP_LEVEL, Expiry, Layout, check_file_name, check_line

HASH_ALGORITHMS = ["sha256"]


@dataclass(frozen=True)
class Thresholds:
    """How many keys each offline role gets, and how many of them must sign."""

    root_keys: int = 3
    root_threshold: int = 2
    targets_keys: int = 2
    targets_threshold: int = 1
    line_keys: int = 2
    line_threshold: int = 2

    def check(self) -> None:
        for name in ("root", "targets", "line"):
            count, threshold = getattr(self, f"{name}_keys"), getattr(self, f"{name}_threshold")
            if not 1 <= threshold <= count:
                raise InvalidInput(
                    f"{name} threshold {threshold} must be between 1 and its {count} keys"
                )


@dataclass(frozen=True)
class SignStatus:
    role: str
    version: int
    #: (keys signed, threshold) per verifying root or delegator: two entries for a root rotation.
    counts: tuple[tuple[int, int], ...]

    @property
    def complete(self) -> bool:
        return all(signed >= threshold for signed, threshold in self.counts)


@dataclass(frozen=True)
class PublishReport:
    published: tuple[tuple[str, int], ...]
    targets: tuple[str, ...]
    snapshot_version: int
    timestamp_version: int
    timestamp_expires: datetime


@dataclass
class VendorRepository:
    """The repository at ``path`` (see :class:`Layout`)."""

    path: Path
    expiry: Expiry = field(default_factory=Expiry)

    @property
    def layout(self) -> Layout:
        return Layout(self.path)

    def load(self, role: str) -> Metadata[Any] | None:
        """The current published metadata of ``role``, or None."""
        path = self.layout.current(role)
        if not path.exists():
            return None
        metadata: Metadata[Any] = Metadata.from_file(str(path))
        return metadata

    def published(self) -> dict[str, Metadata[Any]]:
        """Every published role: top-level roles and product lines."""
        found: dict[str, Metadata[Any]] = {}
        for role in TOP_LEVEL:
            metadata = self.load(role)
            if metadata is not None:
                found[role] = metadata
        for line in self.product_lines():
            metadata = self.load(line)
            if metadata is not None:
                found[line] = metadata
        return found

    def product_lines(self, *, staged: bool = False) -> list[str]:
        targets = self.staged_or_published(Targets.type) if staged else self.load(Targets.type)
        if targets is None:
            return []
        delegations = targets.signed.delegations
        return list(delegations.roles) if delegations and delegations.roles else []

    def staged(self) -> dict[str, bytes]:
        """The pending upload: role name → signed metadata bytes."""
        if not self.layout.staged.is_dir():
            return {}
        return {
            path.name.removesuffix(".json"): path.read_bytes()
            for path in sorted(self.layout.staged.glob("*.json"))
        }

    def staged_artefacts(self) -> dict[str, Path]:
        """The artefacts of the pending upload: target path → file."""
        base = self.layout.staged_targets
        if not base.is_dir():
            return {}
        return {
            path.relative_to(base).as_posix(): path
            for path in sorted(base.rglob("*"))
            if path.is_file()
        }

    def staged_or_published(self, role: str) -> Metadata[Any] | None:
        path = self.layout.staged_role(role)
        if path.exists():
            return parse(role, path.read_bytes())
        return self.load(role)

    def require(self) -> None:
        if not (self.layout.staged.is_dir() or self.layout.metadata.is_dir()):
            raise NotFound(
                "no update repository here",
                where=str(self.path),
                hint="create one with `sakimori updates init`",
            )


def init_repository(
    path: Path,
    *,
    lines: Sequence[str],
    offline_keys: Path,
    online_keys: Path,
    thresholds: Thresholds | None = None,
    now: datetime | None = None,
    expiry: Expiry | None = None,
) -> VendorRepository:
    """Create the keys and version 1 of root, targets and every product line role, signed,
    in ``REPO/staged`` (the first upload; :func:`publish` makes it public).

    Offline keys are generated into ``offline_keys``. The platform's online keys are read from
    ``online_keys`` (``snapshot.pub.json`` and ``timestamp.pub.json``, as the platform hands them
    over); where they are missing they are generated there (a single-machine set-up).
    """
    thresholds = thresholds or Thresholds()
    thresholds.check()
    now = _now(now)
    repo = VendorRepository(path, expiry or Expiry())
    if repo.layout.metadata.exists() or repo.layout.staged.exists():
        raise Conflict("an update repository already exists here", where=str(path))
    names = [check_line(line) for line in lines]
    if not names:
        raise InvalidInput("a repository needs at least one product line (--line NAME)")
    if len(set(names)) != len(names):
        raise InvalidInput("product line names repeat")

    def generate(prefix: str, count: int) -> list[CryptoSigner]:
        return [keyfiles.generate(offline_keys, f"{prefix}-{n}")[0] for n in range(1, count + 1)]

    root_signers = generate("root", thresholds.root_keys)
    targets_signers = generate("targets", thresholds.targets_keys)
    line_signers = {line: generate(line, thresholds.line_keys) for line in names}
    online = {role: _online_public_key(online_keys, role) for role in ONLINE}

    root = Root(expires=_expires(now, repo.expiry.root), consistent_snapshot=True)
    for signer in root_signers:
        root.add_key(_public(signer), Root.type)
    for signer in targets_signers:
        root.add_key(_public(signer), Targets.type)
    for role, key in online.items():
        root.add_key(key, role)
    root.roles[Root.type].threshold = thresholds.root_threshold
    root.roles[Targets.type].threshold = thresholds.targets_threshold

    delegated_keys: dict[str, Key] = {}
    delegated_roles: dict[str, DelegatedRole] = {}
    for line, signers in line_signers.items():
        for signer in signers:
            delegated_keys[signer.public_key.keyid] = _public(signer)
        delegated_roles[line] = DelegatedRole(
            name=line,
            keyids=[signer.public_key.keyid for signer in signers],
            threshold=thresholds.line_threshold,
            terminating=True,
            paths=[f"{line}/*"],
        )
    targets = Targets(
        expires=_expires(now, repo.expiry.targets),
        delegations=Delegations(keys=delegated_keys, roles=delegated_roles),
    )
    staged: list[tuple[str, Metadata[Any]]] = [
        (Root.type, _signed(Metadata(root), root_signers)),
        (Targets.type, _signed(Metadata(targets), targets_signers)),
    ]
    for line, signers in line_signers.items():
        empty = Targets(expires=_expires(now, repo.expiry.delegated))
        staged.append((line, _signed(Metadata(empty), signers)))
    for role, metadata in staged:
        _write(repo.layout.staged_role(role), metadata.to_bytes())
    return repo


def add_target(
    repo: VendorRepository,
    artefact: Path,
    *,
    line: str,
    release: Release,
    signers: Iterable[Signer] = (),
    now: datetime | None = None,
) -> TargetFile:
    """Stage ``artefact`` as target ``LINE/FILENAME`` of the product line's role, with the
    release's custom fields; sign the staged role with ``signers`` if any are given."""
    repo.require()
    check_line(line)
    name = check_file_name(artefact.name)
    if not artefact.is_file():
        raise NotFound("artefact file does not exist", where=str(artefact))
    if line not in repo.product_lines(staged=True):
        raise NotFound(
            f"product line {line!r} is not delegated in this repository",
            hint=f"lines: {', '.join(repo.product_lines(staged=True)) or 'none'}",
        )
    metadata = _edit_staged(repo, line, now)
    path = f"{line}/{name}"
    if path in metadata.signed.targets:
        raise Conflict(
            f"target {path} already exists; published artefacts are immutable",
            hint="give the new version a new file name",
        )
    target = TargetFile.from_file(path, str(artefact), HASH_ALGORITHMS)
    target.unrecognized_fields["custom"] = release.to_custom()
    metadata.signed.targets[path] = target
    destination = repo.layout.staged_targets / line / name
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(artefact, destination)
    for signer in signers:
        metadata.sign(signer, append=True)
    _write(repo.layout.staged_role(line), metadata.to_bytes())
    return target


def rotate_keys(
    repo: VendorRepository,
    role: str,
    *,
    add: Sequence[SSlibKey] = (),
    revoke: Sequence[str] = (),
    threshold: int | None = None,
    now: datetime | None = None,
) -> Metadata[Any]:
    """Stage a key change of ``role``: for a top-level role a new root version (to be signed by
    the thresholds of the old and the new root keys), for a product line new top-level targets
    metadata. Returns the staged (unsigned) metadata."""
    repo.require()
    delegator_role = Root.type if role in TOP_LEVEL else Targets.type
    metadata = _edit_staged(repo, delegator_role, now)
    delegator: Root | Targets = metadata.signed
    try:
        for key in add:
            delegator.add_key(key, role)
        for keyid in revoke:
            delegator.revoke_key(keyid, role)
        delegated = delegator.get_delegated_role(role)
    except ValueError as exc:
        raise InvalidInput(f"cannot change the keys of {role}: {exc}") from None
    if threshold is not None:
        delegated.threshold = threshold
    if not 1 <= delegated.threshold <= len(delegated.keyids):
        raise InvalidInput(
            f"{role} would have threshold {delegated.threshold} with {len(delegated.keyids)} keys",
            hint="add keys or lower the threshold",
        )
    _write(repo.layout.staged_role(delegator_role), metadata.to_bytes())
    return metadata


def sign(repo: VendorRepository, role: str, signers: Sequence[Signer]) -> SignStatus:
    """Append the signatures of ``signers`` to the staged metadata of ``role``.

    Only keys the role accepts may sign (for a new root: keys of the previous or the new root)."""
    path = repo.layout.staged_role(role)
    if not path.exists():
        raise NotFound(f"nothing of {role} is staged to sign", where=str(path))
    metadata = parse(role, path.read_bytes())
    allowed = allowed_keyids(repo, role, metadata)
    for signer in signers:
        keyid = signer.public_key.keyid
        if keyid not in allowed:
            raise InvalidInput(
                f"key {keyid[:12]}… is not a signing key of {role}",
                hint="check the key file, or rotate the key in first",
            )
        metadata.sign(signer, append=True)
    _write(path, metadata.to_bytes())
    return sign_status(repo, role, metadata)


def sign_status(repo: VendorRepository, role: str, metadata: Metadata[Any]) -> SignStatus:
    payload, signatures = metadata.signed_bytes, metadata.signatures
    version = metadata.signed.version
    if role == Root.type:
        previous = repo.load(Root.type)
        previous_root = previous.signed if previous is not None else None
        result = metadata.signed.get_root_verification_result(previous_root, payload, signatures)
        counts = [(len(result.first.signed), result.first.threshold)]
        if previous_root is not None:
            counts.append((len(result.second.signed), result.second.threshold))
        return SignStatus(role, version, tuple(counts))
    delegator = _delegator(repo, role)
    single = delegator.get_verification_result(role, payload, signatures)
    return SignStatus(role, version, ((len(single.signed), single.threshold),))


def publish(
    repo: VendorRepository,
    online_signers: Mapping[str, Signer],
    *,
    now: datetime | None = None,
    force_snapshot: bool = False,
    upload: Mapping[str, bytes] | None = None,
    artefacts: Mapping[str, Path] | None = None,
) -> PublishReport:
    """Accept the staged upload (if any), then sign and write new snapshot and timestamp.

    ``upload`` and ``artefacts`` (role → metadata bytes, target path → file) publish an upload
    received some other way (the platform API) instead of ``REPO/staged``; when it is refused,
    nothing is written. One publisher at a time: an exclusive lock on ``REPO/.publish.lock`` is
    held throughout."""
    if upload is None:
        repo.require()
    with _locked(repo.path / ".publish.lock"):
        return _publish(repo, online_signers, _now(now), force_snapshot, upload, artefacts)


def _publish(
    repo: VendorRepository,
    online_signers: Mapping[str, Signer],
    now: datetime,
    force_snapshot: bool,
    upload: Mapping[str, bytes] | None = None,
    artefacts: Mapping[str, Path] | None = None,
) -> PublishReport:
    from_staged = upload is None
    staged = repo.staged() if upload is None else dict(upload)
    files = repo.staged_artefacts() if artefacts is None else dict(artefacts)
    accepted = check_upload(repo.published(), staged, files, now=now)
    new_root = [r.metadata for r in accepted.roles if r.role == Root.type]
    root = new_root[0] if new_root else repo.load(Root.type)
    assert root is not None  # check_upload refuses a repository without root
    for online in ONLINE:  # before anything is written: the keys must be the root's
        _online_signer(root.signed, online, online_signers)
    layout = repo.layout
    layout.metadata.mkdir(parents=True, exist_ok=True)
    for path, target, source in accepted.artefacts:
        directory, _, name = path.rpartition("/")
        destination = layout.targets / directory / f"{target.hashes['sha256']}.{name}"
        destination.parent.mkdir(parents=True, exist_ok=True)
        _copy(source, destination)
    for role in accepted.roles:  # root first: a client walks roots before anything else
        version = role.metadata.signed.version
        _write(layout.versioned(role.role, version), role.data)
        _write(layout.current(role.role), role.data)
    if staged and from_staged:
        shutil.rmtree(layout.staged)

    snapshot, timestamp = refresh_online(
        repo, online_signers, now=now, force_snapshot=force_snapshot or bool(accepted.roles)
    )
    return PublishReport(
        published=tuple((role.role, role.metadata.signed.version) for role in accepted.roles),
        targets=tuple(path for path, _, _ in accepted.artefacts),
        snapshot_version=snapshot.signed.version,
        timestamp_version=timestamp.signed.version,
        timestamp_expires=timestamp.signed.expires,
    )


def record_uploaded(repo: VendorRepository) -> tuple[tuple[str, int], ...]:
    """After the platform accepted ``repo``'s staged upload: keep the uploaded metadata as the
    vendor's local copy of what is published (the next ``add-target``, ``sign`` and
    ``rotate-root`` start from it) and clear ``REPO/staged``."""
    recorded: list[tuple[str, int]] = []
    for role, data in repo.staged().items():
        version = parse(role, data).signed.version
        _write(repo.layout.versioned(role, version), data)
        _write(repo.layout.current(role), data)
        recorded.append((role, version))
    if repo.layout.staged.exists():
        shutil.rmtree(repo.layout.staged)
    return tuple(recorded)


def refresh_online(
    repo: VendorRepository,
    online_signers: Mapping[str, Signer],
    *,
    now: datetime | None = None,
    force_snapshot: bool = False,
) -> tuple[Metadata[Snapshot], Metadata[Timestamp]]:
    """Sign new snapshot metadata (when forced, missing, or past half its validity) over the
    published targets roles, and new timestamp metadata over the snapshot: the online part of
    publishing, with the platform's keys only."""
    now = _now(now)
    root = repo.load(Root.type)
    if root is None:
        raise NotFound("the repository has no published root", where=str(repo.path))
    signers = {role: _online_signer(root.signed, role, online_signers) for role in ONLINE}
    snapshot = repo.load(Snapshot.type)
    if (
        snapshot is None
        or force_snapshot
        or snapshot.signed.expires - now < repo.expiry.snapshot / 2
    ):
        snapshot = _new_snapshot(repo, snapshot, signers[Snapshot.type], now)
    snapshot_bytes = repo.layout.current(Snapshot.type).read_bytes()
    timestamp = _new_timestamp(repo, snapshot.signed.version, snapshot_bytes, signers, now)
    return snapshot, timestamp


def online_signers(directory: Path) -> dict[str, Signer]:
    """The snapshot and timestamp signers of the platform's online key directory."""
    return {role: keyfiles.load_signer(directory / f"{role}.key") for role in ONLINE}


def _new_snapshot(
    repo: VendorRepository, previous: Metadata[Any] | None, signer: Signer, now: datetime
) -> Metadata[Snapshot]:
    meta: dict[str, MetaFile] = dict(previous.signed.meta) if previous is not None else {}
    for role in [Targets.type, *repo.product_lines()]:
        path = repo.layout.current(role)
        data = path.read_bytes()
        version = parse(role, data).signed.version
        meta[f"{role}.json"] = MetaFile.from_data(version, data, HASH_ALGORITHMS)
    version = previous.signed.version + 1 if previous is not None else 1
    snapshot = Metadata(
        Snapshot(version=version, expires=_expires(now, repo.expiry.snapshot), meta=meta)
    )
    snapshot.sign(signer)
    data = snapshot.to_bytes()
    _write(repo.layout.versioned(Snapshot.type, version), data)
    _write(repo.layout.current(Snapshot.type), data)
    return snapshot


def _new_timestamp(
    repo: VendorRepository,
    snapshot_version: int,
    snapshot_bytes: bytes,
    signers: Mapping[str, Signer],
    now: datetime,
) -> Metadata[Timestamp]:
    previous = repo.load(Timestamp.type)
    version = previous.signed.version + 1 if previous is not None else 1
    meta = MetaFile.from_data(snapshot_version, snapshot_bytes, HASH_ALGORITHMS)
    timestamp = Metadata(
        Timestamp(version=version, expires=_expires(now, repo.expiry.timestamp), snapshot_meta=meta)
    )
    timestamp.sign(signers[Timestamp.type])
    _write(repo.layout.current(Timestamp.type), timestamp.to_bytes())
    return timestamp


def _edit_staged(repo: VendorRepository, role: str, now: datetime | None) -> Metadata[Any]:
    """The staged metadata of ``role`` to change: the staged version as it is, or the next
    version of the published one; expiry renewed, signatures dropped (the content changes)."""
    now = _now(now)
    path = repo.layout.staged_role(role)
    if path.exists():
        metadata = parse(role, path.read_bytes())
    else:
        current = repo.load(role)
        if current is None:
            raise NotFound(f"the repository has no {role} metadata", where=str(repo.path))
        metadata = current
        metadata.signed.version += 1
    metadata.signed.expires = _expires(now, repo.expiry.of(role))
    metadata.signatures.clear()
    return metadata


def allowed_keyids(repo: VendorRepository, role: str, metadata: Metadata[Any]) -> set[str]:
    if role == Root.type:
        allowed = set(metadata.signed.roles[Root.type].keyids)
        previous = repo.load(Root.type)
        if previous is not None:
            allowed |= set(previous.signed.roles[Root.type].keyids)
        return allowed
    try:
        return set(_delegator(repo, role).get_delegated_role(role).keyids)
    except ValueError:
        raise NotFound(f"{role} is not a role of this repository") from None


def _delegator(repo: VendorRepository, role: str) -> Root | Targets:
    name = Root.type if role in TOP_LEVEL else Targets.type
    metadata = repo.staged_or_published(name)
    if metadata is None:
        raise NotFound(f"the repository has no {name} metadata", where=str(repo.path))
    delegator: Root | Targets = metadata.signed
    return delegator


def _online_public_key(directory: Path, role: str) -> SSlibKey:
    public = directory / f"{role}{keyfiles.PUBLIC_SUFFIX}"
    if public.exists():
        return keyfiles.load_public(public)
    return _public(keyfiles.generate(directory, role)[0])


def _online_signer(root: Root, role: str, signers: Mapping[str, Signer]) -> Signer:
    signer = signers.get(role)
    allowed = root.roles[role].keyids
    if signer is None or signer.public_key.keyid not in allowed:
        raise ConfigurationError(
            f"the online {role} key given is not the {role} key of root v{root.version}",
            hint="use the online key directory the repository was created with, or rotate it",
        )
    return signer


def _signed(metadata: Metadata[Any], signers: Iterable[Signer]) -> Metadata[Any]:
    for signer in signers:
        metadata.sign(signer, append=True)
    return metadata


def _public(signer: CryptoSigner) -> SSlibKey:
    return signer.public_key


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).replace(microsecond=0)


def _expires(now: datetime, period: Any) -> datetime:
    expires: datetime = now + period
    return expires


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a reader sees the old or the new file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _copy(source: Path, destination: Path) -> None:
    """Copy ``source`` to ``destination`` atomically."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.")
    os.close(descriptor)
    try:
        shutil.copyfile(source, temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
