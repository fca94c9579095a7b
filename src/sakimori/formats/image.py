"""Container images as inventories: a ``docker save`` archive or an OCI image layout, no engine.

The image's layers are applied in order, as a container runtime would stack them, to a *view*
of the files that say what is installed: the dpkg database (``var/lib/dpkg/status`` and the
distroless ``status.d/*``), the apk database (``lib/apk/db/installed``), ``os-release``, Python
``*.dist-info/METADATA``, and language lockfiles and manifests. Only those files are kept (by
their path: an image holds tens of thousands of files); each is then recognised **by content**
(``formats/detect.py``), and ``os-release`` gives every OS package its distribution and release.

Whiteouts follow the OCI image spec: ``.wh.NAME`` removes ``NAME`` (and what is below it) from
the layers underneath, ``.wh..wh..opq`` empties its directory of what the layers underneath put
there; a file or link that replaces a directory hides what was below it. Symbolic links at the
paths read are followed inside the image only (absolute targets from the image's root).

Hostile archives are refused before anything is returned (``LimitExceeded`` /
``MalformedDocument``): more members than ``max_archive_members`` over all layers, more
uncompressed bytes than ``max_archive_bytes`` (checked at each tar header, before the member is
decompressed, so a gzip bomb stops early), member paths that climb out of the root (``..``) or
nest deeper than ``max_depth``, hard links and (at the paths read) symbolic links that point out
of the root, a blob whose content does not match its ``sha256`` digest, zstd layers (not read
yet). Nothing is written to disk: the archive is read from memory and its layers are streamed.

``parse`` takes the archive's bytes (``docker save`` output, or an OCI layout packed as a tar);
``parse_directory`` reads an OCI layout (or an extracted ``docker save``) directory.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Final

from packageurl import PackageURL

from sakimori.errors import InvalidInput, LimitExceeded, MalformedDocument, UnsupportedFormat
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, check_components, load_json
from sakimori.formats.lockfiles import apk_installed, dpkg_status
from sakimori.model.ecosystem import normalize_release, to_purl
from sakimori.model.inventory import Component, Inventory

FORMAT: Final = "container-image"

_CHUNK: Final = 1024 * 1024
_MAX_LINK_HOPS: Final = 40
_MAX_INDEX_DEPTH: Final = 4

_DPKG_STATUS: Final = "var/lib/dpkg/status"
_DPKG_STATUS_D: Final = "var/lib/dpkg/status.d/"
_APK_INSTALLED: Final = "lib/apk/db/installed"
_OS_RELEASE: Final = ("etc/os-release", "usr/lib/os-release")
#: Language lockfiles and manifests, by file name (recognised by content once chosen).
LANGUAGE_FILES: Final = frozenset((
    "requirements.txt", "Pipfile.lock", "poetry.lock", "uv.lock", "pdm.lock", "package-lock.json",
    ".package-lock.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock", "go.mod", "Cargo.lock",
    "Gemfile.lock", "gems.locked", "composer.lock", "packages.lock.json", "packages.config",
    "pom.xml", "gradle.lockfile", "cabal.project.freeze", "stack.yaml.lock", "Package.resolved",
    "Podfile.lock",
))  # fmt: skip
#: os-release ``ID`` -> OSV ecosystem of its packages.
_DISTRIBUTIONS: Final[dict[str, str]] = {
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "alpine": "Alpine",
    "wolfi": "Wolfi",
    "chainguard": "Chainguard",
}
_ZSTD: Final = b"\x28\xb5\x2f\xfd"
_SHA256_BLOB = re.compile(r"blobs/sha256/([0-9a-f]{64})")
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")
_OS_RELEASE_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)")


def sniff(data: bytes) -> bool:
    """A tar archive holding ``manifest.json`` (docker save) or ``oci-layout`` + ``index.json``."""
    if data[257:262] != b"ustar":
        return False
    names: set[str] = set()
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            for count, member in enumerate(archive):
                if count > 100_000:
                    break
                names.add(member.name.removeprefix("./"))
                if "manifest.json" in names or {"oci-layout", "index.json"} <= names:
                    return True
    except (tarfile.TarError, OSError, ValueError, EOFError):
        return False
    return False


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    """The inventory of an image archive (``docker save`` output or an OCI layout as a tar)."""
    if len(data) > limits.max_archive_bytes:
        raise LimitExceeded(
            f"image archive is {len(data):,} bytes, more than {limits.max_archive_bytes:,}"
        )
    try:
        outer = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115 - closed below
    except (tarfile.TarError, OSError, ValueError, EOFError) as exc:
        raise MalformedDocument(f"not a readable tar archive: {exc}") from None
    with outer:
        try:
            return _inventory(_TarBlobs(outer, limits), limits)
        except (tarfile.TarError, EOFError) as exc:  # a truncated or corrupt outer archive
            raise MalformedDocument(f"not a readable tar archive: {exc}") from None


def is_layout_directory(path: Path) -> bool:
    """Whether ``path`` holds an OCI image layout (``oci-layout`` + ``index.json``) or an
    extracted ``docker save`` archive (``manifest.json`` beside the layer files)."""
    if (path / "oci-layout").is_file() and (path / "index.json").is_file():
        return True
    # A bare manifest.json is too common (web app manifests) to mean an image by itself.
    saved = (path / "repositories").is_file() or (path / "blobs").is_dir()
    return (path / "manifest.json").is_file() and saved


def parse_directory(path: Path, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    """The inventory of an OCI image layout directory (or an extracted ``docker save``)."""
    if not path.is_dir():
        raise InvalidInput("is not a directory", where=str(path))
    try:
        return _inventory(_DirBlobs(path.resolve(), limits), limits)
    except InvalidInput as exc:
        raise exc.located(str(path)) from None


# --- where the image's files come from ------------------------------------------------------


class _Blobs:
    """Named files of the archive or layout (``manifest.json``, ``blobs/sha256/…``)."""

    def has(self, name: str) -> bool:
        raise NotImplementedError

    def open(self, name: str) -> IO[bytes]:
        raise NotImplementedError

    def read(self, name: str, limits: Limits) -> bytes:
        with self.open(name) as stream:
            data = stream.read(limits.max_bytes + 1)
        if len(data) > limits.max_bytes:
            raise LimitExceeded(f"{name} is larger than the limit of {limits.max_bytes:,} bytes")
        _check_digest(name, iter((data,)))
        return data

    def verified(self, name: str) -> IO[bytes]:
        """Open a blob after checking its content against the digest its name states."""
        with self.open(name) as stream:
            _check_digest(name, iter(lambda: stream.read(_CHUNK), b""))
        return self.open(name)


def _check_digest(name: str, chunks: Iterator[bytes]) -> None:
    expected = _SHA256_BLOB.fullmatch(name)
    if expected is None:
        return  # a legacy ``docker save`` path (``<id>/layer.tar``) names no digest
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    if digest.hexdigest() != expected.group(1):
        raise MalformedDocument(f"blob {name} does not match its sha256 digest")


class _TarBlobs(_Blobs):
    def __init__(self, archive: tarfile.TarFile, limits: Limits) -> None:
        self._archive = archive
        self._members: dict[str, tarfile.TarInfo] = {}
        for count, member in enumerate(archive, start=1):
            if count > limits.max_archive_members:
                raise LimitExceeded(
                    f"image archive has more than {limits.max_archive_members:,} members"
                )
            name = _clean(member.name, "image archive member", limits)
            if member.issym() or member.islnk():
                base = posixpath.dirname(name) if member.issym() else ""
                _inside(posixpath.join(base, member.linkname), f"link {name}")
            self._members[name] = member

    def has(self, name: str) -> bool:
        return self._resolve(name) is not None

    def _resolve(self, name: str) -> tarfile.TarInfo | None:
        for _ in range(_MAX_LINK_HOPS):
            member = self._members.get(name)
            if member is None or not member.issym():
                return member
            name = _inside(posixpath.join(posixpath.dirname(name), member.linkname), name)
        raise MalformedDocument(f"too many symbolic links resolving {name}")

    def open(self, name: str) -> IO[bytes]:
        member = self._resolve(name)
        stream = self._archive.extractfile(member) if member is not None else None
        if stream is None:
            raise MalformedDocument(f"the image archive has no file {name}")
        return stream


class _DirBlobs(_Blobs):
    def __init__(self, root: Path, limits: Limits) -> None:
        self._root = root
        self._limits = limits

    def _path(self, name: str) -> Path:
        path = (self._root / _clean(name, "layout path", self._limits)).resolve()
        if not path.is_relative_to(self._root):
            raise MalformedDocument(f"{name} points outside the image layout directory")
        return path

    def has(self, name: str) -> bool:
        return self._path(name).is_file()

    def open(self, name: str) -> IO[bytes]:
        path = self._path(name)
        try:
            if path.stat().st_size > self._limits.max_archive_bytes:
                raise LimitExceeded(f"{name} is larger than {self._limits.max_archive_bytes:,}")
            return path.open("rb")
        except OSError as exc:
            raise MalformedDocument(f"cannot read {name}: {exc.strerror}") from None


# --- manifests ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Image:
    layers: tuple[str, ...]
    skipped: tuple[str, ...]


def _image(blobs: _Blobs, limits: Limits) -> _Image:
    if blobs.has("manifest.json"):
        return _docker_image(blobs, limits)
    if blobs.has("oci-layout") and blobs.has("index.json"):
        return _oci_image(blobs, limits)
    raise UnsupportedFormat(
        "not a container image: neither manifest.json (docker save) nor oci-layout and "
        "index.json (OCI image layout)"
    )


def _docker_image(blobs: _Blobs, limits: Limits) -> _Image:
    manifest = load_json(blobs.read("manifest.json", limits), limits)
    if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
        raise MalformedDocument("manifest.json must be a non-empty list of images")
    first = manifest[0]
    layers = first.get("Layers")
    if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
        raise MalformedDocument("manifest.json: Layers must be a list of paths")
    skipped: tuple[str, ...] = ()
    if len(manifest) > 1:
        tags = first.get("RepoTags") or ["the first image"]
        skipped = (f"the archive holds {len(manifest)} images; only {tags} is inventoried",)
    return _Image(tuple(layers), skipped)


def _oci_image(blobs: _Blobs, limits: Limits) -> _Image:
    document = load_json(blobs.read("index.json", limits), limits)
    skipped: list[str] = []
    for _ in range(_MAX_INDEX_DEPTH):
        if not isinstance(document, dict):
            raise MalformedDocument("an OCI index or manifest must be a JSON object")
        layers = document.get("layers")
        if isinstance(layers, list):
            return _Image(tuple(_blob_of(layer, "layer") for layer in layers), tuple(skipped))
        manifests = document.get("manifests")
        if not isinstance(manifests, list) or not manifests:
            raise MalformedDocument("an OCI index without manifests")
        chosen = _choose(manifests)
        if len(manifests) > 1:
            skipped.append(
                f"the index lists {len(manifests)} manifests; only {chosen.get('digest')} "
                "is inventoried"
            )
        document = load_json(blobs.read(_blob_of(chosen, "manifest"), limits), limits)
    raise LimitExceeded(f"OCI indexes nested deeper than {_MAX_INDEX_DEPTH} levels")


def _choose(manifests: list[object]) -> dict[str, object]:
    """The linux/amd64 manifest of a multi-platform index, else the first one."""
    candidates = [m for m in manifests if isinstance(m, dict)]
    if not candidates:
        raise MalformedDocument("an OCI index whose manifests are not objects")
    for manifest in candidates:
        platform = manifest.get("platform")
        if isinstance(platform, dict) and (platform.get("os"), platform.get("architecture")) == (
            "linux",
            "amd64",
        ):
            return manifest
    return candidates[0]


def _blob_of(descriptor: object, what: str) -> str:
    digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
    found = _DIGEST.fullmatch(digest) if isinstance(digest, str) else None
    if found is None:
        raise MalformedDocument(
            f"an OCI {what} descriptor without a sha256 digest: {digest!r:.100}"
        )
    return f"blobs/sha256/{found.group(1)}"


# --- layers ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    layer: int
    data: bytes | None = None  # a kept regular file
    link: str | None = None  # a symbolic link: its target, as a path from the root


@dataclass(slots=True)
class _Budget:
    members: int = 0
    bytes: int = 0
    kept: int = 0


def _wanted(path: str) -> bool:
    if path in (_DPKG_STATUS, _APK_INSTALLED, *_OS_RELEASE):
        return True
    if path.startswith(_DPKG_STATUS_D):
        return True
    base = posixpath.basename(path)
    if base in LANGUAGE_FILES or base.endswith(".deps.json"):
        return True
    return base == "METADATA" and posixpath.dirname(path).endswith(".dist-info")


def _apply_layers(blobs: _Blobs, layers: tuple[str, ...], limits: Limits) -> dict[str, _Entry]:
    view: dict[str, _Entry] = {}
    budget = _Budget()
    for number, name in enumerate(layers):
        try:
            _apply_layer(blobs, name, number, view, budget, limits)
        except InvalidInput as exc:
            raise exc.located(f"layer {number + 1} ({name})") from None
    return view


def _apply_layer(
    blobs: _Blobs,
    name: str,
    number: int,
    view: dict[str, _Entry],
    budget: _Budget,
    limits: Limits,
) -> None:
    with blobs.verified(_clean(name, "layer path", limits)) as stream:
        head = stream.read(4)
        if head.startswith(_ZSTD):
            raise MalformedDocument("zstd-compressed layers are not read yet")
        joined = _Prefixed(head, stream)
        try:
            with tarfile.open(fileobj=joined, mode="r|*") as layer:
                for member in _members(layer, budget, limits):
                    _apply_member(layer, member, number, view, budget, limits)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise MalformedDocument(f"not a readable layer tar: {exc}") from None


class _Prefixed(io.RawIOBase):
    """A stream with the bytes already read to sniff it put back in front."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._rest.read(size)


