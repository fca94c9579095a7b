"""``csaf fetch``: read a CSAF 2.0 provider, verify its new documents, import them as advisories.

1. Discovery: the provider metadata (``<base>/.well-known/csaf/provider-metadata.json``, or the
   URL given), then the ROLIE feeds of the TLP labels asked for or, when it lists no feed, the
   directory distributions (``changes.csv``, else ``index.txt``). Only URLs the metadata, feeds and
   listings name are followed, and only under the origin rule of
   ``packages.csaf_consumer.UrlRule`` (https, or the provider's own origin; http on loopback
   only), checked on every request, redirects included.
2. Only documents new or changed since the last fetch are downloaded: a listing's time of
   change equal to the one remembered means unchanged (no request at all); otherwise the hash
   file is read first and a digest equal to the one remembered means unchanged too. What was
   seen is kept in the ``intel_source`` row ``csaf:<canonical_url>`` (``detail.documents``).
3. Every downloaded document is verified before anything is stored: the hash file (sha512, else
   sha256) matches; the detached ``.asc`` signature verifies with a key the metadata lists *with
   its fingerprint* (imported from the metadata's key URL into a temporary GNUPGHOME, never the
   user's keyring, and refused unless it holds that fingerprint); the document passes the
   structural check; sizes stay within ``Limits`` (``max_bytes`` per file, ``max_archive_bytes``
   for all documents of one fetch). Any failure refuses the whole fetch: nothing is imported,
   and the error names the document URL and the reason.
4. The advisories of every verified document are stored in one transaction
   (``store_advisories`` under the source ``csaf:<canonical_url>``) and the inventories holding
   their packages are re-matched (``refresh_packages``), so findings follow. A document no
   longer listed is reported and kept: CSAF has no withdrawal, and it is not deleted here.

A bearer token (``token``) is sent to the provider's own origin only, for the protected feeds of
a Sakimori provider; it is never logged or stored.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import gnupg  # type: ignore[import-untyped]
import httpx

from sakimori.config import Settings
from sakimori.errors import (
    ConfigurationError,
    InvalidInput,
    LimitExceeded,
    SakimoriError,
    SourceUnavailable,
)
from sakimori.formats.limits import Limits
from sakimori.intel.fetch import Fetcher, FetchSettings
from sakimori.model.advisory import Advisory
from sakimori.packages import csaf_consumer as csaf
from sakimori.services.assessment import policy_set
from sakimori.services.csaf_signing import stop_agent
from sakimori.services.reconcile import SyncCounts
from sakimori.services.tracking import refresh_packages
from sakimori.store import intel as store
from sakimori.store import models
from sakimori.store.db import Database

log = logging.getLogger(__name__)

KIND: Final = "csaf"
#: Largest hash file, signature or public key read (they are a few kilobytes).
SMALL_FILE: Final = 1024 * 1024


@dataclass(slots=True)
class FetchReport:
    provider: str = ""
    source: str = ""
    feeds: list[str] = field(default_factory=list)
    #: ``(feed URL, label, why)`` of the feeds not read.
    feeds_skipped: list[tuple[str, str, str]] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    #: Documents downloaded and verified (hash, signature, structure).
    verified: int = 0
    #: Documents not imported because their TLP label was not asked for: ``(url, label)``.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: Documents fetched before that no listing read this time names any more (kept).
    no_longer_listed: list[str] = field(default_factory=list)
    products: int = 0
    not_imported: list[csaf.NotImported] = field(default_factory=list)
    changes: store.AdvisoryChanges = field(default_factory=store.AdvisoryChanges)
    findings: SyncCounts = field(default_factory=SyncCounts)
    requests: int = 0


#: What may be imported: an imported advisory is intelligence every user of this instance
#: reads, so only labels that allow the whole community (CLEAR, GREEN) are fetched.
IMPORTABLE: Final = frozenset({"CLEAR", "GREEN"})


def labels_of(names: str) -> frozenset[str]:
    """``CLEAR,GREEN`` → the CSAF labels ``{WHITE, GREEN}``; AMBER and RED are refused."""
    chosen = set()
    for name in (n.strip().upper() for n in names.split(",")):
        if name not in csaf.TLP_NAMES:
            raise InvalidInput(f"{name!r} is not a TLP label", hint="use CLEAR or GREEN")
        if name not in IMPORTABLE:
            raise InvalidInput(
                f"TLP:{name} documents cannot be imported: imported advisories are read by "
                "every user of this instance, which TLP:AMBER and TLP:RED do not allow",
                hint="fetch --tlp CLEAR,GREEN; read AMBER and RED packages at their provider",
            )
        chosen.add(csaf.TLP_NAMES[name])
    return frozenset(chosen)


def read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the token file {path}: {exc}") from None
    if not token or any(ch.isspace() for ch in token):
        raise ConfigurationError(f"the token file {path} does not hold one token")
    return token


# -- the network seam, guarded --------------------------------------------------------------------


class _Guard(httpx.BaseTransport):
    """Checks every request (redirects included) against the origin rule, and adds the token to
    requests for the provider's own origin. Proxies from the environment are honoured here,
    since a client-level proxy would bypass this transport."""

    def __init__(self, rule: csaf.UrlRule, token: str | None, inner: httpx.BaseTransport | None):
        self.rule, self._token, self._inner = rule, token, inner
        self._direct: httpx.BaseTransport | None = None
        self._proxied: dict[str, httpx.BaseTransport] = {}
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.rule.check(url, "the URL")
        if self._token and self.rule.same_origin(url):
            request.headers["Authorization"] = f"Bearer {self._token}"
        else:
            request.headers.pop("Authorization", None)
        self.requests += 1
        return self._transport_for(request.url).handle_request(request)

    def _transport_for(self, url: httpx.URL) -> httpx.BaseTransport:
        if self._inner is not None:
            return self._inner
        proxies = urllib.request.getproxies_environment()
        proxy = proxies.get(url.scheme)
        if proxy and not urllib.request.proxy_bypass_environment(url.host, proxies):  # type: ignore[attr-defined]
            if proxy not in self._proxied:
                self._proxied[proxy] = httpx.HTTPTransport(proxy=proxy)
            return self._proxied[proxy]
        if self._direct is None:
            self._direct = httpx.HTTPTransport()
        return self._direct

    def close(self) -> None:
        for transport in (self._inner, self._direct, *self._proxied.values()):
            if transport is not None:
                transport.close()


class _Downloads:
    def __init__(self, fetcher: Fetcher, limits: Limits) -> None:
        self.fetcher, self.limits, self.document_bytes = fetcher, limits, 0

    def get(self, url: str, what: str, *, small: bool = False) -> bytes:
        try:
            data = self.fetcher.get(url).content
        except LimitExceeded:
            raise LimitExceeded(
                f"the {what} is larger than the limit of {self.limits.max_bytes:,} bytes",
                where=url,
                hint="raise SAKIMORI_MAX_INPUT_BYTES if it is genuine",
            ) from None
        except SakimoriError as exc:
            raise exc.located(url) from None
        if small and len(data) > SMALL_FILE:
            raise LimitExceeded(f"the {what} is larger than {SMALL_FILE:,} bytes", where=url)
        return data

    def document(self, url: str) -> bytes:
        data = self.get(url, "document")
        self.document_bytes += len(data)
        if self.document_bytes > self.limits.max_archive_bytes:
            raise LimitExceeded(
                f"the documents of this fetch add up to more than "
                f"{self.limits.max_archive_bytes:,} bytes",
                where=url,
            )
        return data

    def hash(self, entry: csaf.Entry) -> tuple[str, str]:
        """``(algorithm, hex digest)`` from the first hash file that can be read."""
        failure: SakimoriError | None = None
        for algorithm, url in entry.hashes:
            try:
                data = self.get(url, f"{algorithm} hash file", small=True)
            except SourceUnavailable as exc:
                failure = exc
                continue
            return algorithm, csaf.read_hash_file(data, algorithm, url)
        raise InvalidInput(
            "no hash file (.sha512 or .sha256) can be read"
            + (f": {failure.diagnostics()}" if failure else ""),
            where=entry.url,
        )


# -- OpenPGP --------------------------------------------------------------------------------------


class _Keyring:
    """The provider's listed keys in a temporary GNUPGHOME (never the user's keyring)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.gpg = gnupg.GPG(gnupghome=str(home))
        self.trusted: set[str] = set()

    def add(self, armoured: bytes, key: csaf.KeyRef) -> None:
        assert key.fingerprint is not None
        result = self.gpg.import_keys(armoured.decode("ascii", errors="replace"))
        found = {str(f).upper() for f in (result.fingerprints or []) if f}
        if key.fingerprint not in found:
            raise InvalidInput(
                f"the key at {key.url} is not the key {key.fingerprint} the metadata lists"
                + (f" (it holds {', '.join(sorted(found))})" if found else ""),
                where=key.url,
            )
        self.trusted.add(key.fingerprint)

    def verify(self, data: bytes, signature: bytes, url: str) -> str:
        """The fingerprint of the listed key that made ``signature`` of ``data``."""
        with tempfile.NamedTemporaryFile(dir=self.home, suffix=".asc") as sig:
            sig.write(signature)
            sig.flush()
            result = self.gpg.verify_data(sig.name, data)
        signer = str(result.pubkey_fingerprint or result.fingerprint or "").upper()
        if not result.valid:
            why = f" ({result.status})" if result.status else ""
            if result.key_id and result.status == "no public key":
                why = f" (made by key {result.key_id}, which the metadata does not list)"
            raise InvalidInput(f"the OpenPGP signature does not verify{why}", where=url)
        if signer not in self.trusted:
            raise InvalidInput(f"signed by {signer}, a key the metadata does not list", where=url)
        return signer


