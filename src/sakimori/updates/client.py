"""The operator's update client: ``tuf.ngclient.Updater`` with a root pinned at enrolment.

State directory (``STATE``)::

    enrolment.json      repository URLs, the pinned root's version and SHA-256, when
    trusted-root.json   the root pinned at enrolment: every session starts its trust from it and
                        walks the signed chain of root rotations (kept in metadata/root_history)
    metadata/           python-tuf's cache of verified metadata
    downloads/          verified artefacts
    staging/<line>/<version>/<file> + release.json     verified artefacts ready to roll out
    journal.jsonl       every step, refusals included (:mod:`sakimori.updates.journal`)

Every failure python-tuf reports becomes one Sakimori error with a one-line message saying what
it looks like (freeze, rollback, mix-and-match, arbitrary artefact, endless data, slow retrieval,
too few trusted signatures) and that nothing was installed: see :func:`refusals`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tuf.api import exceptions
from tuf.api.metadata import Metadata, Root, TargetFile, Targets
from tuf.api.serialization import DeserializationError
from tuf.ngclient import Updater, UpdaterConfig
from tuf.ngclient.fetcher import FetcherInterface

from sakimori.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    SourceUnavailable,
)
from sakimori.updates.acceptance import Release
from sakimori.updates.errors import NOTHING_INSTALLED, UpdateRefused
from sakimori.updates.fetcher import BoundedFetcher
from sakimori.updates.journal import Journal
from sakimori.updates.layout import check_file_name

#: A target path no role lists: asking for it makes ngclient load and verify a line's role.
_PROBE = ".sakimori-listing-probe"


@dataclass(frozen=True)
class ClientLimits:
    """Timeouts (seconds) and size limits (bytes) of the client."""

    socket_timeout: int = 10
    download_timeout: float = 600.0
    root_max_length: int = 512_000
    timestamp_max_length: int = 16_384
    snapshot_max_length: int = 2_000_000
    targets_max_length: int = 20_000_000
    max_root_rotations: int = 32
    max_delegations: int = 32

    def config(self) -> UpdaterConfig:
        return UpdaterConfig(
            max_root_rotations=self.max_root_rotations,
            max_delegations=self.max_delegations,
            root_max_length=self.root_max_length,
            timestamp_max_length=self.timestamp_max_length,
            snapshot_max_length=self.snapshot_max_length,
            targets_max_length=self.targets_max_length,
            app_user_agent="sakimori",
        )


@dataclass(frozen=True)
class Enrolment:
    metadata_url: str
    targets_url: str
    root_version: int
    root_sha256: str
    enrolled_at: str
    #: Set when the repository is hosted by a Sakimori platform: its base URL and the vendor.
    server: str | None = None
    vendor: str | None = None


@dataclass(frozen=True)
class Available:
    """A verified target: where it is in the repository and what the vendor says it is."""

    path: str
    line: str
    version: str
    package: str
    fixes: tuple[str, ...]
    length: int
    sha256: str

    @classmethod
    def of(cls, target: TargetFile) -> Available:
        release = Release.from_target(target)
        return cls(
            path=target.path,
            line=target.path.partition("/")[0],
            version=release.version,
            package=release.package,
            fixes=release.fixes,
            length=target.length,
            sha256=target.hashes.get("sha256", ""),
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fixes": list(self.fixes)}


@dataclass(frozen=True)
class RepositoryView:
    """What one verified refresh saw."""

    root_version: int
    timestamp_version: int
    timestamp_expires: datetime
    snapshot_version: int
    lines: tuple[str, ...]


@dataclass(frozen=True)
class StateLayout:
    root: Path

    @property
    def enrolment(self) -> Path:
        return self.root / "enrolment.json"

    @property
    def trusted_root(self) -> Path:
        return self.root / "trusted-root.json"

    @property
    def metadata(self) -> Path:
        return self.root / "metadata"

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def journal(self) -> Path:
        return self.root / "journal.jsonl"


def platform_urls(server: str, vendor: str) -> tuple[str, str]:
    """The metadata and targets URLs of ``vendor``'s repository hosted by the platform at
    ``server`` (its base URL)."""
    base = f"{server.rstrip('/')}/v1/updates/{vendor}"
    return f"{base}/metadata/", f"{base}/targets/"


def enrol(
    state: Path,
    *,
    metadata_url: str,
    targets_url: str,
    root: bytes,
    fingerprint: str | None = None,
    server: str | None = None,
    vendor: str | None = None,
) -> Enrolment:
    """Pin ``root`` (the vendor's root metadata, obtained out of band) as this operator's trust
    anchor for the repository at ``metadata_url`` / ``targets_url``.

    The root must be signed to its own threshold; when ``fingerprint`` (the SHA-256 of the root
    file, as the vendor publishes it) is given, it must match."""
    layout = StateLayout(state)
    if layout.enrolment.exists():
        raise Conflict(
            "this state directory is already enrolled",
            where=str(state),
            hint="use a new --state directory to enrol with another repository",
        )
    for url in (metadata_url, targets_url):
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ConfigurationError(f"{url!r} is not an http(s) URL")
    digest = hashlib.sha256(root).hexdigest()
    if fingerprint is not None and fingerprint.strip().lower() != digest:
        raise PermissionDenied(
            f"the root file's SHA-256 is {digest}, not the fingerprint given",
            hint="get the root file and its fingerprint from the vendor again, out of band",
        )
    try:
        metadata: Metadata[Any] = Metadata.from_bytes(root)
    except DeserializationError as exc:
        raise InvalidInput(f"not TUF root metadata: {exc}") from None
    signed = metadata.signed
    if not isinstance(signed, Root):
        raise InvalidInput(f"holds {signed.type} metadata, not root")
    try:
        signed.verify_delegate(Root.type, metadata.signed_bytes, metadata.signatures)
    except exceptions.UnsignedMetadataError as exc:
        raise PermissionDenied(f"the root is not signed to its own threshold: {exc}") from None
    enrolment = Enrolment(
        metadata_url=metadata_url.rstrip("/") + "/",
        targets_url=targets_url.rstrip("/") + "/",
        root_version=signed.version,
        root_sha256=digest,
        enrolled_at=datetime.now(UTC).isoformat(timespec="seconds"),
        server=server.rstrip("/") if server else None,
        vendor=vendor,
    )
    layout.metadata.mkdir(parents=True, exist_ok=True)
    layout.trusted_root.write_bytes(root)
    layout.enrolment.write_text(json.dumps(asdict(enrolment), indent=2) + "\n", encoding="utf-8")
    Journal(layout.journal).append("enrolled", **asdict(enrolment))
    return enrolment


class UpdateClient:
    """Operator-side operations over one enrolled state directory."""

    def __init__(
        self,
        state: Path,
        *,
        limits: ClientLimits | None = None,
        fetcher: FetcherInterface | None = None,
        token: str | None = None,
    ) -> None:
        """``token``: the platform API token, sent with every download when the enrolment is
        with a repository hosted by a Sakimori platform (never to any other server)."""
        self.layout = StateLayout(state)
        self.limits = limits or ClientLimits()
        self.enrolment = self._load_enrolment()
        send_token = token is not None and self.enrolment.server is not None
        self._fetcher = fetcher or BoundedFetcher(
            socket_timeout=self.limits.socket_timeout,
            download_timeout=self.limits.download_timeout,
            headers={"Authorization": f"Bearer {token}"} if send_token else None,
        )
        self.journal = Journal(self.layout.journal)

    def _load_enrolment(self) -> Enrolment:
        try:
            document = json.loads(self.layout.enrolment.read_text(encoding="utf-8"))
            return Enrolment(**document)
        except FileNotFoundError:
            raise NotFound(
                "this state directory is not enrolled with an update repository",
                where=str(self.layout.root),
                hint="run `sakimori updates enrol` first",
            ) from None
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"broken enrolment file: {exc}", where=str(self.layout.enrolment)
            ) from None

    @contextmanager
    def _session(self) -> Iterator[Updater]:
        """An ``Updater`` for one operation; afterwards no connection is left open."""
        try:
            yield self._updater()
        finally:
            close = getattr(self._fetcher, "close", None)
            if callable(close):
                close()

    def _updater(self) -> Updater:
        pinned = self.layout.trusted_root.read_bytes()
        with refusals("metadata"):
            return Updater(
                metadata_dir=str(self.layout.metadata),
                metadata_base_url=self.enrolment.metadata_url,
                target_dir=str(self.layout.downloads),
                target_base_url=self.enrolment.targets_url,
                fetcher=self._fetcher,
                config=self.limits.config(),
                bootstrap=pinned,
            )

    def refresh(self) -> RepositoryView:
        """Download and verify root (rotations), timestamp, snapshot and targets metadata."""
        with self._session() as updater:
            return self._refresh(updater)

    def _refresh(self, updater: Updater) -> RepositoryView:
        with self._recorded("refresh"), refusals("metadata"):
            updater.refresh()
        return self._view()

    def _view(self) -> RepositoryView:
        def load(role: str) -> Any:
            return Metadata.from_file(str(self.layout.metadata / f"{role}.json")).signed

        timestamp, snapshot, targets = load("timestamp"), load("snapshot"), load("targets")
        delegations = targets.delegations
        lines = tuple(delegations.roles) if delegations and delegations.roles else ()
        return RepositoryView(
            root_version=load("root").version,
            timestamp_version=timestamp.version,
            timestamp_expires=timestamp.expires,
            snapshot_version=snapshot.version,
            lines=lines,
        )

    def available(self, line: str | None = None) -> tuple[RepositoryView, list[Available]]:
        """Refresh, then list the verified targets of ``line`` (or of every line), oldest
        version first."""
        with self._session() as updater:
            view = self._refresh(updater)
            lines = [line] if line else list(view.lines)
            found: list[Available] = []
            for name in lines:
                if name not in view.lines:
                    raise NotFound(
                        f"product line {name!r} is not in the repository",
                        hint=f"lines: {', '.join(view.lines) or 'none'}",
                    )
                found.extend(self._line_targets(updater, name))
            return view, found

    def _line_targets(self, updater: Updater, line: str) -> list[Available]:
        with self._recorded("refresh", line=line), refusals("metadata", f"product line {line}"):
            updater.get_targetinfo(f"{line}/{_PROBE}")  # loads and verifies the line's role
        # the cache holds only metadata that passed verification
        cached: Metadata[Targets] = Metadata.from_file(str(self.layout.metadata / f"{line}.json"))
        role = cached.signed
        found = []
        for target in role.targets.values():
            try:
                found.append(Available.of(target))
            except ValueError:  # a target without Sakimori fields is not an update we offer
                continue
        return sorted(found, key=lambda item: version_key(item.version))

    def resolve(self, updater: Updater, ref: str) -> tuple[Available, TargetFile]:
        """``LINE`` (its newest version) or ``LINE/FILE`` (exactly that target), verified."""
        line, slash, _ = ref.partition("/")
        if not slash:
            view = self._refresh(updater)
            if line not in view.lines:
                raise NotFound(
                    f"product line {line!r} is not in the repository",
                    hint=f"lines: {', '.join(view.lines) or 'none'}",
                )
            releases = self._line_targets(updater, line)
            if not releases:
                raise NotFound(f"product line {line!r} has no release yet")
            ref = releases[-1].path
        with self._recorded("refresh", target=ref), refusals("metadata", f"target {ref}"):
            target = updater.get_targetinfo(ref)
        if target is None:
            raise NotFound(f"target {ref} is not in the repository's signed metadata")
        try:
            return Available.of(target), target
        except ValueError as exc:
            raise UpdateRefused(str(exc), attack="not-an-update") from None

    def fetch(self, ref: str) -> tuple[Available, Path]:
        """Download target ``ref`` (see :meth:`resolve`) into downloads/, verified against its
        signed length and hashes; an already downloaded, still matching file is reused."""
        with self._session() as updater:
            available, target = self.resolve(updater, ref)
            cached = updater.find_cached_target(target)
            if cached is not None:
                return available, Path(cached)
            self.layout.downloads.mkdir(parents=True, exist_ok=True)
            recorded = self._recorded("fetch", target=available.path, version=available.version)
            with recorded, refusals("artefact", available.path):
                path = updater.download_target(target)
        self.journal.append(
            "fetched", target=available.path, version=available.version, sha256=available.sha256
        )
        return available, Path(path)

    def verify(self, ref: str, file: Path) -> Available:
        """Check a local ``file`` against the current signed metadata of target ``ref``."""
        with self._session() as updater:
            available, target = self.resolve(updater, ref)
        with file.open("rb") as handle, refusals("artefact", available.path):
            target.verify_length_and_hashes(handle)
        return available

    def stage(self, ref: str) -> tuple[Available, Path]:
        """Fetch and verify ``ref``, then place it in ``staging/<line>/<version>/`` with a
        ``release.json``; the directory appears whole or not at all."""
        available, downloaded = self.fetch(ref)
        destination = self.staged_dir(available.line, available.version)
        name = available.path.rpartition("/")[2]
        try:
            check_file_name(name)
        except InvalidInput as exc:
            raise UpdateRefused(exc.message, attack="invalid-metadata") from None
        if (destination / name).exists():
            with (destination / name).open("rb") as handle, refusals("artefact", available.path):
                TargetFile.from_dict(
                    {"length": available.length, "hashes": {"sha256": available.sha256}},
                    available.path,
                ).verify_length_and_hashes(handle)
            return available, destination / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(dir=destination.parent, prefix=".staging-"))
        try:
            shutil.copyfile(downloaded, building / name)
            release = {
                **available.to_dict(),
                "file": name,
                "staged_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            (building / "release.json").write_text(json.dumps(release, indent=2) + "\n")
            os.replace(building, destination)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        self.journal.append(
            "staged",
            target=available.path,
            version=available.version,
            package=available.package,
            fixes=list(available.fixes),
            directory=str(destination),
        )
        return available, destination / name

    def staged_dir(self, line: str, version: str) -> Path:
        if not version or "/" in version or "\\" in version or version.startswith("."):
            raise UpdateRefused(
                f"version {version!r} is not usable as a directory name", attack="invalid-metadata"
            )
        return self.layout.staging / line / version

    @contextmanager
    def _recorded(self, step: str, **fields: Any) -> Iterator[None]:
        """Journal a refusal (or an unreachable repository) of ``step`` before it propagates."""
        try:
            yield
        except UpdateRefused as exc:
            self.journal.append(
                "refused", step=step, attack=exc.attack, message=exc.diagnostics(), **fields
            )
            raise
        except SourceUnavailable as exc:
            self.journal.append("unavailable", step=step, message=exc.diagnostics(), **fields)
            raise


@contextmanager
def refusals(phase: str, what: str = "") -> Iterator[None]:
    """Turn python-tuf's errors into Sakimori errors with one clear line each.

    ``phase`` is ``metadata`` or ``artefact``; ``what`` names the artefact."""
    if phase == "artefact":
        subject = f"artefact {what}"
    else:
        subject = f"metadata of {what}" if what else "metadata"
    tail = f"refused; {NOTHING_INSTALLED}"
    try:
        yield
    except exceptions.ExpiredMetadataError as exc:
        raise UpdateRefused(
            f"{exc}: the repository serves expired metadata, which is what a freeze attack "
            f"(stale metadata replayed by a mirror or the network) looks like; {tail}",
            attack="freeze",
        ) from None
    except exceptions.BadVersionNumberError as exc:
        text = str(exc) or type(exc).__name__
        if text.startswith("Expected") and "root" not in text:
            raise UpdateRefused(
                f"{text}: metadata does not match the version the signed snapshot or timestamp "
                f"lists, which is what a mix-and-match attack looks like; {tail}",
                attack="mix-and-match",
            ) from None
        raise UpdateRefused(
            f"{text}: metadata is older than what this client already trusts, which is what a "
            f"rollback attack looks like; {tail}",
            attack="rollback",
        ) from None
    except exceptions.UnsignedMetadataError as exc:
        text = str(exc)
        root = text.startswith("root ")
        raise UpdateRefused(
            f"{text}: {'root' if root else 'metadata'} is not signed by enough trusted keys "
            f"({_ROOT_CAUSE if root else _THRESHOLD_CAUSE}); {tail}",
            attack="untrusted-root" if root else "threshold",
        ) from None
    except exceptions.LengthOrHashMismatchError as exc:
        if phase == "artefact":
            raise UpdateRefused(
                f"{subject} does not match the length and hashes in its signed metadata "
                f"({exc}), which is what an arbitrary or tampered artefact looks like; {tail}",
                attack="arbitrary-artefact",
            ) from None
        raise UpdateRefused(
            f"{subject} does not match the length and hashes the signed snapshot or timestamp "
            f"lists ({exc}), which is what mix-and-match or tampered metadata looks like; {tail}",
            attack="mix-and-match",
        ) from None
    except exceptions.DownloadLengthMismatchError as exc:
        raise UpdateRefused(
            f"{exc}: the server sent more {subject} than its signed length or the configured "
            f"limit, which is what an endless-data attack looks like; download stopped, {tail}",
            attack="endless-data",
        ) from None
    except exceptions.SlowRetrievalError as exc:
        detail = f" ({exc})" if str(exc) else ""
        raise UpdateRefused(
            f"the server stalled while sending {subject}{detail}, which is what a slow-retrieval "
            f"attack or a broken mirror looks like; download stopped, {tail}",
            attack="slow-retrieval",
        ) from None
    except exceptions.DownloadHTTPError as exc:
        raise SourceUnavailable(
            f"the repository answered HTTP {exc.status_code} for {subject}; {NOTHING_INSTALLED}"
        ) from None
    except exceptions.DownloadError as exc:
        cause = exc.__cause__ or exc
        raise SourceUnavailable(
            f"cannot download {subject}: {cause}; {NOTHING_INSTALLED}",
            hint="check the repository URL and the network",
        ) from None
    except exceptions.RepositoryError as exc:
        raise UpdateRefused(
            f"{exc}: {subject} failed verification; {tail}", attack="invalid-metadata"
        ) from None


_ROOT_CAUSE = "signed with rotated-out or unknown root keys"
_THRESHOLD_CAUSE = "forged, or signed with too few keys, such as one compromised key"
_PART = re.compile(r"\d+|[A-Za-z]+")


def version_key(version: str) -> tuple[tuple[int, int, str], ...]:
    """A natural sort key for vendor versions (numbers compare as numbers): 2.10 > 2.9."""
    return tuple(
        (1, int(part), "") if part.isdigit() else (0, 0, part.lower())
        for part in _PART.findall(version)
    )
