"""Reading a CSAF 2.0 provider (CSAF 2.0 section 7) and its advisories: pure.

Bytes in, data out; nothing here fetches, verifies a signature or writes (that is
``services.csaf_fetch``). What it reads:

- ``provider-metadata.json`` (section 7.1.7): ``canonical_url``, the publisher, the ROLIE feeds
  (``url``, ``tlp_label``) and directory distributions (``directory_url``) of ``distributions``,
  and ``public_openpgp_keys`` (``url``, ``fingerprint``);
- ROLIE feeds (RFC 8322, section 7.1.20): each entry's document (``content.src`` or the ``self``
  link), its hash links (``.sha512`` preferred to ``.sha256``), its ``signature`` link and
  ``updated``; directory distributions: ``changes.csv`` (path and time of change, section
  7.1.17) or ``index.txt`` (paths, section 7.1.16);
- ``.sha512`` / ``.sha256`` files (``<hex>  <file name>``, as ``sha512sum`` writes them);
- CSAF 2.0 documents of the ``csaf_security_advisory`` and ``csaf_vex`` profiles, checked for
  the fields those profiles require (:func:`check_document`), then turned into OSV-model
  advisories (:func:`advisories_of`): one per vulnerability (``cve`` or ``ids``) and document,
  listing the products whose ``product_status`` is affected (``known_affected``,
  ``first_affected``, ``last_affected``) or fixed (``fixed``, ``first_fixed``) and that a package
  URL identifies. The product tree is read by the CSAF VEX reader (``formats.vex.csaf_vex``).

The origin rule (:class:`UrlRule`) decides which URLs may be followed: ``https://`` anywhere,
and the provider metadata's own origin (scheme, host and port), which may be ``http://`` only
when its host is a loopback address (``localhost``, ``127.0.0.0/8``, ``::1``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import orjson

from sakimori.errors import InvalidInput, MalformedDocument, UnsupportedFormat
from sakimori.formats.limits import DEFAULT_LIMITS, Limits, decode_text, load_json
from sakimori.formats.vex import _common as c
from sakimori.formats.vex.csaf_vex import _ids, _statuses, _tree
from sakimori.model.advisory import (
    Advisory,
    AffectedPackage,
    Event,
    EventKind,
    Range,
    RangeType,
    Severity,
)
from sakimori.model.ecosystem import SOURCE_KEYED, parse_purl
from sakimori.model.vex import VexProduct

PROFILES: Final = frozenset({"csaf_security_advisory", "csaf_vex"})
LABELS: Final = ("WHITE", "GREEN", "AMBER", "RED")
#: TLP 2.0 names (what ``--tlp`` takes) → the CSAF 2.0 (TLP 1.0) label of their feed.
TLP_NAMES: Final[dict[str, str]] = {
    "CLEAR": "WHITE",
    "WHITE": "WHITE",
    "GREEN": "GREEN",
    "AMBER": "AMBER",
    "AMBER+STRICT": "AMBER",
    "RED": "RED",
}
AFFECTED_GROUPS: Final = ("known_affected", "first_affected", "last_affected")
FIXED_GROUPS: Final = ("fixed", "first_fixed")
PUBLISHER_CATEGORIES: Final = frozenset(
    {"coordinator", "discoverer", "other", "translator", "user", "vendor"}
)
TRACKING_STATUSES: Final = frozenset({"draft", "final", "interim"})
WELL_KNOWN_METADATA: Final = "/.well-known/csaf/provider-metadata.json"
NO_PURL: Final = "no package URL"
_FINGERPRINT = re.compile(r"[0-9A-Fa-f]{40,}")
_HEX = {"sha512": re.compile(r"[0-9a-fA-F]{128}"), "sha256": re.compile(r"[0-9a-fA-F]{64}")}
#: Ids aliased besides the CVE: ``GHSA-…``, ``PYSEC-…``, ``RUSTSEC-…`` (not bug-tracker URLs).
_ALIAS_ID = re.compile(r"[A-Z][A-Z0-9]+-[0-9A-Za-z][0-9A-Za-z._:-]*")


# -- the origin rule --------------------------------------------------------------------------


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput(f"{url!r} has an invalid port") from None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port or default


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class UrlRule:
    """``https://`` anywhere; otherwise only the provider's own origin, which is ``http://``
    only on a loopback host."""

    origin: tuple[str, str, int | None]

    @classmethod
    def of_provider(cls, url: str) -> UrlRule:
        scheme, host, port = _origin(url)
        if not host or scheme not in ("http", "https"):
            raise InvalidInput(
                f"{url!r} is not an https:// URL", hint="give the provider's domain or URL"
            )
        if scheme == "http" and not is_loopback(host):
            raise InvalidInput(
                f"{url} is plain http: CSAF providers are read over https only",
                hint="use https:// (plain http is accepted on a loopback address only)",
            )
        return cls((scheme, host, port))

    def same_origin(self, url: str) -> bool:
        return _origin(url) == self.origin

    def check(self, url: str, what: str) -> str:
        """``url`` if it may be followed; else ``InvalidInput`` naming ``what`` it was."""
        scheme, host, _ = _origin(url)
        if scheme == "https" and host:
            return url
        if self.same_origin(url):
            return url
        raise InvalidInput(
            f"the provider names {what} {url}, which is neither https nor the provider's own "
            "origin: refused",
            hint="only https:// URLs, or the provider metadata's own origin, are followed",
        )


def metadata_url(provider: str) -> str:
    """The provider metadata URL for a domain, a base URL or the metadata URL itself."""
    text = provider.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.path.endswith(".json"):
        return text
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{WELL_KNOWN_METADATA}"


# -- provider metadata ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedRef:
    url: str
    label: str


@dataclass(frozen=True, slots=True)
class KeyRef:
    url: str
    fingerprint: str | None


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    canonical_url: str
    publisher: str
    namespace: str
    role: str
    feeds: tuple[FeedRef, ...]
    directories: tuple[str, ...]
    keys: tuple[KeyRef, ...]


def read_metadata(data: bytes, url: str, limits: Limits = DEFAULT_LIMITS) -> ProviderMetadata:
    where = "provider-metadata.json"
    root = c.obj(load_json(data, limits), where)
    version = root.get("metadata_version")
    if version != "2.0":
        raise UnsupportedFormat(f"{where}: metadata_version {version!r} is not 2.0")
    publisher = c.obj(root.get("publisher"), f"{where}.publisher")
    feeds: list[FeedRef] = []
    directories: list[str] = []
    for n, raw in enumerate(c.opt_list(root, "distributions", where)):
        place = f"{where}.distributions[{n}]"
        item = c.obj(raw, place)
        rolie = c.opt_obj(item, "rolie", place)
        for m, feed in enumerate(c.opt_list(rolie, "feeds", f"{place}.rolie")):
            spot = f"{place}.rolie.feeds[{m}]"
            entry = c.obj(feed, spot)
            label = c.text(entry, "tlp_label", spot).upper()
            feeds.append(FeedRef(urljoin(url, c.text(entry, "url", spot)), label))
        directory = c.opt_text(item, "directory_url", place)
        if directory:
            directories.append(urljoin(url, directory))
    keys: list[KeyRef] = []
    for n, raw in enumerate(c.opt_list(root, "public_openpgp_keys", where)):
        place = f"{where}.public_openpgp_keys[{n}]"
        item = c.obj(raw, place)
        fingerprint = c.opt_text(item, "fingerprint", place)
        if fingerprint is not None and not _FINGERPRINT.fullmatch(fingerprint):
            c.fail(f"{place}.fingerprint {fingerprint!r} is not an OpenPGP fingerprint")
        keys.append(
            KeyRef(urljoin(url, c.text(item, "url", place)), fingerprint and fingerprint.upper())
        )
    return ProviderMetadata(
        canonical_url=c.text(root, "canonical_url", where),
        publisher=c.text(publisher, "name", f"{where}.publisher"),
        namespace=c.text(publisher, "namespace", f"{where}.publisher"),
        role=c.text(root, "role", where),
        feeds=tuple(dict.fromkeys(feeds)),
        directories=tuple(dict.fromkeys(directories)),
        keys=tuple(keys),
    )


# -- feeds and directory listings -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One document a feed or directory lists, with where its hash and signature are."""

    url: str
    #: When it last changed, as the listing says (ROLIE ``updated``, ``changes.csv``); None
    #: for ``index.txt``, which says nothing: the hash file then tells.
    updated: str | None
    #: Hash files, preferred first: ``(algorithm, url)``.
    hashes: tuple[tuple[str, str], ...]
    signature: str
    listed_by: str
    #: The TLP label of the ROLIE feed that lists it (None for a directory listing).
    feed_label: str | None = None


