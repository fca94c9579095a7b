"""MyJVN API (JVN iPedia, IPA) client: the entries updated in a date window, then their details.

Protocol (HND, API version 3.2, XML; ``../shared/data/jvn/myjvn-np/docs/*_hnd.md``)::

    GET https://jvndb.jvn.jp/myjvn?method=getVulnOverviewList&feed=hnd&lang=ja
        &rangeDatePublic=n&rangeDatePublished=n&rangeDateFirstPublished=n
        &datePublishedStartY=2025&datePublishedStartM=04&datePublishedStartD=01
        &datePublishedEndY=2025&datePublishedEndM=04&datePublishedEndD=07
        &startItem=1&maxCountItem=50
    GET https://jvndb.jvn.jp/myjvn?method=getVulnDetailInfo&feed=hnd&lang=ja
        &vulnId=JVNDB-2025-002953+JVNDB-2025-002884

* ``getVulnOverviewList`` answers an RSS 1.0 list (``mod_sec`` 3.0). In HND the *last update*
  date filter is ``datePublished{Start,End}{Y,M,D}`` (最終更新日; ``datePublic*`` is the public
  disclosure date and ``dateFirstPublished*`` the registration date). The three ``rangeDate*``
  parameters default to ``w`` (past week) and must be ``n`` for the explicit dates to be the
  only filter. Dates are calendar days as JVN iPedia keeps them (JST, ``+09:00``), both ends
  included. Paging: ``startItem`` (1-based) and ``maxCountItem`` (1 to 50, the documented
  limit). ``status:Status`` ends the answer with ``totalRes`` (hits in all), ``totalResRet``
  (in this answer) and ``firstRes`` (the first one's position).
* ``getVulnDetailInfo`` answers VULDEF 3.2 documents; ``vulnId`` takes up to 10 ids (the
  documented ``maxCountItem`` limit) joined by a literal ``+``, as the documentation writes it.
* With no hit, MyJVN answers a ``Result`` document (``http://jvndb.jvn.jp/myjvn/Results``) that
  holds only ``status:Status``. An error is ``retCd="1"`` with ``errCd``/``errMsg``.

Request rate: the HND and OKA documentation (MyJVN/np, commit 7983685) states no request rate
or interval, only the per-request limits above. We therefore send at most one request per
``min_interval`` seconds (1 s by default, start to start, retries included) and retry a
connection error, a timeout, 429 and 50[0234] a few times with exponential backoff, honouring a
``Retry-After`` in seconds up to ``max_retry_after``.

Resume: every :class:`OverviewPage` carries a :class:`Checkpoint` (the window, the language, the
position of the next entry and ``totalRes``); ``to_dict``/``from_dict`` store it as JSON. Passing
it back continues with the entry after that page, so entries handled before it are not asked for
again. :meth:`MyJvnApi.sync` yields one :class:`SyncStep` per overview page, after the details of
its entries, so a step's checkpoint is safe to store once its records are stored.

MyJVN's order can shift while it is paged through if entries are updated meanwhile. When
``totalRes`` changes from page to page (or from the checkpoint), paging starts again from the
first entry (a few times at most): entries may then come twice, none is skipped. An entry
updated again *inside* the window keeps ``totalRes`` and may still move, so for a lossless sync
end the window on a day that is over in JST (yesterday) and start the next window on the day
after it; an entry updated again later is listed in that later window.

Failures are Sakimori errors with the URL: HTTP errors, unreachable server, a MyJVN error
document, an answer inconsistent with the request (``firstRes`` not the requested start, an empty
page while ``totalRes`` says more) → :class:`SourceUnavailable`; XML that is broken or carries a
DTD / entity declaration (refused by ``formats/limits.parse_xml``, never expanded) →
:class:`MalformedDocument`; an answer larger than ``max_response_bytes`` → :class:`LimitExceeded`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Final, Literal, TypeVar
from urllib.parse import quote, urlsplit
from xml.etree.ElementTree import Element

import httpx

from sakimori.errors import (
    ConfigurationError,
    InvalidInput,
    LimitExceeded,
    MalformedDocument,
    SourceUnavailable,
)
from sakimori.formats import jvn
from sakimori.formats.limits import parse_xml
from sakimori.model.jvn import JvnRecord

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://jvndb.jvn.jp/myjvn"
#: Documented upper limits of ``maxCountItem`` (overview) and of ids per detail request.
MAX_PAGE_SIZE: Final = 50
MAX_DETAIL_IDS: Final = 10

_STATUS: Final = "{http://jvndb.jvn.jp/myjvn/Status}Status"
_EMPTY_RESULT: Final = "{http://jvndb.jvn.jp/myjvn/Results}Result"
_JVNDB = re.compile(r"JVNDB-\d{4}-\d{6}")
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CHECKPOINT_SOURCE: Final = "myjvn-hnd-overview"
_HINT_LATER = "try again later; a sync resumes from its last stored checkpoint"

Language = Literal["ja", "en"]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where an overview sync stands: the next entry to ask for (1-based) in a date window."""

    updated_since: date
    updated_until: date
    lang: Language = "ja"
    next_item: int = 1
    #: ``totalRes`` MyJVN gave for the window; ``None`` before the first page.
    total: int | None = None

    @property
    def done(self) -> bool:
        return self.total is not None and self.next_item > self.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": _CHECKPOINT_SOURCE,
            "updated_since": self.updated_since.isoformat(),
            "updated_until": self.updated_until.isoformat(),
            "lang": self.lang,
            "next_item": self.next_item,
            "total": self.total,
        }

    @classmethod
    def from_dict(cls, value: object) -> Checkpoint:
        """Read what :meth:`to_dict` wrote; anything else raises :class:`InvalidInput`."""
        hint = "discard the stored checkpoint; the next sync then starts the window again"
        if not isinstance(value, Mapping) or value.get("source") != _CHECKPOINT_SOURCE:
            raise InvalidInput("not a MyJVN overview checkpoint", hint=hint)
        try:
            since = date.fromisoformat(_typed(value, "updated_since", str))
            until = date.fromisoformat(_typed(value, "updated_until", str))
        except ValueError as exc:
            raise InvalidInput(f"MyJVN checkpoint has a bad date: {exc}", hint=hint) from None
        lang = value.get("lang")
        next_item = _typed(value, "next_item", int)
        total = value.get("total")
        if lang not in ("ja", "en"):
            raise InvalidInput(f"MyJVN checkpoint has a bad lang {lang!r}", hint=hint)
        if total is not None and (type(total) is not int or total < 0):
            raise InvalidInput(f"MyJVN checkpoint has a bad total {total!r}", hint=hint)
        if next_item < 1 or since > until:
            raise InvalidInput("MyJVN checkpoint is inconsistent", hint=hint)
        return cls(since, until, lang, next_item, total)


