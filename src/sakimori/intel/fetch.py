"""The one network seam: every feed download goes through :class:`Fetcher`.

``Fetcher.get(url)`` reads ``http(s)://`` URLs with httpx, and ``file://`` URLs and plain paths from
the local disk (air-gapped mirrors). It answers with a :class:`FetchResult`: ``ok`` with the bytes,
or ``not-modified`` when the validators the caller kept from last time (ETag, Last-Modified) still
hold. For local files the validator is derived from the file's mtime and size, so an unchanged
mirror file reports ``not-modified`` as a web server would.

Failures become Sakimori errors, never httpx or OS exceptions:

* cannot connect, timed out, connection cut mid-body, HTTP 4xx/5xx, missing mirror file
  → :class:`SourceUnavailable` (with the URL and what to do). Connection errors, read timeouts,
  a cut connection, 429, 500, 502, 503 and 504 are retried a few times first, with exponential
  backoff, honouring ``Retry-After`` up to ``FetchSettings.max_retry_after`` seconds. Other
  statuses and a download slower than ``total_timeout`` are not retried.
* a body larger than ``FetchSettings.max_body_bytes`` → :class:`LimitExceeded`. It is not
  retried and not reported as "unavailable": the source answered, and trying again gives the
  same answer; the operator raises the limit or fixes the mirror. The body is streamed and the
  download stops at the limit (a ``Content-Length`` over the limit stops it before reading).

:class:`Mirror` maps a feed's relative path (``osv/PyPI/all.zip``) onto a mirror base URL or a
mirror directory.
"""

from __future__ import annotations

import email.utils
import logging
import os
import re
import ssl
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit
from urllib.request import url2pathname

import httpx

from sakimori import __version__
from sakimori.errors import ConfigurationError, LimitExceeded, SourceUnavailable

logger = logging.getLogger(__name__)