def _derived(document: str) -> tuple[tuple[str, str], ...]:
    return (("sha512", document + ".sha512"), ("sha256", document + ".sha256"))


def read_rolie_feed(
    data: bytes, url: str, limits: Limits = DEFAULT_LIMITS, label: str | None = None
) -> list[Entry]:
    where = "ROLIE feed"
    feed = c.obj(c.obj(load_json(data, limits), where).get("feed"), f"{where}.feed")
    entries: list[Entry] = []
    for n, raw in enumerate(c.opt_list(feed, "entry", f"{where}.feed")):
        place = f"{where}.feed.entry[{n}]"
        item = c.obj(raw, place)
        links: dict[str, list[str]] = {}
        for m, link in enumerate(c.opt_list(item, "link", place)):
            spot = c.obj(link, f"{place}.link[{m}]")
            rel = c.text(spot, "rel", f"{place}.link[{m}]")
            links.setdefault(rel, []).append(
                urljoin(url, c.text(spot, "href", f"{place}.link[{m}]"))
            )
        content = c.opt_obj(item, "content", place)
        src = c.opt_text(content, "src", f"{place}.content")
        document = urljoin(url, src) if src else next(iter(links.get("self", [])), None)
        if document is None:
            c.fail(f"{place} has no document link (content.src or a 'self' link)")
        listed = links.get("hash", [])
        hashes = [(a, h) for a in ("sha512", "sha256") for h in listed if h.endswith("." + a)]
        signature = next(iter(links.get("signature", [])), document + ".asc")
        entries.append(
            Entry(
                url=document,
                updated=c.opt_text(item, "updated", place),
                hashes=tuple(hashes) or _derived(document),
                signature=signature,
                listed_by=url,
                feed_label=label,
            )
        )
    return entries


