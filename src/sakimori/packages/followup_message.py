"""The e-mails of a package's follow-up (pure): acknowledgement reminders, escalations, report
reminders and overdue reports, in Japanese, English, or both (Japanese first) when the
endpoint's language is not known.

The subject and first line carry the TLP label, as TLP 2.0 asks. ``withheld``: the package's
title is left out (a TLP:RED package written to anyone but the people it names, e.g. the
coordinator's shared mailbox) — the number, the label, the organisation and the deadline are
enough to act on. The ``Message-ID`` derives from the idempotency key, so a mail system can
recognise a repeat.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Final
from zoneinfo import ZoneInfo

from sakimori.packages.model import Tlp

#: What a follow-up message is about.
ACK_REMINDER: Final = "ack_reminder"
ACK_ESCALATION: Final = "ack_escalation"
REPORT_REMINDER: Final = "report_reminder"
REPORT_ESCALATION: Final = "report_escalation"
WHATS: Final = (ACK_REMINDER, ACK_ESCALATION, REPORT_REMINDER, REPORT_ESCALATION)

JST: Final = ZoneInfo("Asia/Tokyo")

_SUBJECTS: Final[dict[str, tuple[str, str]]] = {
    ACK_REMINDER: ("受領確認のお願い", "Please acknowledge"),
    ACK_ESCALATION: ("エスカレーション: 受領確認がありません", "Escalation: not acknowledged"),
    REPORT_REMINDER: ("報告期限が近づいています", "Report due soon"),
    REPORT_ESCALATION: ("エスカレーション: 報告期限超過", "Escalation: report overdue"),
}

REPORT_NAMES: Final[dict[str, tuple[str, str]]] = {
    "early_warning": ("早期警告", "early warning"),
    "notification": ("インシデント通知", "notification"),
    "final": ("最終報告", "final report"),
}

_SHARING: Final[dict[Tlp, tuple[str, str]]] = {
    Tlp.CLEAR: ("公開に制限はありません。", "Disclosure is not limited."),
    Tlp.GREEN: ("コミュニティ内に限り共有できます。", "Share within the community only."),
    Tlp.AMBER: (
        "知る必要のある範囲で、自組織とその顧客に限り共有できます。",
        "Share with your organisation and its clients on a need-to-know basis.",
    ),
    Tlp.AMBER_STRICT: ("自組織内に限り共有できます。", "Share within your organisation only."),
    Tlp.RED: ("受信者個人限りです。", "For the named recipients only."),
}


@dataclass(frozen=True, slots=True)
class FollowUp:
    """One follow-up message to one address."""

    what: str
    package_id: int
    tlp: Tlp
    title: str
    organisation: str
    #: The acknowledgement deadline, or the report's due time.
    due_at: datetime
    #: The report kind (report messages only).
    report: str | None
    idempotency_key: str
    link: str
    #: Leave the title out (the address may not read the package).
    withheld: bool = False


def idempotency_key(
    what: str, package_id: int, organisation_id: int, endpoint_id: int, report: str | None = None
) -> str:
    """Stable for one (message kind, package, recipient, report, endpoint): each is sent once."""
    text = (
        f"sakimori/followup/v1|{what}|{package_id}|{organisation_id}|{report or ''}|{endpoint_id}"
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _time(moment: datetime) -> str:
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M JST")


def _japanese(f: FollowUp) -> str:
    title = "（件名は TLP:RED のため省略）" if f.withheld else f.title
    report = REPORT_NAMES[f.report][0] if f.report else ""
    lines = [
        f"TLP:{f.tlp.value} — {_SHARING[f.tlp][0]}",
        "",
        f"対策パッケージ #{f.package_id}: {title}",
    ]
    if f.what == ACK_REMINDER:
        lines += [
            f"{f.organisation} からの受領確認がまだありません。期限: {_time(f.due_at)}",
            "内容を確認し、受領確認をしてください。",
        ]
    elif f.what == ACK_ESCALATION:
        lines += [
            f"{f.organisation} は期限 {_time(f.due_at)} を過ぎ、督促後も受領確認をしていません。",
            "組織の管理者と調整機関にお知らせしています。",
        ]
    elif f.what == REPORT_REMINDER:
        lines += [f"{f.organisation} の{report}の提出期限: {_time(f.due_at)}"]
    else:
        lines += [
            f"{f.organisation} の{report}は期限 {_time(f.due_at)} を過ぎても提出されていません。",
            "組織の管理者と調整機関にお知らせしています。",
        ]
    return "\n".join([*lines, "", f"確認と提出: {f.link}", ""])


def _english(f: FollowUp) -> str:
    title = "(title withheld: TLP:RED)" if f.withheld else f.title
    report = REPORT_NAMES[f.report][1] if f.report else ""
    lines = [f"TLP:{f.tlp.value} — {_SHARING[f.tlp][1]}", "", f"Package #{f.package_id}: {title}"]
    if f.what == ACK_REMINDER:
        lines += [
            f"{f.organisation} has not acknowledged it yet. Deadline: {_time(f.due_at)}",
            "Please read it and acknowledge it.",
        ]
    elif f.what == ACK_ESCALATION:
        lines += [
            f"{f.organisation} has not acknowledged it by {_time(f.due_at)}, nor after a reminder.",
            "The organisation's administrators and the coordinator are told.",
        ]
    elif f.what == REPORT_REMINDER:
        lines += [f"The {report} of {f.organisation} is due {_time(f.due_at)}."]
    else:
        lines += [
            f"The {report} of {f.organisation} was due {_time(f.due_at)} and is not filed.",
            "The organisation's administrators and the coordinator are told.",
        ]
    return "\n".join([*lines, "", f"Read and file: {f.link}", ""])


def email(
    followup: FollowUp, *, language: str | None, sender: str, to: str, moment: datetime
) -> EmailMessage:
    """The e-mail for one address (``language``: ``ja``, ``en`` or None: both)."""
    ja, en = _SUBJECTS[followup.what]
    about = f"#{followup.package_id}" + ("" if followup.withheld else f": {followup.title}")
    head = f"[TLP:{followup.tlp.value}]"
    if language == "ja":
        subject, text = f"{head} {ja} {about}", _japanese(followup)
    elif language == "en":
        subject, text = f"{head} {en} {about}", _english(followup)
    else:
        subject = f"{head} {ja} / {en} {about}"
        text = _japanese(followup) + "\n" + "-" * 60 + "\n\n" + _english(followup)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(moment)
    message["Message-ID"] = f"<{followup.idempotency_key}@sakimori>"
    message["Auto-Submitted"] = "auto-generated"
    message["Sakimori-Idempotency-Key"] = followup.idempotency_key
    message["Sakimori-TLP"] = followup.tlp.value
    message["Sakimori-Follow-Up"] = followup.what
    if language in {"ja", "en"}:
        message["Content-Language"] = language
    message.set_content(text, charset="utf-8")
    return message
