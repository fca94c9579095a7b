"""``sakimori watch``'s edge to the platform, over ``httpx.MockTransport``: package rules in,
sightings out in parts, errors as Sakimori errors, the follower's background reporter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from sakimori.errors import InvalidInput, SourceUnavailable
from sakimori.monitoring.detectors.interface import Alert
from sakimori.monitoring.platform import BATCH, Platform, Reporter
from sakimori.monitoring.sightings import Privacy, Sighting

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TOKEN = "skm_0123456789abcdef_s3cret"


def made(n: int) -> Sighting:
    return Sighting(
        f"203.0.{n // 250}.0/24", "http-payload", "", "0.1.0", "http-payload", "builtin", (),
        T0, T0, 1,
    )  # fmt: skip


class Server:
    """Answers like the platform and records what it was sent."""

    def __init__(self, status: int = 201, body: Any = None) -> None:
        self.status, self.body = status, body
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "GET":
            return httpx.Response(200, json=self.body)
        sent = json.loads(request.content)["sightings"]
        if self.status >= 400:
            return httpx.Response(self.status, json={"detail": "the token is not valid"})
        return httpx.Response(
            self.status, json={"received": len(sent), "stored": len(sent), "merged": 0}
        )


def platform(server: Server) -> Platform:
    return Platform("https://sakimori.example/", TOKEN, transport=httpx.MockTransport(server))


def test_package_rules_come_with_their_origin_and_vulnerabilities() -> None:
    server = Server(
        body=[{"package_id": 7, "revision": 2, "tlp": "AMBER", "title": "t",
               "vulnerabilities": ["CVE-2099-0001"], "rules": ["title: a", "title: b"]}]
    )  # fmt: skip
    rules = platform(server).rules()
    assert [(r.origin, r.text, r.vulnerabilities) for r in rules] == [
        ("package:7", "title: a", ("CVE-2099-0001",)),
        ("package:7", "title: b", ("CVE-2099-0001",)),
    ]
    (request,) = server.requests
    assert request.url == "https://sakimori.example/v1/detection-rules"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_sightings_go_in_parts_and_the_answers_are_summed() -> None:
    server = Server()
    sent = platform(server).send([made(n) for n in range(BATCH * 2 + 1)], Privacy())
    assert (sent.received, sent.stored) == (BATCH * 2 + 1, BATCH * 2 + 1)
    assert [len(json.loads(r.content)["sightings"]) for r in server.requests] == [BATCH, BATCH, 1]
    assert {json.loads(r.content)["privacy"] for r in server.requests} == {"truncate"}


@pytest.mark.parametrize(
    ("answer", "error", "text"),
    [
        (httpx.Response(401, json={"detail": "the token is not valid"}), InvalidInput, "401"),
        (httpx.Response(403, text="no"), InvalidInput, "403"),
        (httpx.Response(503), SourceUnavailable, "503"),
        (httpx.Response(201, text="<html>"), SourceUnavailable, "not JSON"),
    ],
)
def test_refusals_and_failures_are_sakimori_errors(
    answer: httpx.Response, error: type[Exception], text: str
) -> None:
    found = Platform("http://127.0.0.1:9", TOKEN, transport=httpx.MockTransport(lambda _: answer))
    with pytest.raises(error, match=text) as raised:
        found.send([made(0)], Privacy())
    assert TOKEN not in str(raised.value)
    assert TOKEN not in repr(found)


def test_an_unreachable_platform_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(SourceUnavailable, match="cannot reach"):
        Platform("http://127.0.0.1:9", TOKEN, transport=httpx.MockTransport(refuse)).rules()
    with pytest.raises(InvalidInput):
        Platform("ftp://example", TOKEN)


def test_the_follower_reporter_keeps_what_was_not_taken_and_sends_it_later() -> None:
    server = Server(status=503)
    reporter = Reporter(platform(server), Privacy(), every=3600)
    alert = Alert("http-payload", "203.0.113.9", T0, T0 + timedelta(seconds=5), 2, ("x",), "r")
    reporter.add(alert)
    with pytest.raises(SourceUnavailable):
        reporter.flush()
    server.status = 201
    reporter.add(alert)
    reporter.close()
    assert reporter.sent.received == 1  # the two alerts are one sighting
    last = json.loads(server.requests[-1].content)["sightings"]
    assert [(s["client"], s["count"]) for s in last] == [("203.0.113.0/24", 4)]