@dataclass(frozen=True, slots=True)
class OverviewPage:
    """One ``getVulnOverviewList`` answer: its entries (RSS readings: id, title, last update in
    ``modified``…), their position, ``totalRes``, and the checkpoint to resume after them."""

    records: tuple[JvnRecord, ...]
    first_item: int
    total: int
    checkpoint: Checkpoint

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(record.id for record in self.records)


@dataclass(frozen=True, slots=True)
class DetailBatch:
    """One ``getVulnDetailInfo`` answer: the VULDEF records of ``requested``, in the order asked,
    and the requested ids MyJVN did not return (withdrawn or not yet published in detail)."""

    requested: tuple[str, ...]
    records: tuple[JvnRecord, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SyncStep:
    """An overview page with the details of its entries; store ``records``, then ``checkpoint``."""

    page: OverviewPage
    records: tuple[JvnRecord, ...]
    missing: tuple[str, ...]

    @property
    def checkpoint(self) -> Checkpoint:
        return self.page.checkpoint


class MyJvnApi:
    """A MyJVN HND client over a caller-owned ``httpx.Client``. Not thread-safe.

    ``clock`` (monotonic seconds) and ``sleep`` are injection points for the request interval
    and the retry backoff.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        base_url: str = DEFAULT_BASE_URL,
        lang: Language = "ja",
        page_size: int = MAX_PAGE_SIZE,
        min_interval: float = 1.0,
        retries: int = 3,
        backoff: float = 2.0,
        max_retry_after: float = 120.0,
        max_restarts: int = 2,
        max_response_bytes: int = 32 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ConfigurationError(
                "the MyJVN base URL must be http(s)://host/path with no query",
                where=base_url,
                hint=f"the upstream is {DEFAULT_BASE_URL}",
            )
        if lang not in ("ja", "en"):
            raise ConfigurationError(f"MyJVN language must be 'ja' or 'en', not {lang!r}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ConfigurationError(f"MyJVN page size must be 1 to {MAX_PAGE_SIZE}")
        numbers = (min_interval, retries, backoff, max_retry_after, max_restarts)
        if min(numbers) < 0 or max_response_bytes <= 0:
            raise ConfigurationError("MyJVN interval, retries, backoff and limits must be >= 0")
        self._client = client
        self.base_url = base_url
        self.lang: Language = lang
        self.page_size = page_size
        self.min_interval = min_interval
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.max_restarts = max_restarts
        self.max_response_bytes = max_response_bytes
        self._clock = clock
        self._sleep = sleep
        self._last_request: float | None = None

    # ----------------------------------------------------------------------------------------
    # Public API

    def overview(
        self, updated_since: date, updated_until: date, checkpoint: Checkpoint | None = None
    ) -> Iterator[OverviewPage]:
        """The entries last updated in ``[updated_since, updated_until]`` (JST days), page by
        page, from ``checkpoint`` if given (it must be for the same window and language)."""
        state = self._start(updated_since, updated_until, checkpoint)
        restarts = 0
        while not state.done:
            url = self._url(self._overview_params(state))
            records, first, total = self._overview_answer(url)
            if state.total is not None and total != state.total:
                if restarts >= self.max_restarts:
                    raise SourceUnavailable(
                        f"MyJVN's number of entries keeps changing ({state.total} then {total})",
                        where=url,
                        hint=_HINT_LATER,
                    )
                restarts += 1
                logger.warning(
                    "MyJVN now has %d entries in %s..%s, not %d; paging again from the first",
                    total,
                    state.updated_since,
                    state.updated_until,
                    state.total,
                )
                state = replace(state, next_item=1, total=None)
                continue
            if not records:
                if state.next_item <= total:  # a server that answers nothing must not loop
                    raise SourceUnavailable(
                        f"MyJVN answered no entries from {state.next_item}"
                        f" although it counts {total}",
                        where=url,
                        hint=_HINT_LATER,
                    )
                first = state.next_item  # nothing there: firstRes may be empty or 0
            elif first != state.next_item:
                raise SourceUnavailable(
                    f"MyJVN answered from entry {first}, not the {state.next_item} asked for",
                    where=url,
                    hint=_HINT_LATER,
                )
            state = replace(state, next_item=first + len(records), total=total)
            logger.info("MyJVN overview: entries %d-%d of %d", first, state.next_item - 1, total)
            yield OverviewPage(tuple(records), first, total, state)

    def details(self, ids: Sequence[str]) -> Iterator[DetailBatch]:
        """The VULDEF records of ``ids`` (duplicates asked once), 10 ids per request."""
        wanted = list(dict.fromkeys(ids))
        for identifier in wanted:
            if not isinstance(identifier, str) or not _JVNDB.fullmatch(identifier):
                raise InvalidInput(f"{str(identifier)[:80]!r} is not a JVNDB-YYYY-NNNNNN id")
        for start in range(0, len(wanted), MAX_DETAIL_IDS):
            yield self._detail_batch(tuple(wanted[start : start + MAX_DETAIL_IDS]))

    def sync(
        self, updated_since: date, updated_until: date, checkpoint: Checkpoint | None = None
    ) -> Iterator[SyncStep]:
        """For each overview page, the details of its entries; resumable from a checkpoint."""
        for page in self.overview(updated_since, updated_until, checkpoint):
            records: list[JvnRecord] = []
            missing: list[str] = []
            for batch in self.details(page.ids):
                records.extend(batch.records)
                missing.extend(batch.missing)
            yield SyncStep(page, tuple(records), tuple(missing))

    # ----------------------------------------------------------------------------------------
    # Requests

    def _start(self, since: date, until: date, checkpoint: Checkpoint | None) -> Checkpoint:
        if since > until:
            raise InvalidInput(f"the window starts ({since}) after it ends ({until})")
        if checkpoint is None:
            return Checkpoint(since, until, self.lang)
        if (checkpoint.updated_since, checkpoint.updated_until, checkpoint.lang) != (
            since,
            until,
            self.lang,
        ):
            raise InvalidInput(
                f"the checkpoint is for {checkpoint.updated_since}..{checkpoint.updated_until}"
                f" ({checkpoint.lang}), not {since}..{until} ({self.lang})",
                hint="resume with the window the checkpoint was made for",
            )
        return checkpoint

    def _overview_params(self, state: Checkpoint) -> list[tuple[str, str]]:
        since, until = state.updated_since, state.updated_until
        return [
            ("method", "getVulnOverviewList"),
            ("feed", "hnd"),
            ("lang", state.lang),
            ("rangeDatePublic", "n"),
            ("rangeDatePublished", "n"),
            ("rangeDateFirstPublished", "n"),
            ("datePublishedStartY", f"{since.year:04d}"),
            ("datePublishedStartM", f"{since.month:02d}"),
            ("datePublishedStartD", f"{since.day:02d}"),
            ("datePublishedEndY", f"{until.year:04d}"),
            ("datePublishedEndM", f"{until.month:02d}"),
            ("datePublishedEndD", f"{until.day:02d}"),
            ("startItem", str(state.next_item)),
            ("maxCountItem", str(self.page_size)),
        ]

    def _url(self, params: list[tuple[str, str]]) -> str:
        # "+" stays literal: it is MyJVN's separator of several vulnId values.
        query = "&".join(f"{name}={quote(value, safe='+')}" for name, value in params)
        return f"{self.base_url}?{query}"

    def _overview_answer(self, url: str) -> tuple[list[JvnRecord], int | None, int]:
        """The entries, ``firstRes`` (None if empty or absent) and ``totalRes`` of one page."""
        records, status = self._document(url)
        total = _count(status, "totalRes", url)
        if not records and not (status.get("firstRes") or "").strip():
            return records, None, total
        return records, _count(status, "firstRes", url), total

    def _detail_batch(self, ids: tuple[str, ...]) -> DetailBatch:
        params = [
            ("method", "getVulnDetailInfo"),
            ("feed", "hnd"),
            ("lang", self.lang),
            ("vulnId", "+".join(ids)),
        ]
        url = self._url(params)
        records, _status = self._document(url)
        found: dict[str, JvnRecord] = {}
        for record in records:
            if record.id not in ids:
                raise SourceUnavailable(
                    f"MyJVN answered {record.id}, which was not asked for",
                    where=url,
                    hint=_HINT_LATER,
                )
            found.setdefault(record.id, record)
        missing = tuple(i for i in ids if i not in found)
        if missing:
            logger.warning("MyJVN has no details for %s", ", ".join(missing))
        return DetailBatch(ids, tuple(found[i] for i in ids if i in found), missing)

    def _document(self, url: str) -> tuple[list[JvnRecord], Element]:
        """GET ``url`` and read it: the records and the ``status:Status`` element."""
        data = self._get(url)
        try:
            root = parse_xml(data)
            status = root.find(_STATUS)
            if status is None:
                raise MalformedDocument("MyJVN's answer has no status:Status element")
            if status.get("retCd", "").strip() not in ("0", ""):
                code, message = status.get("errCd", ""), status.get("errMsg", "")
                raise SourceUnavailable(
                    f"MyJVN answered with an error: {code} {message}".strip()[:300],
                    where=url,
                    hint="check the request parameters, or try again later",
                )
            records = [] if root.tag == _EMPTY_RESULT else jvn.parse(data)
        except InvalidInput as exc:
            exc.located(url)
            if not isinstance(exc, LimitExceeded):
                exc.hint = "MyJVN never sends this: check any proxy in between, or try later"
            raise
        return records, status

    def _get(self, url: str) -> bytes:
        attempts = self.retries + 1
        reason = ""
        for attempt in range(attempts):
            self._wait_turn()
            delay: float | None = None
            try:
                return self._attempt(url)
            except _Retry as retry:
                reason, delay = retry.reason, retry.delay
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
            except httpx.HTTPError as exc:
                raise SourceUnavailable(
                    f"cannot reach MyJVN: {type(exc).__name__}: {exc}".rstrip(": "),
                    where=url,
                    hint="check network access, proxy and TLS settings",
                ) from None
            if attempt + 1 == attempts:
                break
            wait = self.backoff * 2**attempt if delay is None else delay
            wait = max(0.0, min(wait, self.max_retry_after))
            logger.warning("MyJVN %s failed (%s); retry in %.1f s", url, reason, wait)
            self._sleep(wait)
        raise SourceUnavailable(
            f"MyJVN did not answer: {reason} (after {attempts} attempts)",
            where=url,
            hint=_HINT_LATER,
        )

    def _wait_turn(self) -> None:
        """Sleep until ``min_interval`` has passed since the previous request began."""
        if self._last_request is not None:
            wait = self._last_request + self.min_interval - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last_request = self._clock()

    def _attempt(self, url: str) -> bytes:
        with self._client.stream("GET", url) as response:
            code = response.status_code
            if code in _RETRY_STATUSES:
                raise _Retry(
                    f"HTTP {code} {response.reason_phrase}".rstrip(),
                    _retry_after(response.headers.get("Retry-After")),
                )
            if not response.is_success:
                raise SourceUnavailable(
                    f"MyJVN answered HTTP {code} {response.reason_phrase}".rstrip(),
                    where=url,
                    hint="check the MyJVN base URL and the request parameters",
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise LimitExceeded(
                        f"MyJVN's answer is larger than {self.max_response_bytes:,} bytes",
                        where=url,
                        hint="raise max_response_bytes if the answer is genuine",
                    )
                chunks.append(chunk)
        return b"".join(chunks)


class _Retry(Exception):
    """A transient HTTP status: try again after ``delay`` seconds (None: use the backoff)."""

    def __init__(self, reason: str, delay: float | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


def _retry_after(value: str | None) -> float | None:
    value = (value or "").strip()
    return float(value) if value.isdigit() else None


def _count(status: Element, name: str, url: str) -> int:
    text = (status.get(name) or "").strip()
    if not text.isdigit():
        raise MalformedDocument(
            f"MyJVN's status:Status has {name}={text[:40]!r}, not a number", where=url
        )
    return int(text)


def _typed(value: Mapping[Any, Any], key: str, kind: type[_T]) -> _T:
    item = value.get(key)
    if not isinstance(item, kind) or isinstance(item, bool):
        raise InvalidInput(
            f"MyJVN checkpoint field {key!r} is missing or not a {kind.__name__}",
            hint="discard the stored checkpoint; the next sync then starts the window again",
        )
    return item
