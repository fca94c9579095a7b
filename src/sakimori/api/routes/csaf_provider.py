"""The CSAF 2.0 provider (CSAF 2.0 section 7): provider metadata, ROLIE feeds per TLP label, and
each published package's advisory with its ``.sha512`` and OpenPGP ``.asc`` signature.

- ``/.well-known/csaf/…``: public, no token: the provider metadata, the public key, and the
  TLP:WHITE (TLP 2.0 CLEAR) feed and documents (CSAF requirement 4).
- ``/v1/csaf/…``: a token, and the package API's rules: TLP:GREEN, AMBER (AMBER+STRICT
  included) and RED feeds list only the packages the caller may read, and a document the caller
  may not read answers 404, as one that does not exist (``services.access``). GREEN is here too:
  TLP:GREEN is for the community (the instance's members), never the public web, and the
  coordinator's audience decides which members a package reaches.

Each TLP folder is also a directory distribution (requirements 11–14): ``index.txt``,
``changes.csv`` and listing pages of the folder and its years, at ``/.well-known/csaf/white/…``
without a token, and at ``/v1/csaf/<label>/…`` with one — listing, like the feed of the label,
only the documents the caller may read.

Withdrawn packages leave the feeds and listings, and their documents answer 404. Without a
signing key the documents and hashes are served, no ``.asc``, and the metadata's role is
``csaf_provider`` (said once in the log). Layout and bytes: ``sakimori.packages.csaf_provider``.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from sakimori.api.deps import PrincipalDep, Runtime, RuntimeDep
from sakimori.api.problems import responses
from sakimori.config import Settings
from sakimori.errors import NotFound, SakimoriError
from sakimori.packages import csaf_provider as layout
from sakimori.packages.csaf import Publisher
from sakimori.packages.model import Tlp
from sakimori.services import access
from sakimori.services import packages as packages_service
from sakimori.services.csaf_signing import GnupgSigner, load_signer

log = logging.getLogger(__name__)

router = APIRouter(tags=["csaf"])
_PUBLIC = layout.WELL_KNOWN
_PROTECTED = layout.PROTECTED

#: The CSAF label of each protected feed → the TLP 2.0 labels it carries.
PROTECTED_LABELS: dict[str, frozenset[Tlp]] = {
    "green": frozenset({Tlp.GREEN}),
    "amber": frozenset({Tlp.AMBER, Tlp.AMBER_STRICT}),
    "red": frozenset({Tlp.RED}),
}
_FILE = re.compile(r"^(sakimori-pkg-([0-9]{6,10})\.json)(\.sha512|\.asc)?$")
_Year = Annotated[str, Path(pattern=r"^[0-9]{4}$", description="Year of first release.")]
_File = Annotated[
    str,
    Path(
        pattern=r"^[+\-a-z0-9_]{1,100}\.json(\.sha512|\.asc)?$",
        description="`<name>.json`, its `.sha512` or its `.asc` signature.",
    ),
]
_FILE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The CSAF document, its SHA-512 (`sha512sum` format) or its detached "
        "OpenPGP signature",
        "content": {
            "application/json": {},
            "text/plain": {},
            "application/pgp-signature": {},
        },
    }
}


class Provider:
    """Per application: the signing key (loaded on first use, again when its file changes),
    and when the provider metadata last changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signer: GnupgSigner | None = None
        self._state: tuple[str, float] | None = None  # (key path, mtime) last looked at
        self.changed_at = datetime.now(UTC)

    def signer(self, settings: Settings) -> GnupgSigner | None:
        path = settings.csaf_key_path
        try:
            state = (str(path), path.stat().st_mtime)
        except OSError:
            state = (str(path), -1.0)
        with self._lock:
            if state == self._state:
                return self._signer
            self._state, self.changed_at = state, datetime.now(UTC)
            if self._signer is not None:
                self._signer.close()
                self._signer = None
            try:
                self._signer = load_signer(settings)
            except SakimoriError as exc:
                log.error("CSAF signing key not usable, serving unsigned: %s", exc.diagnostics())
                return None
            if self._signer is None:
                log.warning(
                    "no CSAF signing key at %s: documents are served without .asc signatures "
                    "and the provider is a csaf_provider, not a csaf_trusted_provider "
                    "(make one with `sakimori csaf keygen`)",
                    path,
                )
            else:
                log.info("CSAF documents are signed with %s", self._signer.fingerprint)
            return self._signer

    def close(self) -> None:
        with self._lock:
            if self._signer is not None:
                self._signer.close()
                self._signer = None
            self._state = None


_CREATE = threading.Lock()


def provider_of(request: Request) -> Provider:
    """The application's provider (made on first use)."""
    state = request.app.state
    with _CREATE:
        found = getattr(state, "csaf_provider", None)
        if not isinstance(found, Provider):
            found = Provider()
            state.csaf_provider = found
    return found


def _base_url(request: Request, settings: Settings) -> str:
    return settings.base_url or str(request.base_url).rstrip("/")


