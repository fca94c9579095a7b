"""Suggest the CPE vendor/product for a product named in free text — ranked and explained,
never accepted on the user's behalf.

The vocabulary is what the loaded intelligence uses: every (vendor, product) of an NVD
criterion and of a CVE record's ``affected[].cpes``, plus, as **aliases**, the free-text
``vendor``/``product`` a CNA wrote next to those CPEs in the same ``affected`` entry (so
"Ivanti" / "Connect Secure" is known to be ``ivanti:connect_secure`` because a record says so).
Nothing else: no external dictionary, no guessing of names the data has never used.

Scoring (0..1), per vocabulary entry, against the query's tokens (lower-cased runs of letters
and digits; a run of tokens also counts joined, so "Forti OS" meets ``fortios``):

* token similarity: 1 for equal tokens, else difflib's ratio when at least 0.8 (typos,
  ``fortigate``/``fortigates``), else 0; a token of four or more letters that begins the other
  counts 0.85 (``netscaler`` in ``netscaler_adc``); a query token that is the initials of a run
  of two or more product tokens covers them at 0.95 (``ADC`` for ``application_delivery_
  controller``);
* ``vendor`` — how well the vendor's tokens are found in the query (or in the vendor text, when
  the vendor is given apart);
* ``recall`` — how much of the product name the query covers; ``precision`` — how much of the
  query (less the vendor's tokens) the product name accounts for;
* score = 0.3·vendor + 0.5·recall + 0.2·precision, computed against the CPE name and against
  each alias, the best kept (the word ``firmware`` of ``<model>_firmware`` names is not
  counted); ties go to the pair more records name as the vulnerable product, then to the pair
  seen in more records.

Each :class:`Suggestion` carries the matched tokens, the three parts and where the pair was
seen; a caller shows them and lets a person confirm. ``confirmed`` is never set here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any, Final

from sakimori.cpe.cve_affected import entry_cpes
from sakimori.cpe.name import Wfn, unquote
from sakimori.cpe.nvd import NvdRecord
from sakimori.model.cve import CveRecord

_TOKEN: Final = re.compile(r"[a-z0-9]+")
_FUZZY: Final = 0.8
_PREFIX: Final = 0.85
_ACRONYM: Final = 0.95
#: CPE names a device's operating system ``<model>_firmware``; the word says nothing about
#: which product a person means, so it does not count against recall.
_DEVICE_WORDS: Final = frozenset({"firmware"})
_STOP: Final = frozenset({"and", "the", "of", "for", "inc", "corp", "ltd", "co", "multiple"})


def tokens(text: str) -> tuple[str, ...]:
    """Lower-cased runs of letters and digits, without filler words."""
    return tuple(t for t in _TOKEN.findall(text.lower()) if t not in _STOP)


@lru_cache(maxsize=262144)
def similarity(a: str, b: str) -> float:
    """How alike two tokens are (see the module docstring)."""
    if a == b:
        return 1.0
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= 4 and long_.startswith(short):
        return _PREFIX
    if abs(len(a) - len(b)) > max(len(a), len(b)) * 0.4:
        return 0.0
    ratio = SequenceMatcher(None, a, b).ratio()
    return ratio if ratio >= _FUZZY else 0.0


@dataclass
class VocabularyEntry:
    vendor: str
    product: str
    aliases: set[tuple[str, str]] = field(default_factory=set)
    seen_in: set[str] = field(default_factory=set)
    #: Records that name the pair as the vulnerable product (not only as a platform).
    vulnerable_in: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A candidate CPE vendor/product for a query, with the evidence for it."""

    vendor: str
    product: str
    score: float
    vendor_score: float
    recall: float
    precision: float
    matched: tuple[tuple[str, str], ...]
    via: str
    seen_in: int
    vulnerable_in: int = 0
    confirmed: bool = False

    @property
    def pair(self) -> str:
        return f"{self.vendor}:{self.product}"

    def explain(self) -> str:
        pairs = ", ".join(f"{q}~{t}" if q != t else q for q, t in self.matched) or "none"
        return (
            f"{self.pair} score {self.score:.2f} (vendor {self.vendor_score:.2f}, product "
            f"recall {self.recall:.2f}, precision {self.precision:.2f}); tokens matched: "
            f"{pairs}; compared with {self.via}; seen in {self.seen_in} record(s), as the "
            f"vulnerable product in {self.vulnerable_in}"
        )