def _members(layer: tarfile.TarFile, budget: _Budget, limits: Limits) -> Iterator[tarfile.TarInfo]:
    """Each member, counted against the limits *before* its content is decompressed."""
    while (member := layer.next()) is not None:
        budget.members += 1
        if budget.members > limits.max_archive_members:
            raise LimitExceeded(
                f"the image's layers hold more than {limits.max_archive_members:,} files"
            )
        budget.bytes += max(member.size, 0)
        if budget.bytes > limits.max_archive_bytes:
            raise LimitExceeded(
                f"the image's layers expand to more than {limits.max_archive_bytes:,} bytes "
                f"(at {member.name[:200]!r})"
            )
        yield member


def _apply_member(
    layer: tarfile.TarFile,
    member: tarfile.TarInfo,
    number: int,
    view: dict[str, _Entry],
    budget: _Budget,
    limits: Limits,
) -> None:
    path = _clean(member.name, "layer member", limits)
    directory, base = posixpath.split(path)
    if base == ".wh..wh..opq":
        _remove_below(view, directory, number, include_self=False)
        return
    if base.startswith(".wh."):
        _remove_below(view, posixpath.join(directory, base[4:]), number, include_self=True)
        return
    if not member.isdir():
        # A file or link replaces a directory of a lower layer, and what was below it.
        _remove_below(view, path, number, include_self=False)
    if member.issym():
        if not _wanted(path):
            view.pop(path, None)  # never followed: only links at the paths we read are kept
            return
        target = member.linkname
        source = target if target.startswith("/") else posixpath.join(directory, target)
        view[path] = _Entry(number, link=_inside(source, f"symbolic link {path}"))
        return
    if member.islnk():
        target = _inside(member.linkname, f"hard link {path}")
        found = view.get(target)
        if found is not None and found.data is not None and _wanted(path):
            view[path] = _Entry(number, data=found.data)
        else:
            view.pop(path, None)
        return
    if not member.isreg() or not _wanted(path):
        view.pop(path, None)  # a directory, device, fifo or other file replaces what was there
        return
    if member.size > limits.max_bytes:
        raise LimitExceeded(f"{path} is {member.size:,} bytes, more than {limits.max_bytes:,}")
    budget.kept += member.size
    if budget.kept > limits.max_bytes:
        raise LimitExceeded(
            f"the package databases and lockfiles kept exceed {limits.max_bytes:,} bytes"
        )
    stream = layer.extractfile(member)
    data = stream.read() if stream is not None else b""
    view[path] = _Entry(number, data=data)


