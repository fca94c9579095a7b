"""Incremental sync client for NVD's CVE API 2.0 (pure fetching; the caller stores the records).

Protocol (https://nvd.nist.gov/developers/vulnerabilities)::

    GET https://services.nvd.nist.gov/rest/json/cves/2.0
        ?lastModStartDate=2024-01-01T00:00:00.000+00:00&lastModEndDate=2024-04-30T00:00:00.000+00:00
        &startIndex=0&resultsPerPage=2000
    apiKey: <key>                          (optional request header, never in the URL)

    {"resultsPerPage": 2000, "startIndex": 0, "totalResults": 5123, "format": "NVD_CVE",
     "version": "2.0", "timestamp": "...", "vulnerabilities": [{"cve": {"id": "CVE-…", …}}, …]}

Limits NVD sets, and how they are kept here:

* ``lastModStartDate`` and ``lastModEndDate`` go together and may span at most 120 consecutive
  days: :func:`plan_windows` cuts ``[since, until]`` into windows of at most 120 days. Both ends
  of a window are inclusive, at NVD's millisecond precision, so the next window starts one
  millisecond after the previous one ends: no record falls between two windows or into both.
* ``resultsPerPage`` is at most 2,000; pages are requested at ``startIndex`` 0, n, 2n… until
  ``totalResults`` is reached.
* Rate: 5 requests in a rolling 30-second window without an API key, 50 with one. Every request,
  retries included, first waits for :class:`RateLimiter`. The default limiters count a slightly
  longer window (32 s), so that requests we send 30 s apart are not seen closer together by NVD.
* 403, 429 and 503 (and 500, 502, 504, and connection failures) mean "slow down" or "try later":
  the request is retried a bounded number of times with exponential backoff (``Retry-After`` in
  seconds is honoured, up to ``max_backoff``), then :class:`~sakimori.errors.SourceUnavailable`
  is raised, which the job runner treats as transient. Other 4xx answers (NVD sends 404 with a
  ``message`` header for an invalid parameter or an invalid API key) are not retried:
  :class:`~sakimori.errors.ConfigurationError`. A body that is not a valid CVE API 2.0 envelope
  is :class:`~sakimori.errors.MalformedDocument`; a body over ``Limits.max_bytes`` is
  :class:`~sakimori.errors.LimitExceeded`. Messages name the URL (which never holds the key) and
  never the key.

Resume semantics: :meth:`NvdApi.pages` yields one :class:`Page` per request. ``Page.checkpoint``
is where to resume *after* that page's records are stored (``None`` once the whole range is
done). Store the records and the checkpoint in one transaction; after a failure, call
``pages(since, until, checkpoint)`` with the last stored checkpoint and the sync continues at
exactly that window and ``startIndex``. Records can still arrive more than once (see below), so
storage must upsert by CVE id.

If ``totalResults`` of a window changes between two of its pages, a record was modified (it
left the window, whose end is in the past) or NVD reindexed; the offsets of the records after
it have shifted, so continuing could skip one. The window is then requested again from
``startIndex`` 0 (records already yielded come again; none is lost), at most
``max_restarts`` times per window before :class:`~sakimori.errors.SourceUnavailable`. The
window's total is kept in the checkpoint so that a change across a resume is seen too. A page
with no records while ``totalResults`` says there are more is refused rather than asked again
for ever.

An incremental sync uses the previous ``until`` as the next ``since`` (a record modified exactly
at that millisecond comes twice; upserting makes that harmless). ``until`` should not be in the
future; NVD asks that syncs run at most once every two hours.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sakimori.errors import (
    ConfigurationError,
    InvalidInput,
    LimitExceeded,
    MalformedDocument,
    SakimoriError,
    SourceUnavailable,
)
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, load_json
from sakimori.intel.fetch import describe_error, display_url

logger = logging.getLogger(__name__)

NVD_CVE_API = "https://services.nvd.nist.gov/rest/json/cves/2.0"
#: Longest lastModStartDate..lastModEndDate range NVD accepts.
MAX_WINDOW = timedelta(days=120)
#: Largest resultsPerPage NVD accepts for CVEs.
MAX_RESULTS_PER_PAGE = 2000

_TICK = timedelta(milliseconds=1)  # NVD's timestamp precision
_RETRY_STATUSES = frozenset({403, 429, 500, 502, 503, 504})
_CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")
_ENVELOPE_HINT = "NVD answered with something other than a CVE API 2.0 page; retry later"
_UNAVAILABLE_HINT = "NVD may be overloaded or down; the sync resumes from its last checkpoint"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where a sync resumes: the window ``[window_start, window_end]`` at ``next_index``.

    ``sync_until`` is the end of the whole sync; ``window_total`` the ``totalResults`` NVD gave
    for this window (None before its first page), to notice a change across a resume.
    """

    window_start: datetime
    window_end: datetime
    next_index: int
    sync_until: datetime
    window_total: int | None = None

    def __post_init__(self) -> None:
        for name in ("window_start", "window_end", "sync_until"):
            object.__setattr__(self, name, _utc_ms(getattr(self, name), name))
        index, total = self.next_index, self.window_total
        if type(index) is not int or index < 0:
            raise InvalidInput(f"checkpoint next_index {index!r} is not an integer >= 0")
        if total is not None and (type(total) is not int or total < index):
            raise InvalidInput(f"checkpoint window_total {total!r} is not an integer >= next_index")
        if not self.window_start <= self.window_end <= self.sync_until:
            raise InvalidInput("checkpoint dates are not in order (start <= end <= sync_until)")
        if self.window_end - self.window_start > MAX_WINDOW:
            raise InvalidInput("checkpoint window is longer than NVD's 120 days")

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form, for storing in the database."""
        return {
            "window_start": _format(self.window_start),
            "window_end": _format(self.window_end),
            "next_index": self.next_index,
            "sync_until": _format(self.sync_until),
            "window_total": self.window_total,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Checkpoint:
        """The inverse of :meth:`to_dict`; InvalidInput (MalformedDocument) on bad data."""
        try:
            if not isinstance(data, Mapping):
                raise InvalidInput("a checkpoint must be a JSON object")
            missing = {"window_start", "window_end", "next_index", "sync_until"} - data.keys()
            if missing:
                raise InvalidInput(f"checkpoint lacks {', '.join(sorted(missing))}")
            return cls(
                window_start=_parse_datetime(data["window_start"], "window_start"),
                window_end=_parse_datetime(data["window_end"], "window_end"),
                next_index=data["next_index"],
                sync_until=_parse_datetime(data["sync_until"], "sync_until"),
                window_total=data.get("window_total"),
            )
        except InvalidInput as exc:
            raise MalformedDocument(
                f"not a valid NVD sync checkpoint: {exc.message}",
                hint="start the sync again from its last completed 'since'",
            ) from None


@dataclass(frozen=True, slots=True)
class Page:
    """One response: its raw ``cve`` objects, the window's ``totalResults``, and where to resume
    after storing it (None once the whole range is done)."""

    records: list[dict[str, Any]]
    total: int
    checkpoint: Checkpoint | None


def plan_windows(
    since: datetime, until: datetime, *, max_window: timedelta = MAX_WINDOW
) -> list[tuple[datetime, datetime]]:
    """Consecutive inclusive windows of at most ``max_window`` covering ``[since, until]``.

    Times are taken to UTC and to the millisecond (NVD's precision, floored); each window
    starts one millisecond after the previous one ends. ``since == until`` gives one window.
    """
    since, until = _utc_ms(since, "since"), _utc_ms(until, "until")
    if since > until:
        raise InvalidInput(f"the sync starts ({_format(since)}) after it ends ({_format(until)})")
    if not _TICK <= max_window <= MAX_WINDOW:
        raise ConfigurationError("an NVD window must be between 1 ms and 120 days long")
    windows = []
    start = since
    while True:
        end = min(start + max_window, until)
        windows.append((start, end))
        if end == until:
            return windows
        start = end + _TICK


class RateLimiter:
    """At most ``max_requests`` acquisitions in any rolling ``period`` seconds of ``clock``.

    :meth:`acquire` sleeps (with ``sleep``) until one more request fits. Not thread-safe: one
    limiter per sync (NVD counts per API key or per address, so run one sync at a time).
    """

    def __init__(
        self,
        max_requests: int,
        period: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_requests < 1 or period <= 0:
            raise ConfigurationError("a rate limit needs at least 1 request in a positive period")
        self.max_requests = max_requests
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._recent: deque[float] = deque()

    @classmethod
    def for_nvd(
        cls,
        *,
        with_key: bool,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> RateLimiter:
        """NVD's published limit (50 or 5 per 30 s), counted over 32 s as a safety margin."""
        return cls(50 if with_key else 5, 32.0, clock=clock, sleep=sleep)

    def acquire(self) -> None:
        while True:
            now = self._clock()
            while self._recent and now - self._recent[0] >= self.period:
                self._recent.popleft()
            if len(self._recent) < self.max_requests:
                self._recent.append(now)
                return
            self._sleep(self.period - (now - self._recent[0]))


def parse_envelope(
    data: bytes,
    *,
    start_index: int,
    page_size: int = MAX_RESULTS_PER_PAGE,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[list[dict[str, Any]], int]:
    """Validate one CVE API 2.0 response body; returns its ``cve`` objects and totalResults.

    Refused (MalformedDocument): not JSON or not an object, a missing or mistyped envelope key,
    ``format``/``version`` other than NVD_CVE/2.0, a ``startIndex`` other than the one asked
    for, more records than ``page_size`` or than ``totalResults`` leaves room for, an item
    without a ``cve`` object whose ``id`` is a CVE id.
    """
    document = load_json(data, limits)
    if not isinstance(document, dict):
        raise MalformedDocument("the response is not a JSON object")
    for key in ("resultsPerPage", "startIndex", "totalResults"):
        value = document.get(key)
        if type(value) is not int or value < 0:
            raise MalformedDocument(f"{key} is {value!r}, not an integer >= 0")
    for key, expected in (("format", "NVD_CVE"), ("version", "2.0")):
        if document.get(key) != expected:
            raise MalformedDocument(f"{key} is {document.get(key)!r}, not {expected!r}")
    if not isinstance(document.get("timestamp"), str):
        raise MalformedDocument("timestamp is missing or not a string")
    items = document.get("vulnerabilities")
    if not isinstance(items, list):
        raise MalformedDocument("vulnerabilities is missing or not a list")
    if document["startIndex"] != start_index:
        raise MalformedDocument(
            f"startIndex is {document['startIndex']}, but page {start_index} was asked for"
        )
    total: int = document["totalResults"]
    if len(items) > page_size or start_index + len(items) > total:
        raise MalformedDocument(
            f"{len(items)} records at startIndex {start_index} do not fit "
            f"resultsPerPage {page_size} and totalResults {total}"
        )
    records: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        cve = item.get("cve") if isinstance(item, dict) else None
        if not isinstance(cve, dict):
            raise MalformedDocument(f"vulnerabilities[{index}] has no cve object")
        cve_id = cve.get("id")
        if not isinstance(cve_id, str) or not _CVE_ID.fullmatch(cve_id):
            raise MalformedDocument(f"vulnerabilities[{index}].cve.id {cve_id!r} is not a CVE id")
        records.append(cve)
    return records, total


class NvdApi:
    """Pages through the CVE API 2.0 by lastModified; see the module docstring.

    ``client`` is owned by the caller (its timeouts, proxy and TLS settings apply). ``sleep``
    serves the backoff and, with ``clock``, the default limiter.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        base_url: str = NVD_CVE_API,
        api_key: str | None = None,
        results_per_page: int = MAX_RESULTS_PER_PAGE,
        limiter: RateLimiter | None = None,
        retries: int = 5,
        backoff: float = 6.0,
        max_backoff: float = 120.0,
        max_restarts: int = 3,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 1 <= results_per_page <= MAX_RESULTS_PER_PAGE:
            raise ConfigurationError(f"resultsPerPage must be 1 to {MAX_RESULTS_PER_PAGE}")
        if retries < 0 or backoff < 0 or max_backoff < 0 or max_restarts < 0:
            raise ConfigurationError("NVD retries, backoff and restarts must not be < 0")
        if api_key is not None and not api_key.strip():
            raise ConfigurationError("the NVD API key is empty", hint="unset it or set a key")
        self._client = client
        self.base_url = base_url
        self._api_key = api_key
        self.results_per_page = results_per_page
        self._limiter = limiter or RateLimiter.for_nvd(
            with_key=api_key is not None, clock=clock, sleep=sleep
        )
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_restarts = max_restarts
        self._limits = limits
        self._sleep = sleep

    def __repr__(self) -> str:  # no key in reprs, tracebacks or logs
        key = "set" if self._api_key else "none"
        return f"NvdApi(base_url={display_url(self.base_url)!r}, api_key={key})"

    def pages(
        self, since: datetime, until: datetime, checkpoint: Checkpoint | None = None
    ) -> Iterator[Page]:
        """Every record modified in ``[since, until]``, one :class:`Page` per request.

        With ``checkpoint`` (a ``Page.checkpoint`` of an earlier call with the same range), the
        sync continues exactly there.
        """
        windows = plan_windows(since, until)
        index, expected = 0, None
        if checkpoint is not None:
            windows = self._resume_plan(windows, checkpoint)
            index, expected = checkpoint.next_index, checkpoint.window_total
        sync_until = windows[-1][1]
        for number, (start, end) in enumerate(windows):
            restarts = 0
            while True:
                records, total = self._page(start, end, index)
                if expected is not None and total != expected:
                    restarts += 1
                    if restarts > self.max_restarts:
                        raise SourceUnavailable(
                            f"NVD's totalResults for {_format(start)}..{_format(end)} changed "
                            f"{restarts} times during the sync",
                            where=display_url(self.base_url),
                            hint="NVD is being updated; run the sync again later",
                        )
                    logger.warning(
                        "NVD totalResults for %s..%s changed from %d to %d; "
                        "requesting the window again from the start",
                        _format(start),
                        _format(end),
                        expected,
                        total,
                    )
                    index, expected = 0, None
                    continue
                following = index + len(records)
                if following < total and not records:
                    raise SourceUnavailable(
                        f"NVD returned no records at startIndex {index} although totalResults "
                        f"is {total}",
                        where=self._url(start, end, index),
                        hint=_UNAVAILABLE_HINT,
                    )
                if following < total:
                    after: Checkpoint | None = Checkpoint(start, end, following, sync_until, total)
                elif number + 1 < len(windows):
                    after = Checkpoint(*windows[number + 1], 0, sync_until)
                else:
                    after = None
                yield Page(records, total, after)
                if following >= total:
                    break
                index, expected = following, total
            index, expected = 0, None

    def _resume_plan(
        self, windows: list[tuple[datetime, datetime]], checkpoint: Checkpoint
    ) -> list[tuple[datetime, datetime]]:
        since, until = windows[0][0], windows[-1][1]
        if checkpoint.sync_until != until or not since <= checkpoint.window_start:
            raise InvalidInput(
                f"the checkpoint belongs to a sync until {_format(checkpoint.sync_until)}, not "
                f"to {_format(since)}..{_format(until)}",
                hint="resume with the range the checkpoint was made for",
            )
        rest = checkpoint.window_end + _TICK
        later = plan_windows(rest, until) if rest <= until else []
        return [(checkpoint.window_start, checkpoint.window_end), *later]

    def _params(self, start: datetime, end: datetime, index: int) -> dict[str, str | int]:
        return {
            "lastModStartDate": _format(start),
            "lastModEndDate": _format(end),
            "startIndex": index,
            "resultsPerPage": self.results_per_page,
        }

    def _url(self, start: datetime, end: datetime, index: int) -> str:
        """The request URL for messages and logs: the key is a header, so it is never here."""
        return display_url(str(httpx.URL(self.base_url, params=self._params(start, end, index))))

    def _page(self, start: datetime, end: datetime, index: int) -> tuple[list[dict[str, Any]], int]:
        url = self._url(start, end, index)
        body = self._get(self._params(start, end, index), url)
        try:
            return parse_envelope(
                body, start_index=index, page_size=self.results_per_page, limits=self._limits
            )
        except InvalidInput as exc:
            if exc.hint is None and isinstance(exc, MalformedDocument):
                exc.hint = _ENVELOPE_HINT
            raise exc.located(url) from None

    def _get(self, params: dict[str, str | int], url: str) -> bytes:
        headers = {"Accept": "application/json"}
        if self._api_key is not None:
            headers["apiKey"] = self._api_key
        attempts = self.retries + 1
        reason = ""
        for attempt in range(attempts):
            self._limiter.acquire()
            delay: float | None = None
            try:
                with self._client.stream(
                    "GET", self.base_url, params=params, headers=headers
                ) as response:
                    code = response.status_code
                    if code == 200:
                        return self._read(response, url)
                    status = f"HTTP {code} {response.reason_phrase}".rstrip()
                    message = self._redact(response.headers.get("message", ""))
                    if message:
                        status = f"{status}: {message}"
                    if code not in _RETRY_STATUSES:
                        raise self._refused(code, status, url)
                    reason, delay = status, _retry_after(response.headers.get("Retry-After"))
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                reason = self._redact(describe_error(exc))
            except httpx.HTTPError as exc:
                raise SourceUnavailable(
                    f"cannot query NVD: {self._redact(describe_error(exc))}",
                    where=url,
                    hint=_UNAVAILABLE_HINT,
                ) from None
            if attempt + 1 == attempts:
                break
            wait = self.backoff * 2**attempt if delay is None else delay
            wait = max(0.0, min(wait, self.max_backoff))
            logger.warning(
                "NVD query %s failed (%s); retry %d of %d in %.1f s",
                url,
                reason,
                attempt + 1,
                attempts - 1,
                wait,
            )
            self._sleep(wait)
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        raise SourceUnavailable(
            f"NVD did not answer: {reason}{tries}", where=url, hint=_UNAVAILABLE_HINT
        )

    def _read(self, response: httpx.Response, url: str) -> bytes:
        limit = self._limits.max_bytes
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise LimitExceeded(
                    f"the NVD response is larger than the limit of {limit:,} bytes",
                    where=url,
                    hint="lower resultsPerPage, or raise the input size limit",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _refused(self, code: int, status: str, url: str) -> SakimoriError:
        if self._api_key is not None and code in (401, 404):
            hint = "check the NVD API key setting; NVD answers 404 to an invalid or revoked key"
        else:
            hint = "check the NVD API URL; NVD answers 404 to a parameter it does not accept"
        if code >= 500 or code < 400:
            return SourceUnavailable(f"NVD answered {status}", where=url, hint=_UNAVAILABLE_HINT)
        return ConfigurationError(f"NVD refused the request: {status}", where=url, hint=hint)

    def _redact(self, text: str) -> str:
        text = " ".join(text.split())[:300]
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return text


def _utc_ms(value: datetime, name: str) -> datetime:
    """``value`` in UTC, floored to the millisecond; naive datetimes are refused."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name} ({value.isoformat()}) has no time zone; give it in UTC")
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def _format(value: datetime) -> str:
    """NVD's extended ISO-8601 form with milliseconds and offset (UTC)."""
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}+00:00"


def _parse_datetime(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} is {value!r}, not an ISO-8601 date and time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} {value!r} is not an ISO-8601 date and time") from None
    return _utc_ms(parsed, name)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a delta-seconds Retry-After; an HTTP date falls back to the backoff."""
    value = (value or "").strip()
    return float(value) if value.isdigit() else None
