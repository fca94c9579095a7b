"""Emergency updates: vendors' TUF repositories hosted by the platform (docs/updates.md).

An operator's ``tuf.ngclient`` reads ``/v1/updates/{vendor}/metadata/`` and
``/v1/updates/{vendor}/targets/`` with its API token; the vendor uploads offline-signed
metadata and artefacts; staff register repositories and refresh timestamps; operators report
roll-out steps. Roles and tenancy are decided in ``sakimori.services.updates``.

Served files carry a strong ``ETag`` (SHA-256 of the bytes) and ``Last-Modified``, and a
conditional GET that matches answers 304 without a body. ``timestamp.json`` (and the other
unversioned names) may be cached for a short while only; consistent-snapshot files
(``N.role.json``, ``<line>/<sha256>.<file>``) never change and are cacheable for a year.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import Field, StringConstraints
from starlette.datastructures import UploadFile

from sakimori.api.deps import PrincipalDep, Runtime, RuntimeDep, _bearer, with_origin
from sakimori.api.problems import responses
from sakimori.api.schemas import Request as RequestBody
from sakimori.api.schemas import Response as ResponseBody
from sakimori.errors import InvalidInput, LimitExceeded
from sakimori.services import updates as service
from sakimori.services.access import Principal
from sakimori.services.identity import (
    IDENTITY_CHANGES,
    TokenCache,
    Unauthenticated,
    authenticate,
)

router = APIRouter(prefix="/v1/updates", tags=["updates"])

Vendor = Annotated[
    str, PathParam(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="The vendor organisation.")
]
MetadataName = Annotated[
    str,
    PathParam(
        pattern=r"^([0-9]{1,10}\.)?[a-z0-9][a-z0-9-]{0,62}\.json$",
        description="`timestamp.json`, or a consistent-snapshot name such as `3.snapshot.json`.",
    ),
]
Line = Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
FileName = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,299}$")]
_Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
_Group = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
]
_AssetRef = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}/[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"),
]
_Event = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z-]{0,39}$")]
_Version = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]

#: Seconds a client or cache may reuse the unversioned files (``timestamp.json``).
SHORT_MAX_AGE = 30
IMMUTABLE = "private, max-age=31536000, immutable"
SHORT = f"private, max-age={SHORT_MAX_AGE}, must-revalidate"
#: The most files (and bytes per file) the served-file cache keeps in memory.
CACHE_FILES = 256
CACHE_FILE_BYTES = 4 * 1024 * 1024
#: Seconds a verified token is trusted on the polling routes without asking the database: the
#: longest a revoked token can still read (signed, non-secret) metadata and artefacts.
POLL_TOKEN_TTL = 300.0
#: At most this many metadata files and artefacts in one upload.
MAX_UPLOAD_FILES = 200


class RepositoryIn(RequestBody):
    vendor: _Slug


class RepositoryOut(ResponseBody):
    vendor: str
    online_keys: dict[str, dict[str, Any]] = Field(
        description="The platform's snapshot and timestamp public keys (TUF key objects with "
        "their keyid): the vendor's root must name them."
    )
    root_version: int | None
    timestamp_version: int | None
    metadata_url: str
    targets_url: str


class ReleaseOut(ResponseBody):
    vendor: str
    path: str
    line: str
    version: str
    package: str
    package_id: int | None
    fixes: list[str]
    length: int
    sha256: str


class UploadOut(ResponseBody):
    published: dict[str, int] = Field(description="Role → the version published.")
    releases: list[ReleaseOut]
    snapshot_version: int
    timestamp_version: int
    notified: list[str] = Field(
        description="Organisations receiving the linked packages, to be notified (the "
        "notification channels come later: the list is returned and logged)."
    )


class RefreshOut(ResponseBody):
    vendor: str
    snapshot_version: int
    timestamp_version: int


class StepIn(RequestBody):
    vendor: _Slug
    asset: _AssetRef = Field(description="The operator's asset the roll-out ran on.")
    event: _Event = Field(description="The roll-out journal event (docs/updates.md).")
    line: _Slug | None = None
    version: _Version | None = None
    group: _Group | None = Field(
        default=None, description="The roll-out group (stage) of the step, e.g. canary."
    )
    passed: bool | None = Field(default=None, description="A health check's outcome.")


class StepOut(ResponseBody):
    event: str
    release: str | None
    moved: list[int] = Field(description="Findings moved to fix_applied.")
    reopened: list[int] = Field(
        default_factory=list,
        description="Findings moved back from fix_applied to in_progress by a roll-back.",
    )


def _repository_out(request: Request, info: service.RepositoryInfo) -> RepositoryOut:
    base = f"/v1/updates/{info.vendor}"
    return RepositoryOut(
        vendor=info.vendor,
        online_keys=info.online_keys,
        root_version=info.root_version,
        timestamp_version=info.timestamp_version,
        metadata_url=f"{base}/metadata/",
        targets_url=f"{base}/targets/",
    )


def _release_out(view: service.ReleaseView) -> ReleaseOut:
    return ReleaseOut(
        vendor=view.vendor,
        path=view.path,
        line=view.line,
        version=view.version,
        package=view.package,
        package_id=view.package_id,
        fixes=list(view.fixes),
        length=view.length,
        sha256=view.sha256,
    )


# -- serving files with validators ----------------------------------------------------------------


@dataclass(frozen=True)
class _Served:
    stamp: tuple[int, int, int]  # inode, size, mtime_ns
    body: bytes
    etag: str
    last_modified: str
    modified: float


class _FileCache:
    """The served files' bytes and validators, keyed by path and checked against ``stat``
    on every request (a replaced file — ``os.replace`` — has a new inode and mtime)."""

    def __init__(self) -> None:
        self._items: OrderedDict[Path, _Served] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path) -> _Served:
        status = path.stat()
        stamp = (status.st_ino, status.st_size, status.st_mtime_ns)
        with self._lock:
            found = self._items.get(path)
            if found is not None and found.stamp == stamp:
                self._items.move_to_end(path)
                return found
        body = path.read_bytes()
        served = _Served(
            stamp=stamp,
            body=body,
            etag='"' + hashlib.sha256(body).hexdigest()[:40] + '"',
            last_modified=formatdate(status.st_mtime, usegmt=True),
            modified=float(int(status.st_mtime)),
        )
        if len(body) <= CACHE_FILE_BYTES:
            with self._lock:
                self._items[path] = served
                self._items.move_to_end(path)
                while len(self._items) > CACHE_FILES:
                    self._items.popitem(last=False)
        return served


def _cache(request: Request) -> _FileCache:
    found: _FileCache | None = getattr(request.app.state, "update_files", None)
    if found is None:
        found = _FileCache()
        request.app.state.update_files = found
    return found


def _not_modified(request: Request, served: _Served) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or served.etag in tags
    since = request.headers.get("if-modified-since")
    if since is not None:
        try:
            return parsedate_to_datetime(since).timestamp() >= served.modified
        except (TypeError, ValueError):
            return False
    return False


def _serve(request: Request, path: Path, cache_control: str, media_type: str) -> Response:
    served = _cache(request).get(path)
    headers = {
        "ETag": served.etag,
        "Last-Modified": served.last_modified,
        "Cache-Control": cache_control,
    }
    if _not_modified(request, served):
        return Response(status_code=304, headers=headers)
    return Response(served.body, media_type=media_type, headers=headers)


def _token_cache(request: Request) -> TokenCache:
    found: TokenCache | None = getattr(request.app.state, "update_tokens", None)
    if found is None:
        found = TokenCache(ttl=POLL_TOKEN_TTL)
        request.app.state.update_tokens = found
    return found


async def poller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of a polling route: the token checked against the database, or found in the
    process's short-lived cache of tokens verified in the last ``POLL_TOKEN_TTL`` seconds
    (10,000 operators polling every few seconds would otherwise cost a query per poll)."""
    if credentials is None:
        raise Unauthenticated()
    rt: Runtime = request.app.state.runtime
    cache, token = _token_cache(request), credentials.credentials
    found = cache.lookup(rt.key, token)
    if found is None:
        generation = IDENTITY_CHANGES.value
        found = await run_in_threadpool(authenticate, rt.database, rt.key, token)
        cache.remember(rt.key, token, found, generation=generation)
    found = with_origin(found, request)
    request.state.user = found.name
    return found