def _remove_below(view: dict[str, _Entry], path: str, number: int, *, include_self: bool) -> None:
    """Hide what lower layers put below ``path`` (opaque directory), and at it (whiteout)."""
    if not view:
        return
    prefix = f"{path}/" if path else ""
    doomed = [
        name
        for name, entry in view.items()
        if entry.layer < number and ((include_self and name == path) or name.startswith(prefix))
    ]
    for name in doomed:
        del view[name]


def _resolved(view: dict[str, _Entry], path: str) -> bytes | None:
    for _ in range(_MAX_LINK_HOPS):
        entry = view.get(path)
        if entry is None:
            return None
        if entry.link is None:
            return entry.data
        path = entry.link
    return None


def _clean(name: str, what: str, limits: Limits) -> str:
    """A member path relative to the root; ``..`` above the root is refused."""
    if "\x00" in name:
        raise MalformedDocument(f"{what} {name[:200]!r} has a NUL character")
    path = _inside(name, f"{what} {name[:200]!r}")
    if path.count("/") + 1 > limits.max_depth:
        raise LimitExceeded(f"{what} {name[:200]!r} is nested deeper than {limits.max_depth}")
    return path


def _inside(path: str, what: str) -> str:
    """``path`` normalised from the root (absolute paths are from the image's root); a path
    that climbs above the root is refused."""
    normal = posixpath.normpath(path.lstrip("/")) if path.strip("/") else "."
    if normal == ".." or normal.startswith("../"):
        raise MalformedDocument(f"{what[:300]} points outside the image ({path[:200]!r})")
    return "" if normal == "." else normal


