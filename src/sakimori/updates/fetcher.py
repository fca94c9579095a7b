"""The one network seam of the update client: an ngclient fetcher over urllib3, bounded.

``tuf.ngclient`` limits how much it reads (every metadata file has a maximum length, every
artefact its signed length). This fetcher bounds time: a socket timeout (to connect, and between
bytes) and a deadline for the whole file, checked after every read from the socket. A
connection whose answer was not read to its end (an attack, a limit hit) is closed, never
reused. Proxies come from the usual environment variables (``https_proxy``, ``no_proxy``…), as
in python-tuf.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

import urllib3
from tuf.api import exceptions
from tuf.ngclient._internal.proxy import ProxyEnvironment
from tuf.ngclient.fetcher import FetcherInterface

from sakimori import __version__

CHUNK_SIZE = 16 * 1024


class BoundedFetcher(FetcherInterface):
    """HTTP(S) downloads with a socket timeout and a per-file deadline (seconds)."""

    def __init__(
        self,
        *,
        socket_timeout: float,
        download_timeout: float,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """``headers`` go with every request (the platform's ``Authorization: Bearer …``;
        urllib3 drops it on a redirect to another host)."""
        self.socket_timeout = socket_timeout
        self.download_timeout = download_timeout
        self._http = ProxyEnvironment(
            headers={"User-Agent": f"sakimori/{__version__}", **(headers or {})}
        )
        self._open: set[urllib3.BaseHTTPResponse] = set()

    def close(self) -> None:
        """Close every answer not read to its end (a refused download leaves one open)."""
        for response in list(self._open):
            response.close()
            response.release_conn()
        self._open.clear()

    def _fetch(self, url: str) -> Iterator[bytes]:
        deadline = time.monotonic() + self.download_timeout
        try:
            response = self._http.request(
                "GET",
                url,
                preload_content=False,
                timeout=urllib3.Timeout(connect=self.socket_timeout, read=self.socket_timeout),
                retries=urllib3.Retry(total=2, read=0, status=0, redirect=3),
            )
        except urllib3.exceptions.MaxRetryError as exc:
            if isinstance(exc.reason, urllib3.exceptions.TimeoutError):
                raise exceptions.SlowRetrievalError(
                    f"no answer within {self.socket_timeout:g} s"
                ) from exc
            raise
        except urllib3.exceptions.TimeoutError as exc:
            raise exceptions.SlowRetrievalError(
                f"no answer within {self.socket_timeout:g} s"
            ) from exc
        if response.status >= 400:
            response.close()
            raise exceptions.DownloadHTTPError(f"HTTP status {response.status}", response.status)
        self._open.add(response)
        return self._chunks(response, deadline, url)

    def _chunks(
        self, response: urllib3.BaseHTTPResponse, deadline: float, url: str
    ) -> Iterator[bytes]:
        complete = False
        try:
            while True:
                # read1: at most one read from the socket, so a server trickling bytes cannot
                # hold us inside one call past the deadline (``stream`` would fill 16 KiB first)
                chunk = response.read1(CHUNK_SIZE)
                if not chunk:
                    break
                if time.monotonic() > deadline:
                    raise exceptions.SlowRetrievalError(
                        f"{url} took longer than {self.download_timeout:g} s"
                    )
                yield chunk
            complete = True
        except urllib3.exceptions.TimeoutError as exc:
            raise exceptions.SlowRetrievalError(f"no data for {self.socket_timeout:g} s") from exc
        finally:
            if not complete:
                response.close()  # half-read: drop the connection
            response.release_conn()
            self._open.discard(response)
