"""Digests of low-priority notifications (pure): which notifications wait for one, the
digest's idempotency key, its webhook body and its e-mail.

**Low priority.** A notification of a package revision to an organisation is low priority when
the organisation received the package *only through the audience* — it does not run the
affected software: it was not reached through exposure, and none of its current inventories
holds an affected product — the notification is not itself about a new exposure, and the label
is at most the digest ceiling (``SAKIMORI_NOTIFY_DIGEST_TLP``, default GREEN; never RED, which
is for named people and always goes at once). An endpoint with ``digest`` on receives its
low-priority notifications gathered in one message per period instead of one by one; an
organisation that runs the affected software is never made to wait.

A digest carries a fixed set of notifications, chosen when it is made; its idempotency key
derives from them and the endpoint, so every attempt of it carries the same key, and each item
keeps the idempotency key of its own notification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Final

import orjson

from sakimori.errors import ConfigurationError, InvalidInput
from sakimori.notify import message
from sakimori.notify.filters import ORDER
from sakimori.notify.message import Notice
from sakimori.packages.model import Tlp

EVENT: Final = "digest"
#: Notifications carried by one digest at most (more held ones make several digests).
MAX_ITEMS: Final = 100


def ceiling(label: str | None) -> Tlp:
    """The most restricted label a digest may hold (a setting); RED never waits."""
    try:
        tlp = Tlp.GREEN if label is None else Tlp.parse(label)
    except InvalidInput:
        raise ConfigurationError(
            f"SAKIMORI_NOTIFY_DIGEST_TLP={label!r} is not a TLP label",
            hint="CLEAR, GREEN, AMBER or AMBER+STRICT",
        ) from None
    if tlp is Tlp.RED:
        raise ConfigurationError(
            "SAKIMORI_NOTIFY_DIGEST_TLP cannot be RED: TLP:RED always goes at once",
            hint="CLEAR, GREEN, AMBER or AMBER+STRICT",
        )
    return tlp


def low_priority(tlp: Tlp, *, event: str, reason: str, exposed: bool, most: Tlp) -> bool:
    """Whether a notification may wait for the endpoint's digest: the recipient received the
    package through the audience (``reason``), runs none of the affected software
    (``exposed``), the notification is not about a new exposure, and the label is not RED
    and at most ``most``."""
    return (
        event != "exposure"
        and reason == "audience"
        and not exposed
        and tlp is not Tlp.RED
        and ORDER.index(tlp) <= ORDER.index(most)
    )


def idempotency_key(endpoint_id: int, item_keys: Iterable[str]) -> str:
    """Stable for one endpoint and one set of notifications, whatever the attempt."""
    text = f"sakimori/notify/digest/v1|{endpoint_id}|{','.join(sorted(item_keys))}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Digest:
    organisation: str
    idempotency_key: str
    #: The notifications it carries, in the order they were queued.
    items: tuple[Notice, ...]

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError("a digest carries at least one notification")

    @property
    def tlp(self) -> Tlp:
        """The most restricted label among the items: the digest's own."""
        return max((n.content.tlp for n in self.items), key=ORDER.index)


def webhook_body(digest: Digest) -> bytes:
    """One JSON document listing the items, each as a single notification would carry it."""
    document: dict[str, Any] = {
        "type": "sakimori.digest",
        "event": EVENT,
        "idempotency_key": digest.idempotency_key,
        "organisation": digest.organisation,
        "tlp": digest.tlp.value,
        "items": [
            {
                "event": n.event,
                "idempotency_key": n.idempotency_key,
                "package": message.package_document(n),
            }
            for n in digest.items
        ],
    }
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


_INTRO: Final = (
    "低優先度の通知のまとめです。貴組織の現在の資産台帳には、影響を受ける製品が含まれていません。",
    "Low-priority notifications, gathered in one message: your organisation's current "
    "inventories hold none of the affected products.",
)


def email(
    digest: Digest, *, language: str | None, sender: str, to: str, moment: datetime
) -> EmailMessage:
    """The digest e-mail for one address (``language``: ``ja``, ``en`` or None: both)."""
    tlp, count = digest.tlp, len(digest.items)
    ja = f"対策パッケージのまとめ（{count}件）"
    en = f"Digest of {count} counter-measure package{'s' if count > 1 else ''}"
    subject = {"ja": ja, "en": en}.get(language or "", f"{ja} / {en}")
    return message.mail(
        f"[TLP:{tlp.value}] {subject}",
        message.both(digest, language, _japanese, _english),
        language=language,
        sender=sender,
        to=to,
        moment=moment,
        key=digest.idempotency_key,
        tlp=tlp,
    )


def _text(digest: Digest, index: int) -> str:
    rule = message.sharing(digest.tlp)[index]
    out = [f"TLP:{digest.tlp.value} — {rule}", "", _INTRO[index], ""]
    render = message.japanese if index == 0 else message.english
    for number, notice in enumerate(digest.items, 1):
        words = message.event_words(notice.event)[index]
        out += [
            "=" * 60,
            f"{number}/{len(digest.items)}  {words} #{notice.package_id} r{notice.revision}",
            "",
            render(notice),
        ]
    return "\n".join(out)


def _japanese(digest: Digest) -> str:
    return _text(digest, 0)


def _english(digest: Digest) -> str:
    return _text(digest, 1)