# -- the fetch ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Verified:
    entry: csaf.Entry
    digest: str
    imported: csaf.Imported
    #: Its TLP label was not asked for: remembered (not downloaded again), not imported.
    skip: bool = False


def fetch_provider(
    db: Database,
    provider: str,
    settings: Settings,
    *,
    labels: frozenset[str] = frozenset({"WHITE"}),
    token: str | None = None,
    transport: httpx.BaseTransport | None = None,
    progress: Callable[[str], None] | None = None,
) -> FetchReport:
    """Fetch ``provider`` (a domain, base URL or metadata URL); see the module docstring."""
    limits = settings.limits
    where = csaf.metadata_url(provider)
    rule = csaf.UrlRule.of_provider(where)
    if labels - {"WHITE"} and token is None:
        raise InvalidInput(
            "TLP labels other than CLEAR are served behind a token",
            hint="pass --token-file, or fetch --tlp CLEAR only",
        )
    guard = _Guard(rule, token, transport)
    fetcher = Fetcher(
        FetchSettings(
            read_timeout=settings.http_timeout,
            connect_timeout=min(10.0, settings.http_timeout),
            total_timeout=max(settings.http_timeout * 10, 60.0),
            retries=settings.http_retries,
            max_body_bytes=limits.max_bytes,
            trust_env=False,  # proxies are honoured by the guard itself
        ),
        transport=guard,
    )
    report = FetchReport()
    try:
        with fetcher, tempfile.TemporaryDirectory(prefix="skm-csaf-") as scratch:
            home = Path(scratch)
            home.chmod(0o700)
            try:
                verified = _discover_and_verify(
                    db,
                    fetcher,
                    _Downloads(fetcher, limits),
                    rule,
                    where,
                    labels,
                    home,
                    report,
                    progress or (lambda _: None),
                    limits,
                )
            except SakimoriError as exc:
                exc.message += "; nothing was imported"
                raise
            finally:
                stop_agent(home)
                report.requests = guard.requests
    finally:
        guard.close()
    _store(db, settings, report, verified, where)
    return report