PollerDep = Annotated[Principal, Depends(poller)]


_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **responses(403, 404),
    304: {"description": "Not modified (the `If-None-Match` / `If-Modified-Since` matched)"},
}


# -- routes ---------------------------------------------------------------------------------------


@router.get("/repositories", response_model=list[RepositoryOut], responses=responses(403))
def list_repositories(
    request: Request, principal: PrincipalDep, rt: RuntimeDep
) -> list[RepositoryOut]:
    """The hosted repositories the caller may read, with the platform's online public keys."""
    hosting = service.Hosting.of(rt.settings)
    return [
        _repository_out(request, info) for info in service.list_repositories(principal, hosting)
    ]


@router.post(
    "/repositories",
    response_model=RepositoryOut,
    status_code=201,
    responses=responses(400, 403, 404, 409),
)
def register_repository(
    body: RepositoryIn, request: Request, principal: PrincipalDep, rt: RuntimeDep
) -> RepositoryOut:
    """Host a TUF repository for a vendor organisation and make its online keys (coordinator
    admin). The vendor's root must name the keys in the answer."""
    info = service.register_repository(
        rt.database, principal, service.Hosting.of(rt.settings), body.vendor
    )
    return _repository_out(request, info)


@router.get("/releases", response_model=list[ReleaseOut], responses=responses(403))
def list_releases(principal: PrincipalDep, rt: RuntimeDep) -> list[ReleaseOut]:
    """Hosted releases: all (staff), or those whose package the caller's organisation
    receives."""
    hosting = service.Hosting.of(rt.settings)
    return [_release_out(r) for r in service.list_releases(rt.database, principal, hosting)]