class Vocabulary:
    """The CPE vendor/product pairs of the loaded intelligence, with aliases."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], VocabularyEntry] = {}
        self._by_token: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self._by_initial: dict[str, set[str]] = defaultdict(set)

    def __len__(self) -> int:
        return len(self.entries)

    def add(
        self,
        name: Wfn,
        source: str,
        alias: tuple[str, str] | None = None,
        *,
        vulnerable: bool = True,
    ) -> None:
        if not isinstance(name.vendor, str) or not isinstance(name.product, str):
            return
        if "*" in name.vendor or "*" in name.product or "?" in name.product:
            return
        key = (unquote(name.vendor).lower(), unquote(name.product).lower())
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = VocabularyEntry(*key)
            for token in (*tokens(key[0]), *tokens(key[1]), _compact(key[1])):
                self._index(token, key)
        entry.seen_in.add(source)
        if vulnerable:
            entry.vulnerable_in.add(source)
        if alias is not None and any(alias):
            entry.aliases.add(alias)
            for token in tokens(" ".join(alias)):
                self._index(token, key)

    def _index(self, token: str, key: tuple[str, str]) -> None:
        if token:
            self._by_token[token].add(key)
            self._by_initial[token[:1]].add(token)

    @classmethod
    def from_records(
        cls,
        nvd_records: Iterable[NvdRecord] = (),
        cve_records: Iterable[CveRecord] = (),
        *,
        aliases: bool = True,
    ) -> Vocabulary:
        vocabulary = cls()
        for record in nvd_records:
            for match in record.matches():
                vocabulary.add(match.name, record.id, vulnerable=match.vulnerable)
        for cve in cve_records:
            for entry in cve.affected:
                vocabulary.add_entry(entry, cve.id, aliases=aliases)
        return vocabulary

    def add_entry(self, entry: Mapping[str, Any], source: str, *, aliases: bool = True) -> None:
        names, _ = entry_cpes(entry)
        vendor, product = entry.get("vendor"), entry.get("product")
        alias = None
        if aliases and isinstance(vendor, str) and isinstance(product, str):
            alias = (vendor.strip(), product.strip())
            if vendor.strip().lower() in {"n/a", ""}:
                alias = ("", product.strip())
        for name in names:
            self.add(name, source, alias)

    def suggest(self, text: str, *, vendor: str | None = None, limit: int = 5) -> list[Suggestion]:
        """Ranked suggestions for ``text`` (a product, or vendor and product together); when
        ``vendor`` is given apart, vendor tokens are compared with it alone."""
        query = tokens(text)
        vendor_query = tokens(vendor) if vendor is not None else query
        if not query and not vendor_query:
            return []
        candidates = self._candidates((*query, *vendor_query))
        scored = [self._score(self.entries[key], query, vendor_query, vendor) for key in candidates]
        scored = [s for s in scored if s.score > 0]
        scored.sort(key=lambda s: (-s.score, -s.vulnerable_in, -s.seen_in, s.pair))
        return scored[:limit]

    def _candidates(self, query: Iterable[str]) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for word in set(_with_joins(tuple(query))):
            for token in self._by_initial.get(word[:1], ()):
                if similarity(token, word):
                    found.update(self._by_token[token])
        return found

    def _score(
        self,
        entry: VocabularyEntry,
        query: tuple[str, ...],
        vendor_query: tuple[str, ...],
        vendor_given: str | None,
    ) -> Suggestion:
        forms = [("the CPE name", entry.vendor, entry.product)]
        forms += [(f"alias {v} / {p}".strip(), v, p) for v, p in sorted(entry.aliases)]
        best: Suggestion | None = None
        for via, vendor, product in forms:
            product_tokens = tuple(t for t in tokens(product) if t not in _DEVICE_WORDS)
            suggestion = _score_form(
                entry, via, tokens(vendor), product_tokens, query, vendor_query, vendor_given
            )
            if best is None or suggestion.score > best.score:
                best = suggestion
        assert best is not None
        return best


def _score_form(
    entry: VocabularyEntry,
    via: str,
    vendor_tokens: tuple[str, ...],
    product_tokens: tuple[str, ...],
    query: tuple[str, ...],
    vendor_query: tuple[str, ...],
    vendor_given: str | None,
) -> Suggestion:
    matched: list[tuple[str, str]] = []
    vendor_score, used = _cover(vendor_tokens, _with_joins(vendor_query), matched)
    product_query = query if vendor_given is not None else tuple(t for t in query if t not in used)
    product_query = product_query or query
    recall, used_product = _cover(product_tokens, _with_joins(product_query), matched)
    if "".join(product_tokens) in _with_joins(product_query):
        recall = 1.0
    precision = (
        sum(1 for t in product_query if t in used_product or any(t in u for u in used_product))
        / len(product_query)
        if product_query
        else 0.0
    )
    score = 0.3 * vendor_score + 0.5 * recall + 0.2 * min(precision, 1.0)
    return Suggestion(
        vendor=entry.vendor,
        product=entry.product,
        score=round(score, 4),
        vendor_score=round(vendor_score, 4),
        recall=round(recall, 4),
        precision=round(min(precision, 1.0), 4),
        matched=tuple(dict.fromkeys(matched)),
        via=via,
        seen_in=len(entry.seen_in),
        vulnerable_in=len(entry.vulnerable_in),
    )


def _cover(
    wanted: tuple[str, ...], offered: tuple[str, ...], matched: list[tuple[str, str]]
) -> tuple[float, set[str]]:
    """Mean over ``wanted`` tokens of the best similarity in ``offered``; the offered tokens
    used."""
    if not wanted:
        return 0.0, set()
    total = 0.0
    used: set[str] = set()
    acronyms = _acronyms(wanted, offered)
    for position, token in enumerate(wanted):
        if position in acronyms:
            total += _ACRONYM
            used.add(acronyms[position])
            matched.append((acronyms[position], token))
            continue
        best, word = 0.0, ""
        for candidate in offered:
            value = similarity(token, candidate)
            if value > best:
                best, word = value, candidate
        if best:
            total += best
            used.add(word)
            matched.append((word, token))
    return total / len(wanted), used


def _acronyms(wanted: tuple[str, ...], offered: tuple[str, ...]) -> dict[int, str]:
    """Positions of ``wanted`` tokens covered by an offered acronym of a run of two or more of
    them (``adc`` for ``application delivery controller``)."""
    covered: dict[int, str] = {}
    words = set(offered)
    for start in range(len(wanted)):
        for end in range(start + 2, len(wanted) + 1):
            initials = "".join(t[0] for t in wanted[start:end])
            if initials in words:
                covered.update(dict.fromkeys(range(start, end), initials))
    return covered


def _with_joins(words: tuple[str, ...]) -> tuple[str, ...]:
    """The tokens, plus each run of two or three neighbours joined (``forti os`` → ``fortios``)."""
    joined = ["".join(words[i : i + n]) for n in (2, 3) for i in range(len(words) - n + 1)]
    return (*words, *joined)


def _compact(product: str) -> str:
    return "".join(tokens(product))
