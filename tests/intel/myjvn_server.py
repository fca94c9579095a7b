"""A MyJVN stand-in on 127.0.0.1 that serves the real HND examples (moved here from
``test_myjvn_api.py`` so that the MyJVN client tests and the JVN sync tests share it).

The stand-in implements ``getVulnOverviewList`` (the last-update date window, the
``rangeDate*`` defaults of one week, ``startItem``/``maxCountItem`` paging) and
``getVulnDetailInfo`` (``vulnId`` joined by a literal ``+``, at most 10). Its answers are the
real example documents re-wrapped: the real ``<item>`` and ``<Vulinfo>`` bytes are kept as
they are; only the channel's item list and the ``status:Status`` numbers are written per
request. The overview also lists the seven real VULDEF entries, with an ``<item>`` built from
their own title and dates, so that a sync finds their details.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote

import httpx

from sakimori.intel.myjvn_api import MyJvnApi
from tests.conftest import require_data
from tests.intel.conftest import LocalServer, send

EXAMPLES = ("jvn", "myjvn-np", "examples", "hnd")
ALL_TIME = (date(2000, 1, 1), date(2030, 12, 31))
#: The stand-in's "today", for MyJVN's default window of one week (``rangeDate*=w``).
SERVER_TODAY = date(2026, 11, 30)
SUNSHINE = "JVNDB-2025-002953"
SUNSHINE_TITLE = (
    "WordPress 用 Sunshine Photo Cart における"
    "信頼できないデータのデシリアライゼーションに関する脆弱性"
)
AIRBAG = "JVNDB-2017-009608"
AIRBAG_TITLE = "エアバッグコントロールユニットにおける暗号アルゴリズムの使用に関する脆弱性"
STATUS_NS = b'xmlns:status="http://jvndb.jvn.jp/myjvn/Status"'


def example(name: str) -> bytes:
    return require_data(*EXAMPLES, name).read_bytes()


# --------------------------------------------------------------------------------------------
# The catalogue: real RSS items and real VULDEF records


@dataclass(frozen=True)
class Entry:
    id: str
    updated: date
    item: bytes  # an RSS <item> element


def _first(pattern: bytes, data: bytes) -> bytes:
    found = re.search(pattern, data, re.S)
    assert found is not None, pattern
    return found.group(1)


def _vuldef_records() -> dict[str, bytes]:
    records: dict[str, bytes] = {}
    sources = [
        "getVulnDetailInfo_hnd_JVNDB-2017-009608.xml",
        "getVulnDetailInfo_hnd_JVNDB-2018-009328.xml",
        "getVulnDetailInfo_hnd_JVNDB-2021-002774.xml",
        "getVulnDetailInfo_hnd_JVNDB-2022-000097.xml",
        "dataFeed_jvndb_detail_hnd.xml",
    ]
    for name in sources:
        for block in re.findall(rb"  <Vulinfo>.*?</Vulinfo>\n", example(name), re.S):
            records.setdefault(_first(rb"<VulinfoID>(.*?)</VulinfoID>", block).decode(), block)
    return records


def _item_for(identifier: str, vulinfo: bytes) -> Entry:
    """An overview <item> for a VULDEF record, from its own title and dates."""
    title = _first(rb"<VulinfoData>\s*<Title>(.*?)</Title>", vulinfo)
    updated = _first(rb"<DateLastUpdated>(.*?)</DateLastUpdated>", vulinfo)
    issued = _first(rb"<DateFirstPublished>(.*?)</DateFirstPublished>", vulinfo)
    link = f"https://jvndb.jvn.jp/ja/contents/{identifier[6:10]}/{identifier}.html".encode()
    item = b"".join(
        [
            b'  <item rdf:about="%s">\n    <title>%s</title>\n    <link>%s</link>\n'
            % (
                link,
                title,
                link,
            ),
            b"    <sec:identifier>%s</sec:identifier>\n" % identifier.encode(),
            b"    <dc:date>%s</dc:date>\n    <dcterms:issued>%s</dcterms:issued>\n"
            % (
                updated,
                issued,
            ),
            b"    <dcterms:modified>%s</dcterms:modified>\n  </item>\n" % updated,
        ]
    )
    return Entry(identifier, date.fromisoformat(updated[:10].decode()), item)


def _rss_entries() -> list[Entry]:
    entries = []
    # The RSS data feed's items are well-formed; only its status:Status is not (retCd= 0).
    for name in ("getVulnOverviewList_hnd.xml", "dataFeed_jvndb_rss_hnd.xml"):
        for block in re.findall(rb"  <item .*?</item>\n", example(name), re.S):
            identifier = _first(rb"<sec:identifier>(.*?)</sec:identifier>", block).decode()
            updated = _first(rb"<dcterms:modified>(.*?)</dcterms:modified>", block)
            entries.append(Entry(identifier, date.fromisoformat(updated[:10].decode()), block))
    return entries


VULDEF = _vuldef_records()
REAL_ITEMS = _rss_entries()
DETAIL_ITEMS = [_item_for(identifier, block) for identifier, block in VULDEF.items()]
EVERY_ITEM = REAL_ITEMS + DETAIL_ITEMS


def _status(method: str, total: int, returned: int, first: int, **extra: str) -> bytes:
    attributes = {
        "version": "3.3",
        "method": method,
        "lang": "ja",
        "retCd": "0",
        "retMax": "50" if method == "getVulnOverviewList" else "10",
        "errCd": "",
        "errMsg": "",
        "totalRes": str(total),
        "totalResRet": str(returned),
        "firstRes": str(first),
        "feed": "hnd",
        **extra,
    }
    text = " ".join(f'{name}="{value}"' for name, value in attributes.items())
    return f"  <status:Status {text} />\n".encode()


def result_document(status: bytes) -> bytes:
    """MyJVN's answer with no hit, or an error: a Result holding only status:Status."""
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Result version="3.3"'
        b' xmlns="http://jvndb.jvn.jp/myjvn/Results" %s>\n%s</Result>\n' % (STATUS_NS, status)
    )


