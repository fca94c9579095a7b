"""``GET /metrics`` on a real server, the stale-feed alarm, and JSON log lines with request ids."""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyotp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import update

from sakimori import logs
from sakimori.api import create_app
from sakimori.cli import demo
from sakimori.services import freshness, identity
from sakimori.services import intel as intel_service
from sakimori.services import metrics as metrics_service
from sakimori.services.intel import load_paths
from sakimori.services.organisations import create_organisation
from sakimori.store import models
from sakimori.store.db import open_database
from tests.conftest import require_data
from tests.ops.conftest import DemoHome, free_port, home_settings, running

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # Starlette asks for its httpx fork
    from fastapi.testclient import TestClient

#: The series docs/operations.md documents.
DOCUMENTED = {
    "sakimori_http_requests",
    "sakimori_http_request_duration_seconds",
    "sakimori_intel_source_age_seconds",
    "sakimori_intel_source_expected_refresh_seconds",
    "sakimori_intel_source_stale",
    "sakimori_findings_open",
    "sakimori_jobs",
    "sakimori_job_queue_depth",
}
CSRF = re.compile(r'name="csrf" value="([^"]*)"')
SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')
#: A well-formed token no server issued.
FORGED = "skm_0123456789abcdef_" + "Q" * 43


def _token(home: DemoHome, user: str) -> dict[str, str]:
    key = identity.TokenKey.load(home.settings.token_key_path)
    _, secret = identity.create_token(
        home.db, key, user, f"metrics {user}", ["read"], timedelta(days=1)
    )
    return {"Authorization": f"Bearer {secret}"}


