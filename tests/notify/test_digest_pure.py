"""The pure parts of digests: the low-priority rule, the ceiling setting, the digest's
idempotency key, and its webhook body and e-mail."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from sakimori.errors import ConfigurationError
from sakimori.notify import digest, message
from sakimori.notify.settings import NotifySettings
from sakimori.packages.model import Content, Tlp
from tests.packages.conftest import content

MOMENT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tlp", "event", "reason", "exposed", "most", "held"),
    [
        (Tlp.GREEN, "published", "audience", False, Tlp.GREEN, True),
        (Tlp.CLEAR, "revised", "audience", False, Tlp.GREEN, True),
        (Tlp.GREEN, "published", "audience", True, Tlp.GREEN, False),  # runs the software
        (Tlp.GREEN, "published", "exposure", False, Tlp.GREEN, False),  # reached by exposure
        (Tlp.GREEN, "exposure", "audience", False, Tlp.GREEN, False),  # a new exposure
        (Tlp.AMBER, "published", "audience", False, Tlp.GREEN, False),  # above the ceiling
        (Tlp.AMBER, "published", "audience", False, Tlp.AMBER, True),
        (Tlp.AMBER_STRICT, "published", "audience", False, Tlp.AMBER, False),
        (Tlp.RED, "published", "audience", False, Tlp.AMBER_STRICT, False),  # never waits
    ],
)
def test_the_low_priority_rule(
    tlp: Tlp, event: str, reason: str, exposed: bool, most: Tlp, held: bool
) -> None:
    assert digest.low_priority(tlp, event=event, reason=reason, exposed=exposed, most=most) is held


def test_the_ceiling_and_period_settings() -> None:
    assert NotifySettings.load({}).digest_tlp is Tlp.GREEN
    assert NotifySettings.load({}).digest_minutes == 1440
    loaded = NotifySettings.load(
        {"SAKIMORI_NOTIFY_DIGEST_TLP": "tlp:amber", "SAKIMORI_NOTIFY_DIGEST_MINUTES": "60"}
    )
    assert (loaded.digest_tlp, loaded.digest_minutes) == (Tlp.AMBER, 60)
    with pytest.raises(ConfigurationError, match="cannot be RED"):
        NotifySettings.load({"SAKIMORI_NOTIFY_DIGEST_TLP": "RED"})
    with pytest.raises(ConfigurationError, match="'PINK' is not a TLP label"):
        NotifySettings.load({"SAKIMORI_NOTIFY_DIGEST_TLP": "PINK"})
    with pytest.raises(ConfigurationError, match="DIGEST_MINUTES"):
        NotifySettings.load({"SAKIMORI_NOTIFY_DIGEST_MINUTES": "0"})


def test_the_key_is_stable_per_endpoint_and_set_of_items() -> None:
    key = digest.idempotency_key(7, ["b" * 64, "a" * 64])
    assert key == digest.idempotency_key(7, ["a" * 64, "b" * 64])
    assert len(key) == 64
    assert key != digest.idempotency_key(8, ["a" * 64, "b" * 64])
    assert key != digest.idempotency_key(7, ["a" * 64])


def _notice(package_id: int, tlp: str, title: str) -> message.Notice:
    return message.Notice(
        package_id=package_id,
        revision=1,
        event="published",
        content=Content.from_dict(
            content(tlp=tlp, title=title, audience={"organisations": ["water-works"]})
        ),
        organisation="water-works",
        idempotency_key=message.idempotency_key(package_id, 1, 4, 9),
        link=f"https://sakimori.test/v1/packages/{package_id}",
    )


GATHERED = digest.Digest(
    "water-works",
    "d" * 64,
    (_notice(3, "CLEAR", "Django notice"), _notice(5, "GREEN", "Flask notice")),
)


def test_the_webhook_body_lists_every_item_without_audiences() -> None:
    body = orjson.loads(digest.webhook_body(GATHERED))
    assert body["type"] == "sakimori.digest"
    assert (body["idempotency_key"], body["organisation"], body["tlp"]) == (
        "d" * 64,
        "water-works",
        "GREEN",  # the most restricted label among the items
    )
    assert [i["package"]["id"] for i in body["items"]] == [3, 5]
    assert [i["idempotency_key"] for i in body["items"]] == [
        n.idempotency_key for n in GATHERED.items
    ]
    assert all("audience" not in i["package"] for i in body["items"])
    assert (
        body["items"][1]["package"]
        == orjson.loads(message.webhook_body(GATHERED.items[1]))["package"]
    )
    assert digest.webhook_body(GATHERED) == digest.webhook_body(GATHERED)  # same bytes
    with pytest.raises(ValueError, match="at least one"):
        digest.Digest("water-works", "d" * 64, ())


@pytest.mark.parametrize("language", ["ja", "en", None])
def test_the_email_in_each_language(language: str | None) -> None:
    mail = digest.email(
        GATHERED,
        language=language,
        sender="alerts@sakimori.test",
        to="it@water.test",
        moment=MOMENT,
    )
    subject = mail["Subject"]
    assert subject.startswith("[TLP:GREEN] ")
    assert ("対策パッケージのまとめ（2件）" in subject) is (language != "en")
    assert ("Digest of 2 counter-measure packages" in subject) is (language != "ja")
    assert mail["Message-ID"] == f"<{'d' * 64}@sakimori>"
    assert mail["Sakimori-Idempotency-Key"] == "d" * 64
    assert mail["Content-Language"] == language
    text = mail.get_content()
    assert text.startswith("TLP:GREEN — ")
    for package_id, title in ((3, "Django notice"), (5, "Flask notice")):
        assert text.count(f"https://sakimori.test/v1/packages/{package_id}") == (
            1 if language else 2
        )
        assert title in text
    assert "TLP:CLEAR — " in text  # each item keeps its own label
    assert ("影響を受ける製品" in text) is (language != "en")
    assert ("Affected products" in text) is (language != "ja")
    assert ("1/2  新しい対策パッケージ #3 r1" in text) is (language != "en")
    assert ("2/2  New counter-measure package #5 r1" in text) is (language != "ja")
