"""TAXII 2.1 (https://docs.oasis-open.org/cti/taxii/v2.1/): discovery, one API root, the
collections of ``sakimori.packages.taxii``, their objects (``added_after``, ``match[id|type|
version|spec_version]``, ``limit`` and ``next``), one object and its versions, the manifest,
adding objects (POST an envelope; the answer is a status resource) and the status.

Every answer is ``application/taxii+json;version=2.1``; errors on these paths are TAXII error
resources (``title``, ``description``, ``http_status``…), 401 included. Read and write rights
come from the caller's role per collection; the objects a reader gets are narrowed to the
packages they are entitled to under TLP, exactly as the package API narrows them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sakimori.api import problems
from sakimori.api.deps import PrincipalDep, Runtime, RuntimeDep
from sakimori.errors import (
    InvalidInput,
    LimitExceeded,
    NotFound,
    SakimoriError,
)
from sakimori.packages import taxii
from sakimori.services import access, taxii_pull, taxii_store
from sakimori.services.taxii_store import stix_time

log = logging.getLogger(__name__)

PREFIX = "/taxii2"
API_ROOT = f"{PREFIX}/api/"


def taxii_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type=taxii.MEDIA_TYPE, headers=headers
    )


def error(
    status: int, title: str, description: str, headers: dict[str, str] | None = None
) -> Response:
    return taxii_response(
        {"title": title, "description": description, "http_status": str(status)}, status, headers
    )


class TaxiiRoute(APIRoute):
    """Turns every error on a TAXII path (authentication and validation included) into a TAXII
    error resource, and refuses an ``Accept`` that excludes TAXII 2.1 (406)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            accept = request.headers.get("accept", "")
            if accept and not any(
                part.strip().startswith(("application/taxii+json", "*/*", "application/*"))
                for part in accept.split(",")
            ):
                return error(406, "Not acceptable", f"this server answers {taxii.MEDIA_TYPE}")
            try:
                return await original(request)
            except SakimoriError as exc:
                found = problems.classify(exc)
                if found is None:
                    log.error("error on %s: %s", request.url.path, exc.diagnostics())
                    return error(500, "Internal error", "the request could not be completed")
                status, _, title = found
                headers = {"WWW-Authenticate": 'Bearer realm="sakimori"'} if status == 401 else None
                return error(status, title, exc.diagnostics(), headers)
            except RequestValidationError as exc:
                where = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                    for e in exc.errors()
                )
                return error(400, "Invalid request", where[:1000])

        return handler


router = APIRouter(prefix=PREFIX, tags=["taxii"], route_class=TaxiiRoute)

_TAXII_OK: dict[int | str, dict[str, Any]] = {
    200: {"description": "TAXII 2.1 resource", "content": {taxii.MEDIA_TYPE: {}}}
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": "A TAXII error resource", "content": {taxii.MEDIA_TYPE: {}}}
    for status in (400, 401, 403, 404, 406, 413, 415)
}
_DOC: dict[int | str, dict[str, Any]] = {**_TAXII_OK, **_ERRORS}

CollectionId = Path(pattern=r"^[0-9a-f-]{36}$", description="The collection's id.")
ObjectId = Path(pattern=r"^[a-z0-9-]{1,100}--[0-9a-fA-F-]{36}$", description="A STIX id.")
StatusId = Path(pattern=r"^[0-9a-f-]{36}$", description="The status resource's id.")
_List = Annotated[str | None, Query(max_length=4000, pattern=r"^[^\x00-\x1f]*$")]


@router.get("/", response_class=Response, responses=_DOC)
def discovery(principal: PrincipalDep) -> Response:
    """The discovery resource: this server's one API root."""
    access.taxii_collections(principal)
    return taxii_response(
        {
            "title": "Sakimori TAXII 2.1",
            "description": "Counter-measure packages and shared indicators under TLP 2.0.",
            "default": API_ROOT,
            "api_roots": [API_ROOT],
        }
    )


@router.get("/api/", response_class=Response, responses=_DOC)
def api_root(principal: PrincipalDep) -> Response:
    access.taxii_collections(principal)
    return taxii_response(
        {
            "title": "Sakimori",
            "description": "Counter-measure packages (per TLP label) and the partners' collection.",
            "versions": [taxii.MEDIA_TYPE],
            "max_content_length": taxii.MAX_CONTENT_LENGTH,
        }
    )