# --- the inventory --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OsRelease:
    """What ``/etc/os-release`` says: ``ID``, ``VERSION_ID``, ``PRETTY_NAME``."""

    id: str
    version_id: str | None
    pretty_name: str | None

    @property
    def ecosystem(self) -> str | None:
        return _DISTRIBUTIONS.get(self.id)

    @property
    def release(self) -> str | None:
        ecosystem = self.ecosystem
        return normalize_release(ecosystem, self.version_id) if ecosystem else None


def parse_os_release(data: bytes) -> OsRelease:
    values: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        found = _OS_RELEASE_LINE.fullmatch(line.strip())
        if found is None:
            continue
        value = found.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[found.group(1)] = value
    return OsRelease(
        values.get("ID", "").lower(), values.get("VERSION_ID") or None, values.get("PRETTY_NAME")
    )


def _inventory(blobs: _Blobs, limits: Limits) -> Inventory:
    image = _image(blobs, limits)
    view = _apply_layers(blobs, image.layers, limits)
    skipped = list(image.skipped)
    os_release = next(
        (parse_os_release(d) for p in _OS_RELEASE if (d := _resolved(view, p)) is not None), None
    )
    components: dict[tuple[str | None, str, str | None, str | None], Component] = {}

    def add(found: Inventory, where: str) -> None:
        skipped.extend(f"{where}: {reason}" for reason in found.skipped)
        for component in found.components:
            key = (component.ecosystem, component.name, component.version, component.purl)
            components.setdefault(key, component)
            check_components(len(components), limits)

    os_parsers: list[tuple[str, Callable[[bytes, Limits], Inventory]]] = [
        (_DPKG_STATUS, dpkg_status.parse),
        (_APK_INSTALLED, apk_installed.parse),
    ]
    os_paths = [(p, f) for p, f in os_parsers if p in view] + [
        (p, dpkg_status.parse) for p in sorted(view) if p.startswith(_DPKG_STATUS_D)
    ]
    for path, parser in os_paths:
        data = _resolved(view, path)
        if data is None:
            continue
        if path.startswith(_DPKG_STATUS_D) and not dpkg_status.sniff(data):
            continue  # the ``.md5sums`` lists that sit next to distroless stanzas
        try:
            found = parser(data, limits)
        except InvalidInput as exc:
            raise exc.located(f"/{path} in the image") from None
        add(_with_distribution(found, os_release, skipped), f"/{path}")
    for path in sorted(view):
        if path in (_DPKG_STATUS, _APK_INSTALLED, *_OS_RELEASE) or path.startswith(_DPKG_STATUS_D):
            continue
        data = _resolved(view, path)
        if data is None:
            continue
        if posixpath.basename(path) == "METADATA":
            add(_dist_info(data, path), f"/{path}")
            continue
        from sakimori.formats.detect import parse_inventory

        try:
            add(parse_inventory(data, limits), f"/{path}")
        except InvalidInput as exc:
            skipped.append(f"/{path}: not read ({exc.message})")
    return Inventory(FORMAT, tuple(components.values()), skipped=tuple(skipped))


