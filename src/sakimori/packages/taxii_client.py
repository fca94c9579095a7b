"""Reading one partner's TAXII 2.1 collection, page by page, with the third-party
``taxii2-client`` library (an edge with I/O, like ``updates/client.py``; the rest of
``sakimori.packages`` is pure).

- **Where**: the collection URL (``…/{api-root}/collections/{id}/``) must be ``https://``, or
  ``http://`` on a loopback address only (credentials are sent with every request).
- **Credentials**: a user name and password (HTTP Basic), or a bearer token (a Sakimori
  instance's API token).
- **One page** is ``GET …/objects/`` with ``added_after``, ``limit`` and ``next``; the answer's
  ``X-TAXII-Date-Added-First/Last`` headers are kept, since the next pull starts after the last.
- **Limits**: an answer larger than ``max_bytes`` is refused (by its ``Content-Length`` before
  the body is read, else once read); a request takes at most ``timeout`` seconds.
- **Failures** are ours: a transport failure or an error answer is ``SourceUnavailable`` naming
  the URL and the partner's own description (its TAXII error resource); a body that is not a
  TAXII envelope is ``MalformedDocument``; too large is ``LimitExceeded``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from taxii2client.common import _HTTPConnection  # type: ignore[import-untyped]
from taxii2client.exceptions import TAXIIServiceException  # type: ignore[import-untyped]
from taxii2client.v21 import Collection  # type: ignore[import-untyped]

from sakimori.errors import InvalidInput, LimitExceeded, MalformedDocument, SourceUnavailable
from sakimori.packages.csaf_consumer import is_loopback
from sakimori.packages.taxii import MEDIA_TYPE

USER_AGENT: Final = "sakimori-taxii-pull/1"


def check_url(url: str) -> str:
    """The collection URL, normalised to end in ``/``; ``InvalidInput`` if it may not be used."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in {"http", "https"} or not host:
        raise InvalidInput(
            f"{url!r} is not an http(s) URL",
            hint="give the partner's collection URL, …/{api-root}/collections/{id}/",
        )
    if scheme == "http" and not is_loopback(host):
        raise InvalidInput(
            f"{url} is plain http: credentials would cross the network in clear",
            hint="use https:// (plain http is accepted on a loopback address only)",
        )
    if parts.username or parts.password:
        raise InvalidInput(
            f"{parts.hostname}: put the credentials in --user/--password-file or --token-file, "
            "not in the URL"
        )
    if "/collections/" not in parts.path:
        raise InvalidInput(
            f"{url} is not a TAXII collection URL",
            hint="it looks like …/{api-root}/collections/{id}/",
        )
    text = url.strip()
    return text if text.endswith("/") else text + "/"


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class _Timeout(HTTPAdapter):
    """taxii2-client passes no timeout; every request through this adapter gets one."""

    def __init__(self, timeout: float) -> None:
        super().__init__(max_retries=0)
        self.timeout = timeout

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        return super().send(request, stream, timeout or self.timeout, verify, cert, proxies)


@dataclass(frozen=True, slots=True)
class PartnerPage:
    """One answer of the partner's objects endpoint."""

    objects: list[Any]
    more: bool
    next: str | None
    #: The partner's ``X-TAXII-Date-Added-First`` / ``-Last`` (None when it sends none).
    added_first: str | None
    added_last: str | None
    size: int


class PartnerCollection:
    """One partner collection, read with ``taxii2-client`` over one connection."""

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        secret: str | None = None,
        timeout: float = 30.0,
        max_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self.url = check_url(url)
        self.max_bytes = max_bytes
        auth: requests.auth.AuthBase | None = None
        if user and secret:
            auth = requests.auth.HTTPBasicAuth(user, secret)
        elif secret:
            auth = _Bearer(secret)
        self._conn = _HTTPConnection(auth=auth, version="2.1", user_agent=USER_AGENT)
        session: requests.Session = self._conn.session
        session.trust_env = False  # no proxy or .netrc credentials from the environment
        session.max_redirects = 3
        adapter = _Timeout(timeout)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.hooks["response"].append(self._seen)
        self._last: requests.Response | None = None
        # collection_info: reading objects needs no GET of the collection resource first
        self._collection = Collection(self.url, conn=self._conn, collection_info=_info(self.url))

    def _seen(self, response: requests.Response, *_: Any, **__: Any) -> requests.Response:
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            response.close()
            raise LimitExceeded(
                f"the partner's answer is {int(length):,} bytes, more than the limit of "
                f"{self.max_bytes:,}",
                where=response.url,
                hint="ask for smaller pages, or raise SAKIMORI_MAX_INPUT_BYTES",
            )
        self._last = response
        return response

    def page(self, *, added_after: str | None, next_: str | None, limit: int) -> PartnerPage:
        """One page of objects; ``SourceUnavailable`` / ``LimitExceeded`` /
        ``MalformedDocument`` when it cannot be had."""
        filters: dict[str, Any] = {"limit": limit}
        if added_after:
            filters["added_after"] = added_after
        if next_:
            filters["next"] = next_
        where = self._collection.objects_url
        try:
            envelope = self._collection.get_objects(accept=MEDIA_TYPE, **filters)
        except requests.HTTPError as exc:
            raise SourceUnavailable(_refusal(exc.response), where=where) from None
        except requests.RequestException as exc:
            reason = type(exc).__name__
            detail = str(exc).split("(Caused by", 1)[-1].strip(" ()")[:200]
            raise SourceUnavailable(f"{reason}: {detail}", where=where) from None
        except TAXIIServiceException as exc:
            raise MalformedDocument(
                str(exc).splitlines()[0][:300], where=where, hint="is it a TAXII 2.1 server?"
            ) from None
        answer = self._last
        size = len(answer.content) if answer is not None else 0
        if size > self.max_bytes:
            raise LimitExceeded(
                f"the partner's answer is {size:,} bytes, more than the limit of "
                f"{self.max_bytes:,}",
                where=where,
                hint="ask for smaller pages, or raise SAKIMORI_MAX_INPUT_BYTES",
            )
        return _page(envelope, answer, size, where)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> PartnerCollection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _info(url: str) -> dict[str, Any]:
    ident = url.rstrip("/").rsplit("/", 1)[-1]
    return {"id": ident, "title": ident, "can_read": True, "can_write": False}


def _refusal(response: requests.Response | None) -> str:
    """The partner's reason for an error answer: its TAXII error resource, else the status."""
    if response is None:
        return "the partner answered with an error"
    said = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        said = " ".join(
            str(body[k]) for k in ("title", "description") if isinstance(body.get(k), str)
        )
    status = f"the partner answered {response.status_code} {response.reason or ''}".rstrip()
    return f"{status}: {said[:300]}" if said else status


def _page(envelope: Any, answer: requests.Response | None, size: int, where: str) -> PartnerPage:
    if not isinstance(envelope, dict):
        raise MalformedDocument("the answer is not a TAXII envelope", where=where)
    objects = envelope.get("objects", [])
    more = envelope.get("more", False)
    following = envelope.get("next")
    if not isinstance(objects, list) or not isinstance(more, bool):
        raise MalformedDocument(
            "the answer is not a TAXII envelope (objects must be a list, more a boolean)",
            where=where,
        )
    if following is not None and not isinstance(following, str | int):
        raise MalformedDocument("the envelope's next is neither a string nor a number", where=where)
    headers = answer.headers if answer is not None else {}
    return PartnerPage(
        objects,
        more,
        None if following is None else str(following),
        headers.get("X-TAXII-Date-Added-First"),
        headers.get("X-TAXII-Date-Added-Last"),
        size,
    )