def error_document(method: str, code: str, message: str) -> bytes:
    status = _status(method, 0, 0, 0, retCd="1", errCd=code, errMsg=message)
    return result_document(status)


_OVERVIEW = example("getVulnOverviewList_hnd.xml")
OVERVIEW_HEAD = _OVERVIEW[: _OVERVIEW.index(b"<rdf:Seq>") + len(b"<rdf:Seq>\n")]
OVERVIEW_CHANNEL_END = _OVERVIEW[
    _OVERVIEW.index(b"      </rdf:Seq>") : _OVERVIEW.index(b"  <item ")
]
_DETAIL = example("getVulnDetailInfo_hnd_JVNDB-2017-009608.xml")
DETAIL_HEAD = _DETAIL[: _DETAIL.index(b"  <Vulinfo>")]
DETAIL_HANDLING = _DETAIL[_DETAIL.index(b"  <sec:handling>") : _DETAIL.index(b"  <status:Status")]


def overview_document(items: list[Entry], total: int, first: int, **extra: str) -> bytes:
    links = b"".join(
        b'        <rdf:li rdf:resource="%s" />\n' % _first(rb'rdf:about="(.*?)"', e.item)
        for e in items
    )
    status = _status("getVulnOverviewList", total, len(items), first, **extra)
    body = b"".join(e.item for e in items)
    return OVERVIEW_HEAD + links + OVERVIEW_CHANNEL_END + body + status + b"</rdf:RDF>\n"


def detail_document(identifiers: list[str]) -> bytes:
    found = [identifier for identifier in identifiers if identifier in VULDEF]
    status = _status("getVulnDetailInfo", len(found), len(found), 1 if found else 0)
    if not found:
        return result_document(status)
    records = b"".join(VULDEF[identifier] for identifier in found)
    return DETAIL_HEAD + records + DETAIL_HANDLING + status + b"</VULDEF-Document>\n"


# --------------------------------------------------------------------------------------------
# The stand-in server

Override = Callable[[dict[str, str]], tuple[int, bytes, dict[str, str]] | None]