@router.get("/api/collections/", response_class=Response, responses=_DOC)
def collections(principal: PrincipalDep, rt: RuntimeDep) -> Response:
    """The collections the caller may read or write (staff: also those pulled from partners)."""
    return taxii_response({"collections": taxii_pull.collections(rt.database, principal)})


@router.get("/api/collections/{collection_id}/", response_class=Response, responses=_DOC)
def collection(
    principal: PrincipalDep, rt: RuntimeDep, collection_id: Annotated[str, CollectionId]
) -> Response:
    found = taxii_pull.collection(rt.database, principal, collection_id)
    return taxii_response(found.resource(principal.role.value))


def _page_headers(page: taxii.Page) -> dict[str, str]:
    if not page.records:
        return {}
    return {
        "X-TAXII-Date-Added-First": stix_time(page.records[0].added),
        "X-TAXII-Date-Added-Last": stix_time(page.records[-1].added),
    }


def _envelope(page: taxii.Page) -> bytes:
    """The envelope's JSON; stored objects are spliced in as the database holds them."""
    head: dict[str, Any] = {"more": page.more}
    if page.next is not None:
        head["next"] = page.next
    if not page.records:
        return orjson.dumps(head)
    parts = [r.raw if isinstance(r, taxii.Stored) else orjson.dumps(r.object) for r in page.records]
    return orjson.dumps(head)[:-1] + b',"objects":[' + b",".join(parts) + b"]}"


AddedAfter = Annotated[str | None, Query(max_length=40, pattern=r"^[0-9T:.+Z-]+$")]
Limit = Annotated[int | None, Query(ge=1, le=10_000)]
Next = Annotated[str | None, Query(max_length=40)]
MatchId = Annotated[str | None, Query(alias="match[id]", max_length=4000)]
MatchType = Annotated[str | None, Query(alias="match[type]", max_length=1000)]
MatchVersion = Annotated[str | None, Query(alias="match[version]", max_length=1000)]
MatchSpecVersion = Annotated[str | None, Query(alias="match[spec_version]", max_length=100)]


def _filters(
    added_after: AddedAfter = None,
    limit: Limit = None,
    next: Next = None,
    match_id: MatchId = None,
    match_type: MatchType = None,
    match_version: MatchVersion = None,
    match_spec_version: MatchSpecVersion = None,
) -> taxii.Query:
    """The filters of the objects and manifest endpoints (TAXII 2.1 §3.4, §5.3, §5.4)."""
    return taxii.query(
        added_after=added_after,
        ids=match_id,
        types=match_type,
        versions=match_version,
        spec_versions=match_spec_version,
        limit=limit,
        next_=next,
    )


Filters = Annotated[taxii.Query, Depends(_filters)]


def _select(
    rt: Runtime,
    principal: access.Principal,
    collection_id: str,
    q: taxii.Query,
    *,
    versions_default_all: bool = False,
) -> taxii.Page:
    """A stored collection is paged by the database; a package collection is rendered."""
    found = taxii_pull.collection(rt.database, principal, collection_id)
    if found.tlp is None:
        return taxii_store.stored_page(
            rt.database, found.id, q, versions_default_all=versions_default_all
        )
    records = access.taxii_records(rt.database, principal, collection_id)
    return taxii.select(records, q, versions_default_all=versions_default_all)


@router.get("/api/collections/{collection_id}/objects/", response_class=Response, responses=_DOC)
def get_objects(
    principal: PrincipalDep,
    rt: RuntimeDep,
    collection_id: Annotated[str, CollectionId],
    q: Filters,
) -> Response:
    page = _select(rt, principal, collection_id, q)
    return Response(_envelope(page), media_type=taxii.MEDIA_TYPE, headers=_page_headers(page))