_UNREACHABLE_HINT = (
    "check network access, proxy and TLS settings, or set SAKIMORI_MIRROR to a mirror of the feeds"
)
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_USERINFO = re.compile(r"://[^/?#]*@")


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """Timeouts, size limit and retry policy of a :class:`Fetcher` (seconds and bytes)."""

    connect_timeout: float = 10.0
    #: Longest wait for the next bytes of a response.
    read_timeout: float = 30.0
    #: Longest one attempt may take in all, so a slow drip cannot hold a worker for ever.
    total_timeout: float = 900.0
    #: Largest body accepted. OSV's biggest per-ecosystem all.zip files are a few hundred MB.
    max_body_bytes: int = 1024 * 1024 * 1024
    #: Retries after the first attempt, for connection errors, timeouts, 429 and 50[0234].
    retries: int = 3
    #: Wait before retry n is ``backoff * 2**n`` seconds, unless the server sent Retry-After.
    backoff: float = 1.0
    max_retry_after: float = 60.0
    #: A CA bundle (PEM) for mirrors behind a private certificate authority.
    ca_bundle: str | None = None
    #: Use HTTP(S)_PROXY / NO_PROXY and SSL_CERT_FILE from the environment.
    trust_env: bool = True
    user_agent: str = f"sakimori/{__version__}"

    def __post_init__(self) -> None:
        timeouts = (self.connect_timeout, self.read_timeout, self.total_timeout)
        if min(timeouts) <= 0 or self.max_body_bytes <= 0:
            raise ConfigurationError("fetch timeouts and the body size limit must be positive")
        if self.retries < 0 or self.backoff < 0 or self.max_retry_after < 0:
            raise ConfigurationError("fetch retries, backoff and Retry-After cap must not be < 0")


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The answer to one :meth:`Fetcher.get`; ``content`` is empty when not modified."""

    url: str
    status: Literal["ok", "not-modified"]
    content: bytes = b""
    etag: str | None = None
    last_modified: str | None = None

    @property
    def modified(self) -> bool:
        return self.status == "ok"


class _Retry(Exception):
    """A transient failure: try again after ``delay`` seconds (None: use the backoff)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class Fetcher:
    """Downloads feeds over HTTP(S) or reads them from a local mirror. Not thread-safe.

    ``transport`` (an ``httpx.MockTransport`` in tests) and ``sleep`` are injection points; by
    default a real network transport and ``time.sleep`` are used.
    """

    def __init__(
        self,
        settings: FetchSettings | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or FetchSettings()
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.Client | None = None

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def get(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetch ``url`` (http, https, file, or a local path), conditionally if validators given."""
        scheme = _checked_scheme(url)
        if scheme in ("http", "https"):
            return self._get_http(url, etag, last_modified)
        if scheme == "file":
            return self._get_file(_file_url_path(url), url, etag, last_modified)
        return self._get_file(Path(url), url, etag, last_modified)

    # ----------------------------------------------------------------------------------------
    # HTTP

    def _client_for_http(self) -> httpx.Client:
        if self._client is None:
            settings = self.settings
            verify: ssl.SSLContext | bool = True
            if settings.ca_bundle:
                verify = ssl.create_default_context(cafile=settings.ca_bundle)
            self._client = httpx.Client(
                timeout=httpx.Timeout(
                    settings.read_timeout,
                    connect=settings.connect_timeout,
                    read=settings.read_timeout,
                ),
                headers={"User-Agent": settings.user_agent},
                follow_redirects=True,
                trust_env=settings.trust_env,
                verify=verify,
                transport=self._transport,
            )
        return self._client

    def _get_http(self, url: str, etag: str | None, last_modified: str | None) -> FetchResult:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempts = self.settings.retries + 1
        reason = ""
        for attempt in range(attempts):
            try:
                return self._attempt(url, headers, etag, last_modified)
            except _Retry as retry:
                reason, delay = retry.reason, retry.delay
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                reason, delay = describe_error(exc), None
            except httpx.HTTPError as exc:
                raise SourceUnavailable(
                    f"cannot fetch the feed: {describe_error(exc)}",
                    where=display_url(url),
                    hint=_UNREACHABLE_HINT,
                ) from None
            if attempt + 1 == attempts:
                break
            wait = self.settings.backoff * 2**attempt if delay is None else delay
            wait = max(0.0, min(wait, self.settings.max_retry_after))
            logger.warning(
                "fetching %s failed (%s); retry %d of %d in %.1f s",
                display_url(url),
                reason,
                attempt + 1,
                attempts - 1,
                wait,
            )
            self._sleep(wait)
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        raise SourceUnavailable(
            f"cannot fetch the feed: {reason}{tries}",
            where=display_url(url),
            hint=_UNREACHABLE_HINT,
        )

    def _attempt(
        self, url: str, headers: dict[str, str], etag: str | None, last_modified: str | None
    ) -> FetchResult:
        settings = self.settings
        started = time.monotonic()
        with self._client_for_http().stream("GET", url, headers=headers) as response:
            code = response.status_code
            if code == 304:
                logger.info("%s not modified", display_url(url))
                return FetchResult(
                    url=url,
                    status="not-modified",
                    etag=response.headers.get("ETag") or etag,
                    last_modified=response.headers.get("Last-Modified") or last_modified,
                )
            if code in _RETRY_STATUSES:
                raise _Retry(
                    f"HTTP {code} {response.reason_phrase}".rstrip(),
                    _retry_after(response.headers.get("Retry-After")),
                )
            if not response.is_success:
                hint = (
                    "check the feed URL, or that the mirror holds this file"
                    if code in (403, 404, 410)
                    else _UNREACHABLE_HINT
                )
                raise SourceUnavailable(
                    f"the server answered HTTP {code} {response.reason_phrase}".rstrip(),
                    where=display_url(url),
                    hint=hint,
                )
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > settings.max_body_bytes:
                raise _too_large(url, settings, f"it declares {int(declared):,} bytes")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > settings.max_body_bytes:
                    raise _too_large(url, settings)
                if time.monotonic() - started > settings.total_timeout:
                    # Not retried: a link this slow would be as slow the next time.
                    raise SourceUnavailable(
                        f"the download took longer than {settings.total_timeout:g} s",
                        where=display_url(url),
                        hint="raise FetchSettings.total_timeout, or use a nearer mirror",
                    )
                chunks.append(chunk)
            logger.info("fetched %s (%d bytes)", display_url(url), size)
            return FetchResult(
                url=url,
                status="ok",
                content=b"".join(chunks),
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )

    # ----------------------------------------------------------------------------------------
    # Local files

    def _get_file(
        self, path: Path, url: str, etag: str | None, last_modified: str | None
    ) -> FetchResult:
        limit = self.settings.max_body_bytes
        try:
            if not stat.S_ISREG(path.stat().st_mode):  # checked first: opening a FIFO blocks
                raise SourceUnavailable(
                    "the mirror path is not a regular file",
                    where=str(path),
                    hint="point the mirror at the directory holding the feed files",
                )
            with path.open("rb") as handle:
                info = os.fstat(handle.fileno())
                validator = f'"{info.st_mtime_ns:x}-{info.st_size:x}"'
                stamp = email.utils.formatdate(info.st_mtime, usegmt=True)
                if _unchanged(info.st_mtime, validator, etag, last_modified):
                    logger.info("%s not modified", path)
                    return FetchResult(url, "not-modified", b"", validator, stamp)
                if info.st_size > limit:
                    raise _too_large(str(path), self.settings, f"it is {info.st_size:,} bytes")
                content = handle.read(limit + 1)
        except FileNotFoundError:
            raise SourceUnavailable(
                "the mirror has no such file",
                where=str(path),
                hint="copy the feed into the mirror directory, or unset SAKIMORI_MIRROR",
            ) from None
        except OSError as exc:
            raise SourceUnavailable(
                f"cannot read the mirror file: {exc.strerror or exc}",
                where=str(path),
                hint="check the mirror directory's permissions",
            ) from None
        if len(content) > limit:
            raise _too_large(str(path), self.settings, "it grew while being read")
        logger.info("read %s (%d bytes)", path, len(content))
        return FetchResult(url, "ok", content, validator, stamp)


@dataclass(frozen=True, slots=True)
class Mirror:
    """A mirror of the upstream feeds: a base URL (``https://``, ``http://``, ``file://``).

    :meth:`from_setting` also takes a directory path and turns it into a ``file://`` base. A
    feed's relative path is appended to the base, so the mirror keeps upstream's layout under
    Sakimori's relative paths (``osv/PyPI/all.zip``, ``kev/…``, ``epss/…``).
    """

    base: str

    @classmethod
    def from_setting(cls, value: str) -> Mirror:
        text = value.strip()
        if not text:
            raise ConfigurationError("the mirror setting is empty")
        if _checked_scheme(text):
            return cls(text.rstrip("/") + "/")
        try:
            directory = Path(text).expanduser().resolve()
        except RuntimeError as exc:  # "~someone" with no such user
            raise ConfigurationError(f"bad mirror directory: {exc}", where=text) from None
        return cls(directory.as_uri().rstrip("/") + "/")

    def locate(self, relative_path: str) -> str:
        """The URL of ``relative_path`` (``osv/PyPI/all.zip``) in this mirror."""
        parts = relative_path.split("/")
        if (
            relative_path.startswith("/")
            or "\\" in relative_path
            or any(part in ("", ".", "..") for part in parts)
        ):
            raise ConfigurationError(f"{relative_path!r} is not a relative feed path")
        return self.base + quote(relative_path, safe="/")


def _checked_scheme(url: str) -> str:
    """The URL's scheme ("" for a plain path), or ConfigurationError if it cannot be fetched."""
    hint = "use https://, http://, file:// or a directory path"
    try:
        if "\x00" in url:
            raise ValueError("NUL character")
        scheme = urlsplit(url).scheme.lower()
        if scheme in ("http", "https") and not httpx.URL(url).host:
            raise ValueError("no host")
    except (ValueError, httpx.InvalidURL) as exc:
        where = display_url(repr(url)[1:-1])
        raise ConfigurationError(f"not a valid URL: {exc}", where=where, hint=hint) from None
    if scheme not in ("http", "https", "file") and "://" in url:
        raise ConfigurationError(
            f"unsupported URL scheme {scheme!r}", where=display_url(url), hint=hint
        )
    return scheme if "://" in url else ""


def _file_url_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigurationError(
            f"file URL names the host {parts.netloc!r}",
            where=url,
            hint="use file:///path (a local path) or mount the share",
        )
    return Path(url2pathname(parts.path))


def _unchanged(mtime: float, validator: str, etag: str | None, last_modified: str | None) -> bool:
    """HTTP's rule for a local file: If-None-Match wins; else If-Modified-Since, to the second."""
    if etag:
        return etag == validator
    since = _http_date(last_modified)
    return since is not None and int(mtime) <= since.timestamp()


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    value = (value or "").strip()
    if value.isdigit():
        return float(value)
    when = _http_date(value)
    return None if when is None else max(0.0, (when - datetime.now(UTC)).total_seconds())


def _http_date(value: str | None) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value or "")
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _too_large(where: str, settings: FetchSettings, detail: str = "") -> LimitExceeded:
    detail = f" ({detail})" if detail else ""
    return LimitExceeded(
        f"the feed is larger than the limit of {settings.max_body_bytes:,} bytes{detail}",
        where=display_url(where),
        hint="raise the fetch size limit (FetchSettings.max_body_bytes) if the feed is genuine",
    )


def describe_error(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return {
            httpx.ConnectTimeout: "timed out connecting",
            httpx.ReadTimeout: "timed out waiting for data",
            httpx.WriteTimeout: "timed out sending the request",
            httpx.PoolTimeout: "timed out waiting for a connection",
        }.get(type(exc), "timed out")
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc or 'connection refused'})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the connection broke off ({exc})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def display_url(url: str) -> str:
    """The URL without any user:password, for messages and logs (works on malformed URLs)."""
    return _USERINFO.sub("://", url)
