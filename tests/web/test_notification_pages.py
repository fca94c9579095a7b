"""Notification endpoints and dead letters in the browser's pages: the bank's administrator
registers a webhook (a bad URL is refused in the form, nothing registered), sees the delivery
that died against it and retries it; the other bank's administrator can neither see nor retry
it, a member without the admin role has no access, and the coordinator's administrator sees
every organisation's dead letters. The delivery dies for real: the webhook's address refuses
connections and the job runs once."""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from sakimori.api import create_app
from sakimori.jobs.handlers import HANDLERS
from sakimori.jobs.runner import Runner
from sakimori.notify.filters import Filters
from sakimori.packages.model import Content
from sakimori.services import identity, second_factor
from sakimori.services import notifications as service
from sakimori.services import packages as package_service
from sakimori.services.access import Principal
from sakimori.store import models
from tests.web.conftest import BANK, OTHER_BANK, PASSWORD, Platform, build_platform
from tests.web.helpers import csrf_of, sign_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

#: Port 9 (discard) on loopback: nothing listens, so every attempt is a refused connection.
UNREACHABLE = "http://127.0.0.1:9/sakimori"
PAGE = "/ui/notifications"
EN = {"Accept-Language": "en"}


# -- shared with the web authorisation matrix -----------------------------------------------------


def _principal(platform: Platform, user: str) -> Principal:
    _, token = identity.create_token(
        platform.db, platform.key, user, "notify test", ["read", "write"]
    )
    return identity.authenticate(platform.db, platform.key, token)


def endpoint_of(platform: Platform, organisation: str = BANK, target: str = UNREACHABLE) -> int:
    """A webhook endpoint of ``organisation``, registered by the coordinator's admin."""
    spec = service.EndpointSpec(organisation=organisation, kind="webhook", target=target)
    view, _ = service.create_endpoint(
        platform.db, _principal(platform, "kanri"), platform.key.secret, spec
    )
    return view.id


def run_jobs(platform: Platform) -> None:
    """Run every job that is due, as a worker would, until none is."""
    runner = Runner(platform.db, platform.settings, HANDLERS, "test")
    try:
        for _ in range(100):
            if not runner.run_one():
                return
        raise AssertionError("the jobs did not settle")
    finally:
        runner.close()
        service.close_channels()