def _with_distribution(
    found: Inventory, os_release: OsRelease | None, skipped: list[str]
) -> Inventory:
    """OS packages take their distribution and release from ``os-release``."""
    if os_release is None:
        skipped.append("no /etc/os-release: OS packages have no release (match every release)")
        return found
    ecosystem, release = os_release.ecosystem, os_release.release
    if ecosystem is None:
        skipped.append(
            f"os-release ID {os_release.id!r:.80} is not a distribution with advisories we "
            "read: its packages keep no release (match every release)"
        )
        return found
    if release is None:
        skipped.append(
            f"os-release states no VERSION_ID for {ecosystem}: packages match every release"
        )
    distro = f"{os_release.id}-{os_release.version_id}" if os_release.version_id else None
    fixed = []
    for component in found.components:
        if component.ecosystem not in ("Debian", "Alpine"):
            fixed.append(component)
            continue
        fixed.append(
            replace(
                component,
                ecosystem=ecosystem,
                release=release,
                purl=_distro_purl(component.purl, os_release.id, distro),
            )
        )
    return replace(found, components=tuple(fixed))


def _distro_purl(purl: str | None, namespace: str, distro: str | None) -> str | None:
    if purl is None:
        return None
    try:
        parsed = PackageURL.from_string(purl)
        qualifiers = dict(parsed.qualifiers) if isinstance(parsed.qualifiers, dict) else {}
        if distro:
            qualifiers["distro"] = distro
        return str(parsed._replace(namespace=namespace, qualifiers=qualifiers))
    except (ValueError, TypeError):
        return purl


def _dist_info(data: bytes, path: str) -> Inventory:
    """An installed Python distribution: ``Name`` and ``Version`` from its METADATA headers."""
    headers: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            break
        key, colon, value = line.partition(":")
        if colon and key in ("Name", "Version"):
            headers.setdefault(key, value.strip())
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return Inventory("dist-info", (), skipped=("no Name or Version header",))
    purl = to_purl("PyPI", name, version)
    return Inventory("dist-info", (Component(name, version, "PyPI", purl=purl),))
