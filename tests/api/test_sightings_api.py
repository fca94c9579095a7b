"""The sightings routes over HTTP, and ``sakimori watch --server --to`` against a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sakimori.packages.model import Content
from sakimori.services import packages as package_service
from sakimori.store import models
from tests.api.conftest import World
from tests.api.conftest import world as world
from tests.cli.conftest import Cli
from tests.ops.conftest import running

FIRST = "2026-10-02T08:00:00+00:00"


def sighting(**change: Any) -> dict[str, Any]:
    return {
        "client": "203.0.113.0/24",
        "detector": "sigma",
        "rule": "api-rule",
        "version": "2026-01-01",
        "title": "Exploitation attempt",
        "source": "local",
        "vulnerabilities": ["CVE-2099-4001"],
        "first_seen": FIRST,
        "last_seen": FIRST,
        "count": 1,
    } | change


def stored(world: World) -> int:
    with world.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(models.SightingRow)) or 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"privacy": "truncate", "sightings": []}, 422),
        ({"privacy": "secret", "sightings": [sighting()]}, 422),
        ({"privacy": "truncate", "sightings": [sighting(count=0)]}, 422),
        ({"privacy": "truncate", "sightings": [sighting(first_seen="2026-10-02T08:00:00")]}, 422),
        ({"privacy": "truncate", "sightings": [sighting(), sighting(raw_line="GET /")]}, 422),
        ({"privacy": "truncate", "sightings": [sighting()] * 1001}, 422),
        ({"privacy": "truncate", "sightings": [sighting(), sighting(client="203.0.113.9")]}, 400),
        ({"privacy": "truncate", "sightings": [sighting(vulnerabilities=["log4shell"])]}, 422),
        ({"privacy": "truncate", "sightings": [sighting(last_seen="2026-10-01T08:00:00Z")]}, 400),
    ],
)
def test_bad_input_is_a_problem_and_nothing_is_stored(
    world: World, body: dict[str, Any], status: int
) -> None:
    before = stored(world)
    response = world.client.post("/v1/sightings", headers=world.headers("member_user"), json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert stored(world) == before


def test_report_list_review_and_export(world: World) -> None:
    bank, power = world.headers("member_user"), world.headers("member_user_b")
    body = {"privacy": "truncate", "sightings": [sighting(vulnerabilities=["cve-2021-44420"])]}
    first = world.client.post("/v1/sightings", headers=bank, json=body)
    assert first.status_code == 201, first.text
    assert first.json() == {"received": 1, "stored": 1, "merged": 0}
    assert world.client.post("/v1/sightings", headers=bank, json=body).json()["merged"] == 1
    listed = world.client.get(
        "/v1/sightings", headers=power, params={"vulnerability": "CVE-2021-44420"}
    )
    assert listed.status_code == 200
    assert listed.json() == []  # another organisation's
    own = world.client.get(
        "/v1/sightings", headers=bank, params={"vulnerability": "CVE-2021-44420"}
    )
    (item,) = own.json()
    assert (item["organisation"], item["client"], item["vulnerabilities"]) == (
        "city-bank",
        "203.0.113.0/24",
        ["CVE-2021-44420"],
    )
    staff = world.headers("analyst")
    summary = world.client.get("/v1/sightings/vulnerabilities", headers=staff).json()
    flagged = next(v for v in summary if v["vulnerability"] == "CVE-2021-44420")
    assert (flagged["status"], flagged["needs_review"], flagged["corroborated"]) == (
        "pending",
        True,
        False,
    )
    decided = world.client.post(
        "/v1/sightings/vulnerabilities/CVE-2021-44420/review",
        headers=staff,
        json={"decision": "confirmed", "note": "seen in the wild"},
    )
    assert decided.status_code == 200, decided.text
    assert (decided.json()["status"], decided.json()["corroborated"]) == ("confirmed", True)
    bundle = world.client.get(
        "/v1/sightings/stix", headers=staff, params={"vulnerability": "CVE-2021-44420"}
    )
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("application/stix+json")
    assert any(o["type"] == "sighting" for o in bundle.json()["objects"])
    refused = world.client.get("/v1/sightings/stix", headers=staff, params={"tlp": "GREEN"})
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"


PACKAGE_RULE = """
title: Django admin exploitation probe (matrix package)
id: 5c2a1c8e-9d3b-4f1e-8a7d-2b6c0e4f1a93
date: 2026-09-01
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: '/django-admin/exploit'
    condition: selection
