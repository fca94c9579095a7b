"""The TLP leak property for notifications (mirrors tests/packages/test_tlp_leak.py): over
random labels and audiences, what reaches each channel — every organisation's webhook and
shared mailbox, every person's own mailbox — is exactly what the label and the audience
entitle, computed here independently of the service. TLP:RED reaches only the personal
mailboxes of the people named; no webhook or shared mailbox ever gets it. The webhooks take
low-priority notifications in digests (up to AMBER+STRICT), gathered after each publication:
what a digest carries counts as received by that webhook."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sakimori.errors import InvalidInput
from sakimori.jobs.handlers import NOTIFY_DIGEST
from sakimori.jobs.interface import enqueue
from sakimori.services import notifications as service
from tests.notify.conftest import FAST, deliveries, drain, principal, publish
from tests.notify.servers import Mailbox, Receiver, smtp_server, webhook_receiver
from tests.packages.conftest import ORGANISATIONS, USERS, Platform, build_platform
from tests.packages.test_tlp_leak import EXPOSED, RECEIVERS, SLUGS, TLPS, audiences, lawful


@dataclass(repr=False)
class World:
    platform: Platform
    receiver: Receiver
    mailbox: Mailbox
    #: endpoint id -> a name saying what it is ("webhook:city-bank", "mail:bank-user"…)
    names: dict[int, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        # Hypothesis prints the fixture with a failing example; everything received so far
        # would bury the example itself.
        return f"World({len(self.names)} endpoints)"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("notify-leak")
    with (
        pytest.MonkeyPatch.context() as patch,
        build_platform("sqlite", home) as platform,
        webhook_receiver(Receiver(secrets={})) as receiver,
        smtp_server() as mailbox,
    ):
        for name, value in FAST.items():
            patch.setenv(name, value)
        # Retries are not what this test is about: a loaded CI machine must not turn a slow
        # answer into a resend (a mail resent after a timeout arrives twice, by design).
        patch.setenv("SAKIMORI_NOTIFY_TIMEOUT", "30")
        patch.setenv("SAKIMORI_NOTIFY_DIGEST_TLP", "AMBER+STRICT")
        patch.setenv("SAKIMORI_SMTP_HOST", "127.0.0.1")
        patch.setenv("SAKIMORI_SMTP_PORT", str(mailbox.port))
        made = World(platform, receiver, mailbox)
        staff = principal(platform, "kanri")

        def register(name: str, spec: service.EndpointSpec) -> None:
            view, secret = service.create_endpoint(platform.db, staff, platform.key.secret, spec)
            if secret is not None:
                receiver.secrets[f"/{name}"] = secret
            made.names[view.id] = name

        for slug in SLUGS:
            register(
                f"webhook:{slug}",
                service.EndpointSpec(
                    slug, "webhook", receiver.url(f"/webhook:{slug}"), digest=True
                ),
            )
            register(f"mail:{slug}", service.EndpointSpec(slug, "email", f"shared@{slug}.test"))
        for user in RECEIVERS:
            org = USERS[user][0]
            register(
                f"person:{user}",
                service.EndpointSpec(org, "email", f"{user}@people.test", user=user),
            )
        yield made


def entitled(tlp: str, audience: dict[str, Any]) -> set[str]:
    """The endpoints that may receive the package: the TLP rules, restated per channel."""
    if tlp == "RED":
        return {f"person:{p}" for p in audience["people"]}
    orgs: set[str] = set()
    if audience["everyone"]:
        orgs |= set(SLUGS)
    orgs |= {s for s in SLUGS if set(ORGANISATIONS[s][1]) & set(audience["sectors"])}
    orgs |= set(audience["organisations"])
    if audience["affected"]:
        orgs |= EXPOSED
    orgs |= {USERS[p][0] for p in audience["people"]}
    return (
        {f"webhook:{o}" for o in orgs}
        | {f"mail:{o}" for o in orgs}
        | {f"person:{u}" for u in RECEIVERS if USERS[u][0] in orgs}
    )


@settings(max_examples=15, deadline=None, derandomize=True)
@given(tlp=st.sampled_from(TLPS), audience=audiences)
@example(
    tlp="RED",
    audience={
        "everyone": False,
        "sectors": [],
        "organisations": [],
        "affected": False,
        "people": ["bank-user", "power-user"],
    },
)
@example(
    tlp="AMBER+STRICT",
    audience={
        "everyone": False,
        "sectors": ["water"],
        "organisations": [],
        "affected": True,
        "people": ["vendor-psirt"],
    },
)
def test_no_channel_carries_a_package_to_anyone_not_entitled(
    world: World, tlp: str, audience: dict[str, Any]
) -> None:
    platform = world.platform
    try:
        package_id = publish(platform, tlp=tlp, audience=audience, title=f"leak {tlp}")
    except InvalidInput:
        assert not lawful(tlp, audience) or not any(audience.values())
        return
    drain(platform)
    with platform.db.transaction() as session:
        enqueue(session, NOTIFY_DIGEST, {}, f"{NOTIFY_DIGEST}@{package_id}")
    drain(platform)
    rows = {r.idempotency_key: r for r in deliveries(platform, package_id)}
    #: channel -> the idempotency keys it received (at-least-once: one key may come twice)
    received: dict[str, set[str]] = {}
    #: the webhooks that got it in a digest
    digested: set[str] = set()
    for body in list(world.receiver.effects.values()):
        for item in body.get("items", [body]):  # a digest's items, or the notification
            key = item["idempotency_key"]
            if item["package"]["id"] == package_id:
                name = world.names[rows[key].endpoint_id]
                received.setdefault(name, set()).add(key)
                if body["type"] == "sakimori.digest":
                    digested.add(name)
    marker = re.compile(rf"/v1/packages/{package_id}\b")
    for mail in list(world.mailbox.messages):
        if marker.search(mail.get_content()):
            key = mail["Sakimori-Idempotency-Key"].strip()
            name = world.names[rows[key].endpoint_id]
            address = mail["To"]
            expected_address = (
                f"{name.split(':')[1]}@people.test"
                if name.startswith("person:")
                else f"shared@{name.split(':')[1]}.test"
            )
            assert address == expected_address
            received.setdefault(name, set()).add(key)
    twice = {name for name, keys in received.items() if len(keys) > 1}
    assert not twice, f"these channels got the package as two deliveries: {twice}"
    assert set(received) == entitled(tlp, audience), (tlp, audience)
    # low priority: a webhook of an organisation that does not run Django waits for a digest
    assert digested == {
        name for name in received if name.startswith("webhook:") and name[8:] not in EXPOSED
    }
    assert {r.state for r in rows.values()} <= {"delivered"}
