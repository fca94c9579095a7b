"""The CSAF 2.0 trusted-provider layout (CSAF 2.0 section 7), built from CSAF documents: pure.

Given the CSAF documents of published packages (``packages.csaf.render``), this module says
where each one lives, what bytes are served for it (and so what its ``.sha512`` and ``.asc``
cover), and writes ``provider-metadata.json``, one ROLIE feed (RFC 8322) per TLP label, and the
directory distribution's listings of each TLP folder (``index.txt``, ``changes.csv``, and a
page per folder for people). Nothing here reads a database, a key or the clock;
``api.routes.csaf_provider`` does.

Layout (requirements 2, 7, 11–15, 18, 19, 20):

- ``/.well-known/csaf/provider-metadata.json``
- TLP:WHITE (TLP 2.0 CLEAR), public: ``/.well-known/csaf/feed-tlp-white.json`` and
  ``/.well-known/csaf/white/<year>/<name>.json``
- TLP:GREEN, AMBER (with AMBER+STRICT) and RED, behind a token:
  ``/v1/csaf/feed-tlp-<label>.json`` and ``/v1/csaf/<label>/<year>/<name>.json``
- next to each document ``<name>.json.sha512`` and, when a key is configured,
  ``<name>.json.asc``; the public key at ``/.well-known/csaf/openpgp/<FINGERPRINT>.asc``.
- in each TLP folder (``/.well-known/csaf/white/``, ``/v1/csaf/<label>/``): ``index.txt``
  (requirement 12: every document's path relative to the folder, ``<year>/<name>.json``),
  ``changes.csv`` (requirement 13: ``"<path>","<current_release_date>"``, newest first, no
  heading), and a listing page of the folder and of each year (requirement 14). The provider
  metadata names the public folder as a ``directory_url``; the protected folders list, like
  their feeds, only what the caller may read.

``<year>`` is the year of ``/document/tracking/initial_release_date``; ``<name>`` the tracking
id in lower case with every character but ``+``, ``-`` and ``a-z0-9`` replaced by ``_``.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
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


def folder_path(label: str) -> str:
    """The TLP folder of ``label``: its year folders, ``index.txt`` and ``changes.csv``."""
    return f"{base_of(label)}/{label.lower()}"


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
    def relative(self) -> str:
        """The path below the TLP folder (requirements 11 and 12): ``<year>/<name>``."""
        return f"{self.year}/{self.name}"

    @property
    def path(self) -> str:
        return f"{folder_path(self.label)}/{self.relative}"

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
    folders = [f"{base}{folder_path(label)}/" for label in LABELS if label in PUBLIC_LABELS]
    out: dict[str, Any] = {
        "canonical_url": f"{base}{WELL_KNOWN}/provider-metadata.json",
        "distributions": [
            {
                "directory_url": folders[0],
                "rolie": {
                    "feeds": [
                        {
                            "summary": _SUMMARY[label],
                            "tlp_label": label,
                            "url": base + feed_path(label),
                        }
                        for label in LABELS
                    ]
                },
            },
            # One directory per distribution: any further public folder gets its own.
            *({"directory_url": folder} for folder in folders[1:]),
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


# -- the directory distribution (requirements 11–14) ---------------------------------------------


def _of_folder(label: str, documents: Sequence[Published]) -> list[Published]:
    strays = sorted(d.path for d in documents if d.label != label)
    if strays:  # a caller's mistake, never a listing of another folder's documents
        raise ValueError(f"not in the TLP:{label} folder: {', '.join(strays)}")
    return list(documents)


def _release_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def index_txt(label: str, documents: Sequence[Published]) -> str:
    """``index.txt`` of the TLP folder of ``label`` (requirement 12): the path of every document
    in it, relative to the folder, one a line, in path order."""
    return "".join(f"{p}\n" for p in sorted({d.relative for d in _of_folder(label, documents)}))


def changes_csv(label: str, documents: Sequence[Published]) -> str:
    """``changes.csv`` of the TLP folder of ``label`` (requirement 13): ``"<path>","<time>"``
    per document (the path as in ``index.txt``, the time its ``current_release_date``), no
    heading, the latest change first (equal times: in path order)."""
    ordered = sorted(_of_folder(label, documents), key=lambda d: d.relative)
    ordered.sort(key=lambda d: _release_time(d.updated), reverse=True)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerows((d.relative, d.updated) for d in ordered)
    return out.getvalue()


def folder_page(
    label: str, documents: Sequence[Published], year: str | None = None, *, signed: bool
) -> str | None:
    """A listing page (requirement 14) of the TLP folder of ``label`` (its listings and year
    folders) or, with ``year``, of one year folder (each document with its hash and signature);
    ``None`` for a year that holds no document. Links are relative, so the page works behind
    any base URL."""
    found = _of_folder(label, documents)
    title = f"{folder_path(label)}/" + (f"{year}/" if year else "")
    if year is None:
        names = ["index.txt", "changes.csv", *sorted({f"{d.year}/" for d in found})]
    else:
        mine = sorted(d.name for d in found if d.year == year)
        if not mine:
            return None
        suffixes = ("", ".sha512", ".asc") if signed else ("", ".sha512")
        names = ["../", *(name + suffix for name in mine for suffix in suffixes)]
    items = "".join(
        f'<li><a href="{html.escape(n, quote=True)}">{html.escape(n)}</a></li>\n' for n in names
    )
    heading = html.escape(f"Index of {title}")
    return (
        f'<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>{heading}'
        f"</title></head>\n<body>\n<h1>{heading}</h1>\n<ul>\n{items}</ul>\n</body>\n</html>\n"
    )
