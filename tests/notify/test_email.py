"""E-mail end to end against a real SMTP server on 127.0.0.1 (aiosmtpd), on SQLite and
PostgreSQL: one message per address, in the recipient's language, and a dead letter with the
reason when the server cannot be reached."""

from __future__ import annotations

import pytest

from sakimori.services import notifications as service
from tests.notify.conftest import deliveries, drain, principal, publish
from tests.notify.servers import free_port, smtp_server
from tests.packages.conftest import Platform


def _email(platform: Platform, org: str, address: str, **kw: object) -> int:
    view, secret = service.create_endpoint(
        platform.db,
        principal(platform, "kanri"),
        platform.key.secret,
        service.EndpointSpec(org, "email", address, **kw),  # type: ignore[arg-type]
    )
    assert secret is None
    return view.id


def test_each_address_gets_one_message_in_its_language(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_server() as mailbox:
        monkeypatch.setenv("SAKIMORI_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SAKIMORI_SMTP_PORT", str(mailbox.port))
        monkeypatch.setenv("SAKIMORI_SMTP_FROM", "alerts@sakimori.test")
        _email(platform, "city-bank", "soc@bank.test", language="ja")
        _email(platform, "river-power", "csirt@power.test", language="en")
        _email(platform, "water-works", "it@water.test")
        package_id = publish(platform, tlp="GREEN", audience={"everyone": True})
        drain(platform)
    rows = {r.endpoint_id: r for r in deliveries(platform, package_id)}
    assert {r.state for r in rows.values()} == {"delivered"}
    for address, language in (
        ("soc@bank.test", "ja"),
        ("csirt@power.test", "en"),
        ("it@water.test", None),
    ):
        [mail] = mailbox.to(address)
        assert mail["From"] == "alerts@sakimori.test"
        assert mail["Subject"].startswith("[TLP:GREEN] ")
        assert mail["Sakimori-TLP"] == "GREEN"
        key = mail["Sakimori-Idempotency-Key"].strip()  # long headers are folded
        assert mail["Message-ID"].strip() == f"<{key}@sakimori>"
        assert key in {r.idempotency_key for r in rows.values()}
        text = mail.get_content()
        assert text.startswith("TLP:GREEN")
        assert f"https://sakimori.test/v1/packages/{package_id}" in text
        assert ("影響を受ける製品" in text) is (language != "en")
        assert ("Affected products" in text) is (language != "ja")
    assert len(mailbox.messages) == 3


def test_an_unreachable_smtp_server_ends_in_the_dead_letter_list(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAKIMORI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SAKIMORI_SMTP_PORT", str(free_port()))  # nobody listens
    monkeypatch.setenv("SAKIMORI_NOTIFY_ATTEMPTS", "2")
    _email(platform, "city-bank", "soc@bank.test")
    package_id = publish(platform, tlp="AMBER", audience={"organisations": ["city-bank"]})
    drain(platform)
    [row] = deliveries(platform, package_id)
    assert row.state == "dead"
    assert row.attempts == 2
    assert row.last_error is not None
    assert "Connection" in row.last_error or "refused" in row.last_error
    [dead] = service.list_deliveries(platform.db, principal(platform, "bank-admin"))
    assert (dead.id, dead.kind, dead.state) == (row.id, "email", "dead")


def test_red_reaches_only_the_named_person_while_they_are_a_member(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sakimori.services import identity

    with smtp_server() as mailbox:
        monkeypatch.setenv("SAKIMORI_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SAKIMORI_SMTP_PORT", str(mailbox.port))
        shared = _email(platform, "city-bank", "soc@bank.test")
        admin = _email(platform, "city-bank", "admin@bank.test", user="bank-admin")
        person = _email(platform, "city-bank", "user@bank.test", user="bank-user")
        named = publish(platform, tlp="RED", audience={"people": ["bank-user", "bank-admin"]})
        identity.deactivate_user(platform.db, "bank-admin")  # leaves before the send
        drain(platform)
    rows = {r.endpoint_id: r for r in deliveries(platform, named)}
    assert shared not in rows  # a shared mailbox never gets RED
    assert rows[person].state == "delivered"
    assert rows[admin].state == "dropped"
    assert rows[admin].last_error == "bank-admin is no longer an active member"
    assert [m["To"] for m in mailbox.messages] == ["user@bank.test"]
    assert mailbox.messages[0]["Subject"].startswith("[TLP:RED] ")