level: high
"""
LOG = (
    '192.0.2.44 - - [02/Oct/2026:08:00:01 +0000] "GET /django-admin/exploit?x=1 HTTP/1.1" 404 '
    '9 "-" "curl/8.5"\n'
)


def test_watch_runs_the_package_rules_and_sends_its_sightings(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = Content.from_dict(
        {
            "title": "Django exploitation rule for city-bank",
            "tlp": "AMBER",
            "audience": {"organisations": ["city-bank"]},
            "vulnerabilities": ["CVE-2021-45116"],
            "products": [{"purl": "pkg:pypi/django@2.2.24"}],
            "detection_rules": [{"sigma": PACKAGE_RULE}],
        }
    )
    view = package_service.create_draft(world.db, content, "bunseki")
    package_service.submit(world.db, view.id, "bunseki")
    package_service.approve(world.db, view.id, "kanri")
    log = tmp_path / "access.log"
    log.write_text(LOG, encoding="utf-8")
    out = tmp_path / "sightings.json"
    cli = Cli(tmp_path, capsys)
    with running(world.settings) as url:
        token = world.tokens["member_admin"]
        run = cli(
            "watch", str(log), "--format", "json", "--server", url, "--to", url,
            "--sightings", str(out), env={"SAKIMORI_TOKEN": token},
        )  # fmt: skip
        assert run.code == 1, run.err
        assert "Sigma rules from 1 packages" in run.err
        assert "sightings sent: " in run.err
        other = cli(
            "watch",
            str(log),
            "--server",
            url,
            env={"SAKIMORI_TOKEN": world.tokens["member_user_b"]},
        )
        assert "0 Sigma rules from 0 packages" in other.err
        refused = cli(
            "watch", str(log), "--server", url, "--to", url,
            env={"SAKIMORI_TOKEN": world.tokens["analyst"]},
        )  # fmt: skip
        assert refused.code == 2
        assert "refused the sightings (403)" in refused.err
    alerts = [json.loads(line) for line in run.out.splitlines()]
    (rule,) = next(a for a in alerts if a["detector"] == "sigma")["rules"]
    assert (rule["origin"], rule["vulnerabilities"]) == (f"package:{view.id}", ["CVE-2021-45116"])
    written = json.loads(out.read_text())
    assert written["privacy"] == "truncate"
    assert "django-admin" not in out.read_text()
    assert "curl" not in out.read_text()
    (made,) = [s for s in written["sightings"] if s["detector"] == "sigma"]
    assert (made["source"], made["client"]) == (f"package:{view.id}", "192.0.2.0/24")
    listed = world.client.get(
        "/v1/sightings",
        headers=world.headers("analyst"),
        params={"vulnerability": "CVE-2021-45116"},
    ).json()
    assert [(s["organisation"], s["reported_by"], s["source"]) for s in listed] == [
        ("city-bank", "bank-admin", f"package:{view.id}")
    ]


def test_the_coordinator_dashboard_shows_attempts_to_review(world: World) -> None:
    """Staff see what members' monitoring reported on the national dashboard; members do not."""
    import warnings

    from sakimori.services import identity
    from tests.web.helpers import sign_in

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from fastapi.testclient import TestClient

    body = {
        "privacy": "full",
        "sightings": [
            sighting(client="192.0.2.80", vulnerabilities=["CVE-2022-23833"], rule="dashboard")
        ],
    }
    answer = world.client.post("/v1/sightings", headers=world.headers("member_user"), json=body)
    assert answer.status_code == 201, answer.text
    for name, organisation, role in (
        ("dash-analyst", "coordination", "analyst"),
        ("dash-member", "city-bank", "member_user"),
    ):
        identity.create_user(
            world.db, name, organisation=organisation, role=role, password="a long demo password"
        )
    with TestClient(world.app, base_url="http://127.0.0.1") as client:
        assert sign_in(client, "dash-analyst", "a long demo password").status_code == 303
        page = client.get("/ui/dashboard")
        assert page.status_code == 200
        assert 'id="exploitation-attempts"' in page.text
        assert 'data-vulnerability="CVE-2022-23833"' in page.text
        assert "to review" in page.text
    with TestClient(world.app, base_url="http://127.0.0.1") as client:
        assert sign_in(client, "dash-member", "a long demo password").status_code == 303
        page = client.get("/ui/dashboard")
        assert page.status_code == 200
        assert "exploitation-attempts" not in page.text


def test_following_sends_the_sightings_of_closed_alerts_when_it_stops(
    world: World, tmp_path: Path
) -> None:
    """The real command in a subprocess: ``--follow --to`` sends from its own thread, and what
    is left when SIGTERM stops it; ``--sightings`` writes the same."""
    import os
    import signal
    import subprocess
    import sys

    log = tmp_path / "access.log"
    log.write_text(
        '198.18.7.20 - - [02/Oct/2026:08:00:01 +0000] "GET /search?q=1%27%20union%20select%20'
        'password%20from%20users-- HTTP/1.1" 200 9 "-" "Mozilla/5.0"\n',
        encoding="utf-8",
    )
    out = tmp_path / "followed.json"
    with running(world.settings) as url:
        command = [
            sys.executable, "-c", "from sakimori.cli.main import main; main()",
            "watch", "--follow", "--from-start", "--format", "json", str(log),
            "--to", url, "--sightings", str(out),
        ]  # fmt: skip
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "SAKIMORI_TOKEN": world.tokens["member_user_b"],
            "SAKIMORI_HOME": str(tmp_path),
        }
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        try:
            assert process.stdout is not None
            first = json.loads(process.stdout.readline())
            assert (first["event"], first["detector"]) == ("opened", "http-payload")
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert process.returncode == 1, err
        assert "sightings sent: 1 (1 new" in err
    written = json.loads(out.read_text())
    assert [(s["client"], s["detector"]) for s in written["sightings"]] == [
        ("198.18.7.0/24", "http-payload")
    ]
    listed = world.client.get("/v1/sightings", headers=world.headers("member_user_b")).json()
    assert ("198.18.7.0/24", "river-power") in {(s["client"], s["organisation"]) for s in listed}