def _relative(line: str, directory: str, where: str) -> str:
    if line.startswith("/") or "://" in line or ".." in line.split("/"):
        c.fail(f"{where}: {line!r} is not a path below the directory")
    return urljoin(directory.rstrip("/") + "/", line)


def read_index(data: bytes, directory: str) -> list[Entry]:
    """``index.txt``: one document path per line, relative to the directory URL."""
    entries = []
    for n, raw in enumerate(decode_text(data).splitlines()):
        line = raw.strip()
        if line:
            url = _relative(line, directory, f"index.txt line {n + 1}")
            entries.append(Entry(url, None, _derived(url), url + ".asc", directory))
    return entries


def read_changes(data: bytes, directory: str) -> list[Entry]:
    """``changes.csv``: ``"<path>","<time of change>"`` per line, newest first."""
    import csv

    entries: dict[str, Entry] = {}
    for n, row in enumerate(csv.reader(decode_text(data).splitlines())):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            c.fail(f"changes.csv line {n + 1} does not have two fields (path, time)")
        url = _relative(row[0].strip(), directory, f"changes.csv line {n + 1}")
        entries.setdefault(url, Entry(url, row[1].strip(), _derived(url), url + ".asc", directory))
    return list(entries.values())


def read_hash_file(data: bytes, algorithm: str, where: str) -> str:
    """The lower-case hex digest of a ``sha512sum``-style file."""
    text = decode_text(data).strip()
    digest = text.split()[0] if text else ""
    if not _HEX[algorithm].fullmatch(digest):
        raise MalformedDocument(f"{where} is not a {algorithm} hash file")
    return digest.lower()