@dataclass
class MyJvn:
    """MyJVN on loopback: ``entries`` is its database; ``override`` may answer a request first."""

    server: LocalServer
    entries: list[Entry] = field(default_factory=lambda: list(EVERY_ITEM))
    override: Override | None = None
    #: Every request's parameters (decoded) and raw query, in arrival order.
    requests: list[dict[str, str]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url("/myjvn")

    def overview_requests(self) -> list[dict[str, str]]:
        return [r for r in self.requests if r.get("method") == "getVulnOverviewList"]

    def detail_requests(self) -> list[list[str]]:
        return [
            r["vulnId"].split("+") for r in self.requests if r.get("method") == "getVulnDetailInfo"
        ]

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        query = handler.path.partition("?")[2]
        self.raw.append(query)
        # Decoded as MyJVN documents it: "+" is a literal separator of vulnId values.
        pairs = (part.partition("=") for part in query.split("&") if part)
        params = {unquote(name): unquote(value) for name, _, value in pairs}
        self.requests.append(params)
        if self.override is not None:
            answer = self.override(params)
            if answer is not None:
                send(handler, answer[0], answer[1], answer[2])
                return
        if params.get("feed") != "hnd":
            body = error_document(params.get("method", ""), "feed", "feed パラメタが不正です")
        elif params.get("method") == "getVulnOverviewList":
            body = self._overview(params)
        elif params.get("method") == "getVulnDetailInfo":
            body = self._details(params)
        else:
            body = error_document("", "method", "method パラメタが不正です")
        send(handler, 200, body, {"Content-Type": "text/xml; charset=UTF-8"})

    def _window(self, params: dict[str, str]) -> tuple[date, date]:
        since, until = date.min, date.max
        if params.get("rangeDatePublished", "w") == "w":  # the one-week default
            since = date.fromordinal(SERVER_TODAY.toordinal() - 7)
        if "datePublishedStartY" in params:
            since = date(*(int(params[f"datePublishedStart{p}"]) for p in "YMD"))
        if "datePublishedEndY" in params:
            until = date(*(int(params[f"datePublishedEnd{p}"]) for p in "YMD"))
        for other in ("rangeDatePublic", "rangeDateFirstPublished"):
            if params.get(other, "w") == "w":
                since = max(since, date.fromordinal(SERVER_TODAY.toordinal() - 7))
        return since, until

    def _overview(self, params: dict[str, str]) -> bytes:
        start, count = int(params.get("startItem", "1")), int(params.get("maxCountItem", "50"))
        if not 1 <= count <= 50:
            return error_document("getVulnOverviewList", "maxCountItem", "上限値を超えています")
        since, until = self._window(params)
        hits = sorted(
            (e for e in self.entries if since <= e.updated <= until),
            key=lambda e: (e.updated, e.id),
            reverse=True,
        )
        if not hits:
            return result_document(_status("getVulnOverviewList", 0, 0, 0))
        return overview_document(hits[start - 1 : start - 1 + count], len(hits), start)

    def _details(self, params: dict[str, str]) -> bytes:
        identifiers = params.get("vulnId", "").split("+")
        if len(identifiers) > 10:
            return error_document(
                "getVulnDetailInfo", "vulnId", "vulnId の指定数が上限を超えています"
            )
        return detail_document(identifiers)


@dataclass
class FakeTime:
    """A monotonic clock that moves only when slept on or when a request takes time."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)
    #: Clock readings when each request left, and how long each answer takes.
    sent: list[float] = field(default_factory=list)
    latency: float = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def on_request(self, request: httpx.Request) -> None:
        self.sent.append(self.now)

    def on_response(self, response: httpx.Response) -> None:
        self.now += self.latency


def make_api(
    client: httpx.Client, myjvn: MyJvn, fake_time: FakeTime, **options: object
) -> MyJvnApi:
    settings: dict[str, object] = {"retries": 2, "backoff": 0.5, **options}
    return MyJvnApi(
        client,
        base_url=myjvn.url,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        **settings,  # type: ignore[arg-type]
    )
