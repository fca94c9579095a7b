"""The CSAF 2.0 trusted-provider layout (CSAF 2.0 section 7), built from CSAF documents: pure.

Given the CSAF documents of published packages (``packages.csaf.render``), this module says
where each one lives, what bytes are served for it (and so what its ``.sha512`` and ``.asc``
cover), and writes ``provider-metadata.json`` and one ROLIE feed (RFC 8322) per TLP label.
Nothing here reads a database, a key or the clock; ``api.routes.csaf_provider`` does.

Layout (requirements 2, 7, 11, 15, 18, 19, 20):

- ``/.well-known/csaf/provider-metadata.json``
- TLP:WHITE (TLP 2.0 CLEAR), public: ``/.well-known/csaf/feed-tlp-white.json`` and
  ``/.well-known/csaf/white/<year>/<name>.json``
- TLP:GREEN, AMBER (with AMBER+STRICT) and RED, behind a token:
  ``/v1/csaf/feed-tlp-<label>.json`` and ``/v1/csaf/<label>/<year>/<name>.json``
- next to each document ``<name>.json.sha512`` and, when a key is configured,
  ``<name>.json.asc``; the public key at ``/.well-known/csaf/openpgp/<FINGERPRINT>.asc``.

``<year>`` is the year of ``/document/tracking/initial_release_date``; ``<name>`` the tracking
id in lower case with every character but ``+``, ``-`` and ``a-z0-9`` replaced by ``_``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sakimori.formats.vex import _common as c
from sakimori.packages.csaf import Publisher

#: The CSAF (TLP 1.0) labels, each with its feed; WHITE is the only public one.
LABELS: Final = ("WHITE", "GREEN", "AMBER", "RED")
PUBLIC_LABELS: Final = frozenset({"WHITE"})
WELL_KNOWN: Final = "/.well-known/csaf"
PROTECTED: Final = "/v1/csaf"
CSAF_SCHEMA: Final = "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json"
ROLIE_CATEGORY: Final = "urn:ietf:params:rolie:category:information-type"

_NOT_ALLOWED = re.compile(r"[^+\-a-z0-9]")

_SUMMARY: Final[dict[str, str]] = {
    "WHITE": "TLP:WHITE (TLP 2.0 CLEAR) counter-measure packages; public.",
    "GREEN": "TLP:GREEN counter-measure packages; for the instance's members, each reading "
    "only the packages their organisation receives (token needed).",
    "AMBER": "TLP:AMBER and TLP:AMBER+STRICT counter-measure packages; for their recipients "
    "only (token needed).",
    "RED": "TLP:RED counter-measure packages; for the named recipients only (token needed).",
}


def file_name(tracking_id: str) -> str:
    """The CSAF file name of a document (requirement 2): ``SAKIMORI-PKG-000012`` →
    ``sakimori-pkg-000012.json``."""
    return _NOT_ALLOWED.sub("_", tracking_id.lower()) + ".json"


def serialise(document: dict[str, Any]) -> bytes:
    """The bytes served for a document: what its hash and signature cover. Deterministic, so a
    revision's signature computed once stays valid."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def sha512_file(data: bytes, name: str) -> str:
    """The ``.sha512`` file: ``<hex>  <file name>``, as ``sha512sum`` writes it."""
    return f"{hashlib.sha512(data).hexdigest()}  {name}\n"


def label_of(document: dict[str, Any]) -> str:
    label: str = document["document"]["distribution"]["tlp"]["label"]
    return label


def base_of(label: str) -> str:
    """The path under which the documents and feed of ``label`` live."""
    return WELL_KNOWN if label in PUBLIC_LABELS else PROTECTED


def feed_path(label: str) -> str:
    return f"{base_of(label)}/feed-tlp-{label.lower()}.json"