# -- documents --------------------------------------------------------------------------------


def check_document(value: object) -> dict[str, Any]:
    """The structural check of a CSAF 2.0 ``csaf_security_advisory`` or ``csaf_vex``: the fields
    the schema requires of every document, and what the two profiles add (section 4)."""
    root = c.obj(value, "CSAF document")
    document = c.obj(root.get("document"), "document")
    if document.get("csaf_version") != "2.0":
        raise UnsupportedFormat(f"csaf_version {document.get('csaf_version')!r} is not 2.0")
    category = c.text(document, "category", "document")
    if category not in PROFILES:
        raise UnsupportedFormat(
            f"document.category {category!r} is not csaf_security_advisory or csaf_vex",
            hint="only the security advisory and VEX profiles carry product statuses",
        )
    publisher = c.obj(document.get("publisher"), "document.publisher")
    if c.text(publisher, "category", "document.publisher") not in PUBLISHER_CATEGORIES:
        c.fail(f"document.publisher.category {publisher['category']!r} is not a CSAF category")
    c.text(publisher, "name", "document.publisher")
    if not c.is_uri(c.text(publisher, "namespace", "document.publisher")):
        c.fail("document.publisher.namespace is not a URI")
    c.text(document, "title", "document")
    tracking = c.obj(document.get("tracking"), "document.tracking")
    c.text(tracking, "id", "document.tracking")
    for key in ("current_release_date", "initial_release_date"):
        c.timestamp(tracking, key, "document.tracking", required=True)
    if c.text(tracking, "status", "document.tracking") not in TRACKING_STATUSES:
        c.fail(f"document.tracking.status {tracking['status']!r} is not draft, final or interim")
    c.text(tracking, "version", "document.tracking")
    history = c.opt_list(tracking, "revision_history", "document.tracking")
    if not history:
        c.fail("document.tracking.revision_history is missing or empty")
    for n, raw in enumerate(history):
        place = f"document.tracking.revision_history[{n}]"
        item = c.obj(raw, place)
        c.timestamp(item, "date", place, required=True)
        c.text(item, "number", place)
        c.text(item, "summary", place)
    c.obj(document.get("distribution") or {}, "document.distribution")
    c.obj(root.get("product_tree"), "product_tree")  # both profiles require it
    if not isinstance(root.get("vulnerabilities"), list) or not root["vulnerabilities"]:
        c.fail("vulnerabilities is missing or empty (the profile requires it)")
    for n, raw in enumerate(root["vulnerabilities"]):
        entry = c.obj(raw, f"vulnerabilities[{n}]")
        if category == "csaf_vex" or entry.get("product_status") is not None:
            c.obj(entry.get("product_status"), f"vulnerabilities[{n}].product_status")
    return root


def label_of(root: dict[str, Any]) -> str | None:
    """The document's TLP label (``document.distribution.tlp.label``), upper case."""
    distribution = c.opt_obj(root["document"], "distribution", "document")
    tlp = c.opt_obj(distribution, "tlp", "document.distribution")
    label = c.opt_text(tlp, "label", "document.distribution.tlp")
    return label.upper() if label else None


@dataclass(frozen=True, slots=True)
class NotImported:
    vulnerability: str
    product: str
    reason: str


@dataclass(frozen=True, slots=True)
class Imported:
    """What one document gives: its advisories and the products that could not be imported."""

    tracking_id: str
    version: str
    current_release_date: str
    category: str
    label: str | None
    advisories: tuple[Advisory, ...]
    products: int
    not_imported: tuple[NotImported, ...] = field(default_factory=tuple)


def parse_document(data: bytes, url: str, limits: Limits = DEFAULT_LIMITS) -> Imported:
    """Check and import one CSAF document served at ``url``."""
    return advisories_of(check_document(load_json(data, limits)), url)