def _scrape(base: str, headers: dict[str, str]) -> list[Sample]:
    answer = httpx.get(f"{base}/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return [s for family in text_string_to_metric_families(answer.text) for s in family.samples]


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    return found[0] if found else 0.0


@pytest.fixture(scope="module")
def staff(demo_home: DemoHome) -> dict[str, str]:
    return _token(demo_home, "bunseki")


def test_metrics_expose_the_documented_series(
    demo_home: DemoHome, demo_server: str, staff: dict[str, str]
) -> None:
    httpx.get(f"{demo_server}/healthz")
    samples = _scrape(demo_server, staff)
    names = {s.name.removesuffix("_total").removesuffix("_bucket") for s in samples}
    families = {re.sub(r"_(total|bucket|count|sum|created)$", "", s.name) for s in samples} | names
    assert families >= DOCUMENTED - {"sakimori_jobs"}  # no job state until a queue reports
    sources = {s.name for s in intel_service.status(demo_home.db).sources}
    ages = {s.labels["source"]: s.value for s in samples if s.name.endswith("source_age_seconds")}
    assert set(ages) == sources
    assert all(0 <= age < 3600 for age in ages.values())
    assert all(s.value == 0 for s in samples if s.name == "sakimori_intel_source_stale"), (
        "freshly loaded sources are not stale"
    )
    report = metrics_service.report(demo_home.db)
    by_decision = {
        s.labels["decision"]: s.value for s in samples if s.name == "sakimori_findings_open"
    }
    assert sum(by_decision.values()) == report.overall.open > 0
    assert by_decision.get("Attend", 0) > 0
    assert _value(samples, "sakimori_job_queue_depth") == 0
    assert _value(samples, "sakimori_http_requests_total", method="GET", route="/healthz",
                  status="200") >= 1  # fmt: skip


def test_the_request_counter_counts_by_route_template(
    demo_home: DemoHome, demo_server: str, staff: dict[str, str]
) -> None:
    route = "/v1/organisations/{organisation}"
    before = _scrape(demo_server, staff)
    for slug in demo.BANKS:
        assert httpx.get(f"{demo_server}/v1/organisations/{slug}", headers=staff).is_success
    httpx.get(f"{demo_server}/no/such/path", headers=staff)
    httpx.get(f"{demo_server}/ui/signin")
    after = _scrape(demo_server, staff)
    labels = {"method": "GET", "route": route, "status": "200"}
    counted = "sakimori_http_requests_total"
    assert _value(after, counted, **labels) - _value(before, counted, **labels) == 3
    bucket = {"method": "GET", "route": route, "le": "+Inf"}
    assert (
        _value(after, "sakimori_http_request_duration_seconds_bucket", **bucket)
        - _value(before, "sakimori_http_request_duration_seconds_bucket", **bucket)
        == 3
    )
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert _value(after, counted, **unmatched) - _value(before, counted, **unmatched) == 1
    page = {"method": "GET", "route": "/ui/signin", "status": "200"}
    assert _value(after, counted, **page) - _value(before, counted, **page) == 1
    assert not [s for s in after if "sakura-bank" in str(s.labels)], "ids leak into labels"


def test_metrics_are_for_coordinator_staff(demo_home: DemoHome, demo_server: str) -> None:
    assert httpx.get(f"{demo_server}/metrics").status_code == 401
    member = _token(demo_home, "sakura-admin")
    answer = httpx.get(f"{demo_server}/metrics", headers=member)
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"


def test_a_registered_job_source_reports_the_queue(demo_home: DemoHome) -> None:
    app = create_app(demo_home.settings)
    app.state.metrics.register_jobs(lambda _: {"queued": 4, "running": 1})
    with TestClient(app, base_url="http://127.0.0.1") as client:
        answer = client.get("/metrics", headers=_token(demo_home, "kanri"))
    samples = [s for f in text_string_to_metric_families(answer.text) for s in f.samples]
    assert _value(samples, "sakimori_job_queue_depth") == 4
    assert _value(samples, "sakimori_jobs", state="running") == 1


# -- the stale-feed alarm -----------------------------------------------------------------------


def _dashboard(base: str, user: str, password: str) -> str:
    with httpx.Client(base_url=base) as client:
        form = client.get("/ui/signin")
        token = CSRF.search(form.text)
        assert token is not None
        signed = client.post(
            "/ui/signin",
            data={"username": user, "password": password, "csrf": token.group(1), "next": ""},
        )
        assert signed.status_code == 303
        _second_step(client, signed.headers["location"])
        page = client.get("/ui/dashboard")
        assert page.status_code == 200
        return page.text


def _second_step(client: httpx.Client, where: str) -> None:
    """An administrator's code: of the demo's TOTP key, or of the key shown at enrolment."""
    if not where.startswith("/ui/signin/"):
        return
    form = client.get(where)
    token, shown = CSRF.search(form.text), SECRET.search(form.text)
    assert token is not None
    key = pyotp.TOTP(shown.group(1) if shown else demo.DEMO_TOTP_SECRET)
    for offset in (0, 1):  # the current code may have been used by another test already
        answer = client.post(
            where.split("?")[0],
            data={"code": key.at(time.time(), counter_offset=offset), "csrf": token.group(1)},
        )
        if answer.status_code in (200, 303):
            return
    raise AssertionError(f"the second step was refused: {answer.status_code}")


def test_no_alarm_while_the_intel_is_fresh(demo_server: str) -> None:
    page = _dashboard(demo_server, "kanri", demo.DEMO_PASSWORD)
    assert "National dashboard" in page
    assert 'id="stale-intel"' not in page


def test_the_dashboard_and_metrics_raise_the_alarm_for_a_stale_feed(tmp_path: Path) -> None:
    settings = home_settings(tmp_path)
    db = open_database(settings.database_url)
    try:
        load_paths(
            db,
            [
                require_data("osv", "pypi", "vulns", "django"),
                require_data("kev", "known_exploited_vulnerabilities.json"),
            ],
            settings.limits,
        )
        create_organisation(db, "coordination", "Coordination", "coordinator")
        identity.create_user(
            db, "kanri", organisation="coordination", role="coordinator_admin",
            password=demo.DEMO_PASSWORD,
        )  # fmt: skip
        sources = {s.kind: s.name for s in intel_service.status(db).sources}
        old = datetime.now(UTC) - freshness.EXPECTED_REFRESH["kev"] - timedelta(hours=2)
        with db.transaction() as session:
            session.execute(
                update(models.IntelSource)
                .where(models.IntelSource.name == sources["kev"])
                .values(checked_at=old)
            )
        key = identity.TokenKey.load(settings.token_key_path)
        _, secret = identity.create_token(db, key, "kanri", "scrape", ["read"])
        with running(settings) as base:
            page = _dashboard(base, "kanri", demo.DEMO_PASSWORD)
            scraped = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {secret}"})
    finally:
        db.dispose()
    assert 'id="stale-intel"' in page
    banner = page[page.index('id="stale-intel"') : page.index("</div>", page.index("stale-intel"))]
    assert sources["kev"] in banner
    assert "26 h ago" in banner
    assert "every 24 h" in banner
    assert sources["osv"] not in banner
    samples = [s for f in text_string_to_metric_families(scraped.text) for s in f.samples]
    stale = {
        s.labels["source"]: s.value for s in samples if s.name == "sakimori_intel_source_stale"
    }
    assert stale == {sources["kev"]: 1.0, sources["osv"]: 0.0}
    age = _value(samples, "sakimori_intel_source_age_seconds", source=sources["kev"], kind="kev")
    assert math.isclose(age, 26 * 3600, rel_tol=0.01)


# -- structured logs ------------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("sakimori")
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)