@router.post("/reports", response_model=StepOut, responses=responses(400, 403, 404, 409))
def report_step(body: StepIn, principal: PrincipalDep, rt: RuntimeDep) -> StepOut:
    """An operator's roll-out step on its own asset, stored; a completed roll-out moves the
    asset's open findings for the release's vulnerabilities to `fix_applied`, a completed
    roll-back moves them back to `in_progress`."""
    outcome = service.report_step(
        rt.database,
        principal,
        service.Hosting.of(rt.settings),
        service.StepReport(
            vendor=body.vendor,
            asset=body.asset,
            event=body.event,
            line=body.line,
            version=body.version,
            group=body.group,
            passed=body.passed,
        ),
    )
    return StepOut(
        event=outcome.event,
        release=outcome.release,
        moved=list(outcome.moved),
        reopened=list(outcome.reopened),
    )


@router.get(
    "/{vendor}/metadata/{name}",
    responses={**_FILE_RESPONSES, 200: {"description": "TUF metadata (JSON)"}},
    response_class=Response,
)
async def metadata(
    vendor: Vendor, name: MetadataName, request: Request, principal: PollerDep
) -> Response:
    """A metadata file of the vendor's repository, for `tuf.ngclient`."""
    hosting = service.Hosting.of(request.app.state.runtime.settings)
    path = service.metadata_file(principal, hosting, vendor, name)
    versioned = name.partition(".")[0].isdigit()
    return _serve(request, path, IMMUTABLE if versioned else SHORT, "application/json")