def advisory_id(namespace: str, tracking_id: str, vulnerability: str) -> str:
    host = urlsplit(namespace).hostname or namespace
    safe = re.sub(r"[^A-Za-z0-9._:+-]", "_", tracking_id)
    made = f"CSAF-{host}-{safe}-{vulnerability}"
    if len(made) > 200:
        c.fail(f"the advisory id {made[:60]}… would be longer than 200 characters")
    return made


def advisories_of(root: dict[str, Any], url: str) -> Imported:
    """One advisory per vulnerability of a checked document (see the module docstring)."""
    document = root["document"]
    tracking = document["tracking"]
    namespace = document["publisher"]["namespace"]
    products, _groups = _tree(c.obj(root["product_tree"], "product_tree"))
    advisories: list[Advisory] = []
    skipped: list[NotImported] = []
    imported = 0
    seen: set[str] = set()
    for index, raw in enumerate(root["vulnerabilities"]):
        where = f"vulnerabilities[{index}]"
        entry = c.obj(raw, where)
        primary, others = _ids(entry, where)
        cve = c.opt_text(entry, "cve", where)
        suffix = cve or str(index)
        if suffix in seen:
            c.fail(f"{where}: {suffix} already has an entry (CSAF mandatory test 6.1.23)")
        seen.add(suffix)
        if entry.get("product_status") is None:
            continue  # an advisory's vulnerability may name no product (a note only)
        statuses = _statuses(entry, where, products)
        by_package: dict[tuple[str, str], dict[str, dict[str, None]]] = {}
        listed: list[dict[str, Any]] = []
        for pid, (_status, group) in statuses.items():
            if group not in AFFECTED_GROUPS and group not in FIXED_GROUPS:
                continue
            product = products[pid]
            purl = _package_url(product)
            if purl is None:
                skipped.append(NotImported(primary, product.name or pid, NO_PURL))
                continue
            ref = parse_purl(purl)
            if ref.ecosystem is None:
                reason = f"purl type {ref.purl_type!r} has no OSV ecosystem"
                skipped.append(NotImported(primary, purl, reason))
                continue
            name = (
                ref.source_name if ref.ecosystem in SOURCE_KEYED and ref.source_name else ref.name
            )
            ecosystem = f"{ref.ecosystem}:{ref.release}" if ref.release else ref.ecosystem
            kind = "affected" if group in AFFECTED_GROUPS else "fixed"
            slot = by_package.setdefault(
                (ecosystem, name), {"affected": {}, "fixed": {}, "all": {}}
            )
            slot[kind][ref.version or ""] = None
            if kind == "affected" and not ref.version:
                slot["all"][""] = None
            listed.append({"product_id": pid, "name": product.name, "purl": purl, "status": group})
            imported += 1
        found = (_affected(eco, name, slot) for (eco, name), slot in by_package.items())
        affected = tuple(a for a in found if a is not None)
        if not affected:
            continue
        aliases = tuple(dict.fromkeys(i for i in (primary, *others) if _ALIAS_ID.fullmatch(i)))
        record: dict[str, Any] = {
            "id": advisory_id(namespace, tracking["id"], suffix),
            "modified": tracking["current_release_date"],
            "published": tracking["initial_release_date"],
            "aliases": list(aliases),
            "summary": document["title"],
            "details": _details(document, entry),
            "severity": _severity(entry),
            "references": _references(url, document, entry),
            "database_specific": {
                "csaf": {
                    "document": url,
                    "tracking_id": tracking["id"],
                    "version": tracking["version"],
                    "publisher": document["publisher"]["name"],
                    "namespace": namespace,
                    "category": document["category"],
                    "tlp": label_of(root),
                    "vulnerability": primary,
                    "products": listed,
                    "remediations": _remediations(entry, products),
                }
            },
        }
        advisories.append(_advisory(record, affected))
    return Imported(
        tracking_id=tracking["id"],
        version=tracking["version"],
        current_release_date=tracking["current_release_date"],
        category=document["category"],
        label=label_of(root),
        advisories=tuple(advisories),
        products=imported,
        not_imported=tuple(skipped),
    )


