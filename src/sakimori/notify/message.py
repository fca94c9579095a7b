"""What a notification says (pure): the idempotency key, the webhook body and the e-mail.

A :class:`Notice` is one package revision for one recipient organisation. The webhook body is
JSON holding the revision's content without its audience (who else receives a package is not
the recipient's business); it is the same bytes on every attempt. The e-mail is plain text in
Japanese, English, or both (Japanese first) when the recipient's language is not known; its
subject and first line carry the TLP label, as TLP 2.0 asks, and its ``Message-ID`` derives
from the idempotency key so a mail system can recognise a repeat.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Final

import orjson

from sakimori.packages.model import Content, Tlp

EVENTS: Final = ("published", "revised", "exposure")

_SHARING: Final[dict[Tlp, tuple[str, str]]] = {
    Tlp.CLEAR: ("公開に制限はありません。", "Disclosure is not limited."),
    Tlp.GREEN: (
        "コミュニティ内で共有できますが、公開はできません。",
        "You may share it within your community, but not publicly.",
    ),
    Tlp.AMBER: (
        "知る必要のある範囲で、自組織とその顧客に限り共有できます。",
        "You may share it with your organisation and its clients on a need-to-know basis.",
    ),
    Tlp.AMBER_STRICT: (
        "自組織内に限り共有できます。",
        "You may share it only within your organisation.",
    ),
    Tlp.RED: (
        "受信者個人限りです。これ以上開示しないでください。",
        "For your eyes only: do not disclose it any further.",
    ),
}

_EVENT_WORDS: Final[dict[str, tuple[str, str]]] = {
    "published": ("新しい対策パッケージ", "New counter-measure package"),
    "revised": ("対策パッケージの改訂", "Counter-measure package revised"),
    "exposure": (
        "該当する対策パッケージ（新たに影響を受けています）",
        "Counter-measure package (you are now affected)",
    ),
}


@dataclass(frozen=True, slots=True)
class Notice:
    package_id: int
    revision: int
    #: published | revised | exposure
    event: str
    content: Content
    organisation: str
    idempotency_key: str
    #: Where the recipient reads and acknowledges it (the API: there is no package page yet).
    link: str


def idempotency_key(package_id: int, revision: int, organisation_id: int, endpoint_id: int) -> str:
    """Stable for one (package revision, recipient, endpoint), whatever the attempt."""
    text = f"sakimori/notify/v1|{package_id}|{revision}|{organisation_id}|{endpoint_id}"
    return hashlib.sha256(text.encode()).hexdigest()


def package_document(notice: Notice) -> dict[str, Any]:
    """The revision as a webhook carries it: its content without the audience."""
    content = notice.content.to_dict()
    content.pop("audience", None)
    return {"id": notice.package_id, "revision": notice.revision, "url": notice.link, **content}


def webhook_body(notice: Notice) -> bytes:
    document: dict[str, Any] = {
        "type": "sakimori.package",
        "event": notice.event,
        "idempotency_key": notice.idempotency_key,
        "organisation": notice.organisation,
        "package": package_document(notice),
    }
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def email(
    notice: Notice, *, language: str | None, sender: str, to: str, moment: datetime
) -> EmailMessage:
    """The e-mail for one recipient address (``language``: ``ja``, ``en`` or None: both)."""
    tlp = notice.content.tlp
    ja, en = _EVENT_WORDS[notice.event]
    number = f"#{notice.package_id} r{notice.revision}"
    if language == "ja":
        subject = f"[TLP:{tlp.value}] {ja} {number}: {notice.content.title}"
    elif language == "en":
        subject = f"[TLP:{tlp.value}] {en} {number}: {notice.content.title}"
    else:
        subject = f"[TLP:{tlp.value}] {ja} / {en} {number}: {notice.content.title}"
    text = both(notice, language, japanese, english)
    return mail(
        subject,
        text,
        language=language,
        sender=sender,
        to=to,
        moment=moment,
        key=notice.idempotency_key,
        tlp=tlp,
    )


def both(
    item: Any, language: str | None, ja: Callable[[Any], str], en: Callable[[Any], str]
) -> str:
    """The text of ``item`` in ``language``, or in Japanese and then English."""
    if language == "ja":
        return ja(item)
    if language == "en":
        return en(item)
    return ja(item) + "\n" + "-" * 60 + "\n\n" + en(item)


def mail(
    subject: str,
    text: str,
    *,
    language: str | None,
    sender: str,
    to: str,
    moment: datetime,
    key: str,
    tlp: Tlp,
) -> EmailMessage:
    """A notification e-mail: plain UTF-8 text, its ``Message-ID`` derived from ``key``."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(moment)
    message["Message-ID"] = f"<{key}@sakimori>"
    message["Auto-Submitted"] = "auto-generated"
    message["Sakimori-Idempotency-Key"] = key
    message["Sakimori-TLP"] = tlp.value
    message.set_content(text, charset="utf-8")  # it clears the Content-* headers: first
    if language in {"ja", "en"}:
        message["Content-Language"] = language
    return message


def sharing(tlp: Tlp) -> tuple[str, str]:
    """The label's sharing rule, in Japanese and English."""
    return _SHARING[tlp]


def event_words(event: str) -> tuple[str, str]:
    return _EVENT_WORDS[event]


def _lines(notice: Notice, labels: dict[str, str], sharing: str) -> str:
    c = notice.content
    out = [f"TLP:{c.tlp.value} — {sharing}", "", c.title, ""]
    if c.summary:
        out += [c.summary.strip(), ""]
    if c.vulnerabilities:
        out += [f"{labels['vulnerabilities']}: {', '.join(c.vulnerabilities)}"]
    if c.products:
        out += [f"{labels['products']}:"] + [f"  - {p.label}" for p in c.products]
    if c.deadlines:
        out += [f"{labels['deadlines']}:"] + [
            f"  - {d.due.isoformat()}" + (f" ({d.vulnerability})" if d.vulnerability else "")
            for d in c.deadlines
        ]
    if c.mitigations:
        out += [f"{labels['mitigations']}:"] + [
            f"  - [{m.category}] {m.details.strip()}" for m in c.mitigations
        ]
    out += ["", f"{labels['read']}: {notice.link}", ""]
    return "\n".join(out)


def japanese(notice: Notice) -> str:
    labels = {
        "vulnerabilities": "脆弱性",
        "products": "影響を受ける製品",
        "deadlines": "対応期限",
        "mitigations": "対策",
        "read": "詳細の確認と受領確認",
    }
    return _lines(notice, labels, _SHARING[notice.content.tlp][0])


def english(notice: Notice) -> str:
    labels = {
        "vulnerabilities": "Vulnerabilities",
        "products": "Affected products",
        "deadlines": "Deadlines",
        "mitigations": "Mitigations",
        "read": "Read and acknowledge",
    }
    return _lines(notice, labels, _SHARING[notice.content.tlp][1])