@dataclass(frozen=True, slots=True)
class Published:
    """One document as the provider serves it."""

    document: dict[str, Any]
    data: bytes
    name: str
    year: str
    label: str

    @classmethod
    def of(cls, document: dict[str, Any]) -> Published:
        tracking = document["document"]["tracking"]
        return cls(
            document=document,
            data=serialise(document),
            name=file_name(tracking["id"]),
            year=str(tracking["initial_release_date"])[:4],
            label=label_of(document),
        )

    @property
    def path(self) -> str:
        return f"{base_of(self.label)}/{self.label.lower()}/{self.year}/{self.name}"

    @property
    def updated(self) -> str:
        value: str = self.document["document"]["tracking"]["current_release_date"]
        return value


@dataclass(frozen=True, slots=True)
class Key:
    """The public OpenPGP key documents are signed with."""

    fingerprint: str
    armoured: str

    @property
    def path(self) -> str:
        return f"{WELL_KNOWN}/openpgp/{self.fingerprint.upper()}.asc"


def provider_metadata(
    base_url: str,
    *,
    publisher: Publisher,
    key: Key | None,
    last_updated: datetime,
    mirror: bool = True,
) -> dict[str, Any]:
    """``provider-metadata.json``. Without a signing key the role is ``csaf_provider``, not
    ``csaf_trusted_provider``: a trusted provider must sign (requirements 19, 20), and saying
    otherwise would be a lie an aggregator could check."""
    base = base_url.rstrip("/")
    out: dict[str, Any] = {
        "canonical_url": f"{base}{WELL_KNOWN}/provider-metadata.json",
        "distributions": [
            {
                "rolie": {
                    "feeds": [
                        {
                            "summary": _SUMMARY[label],
                            "tlp_label": label,
                            "url": base + feed_path(label),
                        }
                        for label in LABELS
                    ]
                }
            }
        ],
        "last_updated": c.format_time(last_updated),
        "list_on_CSAF_aggregators": True,
        "metadata_version": "2.0",
        "mirror_on_CSAF_aggregators": mirror,
        "public_openpgp_keys": [],
        "publisher": {
            "category": "coordinator",
            "name": publisher.name,
            "namespace": publisher.namespace,
        },
        "role": "csaf_trusted_provider" if key is not None else "csaf_provider",
    }
    if key is not None:
        out["public_openpgp_keys"] = [{"fingerprint": key.fingerprint, "url": base + key.path}]
    return out


def rolie_feed(
    base_url: str,
    label: str,
    documents: Sequence[Published],
    *,
    signed: bool,
    updated: datetime,
) -> dict[str, Any]:
    """The ROLIE feed of ``label`` listing ``documents`` (newest update first), each entry with
    its document, hash and (``signed``) signature links."""
    base = base_url.rstrip("/")
    entries = []
    for item in sorted(documents, key=lambda d: (d.updated, d.name), reverse=True):
        url = base + item.path
        links = [{"rel": "self", "href": url}, {"rel": "hash", "href": url + ".sha512"}]
        if signed:
            links.append({"rel": "signature", "href": url + ".asc"})
        tracking = item.document["document"]["tracking"]
        entries.append(
            {
                "id": tracking["id"],
                "title": item.document["document"]["title"],
                "link": links,
                "published": tracking["initial_release_date"],
                "updated": tracking["current_release_date"],
                "summary": {"content": item.document["document"]["title"]},
                "content": {"type": "application/json", "src": url},
                "format": {"schema": CSAF_SCHEMA, "version": "2.0"},
            }
        )
    newest = max((e["updated"] for e in entries), default=c.format_time(updated))
    return {
        "feed": {
            "id": f"sakimori-csaf-feed-tlp-{label.lower()}",
            "title": f"Sakimori counter-measure packages (TLP:{label})",
            "link": [{"rel": "self", "href": base + feed_path(label)}],
            "category": [{"scheme": ROLIE_CATEGORY, "term": "csaf"}],
            "updated": newest,
            "entry": entries,
        }
    }
