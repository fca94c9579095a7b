"""What the platform checks before it publishes a vendor's upload.

An upload is the offline-signed metadata of some of root, targets and the product-line roles,
plus the artefacts those roles newly list. Nothing here writes: :func:`check_upload` takes the
currently published metadata and the upload, and returns the accepted roles in the order they
must be written, or raises :class:`UploadRefused` naming the first problem. The checks, all done
with python-tuf's Metadata API:

- each file parses as TUF metadata of the role it claims to be, snapshot and timestamp are not
  accepted from vendors (they are the platform's online roles);
- root: version 1 is self-signed to its threshold (trust on first upload, the vendor's
  enrolment); any later root is the next version and meets both the previous root's threshold
  and its own (root rotation);
- targets and product-line roles: signed to the threshold of the delegating role (the new root
  or top-level targets, if they are in the same upload), versions strictly increasing, not
  expired, every delegated role has metadata, and a delegation or key change that is not
  re-signed in the same upload still verifies under the new keys;
- every target of a product-line role lies within the role's delegated paths and carries the
  Sakimori custom fields (counter-measure package id, vulnerabilities fixed, version); targets
  are immutable (a path once published keeps its hashes); every new target's artefact is in the
  upload with the signed length and hashes, and no unlisted artefact is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuf.api.exceptions import LengthOrHashMismatchError
from tuf.api.metadata import Metadata, Root, Signed, TargetFile, Targets
from tuf.api.serialization import DeserializationError

from sakimori.errors import InvalidInput
from sakimori.updates.layout import ONLINE

CUSTOM_KEY = "sakimori"


class UploadRefused(InvalidInput):
    """The vendor's upload does not pass the platform's checks; nothing was published."""


@dataclass(frozen=True)
class AcceptedRole:
    role: str
    metadata: Metadata[Any]
    data: bytes


@dataclass(frozen=True)
class Accepted:
    #: Roles to publish, root first, then targets, then product lines.
    roles: tuple[AcceptedRole, ...]
    #: New artefacts: (target path, its signed description, the uploaded file).
    artefacts: tuple[tuple[str, TargetFile, Path], ...]


@dataclass(frozen=True)
class Release:
    """The Sakimori custom fields of a target: what a package of counter-measures links to."""

    version: str
    package: str
    fixes: tuple[str, ...]

    def to_custom(self) -> dict[str, Any]:
        return {
            CUSTOM_KEY: {
                "version": self.version,
                "package": self.package,
                "fixes": list(self.fixes),
            }
        }

    @classmethod
    def from_target(cls, target: TargetFile) -> Release:
        """The fields of ``target``; raises ``ValueError`` when they are missing or mistyped."""
        custom = target.unrecognized_fields.get("custom")
        fields = custom.get(CUSTOM_KEY) if isinstance(custom, dict) else None
        if not isinstance(fields, dict):
            raise ValueError(f"target {target.path} has no custom.{CUSTOM_KEY} fields")
        version, package, fixes = fields.get("version"), fields.get("package"), fields.get("fixes")
        if not isinstance(version, str) or not version:
            raise ValueError(f"target {target.path}: custom.{CUSTOM_KEY}.version is not a string")
        if not isinstance(package, str) or not package:
            raise ValueError(f"target {target.path}: custom.{CUSTOM_KEY}.package is not a string")
        if not isinstance(fixes, list) or not all(isinstance(f, str) and f for f in fixes):
            raise ValueError(f"target {target.path}: custom.{CUSTOM_KEY}.fixes is not a list")
        return cls(version, package, tuple(fixes))


def parse(role: str, data: bytes) -> Metadata[Any]:
    """``data`` as TUF metadata of ``role`` (root, targets or a product line)."""
    try:
        metadata: Metadata[Any] = Metadata.from_bytes(data)
    except DeserializationError as exc:
        raise UploadRefused(f"not TUF metadata: {exc}", where=f"{role}.json") from None
    expected = role if role in (Root.type, Targets.type) else Targets.type
    if metadata.signed.type != expected:
        raise UploadRefused(
            f"holds {metadata.signed.type} metadata, expected {expected}", where=f"{role}.json"
        )
    return metadata


def check_upload(
    published: Mapping[str, Metadata[Any]],
    upload: Mapping[str, bytes],
    artefacts: Mapping[str, Path],
    *,
    now: datetime | None = None,
) -> Accepted:
    """Check ``upload`` (role name → metadata bytes) and ``artefacts`` (target path → file)
    against the ``published`` metadata (role name → current version); see the module docstring.
    """
    now = now or datetime.now(UTC)
    for role in upload:
        if role in ONLINE:
            raise UploadRefused(
                f"{role} metadata is signed by the platform's online key, not uploaded",
                where=f"{role}.json",
            )
    parsed = {role: parse(role, data) for role, data in upload.items()}
    accepted: list[AcceptedRole] = []

    root = _check_root(published.get(Root.type), parsed.get(Root.type), now)
    if Root.type in parsed:
        accepted.append(AcceptedRole(Root.type, parsed[Root.type], upload[Root.type]))

    top = parsed.get(Targets.type)
    if top is not None:
        _check_delegated(root.signed, Targets.type, top, published.get(Targets.type), now)
        accepted.append(AcceptedRole(Targets.type, top, upload[Targets.type]))
    else:
        top = published.get(Targets.type)
        if top is None:
            raise UploadRefused("the repository has no targets metadata yet; upload it")
        if Root.type in parsed:
            _still_valid(root.signed, Targets.type, top)
    targets: Targets = top.signed

    lines = (
        list(targets.delegations.roles) if targets.delegations and targets.delegations.roles else []
    )
    new_artefacts: list[tuple[str, TargetFile, Path]] = []
    for role, metadata in parsed.items():
        if role in (Root.type, Targets.type):
            continue
        if role not in lines:
            raise UploadRefused(
                f"{role!r} is not a product line delegated by the targets role",
                where=f"{role}.json",
                hint=f"delegated lines: {', '.join(lines) or 'none'}",
            )
        previous = published.get(role)
        _check_delegated(targets, role, metadata, previous, now)
        new_artefacts.extend(_check_targets(targets, role, metadata, previous, artefacts))
        accepted.append(AcceptedRole(role, metadata, upload[role]))
    for role in lines:
        if role in parsed:
            continue
        current = published.get(role)
        if current is None:
            raise UploadRefused(
                f"product line {role!r} is delegated but has no metadata",
                hint=f"upload {role}.json (version 1) in the same upload",
            )
        if Targets.type in parsed:
            _still_valid(targets, role, current)
    listed = {path for path, _, _ in new_artefacts}
    unlisted = sorted(set(artefacts) - listed)
    if unlisted:
        raise UploadRefused(
            f"artefact {unlisted[0]} is not listed as a new target by any uploaded role",
            hint="add it with `sakimori updates add-target`, or remove it from the upload",
        )
    return Accepted(tuple(accepted), tuple(new_artefacts))


def _check_root(
    current: Metadata[Root] | None, new: Metadata[Root] | None, now: datetime
) -> Metadata[Root]:
    if new is None:
        if current is None:
            raise UploadRefused("the repository has no root metadata yet; upload root.json")
        return current
    signed = new.signed
    expected = 1 if current is None else current.signed.version + 1
    if signed.version != expected:
        raise UploadRefused(
            f"root version {signed.version} is not the next version ({expected})",
            where="root.json",
        )
    if signed.is_expired(now):
        raise UploadRefused("root metadata has already expired", where="root.json")
    if signed.consistent_snapshot is not True:
        raise UploadRefused("root must set consistent_snapshot", where="root.json")
    for name, role in signed.roles.items():
        if role.threshold < 1 or len(role.keyids) < role.threshold:
            raise UploadRefused(
                f"role {name} has threshold {role.threshold} but {len(role.keyids)} keys",
                where="root.json",
            )
    previous = current.signed if current is not None else None
    result = signed.get_root_verification_result(previous, new.signed_bytes, new.signatures)
    if not result:
        old, own = result.first, result.second
        if previous is None:
            detail = f"signed by {len(own.signed)}/{own.threshold} of its root keys"
        else:
            detail = (
                f"signed by {len(old.signed)}/{old.threshold} keys of root v{previous.version} "
                f"and {len(own.signed)}/{own.threshold} keys of root v{signed.version}"
            )
        raise UploadRefused(
            f"root v{signed.version} is {detail}: below the signing threshold",
            where="root.json",
            hint="a rotation needs the threshold of the old and of the new root keys",
        )
    return new


def _check_delegated(
    delegator: Signed,
    role: str,
    metadata: Metadata[Any],
    previous: Metadata[Any] | None,
    now: datetime,
) -> None:
    where = f"{role}.json"
    assert isinstance(delegator, Root | Targets)
    result = delegator.get_verification_result(role, metadata.signed_bytes, metadata.signatures)
    if not result:
        raise UploadRefused(
            f"{role} is signed by {len(result.signed)}/{result.threshold} of its keys: "
            "below the signing threshold",
            where=where,
            hint=f"sign it with `sakimori updates sign REPO {role} --key …`",
        )
    version = metadata.signed.version
    if previous is not None and version <= previous.signed.version:
        raise UploadRefused(
            f"{role} version {version} does not increase on the published "
            f"version {previous.signed.version}",
            where=where,
        )
    if previous is None and version != 1:
        raise UploadRefused(f"the first {role} metadata must be version 1", where=where)
    if metadata.signed.is_expired(now):
        raise UploadRefused(f"{role} metadata has already expired", where=where)


def _still_valid(delegator: Root | Targets, role: str, current: Metadata[Any]) -> None:
    try:
        delegator.verify_delegate(role, current.signed_bytes, current.signatures)
    except Exception as exc:  # UnsignedMetadataError, or ValueError for a dropped delegation
        raise UploadRefused(
            f"the published {role} metadata no longer verifies under the uploaded keys ({exc})",
            hint=f"re-sign {role} with the new keys in the same upload",
        ) from None


def _check_targets(
    delegator: Targets,
    role: str,
    metadata: Metadata[Targets],
    previous: Metadata[Targets] | None,
    artefacts: Mapping[str, Path],
) -> list[tuple[str, TargetFile, Path]]:
    where = f"{role}.json"
    delegation = delegator.get_delegated_role(role)
    old = previous.signed.targets if previous is not None else {}
    new: list[tuple[str, TargetFile, Path]] = []
    for path, target in metadata.signed.targets.items():
        if not hasattr(delegation, "is_delegated_path") or not delegation.is_delegated_path(path):
            raise UploadRefused(
                f"target {path} is outside the paths delegated to {role}", where=where
            )
        try:
            Release.from_target(target)
        except ValueError as exc:
            raise UploadRefused(str(exc), where=where) from None
        if path in old:
            if old[path] != target:
                raise UploadRefused(
                    f"target {path} was published with other hashes or fields; published "
                    "artefacts are immutable",
                    where=where,
                    hint="publish a new version under a new file name",
                )
            continue
        file = artefacts.get(path)
        if file is None:
            raise UploadRefused(f"the artefact of new target {path} is not in the upload")
        try:
            with file.open("rb") as handle:
                target.verify_length_and_hashes(handle)
        except LengthOrHashMismatchError as exc:
            raise UploadRefused(
                f"artefact {path} does not match its signed length and hashes ({exc})",
                where=str(file),
            ) from None
        new.append((path, target, file))
    return new
