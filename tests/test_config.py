"""Settings read from the environment and the settings file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sakimori.config import Settings
from sakimori.errors import ConfigurationError


def load(tmp_path: Path, **env: str) -> Settings:
    return Settings.load({"SAKIMORI_HOME": str(tmp_path), **env})


def test_vulnrichment_is_the_default_record_set(tmp_path: Path) -> None:
    assert load(tmp_path).cve_sources == ("vulnrichment",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cvelistV5", ("cvelistV5",)),
        ("vulnrichment, cvelistV5,vulnrichment", ("vulnrichment", "cvelistV5")),
        ("none", ()),
    ],
)
def test_record_sets_are_chosen_by_name(
    tmp_path: Path, value: str, expected: tuple[str, ...]
) -> None:
    assert load(tmp_path, SAKIMORI_CVE_SOURCES=value).cve_sources == expected


def test_an_unknown_record_set_is_refused_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path, SAKIMORI_CVE_SOURCES="nvd")
    assert "nvd" in caught.value.diagnostics()
    assert "vulnrichment" in caught.value.diagnostics()


def test_the_settings_file_names_record_sets_too(tmp_path: Path) -> None:
    (tmp_path / "sakimori.toml").write_text('cve_sources = "cvelistV5"\n')
    assert load(tmp_path).cve_sources == ("cvelistV5",)


def test_fetch_retries_default_to_three_and_may_be_zero(tmp_path: Path) -> None:
    assert load(tmp_path).http_retries == 3
    assert load(tmp_path, SAKIMORI_HTTP_RETRIES="0").http_retries == 0
    (tmp_path / "sakimori.toml").write_text("http_retries = 5\n")
    assert load(tmp_path).http_retries == 5


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_bad_retry_counts_are_refused_by_name(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigurationError, match="SAKIMORI_HTTP_RETRIES"):
        load(tmp_path, SAKIMORI_HTTP_RETRIES=value)
