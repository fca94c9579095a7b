"""JSON access logs: default mappings of nginx, Caddy, Traefik, Envoy (CRI), and --json-field."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from sakimori.errors import ConfigurationError
from sakimori.monitoring.parsers.jsonlog import JsonParser, strip_port
from sakimori.monitoring.record import Record


def parse(line: str, fields: dict[str, str] | None = None) -> Record:
    record = JsonParser(fields).parse(line, 1)
    assert isinstance(record, Record), record
    return record


def test_nginx_json() -> None:
    record = parse(
        json.dumps(
            {
                "time_iso8601": "2024-05-01T10:00:00+00:00",
                "remote_addr": "1.2.3.4",
                "request": "GET /a?b=1 HTTP/1.1",
                "status": "404",
                "body_bytes_sent": "12",
                "http_referer": "",
                "http_user_agent": "curl/8.0",
            }
        )
    )
    assert (record.client, record.method, record.path, record.query) == (
        "1.2.3.4",
        "GET",
        "/a",
        "b=1",
    )
    assert (record.status, record.bytes, record.agent) == (404, 12, "curl/8.0")
    assert record.time == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_caddy() -> None:
    record = parse(
        '{"level":"info","ts":1646861401.52,"logger":"http.log.access","request":{"remote_ip":'
        '"127.0.0.1","remote_port":"41342","proto":"HTTP/1.1","method":"GET","host":"h.test",'
        '"uri":"/x?y=z","headers":{"User-Agent":["curl/7.82.0"]}},"status":200,"size":12}'
    )
    assert (record.client, record.method, record.path, record.query) == (
        "127.0.0.1",
        "GET",
        "/x",
        "y=z",
    )
    assert (record.host, record.agent, record.status, record.bytes) == (
        "h.test",
        "curl/7.82.0",
        200,
        12,
    )
    assert record.ts == pytest.approx(1646861401.52)


def test_traefik() -> None:
    record = parse(
        '{"ClientAddr":"172.17.0.1:39490","ClientHost":"172.17.0.1","DownstreamStatus":404,'
        '"RequestMethod":"GET","RequestPath":"/594VAEoi.dtd","RequestHost":"t.local",'
        '"request_User-Agent":"Nikto","time":"2021-12-08T14:02:43Z"}'
    )
    assert (record.client, record.path, record.status, record.agent) == (
        "172.17.0.1", "/594VAEoi.dtd", 404, "Nikto"
    )  # fmt: skip


def test_envoy_behind_a_cri_prefix() -> None:
    record = parse(
        '2025-12-31T17:37:40.493035218+01:00 stdout F {"start_time":"2025-12-31T16:37:40.479Z",'
        '"method":"GET","x-envoy-origin-path":"/admin","response_code":404,"user-agent":"zgrab",'
        '"downstream_remote_address":"10.0.0.12:59292",":authority":"app.internal"}'
    )
    assert (record.client, record.path, record.host) == ("10.0.0.12", "/admin", "app.internal")
    assert record.time == datetime(2025, 12, 31, 16, 37, 40, 479000, tzinfo=UTC)


def test_custom_mapping() -> None:
    line = '{"who":{"ip":"[2001:db8::1]:443"},"when":"10/Oct/2023:08:32:31 +0000","u":"/p"}'
    assert JsonParser().parse(line, 1) is None  # no known field names
    record = parse(line, {"client": "who.ip", "time": "when", "path": "u"})
    assert (record.client, record.path) == ("2001:db8::1", "/p")


def test_unknown_field_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        JsonParser({"colour": "x"})


@pytest.mark.parametrize(
    "line",
    ["{not json", "[1, 2]", '{"remote_addr": "1.2.3.4"}', '{"time": "2024-01-01T00:00:00Z"}',
     'junk {"remote_addr": "1.2.3.4", "time": 1}'],
)  # fmt: skip
def test_errors(line: str) -> None:
    assert JsonParser().parse(line, 1) is None


def test_epoch_units() -> None:
    for value in (1700000000, 1700000000000, 1700000000000000, 1700000000000000000):
        record = parse(json.dumps({"remote_addr": "1.1.1.1", "timestamp": value}))
        assert record.ts == pytest.approx(1700000000)


def test_strip_port() -> None:
    assert strip_port("1.2.3.4:5") == "1.2.3.4"
    assert strip_port("[::1]:80") == "::1"
    assert strip_port("2001:db8::1") == "2001:db8::1"