def publish_once(platform: Platform, title: str, organisation: str = BANK) -> int:
    """A TLP:AMBER package to ``organisation``, published with one attempt per notification,
    and its notifications sent: those to an unreachable endpoint are dead. Needs the analyst
    ``bunseki``."""
    value = {
        "title": title,
        "tlp": "AMBER",
        "audience": {"organisations": [organisation]},
        "vulnerabilities": ["CVE-2021-23337"],
        "products": [{"purl": "pkg:npm/lodash@4.17.4"}],
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAKIMORI_NOTIFY_ATTEMPTS", "1")
        view = package_service.create_draft(platform.db, Content.from_dict(value), "bunseki")
        package_service.submit(platform.db, view.id, "bunseki")
        package_service.approve(platform.db, view.id, "kanri")
    run_jobs(platform)
    return view.id


def dead_delivery(platform: Platform) -> int:
    """A dead delivery of the first bank: a fresh endpoint, a package, one refused attempt."""
    endpoint = endpoint_of(platform)
    package_id = publish_once(platform, f"Dead letter for endpoint {endpoint}")
    with platform.db.transaction() as session:
        found = session.scalar(
            select(models.NotifyDeliveryRow.id).where(
                models.NotifyDeliveryRow.package_id == package_id,
                models.NotifyDeliveryRow.endpoint_id == endpoint,
                models.NotifyDeliveryRow.state == service.DEAD,
            )
        )
    assert found is not None, "the delivery did not die"
    return found


# -- the pages -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    built = build_platform(tmp_path_factory.mktemp("notification-web"))
    identity.create_user(
        built.db, "bunseki", organisation="coordination", role="analyst", password=PASSWORD
    )
    for name, organisation in (("bank-admin", BANK), ("harbour-admin", OTHER_BANK)):
        identity.create_user(
            built.db, name, organisation=organisation, role="member_admin", password=PASSWORD
        )
        assert second_factor.required("member_admin")
        built.enrol(name)
    yield built
    built.db.dispose()


def signed_in(platform: Platform, user: str) -> TestClient:
    client = TestClient(create_app(platform.settings), base_url="http://127.0.0.1")
    client.__enter__()
    assert (
        sign_in(client, user, PASSWORD, functools.partial(platform.code, user)).status_code == 303
    )
    return client


def _post(client: TestClient, path: str, data: dict[str, str] | None = None) -> Any:
    csrf = csrf_of(client.get("/ui/admin/tokens").text)
    return client.post(path, data={"csrf": csrf, **(data or {})}, follow_redirects=False)


def _endpoints(platform: Platform) -> int:
    with platform.db.transaction() as session:
        query = select(func.count()).select_from(models.NotifyEndpointRow)
        return session.scalar(query.where(models.NotifyEndpointRow.active.is_(True))) or 0


def _state(platform: Platform, delivery: int) -> str:
    with platform.db.transaction() as session:
        row = session.get(models.NotifyDeliveryRow, delivery)
        assert row is not None
        return row.state


def _row(html: str, table: str, delivery: int) -> str | None:
    body = re.search(rf'<table id="{table}">.*?</table>', html, re.S)
    if body is None:
        return None
    found = re.search(rf'<tr data-delivery="{delivery}".*?</tr>', body.group(0), re.S)
    return found.group(0) if found else None


def test_an_admin_registers_a_webhook_and_retries_its_dead_letter(platform: Platform) -> None:
    admin, other = signed_in(platform, "bank-admin"), signed_in(platform, "harbour-admin")
    member, staff = signed_in(platform, "bank-user"), signed_in(platform, "kanri")
    before = _endpoints(platform)

    # A bad URL: the form comes back with the reason and what was typed; nothing registered.
    form = admin.get(PAGE + "/endpoints/new", headers=EN)
    assert form.status_code == 200
    assert 'name="organisation"' not in form.text  # a member's admin registers for their own
    bad = admin.post(
        PAGE + "/endpoints",
        data={"csrf": csrf_of(form.text), "kind": "webhook", "target": "ftp://soc.example/in"},
        headers=EN,
    )
    assert bad.status_code == 400
    assert "&#39;ftp://soc.example/in&#39; is not an http(s) URL" in bad.text
    assert 'role="alert"' in bad.text
    assert 'value="ftp://soc.example/in"' in bad.text
    inverted = admin.post(
        PAGE + "/endpoints",
        data={
            "csrf": csrf_of(form.text),
            "kind": "webhook",
            "target": UNREACHABLE,
            "min_tlp": "RED",
            "max_tlp": "GREEN",
        },
        headers=EN,
    )
    assert inverted.status_code == 400
    assert "min_tlp RED is more restricted than max_tlp GREEN" in inverted.text
    assert _endpoints(platform) == before

    # A good one: the secret is on this answer only.
    made = admin.post(
        PAGE + "/endpoints",
        data={
            "csrf": csrf_of(form.text),
            "kind": "webhook",
            "target": UNREACHABLE,
            "purl_prefixes": "pkg:npm/",
            "max_tlp": "AMBER",
        },
        headers=EN,
    )
    assert made.status_code == 201, made.text
    secret = re.search(r'<code id="new-secret">(whsec_[^<]+)</code>', made.text)
    assert secret is not None
    assert _endpoints(platform) == before + 1
    listed = admin.get(PAGE, headers=EN).text
    assert UNREACHABLE in listed
    assert "pkg:npm/" in listed
    assert secret.group(1) not in listed
    assert 'id="no-dead"' in listed
    japanese = admin.get(PAGE, headers={"Accept-Language": "ja"}).text
    assert "配信不能（デッドレター）" in japanese
    assert "通知先を追加" in japanese
    wrong_state = admin.get(PAGE, params={"state": "lost"}, headers=EN)
    assert wrong_state.status_code == 400
    assert "delivery state &#39;lost&#39; is not one of" in wrong_state.text

    # A package reaches the bank; the one attempt is refused: a dead letter.
    package_id = publish_once(platform, "Lodash prototype pollution: patch now")
    with platform.db.transaction() as session:
        (delivery,) = session.scalars(
            select(models.NotifyDeliveryRow.id).where(
                models.NotifyDeliveryRow.package_id == package_id
            )
        )
    assert _state(platform, delivery) == "dead"
    page = admin.get(PAGE, headers=EN).text
    row = _row(page, "dead-letters", delivery)
    assert row is not None
    assert 'data-state="dead"' in row
    assert "1 / 1" in row  # attempts
    assert f'action="/ui/notifications/deliveries/{delivery}/retry"' in row
    assert "Connection refused" in row  # the last error

    # The other bank's admin sees nothing of it and cannot retry it; a member has no access.
    theirs = other.get(PAGE)
    assert theirs.status_code == 200
    assert f'data-delivery="{delivery}"' not in theirs.text
    hidden = _post(other, f"{PAGE}/deliveries/{delivery}/retry")
    assert hidden.status_code == 404
    assert member.get(PAGE).status_code == 403
    assert member.get(PAGE + "/endpoints/new").status_code == 403
    assert _post(member, f"{PAGE}/deliveries/{delivery}/retry").status_code == 403
    assert _state(platform, delivery) == "dead"

    # The coordinator's admin sees every organisation's dead letters, and can narrow them.
    everyone = staff.get(PAGE, headers=EN).text
    staff_row = _row(everyone, "dead-letters", delivery)
    assert staff_row is not None
    assert f"<td>{BANK}</td>" in staff_row
    narrowed = staff.get(PAGE, params={"organisation": OTHER_BANK})
    assert narrowed.status_code == 200
    assert f'data-delivery="{delivery}"' not in narrowed.text
    assert _row(staff.get(PAGE, params={"organisation": BANK}).text, "dead-letters", delivery)

    # The bank's admin retries it: pending again, with a fresh attempt; a second retry is refused.
    retried = _post(admin, f"{PAGE}/deliveries/{delivery}/retry")
    assert retried.status_code == 303
    assert retried.headers["location"] == f"{PAGE}?retried={delivery}"
    assert _state(platform, delivery) == "pending"
    after = admin.get(f"{PAGE}?retried={delivery}", headers=EN).text
    assert f"Delivery {delivery} will be tried again." in after
    assert _row(after, "dead-letters", delivery) is None
    pending = _row(after, "deliveries", delivery)
    assert pending is not None
    assert 'data-state="pending"' in pending
    again = _post(admin, f"{PAGE}/deliveries/{delivery}/retry")
    assert again.status_code == 409
    assert "only a dead delivery is retried" in again.text


def test_an_admin_removes_an_endpoint_of_their_own_only(platform: Platform) -> None:
    admin, other = signed_in(platform, "bank-admin"), signed_in(platform, "harbour-admin")
    endpoint = endpoint_of(platform, target="https://soc.city-bank.example/hook")
    assert _post(other, f"{PAGE}/endpoints/{endpoint}/remove").status_code == 404
    assert f'data-endpoint="{endpoint}"' in admin.get(PAGE).text
    assert _post(admin, f"{PAGE}/endpoints/{endpoint}/remove").status_code == 303
    assert f'data-endpoint="{endpoint}"' not in admin.get(PAGE).text
    views = service.list_endpoints(platform.db, _principal(platform, "bank-admin"))
    assert endpoint not in [v.id for v in views]
    # A member's admin registers for their own organisation, whatever the form says.
    form = admin.get(PAGE + "/endpoints/new").text
    target = "https://soc.city-bank.example/other"
    data = {"csrf": csrf_of(form), "kind": "webhook", "target": target, "organisation": OTHER_BANK}
    assert admin.post(PAGE + "/endpoints", data=data).status_code == 201
    (made,) = [
        v
        for v in service.list_endpoints(platform.db, _principal(platform, "kanri"))
        if v.target == target
    ]
    assert made.organisation == BANK


def test_the_coordinator_registers_for_a_chosen_organisation_with_filters(
    platform: Platform,
) -> None:
    staff = signed_in(platform, "kanri")
    form = staff.get(PAGE + "/endpoints/new", headers=EN)
    assert f'<option value="{OTHER_BANK}"' in form.text
    data = {
        "csrf": csrf_of(form.text),
        "kind": "email",
        "target": "soc@harbour-bank.example",
        "language": "ja",
        "sectors": "finance",
        "vulnerabilities": "CVE-2021-23337, CVE-2024-21762",
        "min_tlp": "GREEN",
        "digest": "true",
    }
    unchosen = staff.post(PAGE + "/endpoints", data=data, headers=EN)
    assert unchosen.status_code == 400
    assert "choose the organisation" in unchosen.text
    made = staff.post(PAGE + "/endpoints", data={**data, "organisation": OTHER_BANK}, headers=EN)
    assert made.status_code == 201, made.text
    assert 'id="new-secret"' not in made.text  # e-mail endpoints have no secret
    principal = _principal(platform, "kanri")
    (view,) = [
        v
        for v in service.list_endpoints(platform.db, principal, OTHER_BANK)
        if v.target == "soc@harbour-bank.example"
    ]
    assert (view.kind, view.language, view.digest) == ("email", "ja", True)
    assert view.filters == Filters(
        sectors=("finance",),
        vulnerabilities=("CVE-2021-23337", "CVE-2024-21762"),
        min_tlp=view.filters.min_tlp,
    )
    assert view.filters.min_tlp is not None
    assert view.filters.min_tlp.value == "GREEN"
