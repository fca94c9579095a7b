"""The product-name normaliser, with the vocabulary of the real NVD and CVE records."""

from __future__ import annotations

import pytest

from sakimori.cpe.normalise import Vocabulary, similarity, tokens
from sakimori.cpe.nvd import NvdRecord
from sakimori.model.cve import CveRecord


@pytest.fixture(scope="module")
def vocabulary(nvd_records: list[NvdRecord], cve_records: list[CveRecord]) -> Vocabulary:
    return Vocabulary.from_records(nvd_records, cve_records)


@pytest.mark.parametrize(
    ("text", "vendor", "expected"),
    [
        ("FortiOS", None, "fortinet:fortios"),
        ("Ivanti Connect Secure", None, "ivanti:connect_secure"),
        ("Microsfot Exchange Server", None, "microsoft:exchange_server"),  # a typo
        ("Connect Secure", "Ivanti", "ivanti:connect_secure"),
        ("Citrix NetScaler ADC", None, "citrix:netscaler_application_delivery_controller"),
        ("Forti OS", "Fortinet", "fortinet:fortios"),  # split words meet the joined name
        ("Confluence Data Center", "Atlassian", "atlassian:confluence_data_center"),
    ],
)
def test_top_suggestion(
    vocabulary: Vocabulary, text: str, vendor: str | None, expected: str
) -> None:
    suggestions = vocabulary.suggest(text, vendor=vendor)
    assert suggestions[0].pair == expected
    assert not any(s.confirmed for s in suggestions)  # suggestions only; a person confirms


def test_suggestions_are_ranked_and_explained(vocabulary: Vocabulary) -> None:
    suggestions = vocabulary.suggest("Fortinet FortiGate SSL-VPN", limit=5)
    assert len(suggestions) == 5
    scores = [s.score for s in suggestions]
    assert scores == sorted(scores, reverse=True)
    top = suggestions[0]
    assert top.vendor == "fortinet"
    text = top.explain()
    assert "fortinet" in text
    assert "score" in text
    assert "seen in" in text


def test_nothing_is_suggested_for_unknown_names(vocabulary: Vocabulary) -> None:
    assert vocabulary.suggest("Zzyzx Quuxcorp Frobnicator") == []
    assert vocabulary.suggest("") == []


def test_aliases_come_from_the_records(cve_records: list[CveRecord]) -> None:
    vocabulary = Vocabulary.from_records((), cve_records)
    plain = Vocabulary.from_records((), cve_records, aliases=False)
    with_alias = [e for e in vocabulary.entries.values() if e.aliases]
    assert with_alias
    assert not any(e.aliases for e in plain.entries.values())
    entry = with_alias[0]
    alias_vendor, alias_product = sorted(entry.aliases)[0]
    top = vocabulary.suggest(alias_product, vendor=alias_vendor or None, limit=50)
    assert (entry.vendor, entry.product) in {(s.vendor, s.product) for s in top}


def test_tokens_and_similarity() -> None:
    assert tokens("Fortinet FortiGate SSL-VPN") == ("fortinet", "fortigate", "ssl", "vpn")
    assert tokens("Multiple Products of the Vendor") == ("products", "vendor")
    assert similarity("fortios", "fortios") == 1.0
    assert similarity("netscaler", "netscalers") > 0.8
    assert similarity("fortios", "windows") == 0.0
