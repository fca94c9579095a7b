"""The pure parts: signatures, the retry schedule, filters and the TLP rule, sealed secrets,
the idempotency key and the rendered messages."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sakimori.errors import ConfigurationError, InvalidInput
from sakimori.notify import backoff, message, sealing, webhook
from sakimori.notify.filters import Filters, entitled
from sakimori.notify.settings import NotifySettings
from sakimori.packages.model import Content, Receipt, Tlp
from tests.packages.conftest import content

BODY = b'{"type":"sakimori.package"}'


def test_a_signature_verifies_and_anything_changed_does_not() -> None:
    secret = webhook.new_secret()
    headers = webhook.headers(secret, 1_800_000_000, BODY, "k" * 64, "published")
    ts, sig = headers["Sakimori-Timestamp"], headers["Sakimori-Signature"]
    assert sig.startswith("v1=")
    assert headers["Idempotency-Key"] == "k" * 64
    assert webhook.verify(secret, ts, BODY, sig, now=1_800_000_010)
    assert webhook.verify(secret, ts, BODY, f"v1=00, {sig}", now=1_800_000_010)
    assert not webhook.verify(secret, ts, BODY + b" ", sig, now=1_800_000_010)
    assert not webhook.verify(webhook.new_secret(), ts, BODY, sig, now=1_800_000_010)
    assert not webhook.verify(secret, "1800000001", BODY, sig, now=1_800_000_010)
    assert not webhook.verify(secret, ts, BODY, sig, now=1_800_000_000 + 301)  # replayed late
    assert not webhook.verify(secret, "soon", BODY, sig, now=1_800_000_010)


@given(
    retry=st.integers(min_value=1, max_value=200),
    base=st.floats(min_value=0.001, max_value=100),
    factor=st.floats(min_value=1, max_value=1000),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_the_backoff_is_exponential_jittered_and_bounded(
    retry: int, base: float, factor: float, seed: int
) -> None:
    cap = base * factor
    wait = backoff.delay(retry, base, cap, random.Random(seed))
    step = min(cap, base * 2 ** (retry - 1))
    assert step / 2 <= wait <= step <= cap


def test_the_backoff_grows_then_stays_under_the_cap() -> None:
    rng = random.Random(7)
    waits = [backoff.delay(n, 1.0, 60.0, rng) for n in range(1, 12)]
    assert waits[0] <= 1.0
    assert waits[5] >= 16.0  # 2^5 / 2
    assert max(waits) <= 60.0
    assert len(set(waits)) == len(waits)  # jitter: no two the same
    with pytest.raises(ValueError, match="numbered"):
        backoff.delay(0, 1.0, 2.0)


def test_sealed_secrets_open_only_with_the_key_and_organisation() -> None:
    key = sealing.derive(b"s" * 32)
    sealed = sealing.seal(key, "whsec_abc", 7)
    assert b"whsec_abc" not in sealed
    assert sealing.unseal(key, sealed, 7) == "whsec_abc"
    assert sealing.seal(key, "whsec_abc", 7) != sealed  # fresh nonce
    with pytest.raises(ConfigurationError, match="does not open"):
        sealing.unseal(key, sealed, 8)
    with pytest.raises(ConfigurationError, match="does not open"):
        sealing.unseal(sealing.derive(b"t" * 32), sealed, 7)


def _content(**changes: object) -> Content:
    return Content.from_dict(content(**changes))


def test_filters_match_each_dimension() -> None:
    amber = _content(audience={"sectors": ["finance"]})
    assert Filters().matches(amber)
    assert Filters(sectors=("finance", "water")).matches(amber)
    assert not Filters(sectors=("water",)).matches(amber)
    assert Filters(vulnerabilities=("cve-2021-35042",)).matches(amber)
    assert not Filters(vulnerabilities=("CVE-2020-0001",)).matches(amber)
    assert Filters(purl_prefixes=("pkg:pypi/django",)).matches(amber)
    assert not Filters(purl_prefixes=("pkg:npm/",)).matches(amber)
    assert Filters(min_tlp=Tlp.GREEN, max_tlp=Tlp.AMBER).matches(amber)
    assert not Filters(min_tlp=Tlp.AMBER_STRICT).matches(amber)
    assert not Filters(max_tlp=Tlp.GREEN).matches(amber)
    with pytest.raises(InvalidInput, match="more restricted"):
        Filters(min_tlp=Tlp.RED, max_tlp=Tlp.GREEN)
    with pytest.raises(InvalidInput, match="purl prefix"):
        Filters(purl_prefixes=("django",))


@pytest.mark.parametrize("tlp", list(Tlp), ids=[t.value for t in Tlp])
def test_red_goes_only_to_personal_email_of_the_people_named(tlp: Tlp) -> None:
    named = Receipt(True, ("aiko",))
    org = Receipt(True, ())
    red = tlp is Tlp.RED
    assert entitled(tlp, kind="email", personal_user="aiko", receipt=named)
    assert entitled(tlp, kind="email", personal_user="ken", receipt=named) is not red
    assert entitled(tlp, kind="email", personal_user=None, receipt=org) is not red
    assert entitled(tlp, kind="webhook", personal_user=None, receipt=named) is not red
    assert not entitled(tlp, kind="webhook", personal_user=None, receipt=None)
    assert not entitled(tlp, kind="email", personal_user="aiko", receipt=Receipt(False, ("aiko",)))


def _notice(**changes: object) -> message.Notice:
    return message.Notice(
        package_id=12,
        revision=2,
        event="revised",
        content=_content(**changes),
        organisation="city-bank",
        idempotency_key=message.idempotency_key(12, 2, 3, 4),
        link="https://sakimori.test/v1/packages/12",
    )


def test_the_idempotency_key_is_stable_and_distinct() -> None:
    key = message.idempotency_key(12, 2, 3, 4)
    assert key == message.idempotency_key(12, 2, 3, 4)
    assert len(key) == 64
    others = {
        message.idempotency_key(*args)
        for args in ((13, 2, 3, 4), (12, 3, 3, 4), (12, 2, 4, 4), (12, 2, 3, 5))
    }
    assert key not in others
    assert len(others) == 4


def test_the_webhook_body_is_the_content_without_its_audience() -> None:
    body = message.webhook_body(_notice(audience={"organisations": ["city-bank", "river-power"]}))
    assert body == message.webhook_body(
        _notice(audience={"organisations": ["city-bank", "river-power"]})
    )
    parsed = orjson.loads(body)
    assert parsed["event"] == "revised"
    assert parsed["package"]["id"] == 12
    assert parsed["package"]["tlp"] == "AMBER"
    assert parsed["package"]["vulnerabilities"] == ["CVE-2021-35042"]
    assert "audience" not in parsed["package"]
    assert b"river-power" not in body


@pytest.mark.parametrize("language", ["ja", "en", None], ids=["ja", "en", "both"])
def test_the_email_speaks_the_recipients_language(language: str | None) -> None:
    notice = _notice()
    mail = message.email(
        notice,
        language=language,
        sender="sakimori@gov.example",
        to="soc@bank.example",
        moment=datetime(2026, 11, 30, tzinfo=UTC),
    )
    text = mail.get_content()
    subject = mail["Subject"]
    assert subject.startswith("[TLP:AMBER] ")
    assert text.startswith("TLP:AMBER — ")
    assert mail["Message-ID"] == f"<{notice.idempotency_key}@sakimori>"
    assert "https://sakimori.test/v1/packages/12" in text
    assert ("脆弱性" in text) is (language != "en")
    assert ("Vulnerabilities" in text) is (language != "ja")
    assert ("対策パッケージの改訂" in subject) is (language != "en")
    assert ("Counter-measure package revised" in subject) is (language != "ja")


def test_settings_refuse_nonsense() -> None:
    assert NotifySettings.load({}).attempts == 8
    loaded = NotifySettings.load({"SAKIMORI_SMTP_HOST": "mail", "SAKIMORI_SMTP_STARTTLS": "1"})
    assert loaded.smtp_host == "mail"
    assert loaded.smtp_starttls
    with pytest.raises(ConfigurationError, match="not a number"):
        NotifySettings.load({"SAKIMORI_NOTIFY_TIMEOUT": "soon"})
    with pytest.raises(ConfigurationError, match="BACKOFF"):
        NotifySettings.load({"SAKIMORI_NOTIFY_BACKOFF": "10", "SAKIMORI_NOTIFY_BACKOFF_CAP": "5"})
    assert NotifySettings.load({}).batch == 50
    assert NotifySettings.load({"SAKIMORI_NOTIFY_BATCH": "1"}).batch == 1
    with pytest.raises(ConfigurationError, match="BATCH"):
        NotifySettings.load({"SAKIMORI_NOTIFY_BATCH": "0"})
