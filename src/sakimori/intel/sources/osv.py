"""OSV.dev: one ``all.zip`` per ecosystem, a flat zip of ``<ID>.json`` records."""

from __future__ import annotations

from urllib.parse import quote

from sakimori.errors import ConfigurationError
from sakimori.formats import osv
from sakimori.formats.limits import DEFAULT_LIMITS, Limits
from sakimori.model.advisory import Advisory

UPSTREAM_URL = "https://osv-vulnerabilities.storage.googleapis.com/{ecosystem}/all.zip"
RELATIVE_PATH = "osv/{ecosystem}/all.zip"


def upstream_url(ecosystem: str) -> str:
    return UPSTREAM_URL.format(ecosystem=quote(_checked(ecosystem), safe=""))


def relative_path(ecosystem: str) -> str:
    return RELATIVE_PATH.format(ecosystem=_checked(ecosystem))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> list[Advisory]:
    """Every advisory of one ecosystem's ``all.zip``; raises if any record does not validate."""
    return list(osv.iter_zip(data, limits))


def _checked(ecosystem: str) -> str:
    # OSV ecosystem names: "PyPI", "crates.io", "Debian:12", "Ubuntu:22.04:LTS".
    if not ecosystem or ecosystem != ecosystem.strip() or any(c in ecosystem for c in "/\\?#"):
        raise ConfigurationError(
            f"{ecosystem!r} is not an OSV ecosystem name",
            hint="use the names of https://ossf.github.io/osv-schema/#affectedpackage-field",
        )
    if ecosystem in (".", ".."):
        raise ConfigurationError(f"{ecosystem!r} is not an OSV ecosystem name")
    return ecosystem