def _documents(views: list[packages_service.PackageView]) -> list[layout.Published]:
    return [layout.Published.of(packages_service.csaf_document(v)) for v in views]


def _feed(
    request: Request, rt: Runtime, label: str, views: list[packages_service.PackageView]
) -> JSONResponse:
    provider = provider_of(request)
    signer = provider.signer(rt.settings)
    feed = layout.rolie_feed(
        _base_url(request, rt.settings),
        label,
        _documents(views),
        signed=signer is not None,
        updated=provider.changed_at,
    )
    return JSONResponse(feed)


def _file(
    request: Request,
    rt: Runtime,
    view: packages_service.PackageView,
    label: str,
    year: str,
    name: str,
) -> Response:
    found = layout.Published.of(packages_service.csaf_document(view))
    match = _FILE.fullmatch(name)
    if match is None or (found.label.lower(), found.year, found.name) != (
        label,
        year,
        match.group(1),
    ):
        raise NotFound(f"no CSAF document {label}/{year}/{name}")
    suffix = match.group(3)
    if suffix is None:
        return Response(found.data, media_type="application/json")
    if suffix == ".sha512":
        return Response(
            layout.sha512_file(found.data, found.name), media_type="text/plain; charset=utf-8"
        )
    signer = provider_of(request).signer(rt.settings)
    if signer is None:
        raise NotFound(f"no signature for {name}: this provider has no signing key")
    return Response(signer.signature(found.data), media_type="application/pgp-signature")


_LISTINGS: dict[str, str] = {
    "index.txt": "text/plain; charset=utf-8",
    "changes.csv": "text/csv; charset=utf-8",
}
_LISTING_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`index.txt` (CSAF requirement 12): every document's path below the "
        'folder, one a line; `changes.csv` (requirement 13): `"<path>","<current_release_date>"`'
        " per document, newest first",
        "content": {"text/plain": {}, "text/csv": {}},
    }
}
_PAGE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "A listing of the folder, for people", "content": {"text/html": {}}}
}


def _listing(label: str, views: list[packages_service.PackageView], listing: str) -> Response:
    documents = _documents(views)
    render = layout.index_txt if listing == "index.txt" else layout.changes_csv
    return Response(render(label.upper(), documents), media_type=_LISTINGS[listing])


def _page(
    request: Request,
    rt: Runtime,
    label: str,
    views: list[packages_service.PackageView],
    year: str | None,
) -> HTMLResponse:
    signed = provider_of(request).signer(rt.settings) is not None
    page = layout.folder_page(label.upper(), _documents(views), year, signed=signed)
    if page is None:
        raise NotFound(f"no CSAF folder {label}/{year}/")
    return HTMLResponse(page)


def _package_id(name: str) -> int:
    """The package a file name names; 0 (no package) for any other name."""
    match = _FILE.fullmatch(name)
    return int(match.group(2)) if match else 0


def _not_found() -> dict[int | str, dict[str, Any]]:
    """The error answers of a public route (no 401: no token is asked for)."""
    return {k: v for k, v in responses(404).items() if k != 401}


# -- public: /.well-known/csaf --------------------------------------------------------------------


@router.get(
    _PUBLIC + "/provider-metadata.json",
    responses={200: {"description": "The CSAF 2.0 provider metadata"}},
)
def provider_metadata(request: Request, rt: RuntimeDep) -> JSONResponse:
    """The CSAF provider metadata (no token): the feeds, the public OpenPGP key, the role."""
    provider = provider_of(request)
    signer = provider.signer(rt.settings)
    key = None if signer is None else layout.Key(signer.fingerprint, signer.public_key)
    return JSONResponse(
        layout.provider_metadata(
            _base_url(request, rt.settings),
            publisher=Publisher(),
            key=key,
            last_updated=provider.changed_at,
        )
    )


@router.get(
    _PUBLIC + "/openpgp/{key_file}",
    responses={
        200: {
            "description": "The public OpenPGP key documents are signed with",
            "content": {"application/pgp-keys": {}},
        },
        **_not_found(),
    },
)
def public_key(
    request: Request,
    rt: RuntimeDep,
    key_file: Annotated[str, Path(pattern=r"^[0-9A-F]{40,64}\.asc$")],
) -> Response:
    """The public signing key, named by its fingerprint (no token)."""
    signer = provider_of(request).signer(rt.settings)
    if signer is None or key_file != f"{signer.fingerprint}.asc":
        raise NotFound(f"no OpenPGP key {key_file}")
    return Response(signer.public_key, media_type="application/pgp-keys")


@router.get(
    _PUBLIC + "/feed-tlp-white.json",
    responses={200: {"description": "The ROLIE feed of TLP:WHITE (TLP 2.0 CLEAR) documents"}},
)
def white_feed(request: Request, rt: RuntimeDep) -> JSONResponse:
    """The TLP:WHITE documents (no token)."""
    return _feed(request, rt, "WHITE", access.csaf_public_packages(rt.database))


