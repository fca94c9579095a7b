"""The network seam against a real HTTP server on 127.0.0.1, and against local mirror files."""

from __future__ import annotations

import email.utils
import io
import os
import socket
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from sakimori.errors import ConfigurationError, LimitExceeded, MalformedDocument, SourceUnavailable
from sakimori.formats import osv
from sakimori.intel.fetch import Fetcher, FetchResult, FetchSettings, Mirror
from tests.intel.conftest import LocalServer, send

BODY = b'{"hello": "feed"}'
LAST_MODIFIED = "Mon, 25 Aug 2025 17:04:19 GMT"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def fetcher(sleeps: Sleeps) -> Iterator[Fetcher]:
    settings = FetchSettings(
        connect_timeout=2, read_timeout=2, retries=2, backoff=0.5, trust_env=False
    )
    with Fetcher(settings, sleep=sleeps) as instance:
        yield instance


def _etag_route(handler: BaseHTTPRequestHandler) -> None:
    if handler.headers.get("If-None-Match") == '"v1"':
        send(handler, 304, headers={"ETag": '"v1"'}, declare_length=False)
    else:
        send(handler, 200, BODY, {"ETag": '"v1"', "Last-Modified": LAST_MODIFIED})


def test_etag_then_not_modified(server: LocalServer, fetcher: Fetcher) -> None:
    server.routes["/feed.json"] = _etag_route
    first = fetcher.get(server.url("/feed.json"))
    assert first == FetchResult(server.url("/feed.json"), "ok", BODY, '"v1"', LAST_MODIFIED)
    assert first.modified
    second = fetcher.get(server.url("/feed.json"), etag=first.etag)
    assert second.status == "not-modified"
    assert not second.modified
    assert second.content == b""
    assert second.etag == '"v1"'
    assert server.seen["/feed.json"][1]["If-None-Match"] == '"v1"'
    assert "sakimori/" in server.seen["/feed.json"][0]["User-Agent"]


