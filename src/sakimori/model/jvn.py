"""JVN iPedia records (``JVNDB-YYYY-NNNNNN``), as MyJVN's VULDEF detail and RSS overview give them.

Text is kept as JVN wrote it, in its language (Japanese unless English was asked for): a record
holds one text per language it was read in (``ja``, ``en``), and ``merge`` joins the Japanese
and English readings of the same entry. JVN's CPE 2.2 URIs are kept, with their CPE 2.3
formatted-string binding alongside.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class JvnCvss:
    """One CVSS statement: ``version`` 2.0 / 3.0 (/ 4.0), base score, severity and vector."""

    version: str
    score: float | None
    severity: str | None
    vector: str | None


@dataclass(frozen=True, slots=True)
class JvnProduct:
    """An affected product: vendor and product as displayed (often Japanese), the CPE 2.2 URI JVN
    gives (never with a version), its CPE 2.3 binding (``None`` if the URI is not valid), and
    the affected versions as JVN's free text (``1.05およびそれ以前``: not machine-comparable)."""

    vendor: str
    product: str
    cpe22: str | None
    cpe23: str | None
    versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JvnReference:
    """A related item: ``kind`` is ``vendor`` (a vendor advisory), ``advisory`` (CVE, NVD, JVN,
    ICS-CERT…), ``cwe`` or ``reference``; ``source`` the publisher as JVN names it, ``id`` the
    identifier (for vendor notices, their title), ``url``, and ``title`` when given."""

    kind: str
    source: str
    id: str
    url: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class JvnRecord:
    """One JVN iPedia entry. ``titles`` / ``descriptions`` are ``(language, text)`` pairs."""

    id: str
    titles: tuple[tuple[str, str], ...]
    descriptions: tuple[tuple[str, str], ...]
    cve_ids: tuple[str, ...] = ()
    cvss: tuple[JvnCvss, ...] = ()
    products: tuple[JvnProduct, ...] = ()
    references: tuple[JvnReference, ...] = ()
    cwe_ids: tuple[str, ...] = ()
    #: First registration, last update, public disclosure (ISO 8601 as written, ``+09:00``).
    published: str | None = None
    modified: str | None = None
    disclosed: str | None = None
    #: ``vuldef`` (detail) or ``rss`` (overview: no affected versions, shorter text).
    source: str = "vuldef"
    #: Problems met while reading that did not stop it (a CPE URI that is not valid…).
    notes: tuple[str, ...] = ()

    def title(self, language: str = "ja") -> str | None:
        return dict(self.titles).get(language)

    def description(self, language: str = "ja") -> str | None:
        return dict(self.descriptions).get(language)

    @property
    def vendor_advisories(self) -> tuple[JvnReference, ...]:
        return tuple(r for r in self.references if r.kind == "vendor")

    @property
    def aliases(self) -> tuple[str, ...]:
        """The CVE ids and JVN advisory ids (``JVN#…``, ``JVNVU#…``) this entry is also known
        by: with the JVNDB id, one vulnerability (``matching/aliases.py``)."""
        jvn = [r.id for r in self.references if r.kind == "advisory" and r.id.startswith("JVN")]
        return tuple(dict.fromkeys([*self.cve_ids, *jvn]))

    def merge(self, other: JvnRecord) -> JvnRecord:
        """The same entry read in another language (or from the other feed): texts of both
        languages, everything else from the detail record when there is one, else ``self``."""
        if other.id != self.id:
            raise ValueError(f"cannot merge {self.id} with {other.id}")
        base, extra = (other, self) if other.source == "vuldef" != self.source else (self, other)
        return replace(
            base,
            titles=_union(base.titles, extra.titles),
            descriptions=_union(base.descriptions, extra.descriptions),
            cve_ids=tuple(dict.fromkeys([*base.cve_ids, *extra.cve_ids])),
        )


def _union(
    first: tuple[tuple[str, str], ...], second: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    languages = dict(first)
    for language, text in second:
        languages.setdefault(language, text)
    return tuple(languages.items())
