"""The catalogues cover every translatable string; languages and charts, as pure functions."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from sakimori.web import charts, i18n

WEB = Path(i18n.__file__).parent
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
OPTIONS = {"**/templates/**.html": {"trim_blocks": "True", "lstrip_blocks": "True"}}


def _marked() -> set[str]:
    keywords = {"_": None, "gettext": None, "translate": (2,)}
    return {
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(
            WEB, METHODS, options_map=OPTIONS, keywords=keywords
        )
        if message
    }


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_marked_string_is_in_the_catalogue(language: str) -> None:
    path = WEB / "locale" / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    ids = {m.id for m in catalog if m.id}
    marked = _marked()
    assert len(marked) > 150
    assert not marked - ids, f"missing from {path}: {sorted(marked - ids)}"
    assert not ids - marked, f"no longer used, in {path}: {sorted(ids - marked)}"
    if language == "ja":
        untranslated = [m.id for m in catalog if m.id and not m.string]
        assert not untranslated


def test_the_compiled_catalogue_translates() -> None:
    assert i18n.load_translations("ja").gettext("Sign in") == "サインイン"
    assert i18n.load_translations("en").gettext("Sign in") == "Sign in"


@pytest.mark.parametrize(
    ("preference", "header", "chosen"),
    [
        (None, "ja-JP,ja;q=0.9,en;q=0.8", "ja"),
        (None, "en-US,en;q=0.9,ja;q=0.8", "en"),
        (None, "fr-FR, ja;q=0.5, en;q=0.4", "ja"),
        (None, "fr-FR", "en"),
        (None, "ja;q=0, en;q=0.1", "en"),
        (None, "ja;q=nonsense, en", "en"),
        (None, None, "en"),
        ("ja", "en", "ja"),
        ("xx", "ja", "ja"),
    ],
)
def test_language_choice(preference: str | None, header: str | None, chosen: str) -> None:
    assert i18n.choose_language(preference, header) == chosen


def test_bars_share_one_scale_and_skip_zeros() -> None:
    chart = charts.stacked(
        [("finance", {"Act": 2, "Attend": 6}), ("energy", {"Attend": 4})],
        ["Act", "Attend", "Track"],
        width=500,
        label_width=100,
    )
    finance, energy = chart.rows
    assert [s.key for s in finance.segments] == ["Act", "Attend"]
    assert finance.total == 8
    assert energy.total == 4
    room = 500 - 100 - 60
    assert finance.segments[0].x == 100
    assert finance.segments[1].x + finance.segments[1].width == pytest.approx(100 + room, abs=0.2)
    assert energy.segments[0].width == pytest.approx(room / 2, abs=0.2)
    assert energy.y > finance.y


def test_an_empty_chart_draws_nothing() -> None:
    chart = charts.single([("finance", 0)], "overdue")
    assert chart.rows[0].segments == ()
    assert chart.rows[0].total == 0
    assert charts.css_class("Track*") == "k-track-star"