@router.get(
    "/{vendor}/targets/{line}/{name}",
    responses={**_FILE_RESPONSES, 200: {"description": "The artefact"}},
    response_class=Response,
)
async def target(
    vendor: Vendor, line: Line, name: FileName, request: Request, principal: PollerDep
) -> Response:
    """An artefact, by its consistent-snapshot name `<line>/<sha256>.<file>`."""
    hosting = service.Hosting.of(request.app.state.runtime.settings)
    path = service.target_file(principal, hosting, vendor, line, name)
    return _serve(request, path, IMMUTABLE, "application/octet-stream")


_UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["metadata"],
                "properties": {
                    "metadata": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": "Signed metadata files named `<role>.json` (root, "
                        "targets, product lines).",
                    },
                    "artefacts": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": "The new artefacts, each named by its target path "
                        "`<line>/<file>`.",
                    },
                },
            }
        }
    },
}


def _read(upload: UploadFile, limit: int) -> bytes:
    """The uploaded file's bytes, refusing one larger than ``limit`` without reading it all."""
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise LimitExceeded(
            f"{upload.filename or 'a file'} is more than the limit of {limit:,} bytes",
            hint="the server's SAKIMORI_MAX_INPUT_BYTES sets the limit",
        )
    return data


@router.post(
    "/{vendor}/uploads",
    response_model=UploadOut,
    status_code=201,
    responses=responses(400, 403, 404, 413),
    openapi_extra={"requestBody": _UPLOAD_BODY},
)
async def upload(
    vendor: Vendor, request: Request, principal: PrincipalDep, rt: RuntimeDep
) -> UploadOut:
    """Publish the vendor's offline-signed upload: `metadata` files named `<role>.json` (root,
    targets, product lines) and `artefacts` named `<line>/<file>` (their target paths). The
    platform checks everything first (signatures, thresholds, versions, expiry, hashes,
    package links) and writes nothing when it refuses."""
    limit = rt.settings.limits.max_bytes
    roles: dict[str, bytes] = {}
    blobs: dict[str, bytes] = {}
    async with request.form(
        max_files=MAX_UPLOAD_FILES, max_fields=MAX_UPLOAD_FILES, max_part_size=1024 * 1024
    ) as form:
        for field, value in form.multi_items():
            if field not in ("metadata", "artefacts") or isinstance(value, str):
                raise InvalidInput(
                    f"form field {field!r} is not a file named metadata or artefacts",
                    hint="send the files as multipart `metadata` and `artefacts` parts",
                )
            data = await run_in_threadpool(_read, value, limit)
            name = value.filename or ""
            if field == "artefacts":
                blobs[name] = data
                continue
            name = name.rsplit("/", 1)[-1]
            if not name.endswith(".json") or len(name) > 80:
                raise InvalidInput(f"metadata file {name!r} is not named <role>.json")
            roles[name.removesuffix(".json")] = data
    if not roles:
        raise InvalidInput("an upload needs signed metadata (`metadata` files)")
    report = await run_in_threadpool(
        service.upload,
        rt.database,
        principal,
        service.Hosting.of(rt.settings),
        vendor,
        roles,
        blobs,
    )
    return UploadOut(
        published=dict(report.published),
        releases=[_release_out(r) for r in report.releases],
        snapshot_version=report.snapshot_version,
        timestamp_version=report.timestamp_version,
        notified=list(report.notified),
    )


@router.post("/{vendor}/timestamp", response_model=RefreshOut, responses=responses(403, 404))
def refresh_timestamp(vendor: Vendor, principal: PrincipalDep, rt: RuntimeDep) -> RefreshOut:
    """Sign a new timestamp now (and a new snapshot when half its validity is gone): what
    the scheduled job does (`services.updates.refresh_all`)."""
    snapshot, timestamp = service.refresh(
        rt.database, principal, service.Hosting.of(rt.settings), vendor
    )
    return RefreshOut(vendor=vendor, snapshot_version=snapshot, timestamp_version=timestamp)