def test_log_lines_are_json_with_the_request_id(demo_home: DemoHome, json_log: io.StringIO) -> None:
    with TestClient(create_app(demo_home.settings), base_url="http://127.0.0.1") as client:
        answer = client.get("/v1/findings/1", headers={"Authorization": f"Bearer {FORGED}"})
    assert answer.status_code == 401
    request_id = answer.headers["x-request-id"]
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    mine = [line for line in lines if line.get("request_id") == request_id]
    # The refusal, logged by the identity service inside the request, and the request line.
    assert {line["logger"] for line in mine} >= {
        "sakimori.services.identity",
        "sakimori.api.app",
    }, lines
    request_line = next(line for line in mine if line["logger"] == "sakimori.api.app")
    assert request_line["route"] == "/v1/findings/{finding_id}"
    assert request_line["status"] == 401
    assert request_line["method"] == "GET"
    assert request_line["level"] == "INFO"
    assert FORGED.split("_", 2)[2] not in json_log.getvalue(), "a token's secret was logged"


def test_serve_log_json_writes_json_lines_with_request_ids(demo_home: DemoHome) -> None:
    """The real entry point, as production runs it: `sakimori serve --log-json`."""
    port = free_port()
    env = {
        **os.environ,
        "SAKIMORI_HOME": str(demo_home.settings.home),
        "SAKIMORI_DATABASE_URL": demo_home.settings.database_url,
    }
    sakimori = str(Path(sys.executable).with_name("sakimori"))
    with subprocess.Popen(
        [sakimori, "serve", "--log-json", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        assert server.stderr is not None
        try:
            started = []
            for line in server.stderr:
                started.append(line)
                if "Application startup complete" in line:
                    break
            answer = httpx.get(f"http://127.0.0.1:{port}/readyz")
            assert answer.status_code == 200
        finally:
            server.send_signal(signal.SIGINT)
            rest = server.stderr.read()
    lines = [json.loads(line) for line in [*started, *rest.splitlines()] if line.strip()]
    request = [line for line in lines if line.get("route") == "/readyz"]
    assert len(request) == 1, lines
    assert request[0]["request_id"] == answer.headers["x-request-id"]
    assert request[0]["status"] == 200
    assert any(line["logger"].startswith("uvicorn") for line in lines)