@router.post(
    "/api/collections/{collection_id}/objects/",
    response_class=Response,
    status_code=202,
    responses={**_ERRORS, 202: {"description": "A status resource"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {taxii.MEDIA_TYPE: {"schema": {"type": "object"}}},
        }
    },
)
async def add_objects(
    request: Request,
    principal: PrincipalDep,
    rt: RuntimeDep,
    collection_id: Annotated[str, CollectionId],
) -> Response:
    """Add the objects of an envelope; the answer is the (complete) status resource. Invalid
    objects are failures in the status; a body that is not an envelope adds nothing."""
    taxii_pull.collection(rt.database, principal, collection_id, write=True)
    content_type = request.headers.get("content-type", "").replace(" ", "").lower()
    if not content_type.startswith("application/taxii+json"):
        return error(415, "Unsupported media type", f"send the envelope as {taxii.MEDIA_TYPE}")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > taxii.MAX_CONTENT_LENGTH:
            raise LimitExceeded(
                f"the envelope is larger than the limit of {taxii.MAX_CONTENT_LENGTH:,} bytes; "
                "nothing was added",
                hint="send the objects in several envelopes",
            )
    try:
        envelope = orjson.loads(bytes(body))
    except orjson.JSONDecodeError:
        raise InvalidInput("the body is not JSON; nothing was added") from None
    objects = envelope.get("objects") if isinstance(envelope, dict) else None
    if not isinstance(objects, list) or not objects:
        raise InvalidInput("the body is not a TAXII envelope with objects; nothing was added")
    if len(objects) > taxii.MAX_OBJECTS:
        raise LimitExceeded(
            f"the envelope has more than {taxii.MAX_OBJECTS} objects; nothing was added"
        )
    status = await run_in_threadpool(
        access.taxii_add, rt.database, principal, collection_id, objects
    )
    return taxii_response(status, 202)


@router.get(
    "/api/collections/{collection_id}/objects/{object_id}/",
    response_class=Response,
    responses=_DOC,
)
def get_object(
    principal: PrincipalDep,
    rt: RuntimeDep,
    collection_id: Annotated[str, CollectionId],
    object_id: Annotated[str, ObjectId],
    added_after: AddedAfter = None,
    limit: Limit = None,
    next: Next = None,
    match_version: MatchVersion = None,
    match_spec_version: MatchSpecVersion = None,
) -> Response:
    q = _filters(added_after, limit, next, object_id, None, match_version, match_spec_version)
    page = _select(rt, principal, collection_id, q)
    if not page.records and q.first_page:
        raise NotFound(f"no object {object_id} in this collection")
    return Response(_envelope(page), media_type=taxii.MEDIA_TYPE, headers=_page_headers(page))


@router.get(
    "/api/collections/{collection_id}/objects/{object_id}/versions/",
    response_class=Response,
    responses=_DOC,
)
def get_versions(
    principal: PrincipalDep,
    rt: RuntimeDep,
    collection_id: Annotated[str, CollectionId],
    object_id: Annotated[str, ObjectId],
    added_after: AddedAfter = None,
    limit: Limit = None,
    next: Next = None,
    match_spec_version: MatchSpecVersion = None,
) -> Response:
    q = _filters(added_after, limit, next, object_id, None, "all", match_spec_version)
    page = _select(rt, principal, collection_id, q)
    if not page.records and q.first_page:
        raise NotFound(f"no object {object_id} in this collection")
    body: dict[str, Any] = {"more": page.more, "versions": [r.version for r in page.records]}
    if page.next is not None:
        body["next"] = page.next
    return taxii_response(body, headers=_page_headers(page))


@router.get("/api/collections/{collection_id}/manifest/", response_class=Response, responses=_DOC)
def get_manifest(
    principal: PrincipalDep,
    rt: RuntimeDep,
    collection_id: Annotated[str, CollectionId],
    q: Filters,
) -> Response:
    page = _select(rt, principal, collection_id, q)
    body: dict[str, Any] = {"more": page.more}
    if page.next is not None:
        body["next"] = page.next
    if page.records:
        body["objects"] = [
            {
                "id": r.id,
                "date_added": stix_time(r.added),
                "version": r.version,
                "media_type": taxii.STIX_MEDIA_TYPE,
            }
            for r in page.records
        ]
    return taxii_response(body, headers=_page_headers(page))


@router.get("/api/status/{status_id}/", response_class=Response, responses=_DOC)
def get_status(
    principal: PrincipalDep, rt: RuntimeDep, status_id: Annotated[str, StatusId]
) -> Response:
    """The status of an earlier POST (its requester's or, for staff, anyone's)."""
    return taxii_response(access.taxii_status(rt.database, principal, status_id))