def _package_url(product: VexProduct) -> str | None:
    """A product's package: a relationship's component (``product_reference``) when it has a
    purl, else the product's own (or its platform's) purl."""
    if product.subcomponents and product.subcomponents[-1].purl:
        return product.subcomponents[-1].purl
    return product.purl


def _affected(
    ecosystem: str, name: str, slot: dict[str, dict[str, None]]
) -> AffectedPackage | None:
    """Exact affected versions; a purl without a version affects every version, up to the one
    fixed version the document gives (several fixed versions cannot be told apart by branch,
    so every version stays affected: a false alarm rather than a miss)."""
    versions = tuple(v for v in slot["affected"] if v)
    fixed = tuple(v for v in slot["fixed"] if v)
    ranges: tuple[Range, ...] = ()
    if slot["all"]:
        events = [Event(EventKind.INTRODUCED, "0")]
        if len(fixed) == 1:
            events.append(Event(EventKind.FIXED, fixed[0]))
        ranges = (Range(RangeType.ECOSYSTEM.value, tuple(events)),)
    if not versions and not ranges:
        return None  # only fixed products: nothing is affected
    return AffectedPackage(ecosystem=ecosystem, name=name, ranges=ranges, versions=versions)


def _details(document: dict[str, Any], entry: dict[str, Any]) -> str:
    texts = [
        str(note.get("text", ""))
        for source in (document, entry)
        for note in source.get("notes") or []
        if isinstance(note, dict) and note.get("category") in {"summary", "description"}
    ]
    return "\n\n".join(t for t in texts if t.strip())


def _severity(entry: dict[str, Any]) -> list[dict[str, str]]:
    found: dict[tuple[str, str], None] = {}
    for score in entry.get("scores") or []:
        if not isinstance(score, dict):
            continue
        for key, kind in (("cvss_v3", "CVSS_V3"), ("cvss_v2", "CVSS_V2")):
            vector = (score.get(key) or {}).get("vectorString")
            if isinstance(vector, str) and vector:
                found[(kind, vector)] = None
    return [{"type": t, "score": s} for t, s in found]


def _references(url: str, document: dict[str, Any], entry: dict[str, Any]) -> list[str]:
    urls = [url]
    for source in (document, entry):
        urls.extend(
            r["url"]
            for r in source.get("references") or []
            if isinstance(r, dict) and isinstance(r.get("url"), str)
        )
    return list(dict.fromkeys(urls))


def _remediations(entry: dict[str, Any], products: dict[str, VexProduct]) -> list[dict[str, Any]]:
    out = []
    for n, raw in enumerate(c.opt_list(entry, "remediations", "vulnerability")):
        item = c.obj(raw, f"remediations[{n}]")
        pids = c.strings(c.opt_list(item, "product_ids", "remediation"), "product_ids")
        written: dict[str, Any] = {
            "category": c.text(item, "category", "remediation"),
            "details": c.text(item, "details", "remediation"),
            "products": [
                _package_url(products[p]) or products[p].name for p in pids if p in products
            ],
        }
        if c.opt_text(item, "url", "remediation"):
            written["url"] = item["url"]
        out.append(written)
    return out


def _advisory(record: dict[str, Any], affected: Sequence[AffectedPackage]) -> Advisory:
    hashed = dict(record, affected=[_affected_json(a) for a in affected])
    digest = hashlib.sha256(orjson.dumps(hashed, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return Advisory(
        id=record["id"],
        modified=record["modified"],
        content_hash=digest,
        published=record["published"],
        aliases=tuple(record["aliases"]),
        summary=record["summary"],
        details=record["details"],
        severity=tuple(Severity(s["type"], s["score"]) for s in record["severity"]),
        affected=tuple(affected),
        references=tuple(record["references"]),
        database_specific=record["database_specific"],
    )


def _affected_json(affected: AffectedPackage) -> dict[str, Any]:
    return {
        "ecosystem": affected.ecosystem,
        "name": affected.name,
        "versions": list(affected.versions),
        "ranges": [[(e.kind.value, e.version) for e in r.events] for r in affected.ranges],
    }