def test_last_modified_conditional(server: LocalServer, fetcher: Fetcher) -> None:
    def route(handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("If-Modified-Since") == LAST_MODIFIED:
            send(handler, 304, declare_length=False)
        else:
            send(handler, 200, BODY, {"Last-Modified": LAST_MODIFIED})

    server.routes["/kev.json"] = route
    first = fetcher.get(server.url("/kev.json"))
    assert (first.etag, first.last_modified) == (None, LAST_MODIFIED)
    second = fetcher.get(server.url("/kev.json"), last_modified=first.last_modified)
    assert second.status == "not-modified"
    assert second.last_modified == LAST_MODIFIED  # kept from the request when not resent


@pytest.mark.parametrize(("status", "retried"), [(404, False), (403, False), (500, True)])
def test_http_errors(
    server: LocalServer, fetcher: Fetcher, sleeps: Sleeps, status: int, retried: bool
) -> None:
    server.routes["/f"] = lambda handler: send(handler, status, b"error page")
    with pytest.raises(SourceUnavailable) as caught:
        fetcher.get(server.url("/f"))
    error = caught.value
    assert f"HTTP {status}" in error.message
    assert error.where == server.url("/f")
    assert error.hint
    assert server.hits["/f"] == (3 if retried else 1)
    assert sleeps == ([0.5, 1.0] if retried else [])
    if retried:
        assert "after 3 attempts" in error.message
    else:
        assert "mirror" in error.hint


def test_retry_after_503_then_success(
    server: LocalServer, fetcher: Fetcher, sleeps: Sleeps
) -> None:
    def route(handler: BaseHTTPRequestHandler) -> None:
        if server.hits["/flaky"] == 1:
            send(handler, 503, b"busy", {"Retry-After": "7"})
        else:
            send(handler, 200, BODY)

    server.routes["/flaky"] = route
    assert fetcher.get(server.url("/flaky")).content == BODY
    assert server.hits["/flaky"] == 2
    assert sleeps == [7.0]


def test_retry_after_is_capped_and_dates_are_read(server: LocalServer, sleeps: Sleeps) -> None:
    later = email.utils.formatdate(time.time() + 3600, usegmt=True)
    answers = iter([(429, {"Retry-After": "86400"}), (503, {"Retry-After": later})])

    def route(handler: BaseHTTPRequestHandler) -> None:
        status, headers = next(answers, (200, {}))
        send(handler, status, BODY, headers)

    server.routes["/limited"] = route
    settings = FetchSettings(retries=3, max_retry_after=30, trust_env=False)
    with Fetcher(settings, sleep=sleeps) as fetcher:
        assert fetcher.get(server.url("/limited")).content == BODY
    assert sleeps == [30.0, 30.0]


def test_stalled_server_times_out(server: LocalServer, sleeps: Sleeps) -> None:
    def route(handler: BaseHTTPRequestHandler) -> None:
        server.release.wait(10)

    server.routes["/stall"] = route
    settings = FetchSettings(connect_timeout=1, read_timeout=0.2, retries=1, trust_env=False)
    started = time.monotonic()
    with Fetcher(settings, sleep=sleeps) as fetcher, pytest.raises(SourceUnavailable) as caught:
        fetcher.get(server.url("/stall"))
    assert time.monotonic() - started < 3
    assert "timed out waiting for data (after 2 attempts)" in caught.value.message
    assert server.hits["/stall"] == 2


def test_slow_drip_hits_the_total_timeout(server: LocalServer, sleeps: Sleeps) -> None:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        for _ in range(100):
            if server.release.wait(0.05):
                return
            handler.wfile.write(b"x")
            handler.wfile.flush()

    server.routes["/drip"] = route
    settings = FetchSettings(read_timeout=1, total_timeout=0.3, retries=0, trust_env=False)
    with Fetcher(settings, sleep=sleeps) as fetcher, pytest.raises(SourceUnavailable) as caught:
        fetcher.get(server.url("/drip"))
    assert "longer than 0.3 s" in caught.value.message


def test_truncated_body(server: LocalServer, fetcher: Fetcher) -> None:
    server.routes["/cut"] = lambda handler: send(handler, 200, b"only ten b", content_length=1000)
    with pytest.raises(SourceUnavailable) as caught:
        fetcher.get(server.url("/cut"))
    assert "connection broke off" in caught.value.message
    assert server.hits["/cut"] == 3


def test_over_size_body_declared(server: LocalServer, sleeps: Sleeps) -> None:
    server.routes["/big"] = lambda handler: send(handler, 200, b"x" * 2048)
    settings = FetchSettings(max_body_bytes=1024, trust_env=False)
    with Fetcher(settings, sleep=sleeps) as fetcher, pytest.raises(LimitExceeded) as caught:
        fetcher.get(server.url("/big"))
    assert "declares 2,048 bytes" in caught.value.message
    assert caught.value.where == server.url("/big")
    assert server.hits["/big"] == 1


def test_over_size_body_streamed_without_length(server: LocalServer, sleeps: Sleeps) -> None:
    server.routes["/big"] = lambda handler: send(handler, 200, b"x" * 300_000, declare_length=False)
    settings = FetchSettings(max_body_bytes=100_000, trust_env=False)
    with (
        Fetcher(settings, sleep=sleeps) as fetcher,
        pytest.raises(LimitExceeded, match="larger than"),
    ):
        fetcher.get(server.url("/big"))


def test_connection_refused(fetcher: Fetcher, sleeps: Sleeps) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SourceUnavailable) as caught:
        fetcher.get(f"http://127.0.0.1:{port}/feed")
    assert "cannot connect" in caught.value.message
    assert "SAKIMORI_MIRROR" in caught.value.diagnostics()
    assert len(sleeps) == 2


def test_redirect_is_followed(server: LocalServer, fetcher: Fetcher) -> None:
    server.routes["/old"] = lambda handler: send(handler, 302, headers={"Location": "/new"})
    server.routes["/new"] = lambda handler: send(handler, 200, BODY)
    assert fetcher.get(server.url("/old")).content == BODY


def test_credentials_are_not_shown(server: LocalServer, fetcher: Fetcher) -> None:
    url = server.url("/missing").replace("http://", "http://user:s3cret@")
    with pytest.raises(SourceUnavailable) as caught:
        fetcher.get(url)
    assert "s3cret" not in caught.value.diagnostics()


def test_bad_content_encoding_is_unavailable() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not gzip", headers={"Content-Encoding": "gzip"})

    with (
        Fetcher(transport=httpx.MockTransport(handle)) as fetcher,
        pytest.raises(SourceUnavailable, match="DecodingError"),
    ):
        fetcher.get("https://feeds.invalid/x.json")