def _discover_and_verify(
    db: Database,
    fetcher: Fetcher,
    downloads: _Downloads,
    rule: csaf.UrlRule,
    where: str,
    labels: frozenset[str],
    home: Path,
    report: FetchReport,
    say: Callable[[str], None],
    limits: Limits,
) -> list[_Verified]:
    metadata = csaf.read_metadata(downloads.get(where, "provider metadata"), where, limits)
    report.provider = metadata.canonical_url
    report.source = f"{KIND}:{metadata.canonical_url}"
    if len(report.source) > 300:
        raise InvalidInput("the provider's canonical_url is longer than 296 characters")
    known = _state(db, report.source)
    keyring = _Keyring(home)
    for key in metadata.keys:
        if key.fingerprint is None:
            say(f"key {key.url} is listed without a fingerprint: not used")
            continue
        keyring.add(downloads.get(rule.check(key.url, "a key"), "key", small=True), key)
    if not keyring.trusted:
        raise InvalidInput(
            "the provider lists no OpenPGP key with its fingerprint, so no document can be "
            "verified",
            where=where,
            hint="only signed documents are imported",
        )
    entries: dict[str, csaf.Entry] = {}
    listings: set[str] = set()
    for feed in metadata.feeds:
        if feed.label not in labels:
            report.feeds_skipped.append((feed.url, feed.label, "TLP label not asked for (--tlp)"))
            continue
        data = downloads.get(rule.check(feed.url, "a feed"), "ROLIE feed")
        for entry in csaf.read_rolie_feed(data, feed.url, limits, feed.label):
            entries.setdefault(entry.url, entry)
        report.feeds.append(feed.url)
        listings.add(feed.url)
    # ROLIE when the metadata lists feeds; its directories only when it lists none (a provider
    # offering both serves the same documents twice, and a feed says each one's label).
    for directory in () if metadata.feeds else metadata.directories:
        rule.check(directory, "a directory")
        for entry in _directory(downloads, directory):
            entries.setdefault(entry.url, entry)
        report.feeds.append(directory)
        listings.add(directory)
    seen: dict[str, Any] = known.get("documents", {})
    report.no_longer_listed = sorted(
        url
        for url, kept in seen.items()
        if kept.get("listed_by") in listings and url not in entries
    )
    verified: list[_Verified] = []
    for url, entry in entries.items():
        rule.check(url, "a document")
        previous = seen.get(url)
        if previous and entry.updated is not None and previous.get("updated") == entry.updated:
            report.unchanged += 1
            continue
        algorithm, digest = downloads.hash(entry)
        if previous and previous.get("hash") == f"{algorithm}:{digest}":
            report.unchanged += 1
            continue
        data = downloads.document(url)
        actual = hashlib.new(algorithm, data).hexdigest()
        if actual != digest:
            raise InvalidInput(
                f"the document's {algorithm} is {actual[:16]}…, its hash file says "
                f"{digest[:16]}… (hash mismatch)",
                where=url,
            )
        signature = downloads.get(
            rule.check(entry.signature, "a signature"), "signature", small=True
        )
        keyring.verify(data, signature, url)
        try:
            imported = csaf.parse_document(data, url, limits)
        except SakimoriError as exc:
            exc.message = f"not a valid CSAF document: {exc.message}"
            raise exc.located(url) from None
        (report.changed if previous else report.new).append(url)
        report.verified += 1
        say(f"verified {url}")
        # The document's own label; else its feed's; an unlabelled document of a directory
        # distribution is taken as it was served.
        label = imported.label or entry.feed_label
        skip = label is not None and label not in labels
        if skip:
            report.skipped.append((url, str(label)))
        verified.append(_Verified(entry, f"{algorithm}:{digest}", imported, skip))
    return verified