@router.get(_PUBLIC + "/white/{year}/{file}", responses={**_FILE_ANSWERS, **_not_found()})
def white_file(request: Request, rt: RuntimeDep, year: _Year, file: _File) -> Response:
    """A TLP:WHITE document, its hash or its signature (no token)."""
    package_id = _package_id(file)
    for view in access.csaf_public_packages(rt.database):
        if view.id == package_id:
            return _file(request, rt, view, "white", year, file)
    raise NotFound(f"no CSAF document white/{year}/{file}")


@router.get(_PUBLIC + "/white/index.txt", responses=_LISTING_ANSWERS)
def white_index(rt: RuntimeDep) -> Response:
    """The TLP:WHITE folder's `index.txt` (no token)."""
    return _listing("white", access.csaf_public_packages(rt.database), "index.txt")


@router.get(_PUBLIC + "/white/changes.csv", responses=_LISTING_ANSWERS)
def white_changes(rt: RuntimeDep) -> Response:
    """The TLP:WHITE folder's `changes.csv` (no token)."""
    return _listing("white", access.csaf_public_packages(rt.database), "changes.csv")


@router.get(_PUBLIC + "/white/", response_class=HTMLResponse, responses=_PAGE_ANSWERS)
def white_folder(request: Request, rt: RuntimeDep) -> HTMLResponse:
    """The TLP:WHITE folder, listed for people (no token)."""
    return _page(request, rt, "white", access.csaf_public_packages(rt.database), None)


@router.get(
    _PUBLIC + "/white/{year}/",
    response_class=HTMLResponse,
    responses={**_PAGE_ANSWERS, **_not_found()},
)
def white_year(request: Request, rt: RuntimeDep, year: _Year) -> HTMLResponse:
    """One year of the TLP:WHITE folder, listed for people (no token)."""
    return _page(request, rt, "white", access.csaf_public_packages(rt.database), year)


# -- protected: /v1/csaf --------------------------------------------------------------------------

_Label = Annotated[
    Literal["green", "amber", "red"],
    Path(description="The CSAF (TLP 1.0) label; `amber` carries AMBER+STRICT too."),
]


@router.get(
    _PROTECTED + "/feed-tlp-{label}.json",
    responses={
        **responses(403),
        200: {"description": "The ROLIE feed of the label's documents the caller may read"},
    },
)
def feed(request: Request, principal: PrincipalDep, rt: RuntimeDep, label: _Label) -> JSONResponse:
    """The documents of one label that the caller may read."""
    views = access.csaf_packages(rt.database, principal, PROTECTED_LABELS[label])
    return _feed(request, rt, label.upper(), views)


@router.get(
    _PROTECTED + "/{label}/{year}/{file}", responses={**responses(403, 404), **_FILE_ANSWERS}
)
def protected_file(
    request: Request,
    principal: PrincipalDep,
    rt: RuntimeDep,
    label: _Label,
    year: _Year,
    file: _File,
) -> Response:
    """A document, its hash or its signature, if the caller may read the package."""
    view = access.csaf_package(rt.database, principal, _package_id(file))
    return _file(request, rt, view, label, year, file)


@router.get(_PROTECTED + "/{label}/index.txt", responses={**responses(403), **_LISTING_ANSWERS})
def protected_index(principal: PrincipalDep, rt: RuntimeDep, label: _Label) -> Response:
    """The label's `index.txt`: the documents the caller may read."""
    views = access.csaf_packages(rt.database, principal, PROTECTED_LABELS[label])
    return _listing(label, views, "index.txt")


@router.get(_PROTECTED + "/{label}/changes.csv", responses={**responses(403), **_LISTING_ANSWERS})
def protected_changes(principal: PrincipalDep, rt: RuntimeDep, label: _Label) -> Response:
    """The label's `changes.csv`: the documents the caller may read."""
    views = access.csaf_packages(rt.database, principal, PROTECTED_LABELS[label])
    return _listing(label, views, "changes.csv")


@router.get(
    _PROTECTED + "/{label}/",
    response_class=HTMLResponse,
    responses={**responses(403), **_PAGE_ANSWERS},
)
def protected_folder(
    request: Request, principal: PrincipalDep, rt: RuntimeDep, label: _Label
) -> HTMLResponse:
    """The label's folder, listed for people: what the caller may read."""
    views = access.csaf_packages(rt.database, principal, PROTECTED_LABELS[label])
    return _page(request, rt, label, views, None)


@router.get(
    _PROTECTED + "/{label}/{year}/",
    response_class=HTMLResponse,
    responses={**responses(403, 404), **_PAGE_ANSWERS},
)
def protected_year(
    request: Request, principal: PrincipalDep, rt: RuntimeDep, label: _Label, year: _Year
) -> HTMLResponse:
    """One year of the label's folder, listed for people: what the caller may read."""
    views = access.csaf_packages(rt.database, principal, PROTECTED_LABELS[label])
    return _page(request, rt, label, views, year)


def close(app: Any) -> None:
    """End the provider's gpg-agent when the application stops."""
    found = getattr(app.state, "csaf_provider", None)
    if isinstance(found, Provider):
        found.close()