def _zip_of(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def test_corrupt_zip_served(server: LocalServer, fetcher: Fetcher) -> None:
    server.routes["/osv/PyPI/all.zip"] = lambda handler: send(handler, 200, b"PK\x03\x04broken")
    result = fetcher.get(server.url("/osv/PyPI/all.zip"))
    with pytest.raises(MalformedDocument, match="zip"):
        list(osv.iter_zip(result.content))


def test_zip_bomb_served(server: LocalServer, fetcher: Fetcher) -> None:
    bomb = _zip_of("BOMB.json", b"\x00" * (50 * 1024 * 1024))
    server.routes["/osv/npm/all.zip"] = lambda handler: send(handler, 200, bomb)
    result = fetcher.get(server.url("/osv/npm/all.zip"))
    assert len(result.content) == len(bomb) < 200_000
    with pytest.raises(LimitExceeded):
        list(osv.iter_zip(result.content))


# --------------------------------------------------------------------------------------------
# Mirrors: directories, file:// URLs, base URLs


@pytest.fixture
def mirror_dir(tmp_path: Path) -> Path:
    feed = tmp_path / "mirror" / "osv" / "PyPI" / "all.zip"
    feed.parent.mkdir(parents=True)
    feed.write_bytes(b"zip bytes")
    return tmp_path / "mirror"


def test_mirror_directory_validators(mirror_dir: Path, fetcher: Fetcher) -> None:
    url = Mirror.from_setting(str(mirror_dir)).locate("osv/PyPI/all.zip")
    assert url.startswith("file:///")
    first = fetcher.get(url)
    assert (first.status, first.content) == ("ok", b"zip bytes")
    assert first.etag
    assert first.last_modified
    assert fetcher.get(url, etag=first.etag).status == "not-modified"
    assert fetcher.get(url, last_modified=first.last_modified).status == "not-modified"
    assert fetcher.get(url, etag='"other"').status == "ok"
    path = mirror_dir / "osv" / "PyPI" / "all.zip"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    again = fetcher.get(url, etag=first.etag, last_modified=first.last_modified)
    assert (again.status, again.content) == ("ok", b"zip bytes")
    assert again.etag != first.etag
    assert fetcher.get(url, last_modified=first.last_modified).status == "ok"


def test_plain_path_and_file_url(mirror_dir: Path, fetcher: Fetcher) -> None:
    path = mirror_dir / "osv" / "PyPI" / "all.zip"
    assert fetcher.get(str(path)).content == b"zip bytes"
    assert fetcher.get(path.as_uri()).content == b"zip bytes"
    assert fetcher.get("file://localhost" + str(path)).content == b"zip bytes"
    relative = Mirror.from_setting("file://" + str(mirror_dir) + "/")
    assert relative.locate("osv/PyPI/all.zip") == path.as_uri()


def test_mirror_file_problems(mirror_dir: Path, fetcher: Fetcher, sleeps: Sleeps) -> None:
    with pytest.raises(SourceUnavailable, match="no such file") as caught:
        fetcher.get(str(mirror_dir / "kev" / "known_exploited_vulnerabilities.json"))
    assert "copy the feed" in (caught.value.hint or "")
    with pytest.raises(SourceUnavailable, match="not a regular file"):
        fetcher.get(str(mirror_dir / "osv"))
    with pytest.raises(ConfigurationError, match="host"):
        fetcher.get("file://fileserver/share/all.zip")
    small = FetchSettings(max_body_bytes=4, trust_env=False)
    with Fetcher(small, sleep=sleeps) as limited, pytest.raises(LimitExceeded, match="is 9 bytes"):
        limited.get(str(mirror_dir / "osv" / "PyPI" / "all.zip"))


def test_mirror_base_url_over_http(server: LocalServer, fetcher: Fetcher) -> None:
    server.routes["/mirror/osv/Debian%3A12/all.zip"] = lambda handler: send(handler, 200, BODY)
    mirror = Mirror.from_setting(server.url("/mirror/"))
    url = mirror.locate("osv/Debian:12/all.zip")
    assert url == server.url("/mirror/osv/Debian%3A12/all.zip")
    assert fetcher.get(url).content == BODY
    assert Mirror.from_setting(server.url("/mirror")).base == mirror.base


@pytest.mark.parametrize(
    "setting", ["ftp://mirror/feeds", "  ", "s3://bucket/x", "https://[::1/x", "~nosuchuser9/x"]
)
def test_bad_mirror_settings(setting: str) -> None:
    with pytest.raises(ConfigurationError):
        Mirror.from_setting(setting)


@pytest.mark.parametrize("relative", ["/etc/passwd", "../up", "a//b", "a/./b", "a\\b", ""])
def test_bad_relative_paths(relative: str) -> None:
    with pytest.raises(ConfigurationError):
        Mirror("https://mirror.invalid/").locate(relative)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://mirror.invalid/all.zip", "unsupported URL scheme 'ftp'"),
        ("http://", "not a valid URL: no host"),
        ("https://:8080/x", "not a valid URL: no host"),
        ("http://user:pw@[::1/x", "not a valid URL"),
        ("http://127.0.0.1/\x00", "NUL character"),
        ("/srv/mirror/\x00", "NUL character"),
    ],
)
def test_invalid_urls(fetcher: Fetcher, url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        fetcher.get(url)
    assert problem in caught.value.message
    assert "pw" not in caught.value.diagnostics()


def test_bad_settings() -> None:
    with pytest.raises(ConfigurationError):
        FetchSettings(read_timeout=0)
    with pytest.raises(ConfigurationError):
        FetchSettings(retries=-1)