def _directory(downloads: _Downloads, directory: str) -> list[csaf.Entry]:
    base = directory.rstrip("/")
    try:
        return csaf.read_changes(downloads.get(base + "/changes.csv", "changes.csv"), directory)
    except SourceUnavailable:
        pass
    return csaf.read_index(downloads.get(base + "/index.txt", "index.txt"), directory)


def _state(db: Database, name: str) -> dict[str, Any]:
    with db.transaction() as session:
        row = session.get(models.IntelSource, name)
        return dict(row.detail or {}) if row is not None else {}


def _store(
    db: Database, settings: Settings, report: FetchReport, verified: list[_Verified], where: str
) -> None:
    now = datetime.now(UTC)
    advisories: list[Advisory] = [a for v in verified if not v.skip for a in v.imported.advisories]
    for item in (v for v in verified if not v.skip):
        report.products += item.imported.products
        report.not_imported.extend(item.imported.not_imported)
    with db.transaction() as session:
        report.changes = store.store_advisories(session, report.source, advisories, now)
        why = f"CSAF advisories changed at {report.provider}"
        policies = policy_set(settings.policy)
        report.findings = refresh_packages(
            session, set(report.changes.packages), now, why, policies
        )
        row = session.get(models.IntelSource, report.source) or models.IntelSource(
            name=report.source, kind=KIND, location=report.provider, record_count=0, detail={}
        )
        detail = dict(row.detail or {})
        documents = dict(detail.get("documents", {}))
        for item in verified:
            documents[item.entry.url] = {
                "updated": item.entry.updated or item.imported.current_release_date,
                "hash": item.digest,
                "tracking_id": item.imported.tracking_id,
                "version": item.imported.version,
                "listed_by": item.entry.listed_by,
            }
        row.detail = {**detail, "metadata_url": where, "documents": documents}
        row.location = report.provider
        row.checked_at = now
        if report.changes.added or report.changes.changed or row.changed_at is None:
            row.changed_at = now
        session.add(row)
        session.flush()
        row.record_count = store.count_advisories(session, report.source)
